// Looks inside PL/pgSQL code (DO blocks and plpgsql function bodies) with
// PostgreSQL's own PL/pgSQL parser: every SQL statement and expression in the
// body comes back as SQL text for the classifier, and EXECUTE of a string built
// at run time is reported as dynamic SQL, which no classifier can see through.
import { Buffer } from "node:buffer";
import { isObject, type Fields } from "./parse-tree.js";
import { ClassificationError, parsePlpgsql, parserMessage, type ScannedToken, scanTokens } from "./parser.js";

export interface PlpgsqlBody {
  /** Complete SQL statements to classify, one per statement or expression in the body. */
  statements: string[];
  dynamicSql: boolean;
  /** The code's variables and parameters (found, NEW, OLD, TG_OP … included), in lower case: names in its SQL that are no columns. */
  variables: string[];
}

// PostgreSQL's RawParseMode values that PL/pgSQL stores with each expression.
const PARSE_DEFAULT = 0;
const PARSE_EXPRESSION = 2;
const PARSE_ASSIGNMENTS = new Set([3, 4, 5]);
// Statements that run SQL text computed at run time.
const DYNAMIC_STATEMENTS = new Set(["PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors"]);

/** The SQL inside the PL/pgSQL code of a DO or CREATE FUNCTION statement (given as its full text). */
export function plpgsqlBody(statementText: string): PlpgsqlBody {
  let tree: unknown;
  try {
    tree = parsePlpgsql(withStandInTypes(statementText));
  } catch (error) {
    throw new ClassificationError(`the PL/pgSQL code cannot be parsed: ${parserMessage(error)}`);
  }
  const body: PlpgsqlBody = { statements: [], dynamicSql: false, variables: [] };
  collect(tree, body);
  return body;
}

/** A name token of a type reference: an identifier, a quoted identifier or a keyword used as a name. */
const NAME_TOKEN = /^(?:[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*|"(?:[^"]|"")+")$/;
/** What a `tbl.col%TYPE` in the signature becomes for the PL/pgSQL parser; any scalar type serves. */
const STAND_IN_TYPE = "text";

/**
 * The statement with each `name%TYPE` of its signature (arguments, RETURNS, RETURNS TABLE columns)
 * replaced by a stand-in type. The PL/pgSQL parser would look the column's type up in the catalog,
 * which it does not have ("Not implemented"); the type does not change which SQL the body runs. The
 * body is one string token, so a %TYPE inside it (a declaration, which the parser reads itself) is
 * never touched. The rewritten text is only parsed, never sent.
 */
export function withStandInTypes(statementText: string): string {
  const tokens = scanTokens(statementText);
  const cuts = tokens.flatMap((token, index) => {
    const typeWord = tokens[index + 1];
    if (token.text !== "%" || typeWord?.text.toUpperCase() !== "TYPE") return [];
    const first = typeNameStart(tokens, index);
    return first === undefined ? [] : [[first.start, typeWord.end] as const];
  });
  if (cuts.length === 0) return statementText;
  const bytes = Buffer.from(statementText, "utf8");
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of cuts) {
    parts.push(bytes.subarray(at, start), Buffer.from(STAND_IN_TYPE));
    at = end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString("utf8");
}

/** The first token of the dotted name before the `%` at `percent` (tbl.col, schema.tbl.col), if there is one. */
function typeNameStart(tokens: readonly ScannedToken[], percent: number): ScannedToken | undefined {
  const isName = (index: number): boolean => NAME_TOKEN.test(tokens[index]?.text ?? "");
  let first = percent - 1;
  if (!isName(first)) return undefined;
  while (first >= 2 && tokens[first - 1]?.text === "." && isName(first - 2)) first -= 2;
  return tokens[first];
}

function collect(value: unknown, body: PlpgsqlBody): void {
  if (Array.isArray(value)) {
    for (const item of value) collect(item, body);
    return;
  }
  if (!isObject(value)) return;
  for (const [key, field] of Object.entries(value)) {
    // OPEN … FOR EXECUTE and RETURN QUERY EXECUTE keep their string in dynquery.
    if (DYNAMIC_STATEMENTS.has(key) || key === "dynquery") body.dynamicSql = true;
    if (key === "PLpgSQL_expr" && isObject(field)) body.statements.push(...expressionStatements(field));
    if (key === "refname" && typeof field === "string") body.variables.push(field.toLowerCase());
    collect(field, body);
  }
}

/** An expression as complete statements: PL/pgSQL evaluates `x > 1` as `SELECT x > 1`. */
function expressionStatements(expr: Fields): string[] {
  const { query, parseMode } = expr;
  if (typeof query !== "string") throw new ClassificationError("a PL/pgSQL expression has no text");
  const mode = typeof parseMode === "number" ? parseMode : PARSE_DEFAULT;
  if (mode === PARSE_DEFAULT) return [query];
  if (mode === PARSE_EXPRESSION) return [`SELECT ${query}`];
  if (PARSE_ASSIGNMENTS.has(mode)) return splitAssignment(query).map((part) => `SELECT ${part}`);
  throw new ClassificationError(`a PL/pgSQL expression has an unknown parse mode ${mode}`);
}

/**
 * `target := value` as its two expressions; the target's subscripts can call
 * functions too. The scanner finds the operator, so one inside a string or a
 * subscript is not mistaken for it.
 */
function splitAssignment(query: string): [string, string] {
  const bytes = Buffer.from(query, "utf8");
  let depth = 0;
  for (const token of scanTokens(query)) {
    if (token.text === "(" || token.text === "[") depth++;
    else if (token.text === ")" || token.text === "]") depth--;
    else if (depth === 0 && (token.text === ":=" || token.text === "=")) {
      return [bytes.subarray(0, token.start).toString("utf8"), bytes.subarray(token.end).toString("utf8")];
    }
  }
  throw new ClassificationError(`the PL/pgSQL assignment "${query.slice(0, 64)}" has no := operator`);
}
