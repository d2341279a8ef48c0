// A statement as the evidence and a reviewer see it when masking applies to
// its Resource: each constant it carries (a string or a number) masked as the
// policies mask results — as the values of the column it is compared with or
// written to (`WHERE email = '…'`, `lower(email) = …`, `email IN (…)`,
// `email = ANY(ARRAY[…])`, `(email, …) = ('…', …)`, `SET email = '…'`,
// `SET (…, email) = (…, '…')`, `INSERT … (email) VALUES ('…')` or `SELECT
// '…'`, `ON CONFLICT … DO UPDATE SET email = '…'`), and by the rules that scan
// every value — and its bound parameters likewise, through the columns their
// $n stand for; every other string, number and comment is scanned too. Constants are found in PostgreSQL's own parse tree and replaced where
// its scanner says their tokens are, so the rest of the text stays as sent.
// Text that cannot be parsed has its string tokens scanned; text that cannot
// even be scanned is withheld. Pure, apart from the parser.
import { Buffer } from "node:buffer";
import type { ResultColumn } from "../../masking/result-columns.js";
import { renderParameters } from "./parameters.js";
import type { StatementCheck } from "./ports.js";
import { parseStatements, scanTokens, type ScannedToken } from "./sql/parser.js";

/** Masks one value as the rules do for `column` (undefined: no column known); null makes it SQL NULL. */
export type LiteralMasker = (value: string, column?: ResultColumn) => string | null;

export interface MaskedStatement {
  text: string;
  /** The column each $n stands for, where the statement says. */
  parameterColumns: ReadonlyMap<number, ResultColumn>;
}

interface Constant {
  /** Byte offset of its token. */
  location: number;
  value: string;
  column?: ResultColumn;
}

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => value !== null && typeof value === "object" && !Array.isArray(value);

/** What the evidence and a reviewer are shown of a statement: its text and bound values, masked when `mask` is given. */
export function shownStatement(check: Pick<StatementCheck, "text" | "parameters">, mask: LiteralMasker | undefined): { text: string; parameters?: string[] } {
  const parameters = check.parameters?.length ? check.parameters : undefined;
  if (mask === undefined) return { text: check.text, ...(parameters ? { parameters: renderParameters(parameters) } : {}) };
  const masked = maskStatementLiterals(check.text, mask);
  return { text: masked.text, ...(parameters ? { parameters: renderParameters(parameters, (value, n) => mask(value, masked.parameterColumns.get(n))) } : {}) };
}

/** The statement with its constants masked, and the columns of its parameters. */
export function maskStatementLiterals(text: string, mask: LiteralMasker): MaskedStatement {
  let tokens: ScannedToken[];
  try {
    tokens = scanTokens(text);
  } catch {
    return { text: withheld(text), parameterColumns: new Map() };
  }
  const constants: Constant[] = [];
  const parameterColumns = new Map<number, ResultColumn>();
  try {
    for (const statement of parseStatements(text)) {
      const context = tableContext(statement.node);
      new ConstantFinder(constants, parameterColumns, context).visit(statement.node, undefined);
    }
  } catch (error) {
    // Text the parser rejects keeps its tokens, each scanned below; a tree too deep to walk is not recorded at all.
    if (error instanceof RangeError) return { text: withheld(text), parameterColumns: new Map() };
    constants.length = 0;
    parameterColumns.clear();
  }
  return { text: maskTokens(text, tokens, constants, mask), parameterColumns };
}

function withheld(text: string): string {
  return `-- statement withheld (${Buffer.byteLength(text)} bytes): its constants could not be found to mask them`;
}

const quoted = (value: string | null): string => (value === null ? "NULL" : `'${value.replaceAll("'", "''")}'`);

/** The value inside a string token: '…', E'…', N'…', U&'…' or $tag$…$tag$ (escapes left as written: the rules scan it as text). */
function stringTokenValue(token: string): string | undefined {
  const dollar = /^(\$[^$]*\$)([\s\S]*)\1$/.exec(token);
  if (dollar) return dollar[2];
  const quote = /^(?:[EeNn]|[Uu]&)?'([\s\S]*)'$/.exec(token);
  return quote ? (quote[1] ?? "").replaceAll("''", "'") : undefined;
}

const isNumberToken = (token: string): boolean => /^[0-9.]/.test(token);

/**
 * The text with each constant masked where its token is (a sign before a number goes with it), every other string
 * token and every comment scanned by the rules that scan every value.
 */
function maskTokens(text: string, tokens: readonly ScannedToken[], constants: readonly Constant[], mask: LiteralMasker): string {
  const bytes = Buffer.from(text, "utf8");
  const atStart = new Map(constants.map((constant) => [constant.location, constant]));
  const pieces: string[] = [];
  let from = 0;
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] as ScannedToken;
    pieces.push(maskBlanksAndComments(bytes.subarray(from, token.start).toString("utf8"), mask));
    const constant = atStart.get(token.start);
    const next = tokens[index + 1];
    const signed = (token.text === "-" || token.text === "+") && constant !== undefined && next !== undefined && isNumberToken(next.text);
    const masked = maskedToken(token.text, constant, mask);
    from = masked !== undefined && signed ? next.end : token.end;
    if (masked !== undefined && signed) index += 1;
    pieces.push(masked ?? token.text);
  }
  pieces.push(maskBlanksAndComments(bytes.subarray(from).toString("utf8"), mask));
  return pieces.join("");
}

/** What lies between tokens is blanks and comments, and a comment can hold what a rule looks for. */
function maskBlanksAndComments(between: string, mask: LiteralMasker): string {
  if (between.trim() === "") return between;
  return mask(between) ?? " /* masked */ ";
}

/** The token's replacement, or undefined when it is kept: a constant masked for its column, any string, number or comment scanned. */
function maskedToken(token: string, constant: Constant | undefined, mask: LiteralMasker): string | undefined {
  if (token.startsWith("--") || token.startsWith("/*")) {
    const comment = mask(token);
    return comment === token ? undefined : (comment ?? "/* masked */");
  }
  const value = constant?.value ?? stringTokenValue(token) ?? (isNumberToken(token) ? token : undefined);
  if (value === undefined) return undefined;
  const masked = mask(value, constant?.column);
  return masked === value ? undefined : quoted(masked);
}

interface Relation {
  schema?: string;
  table: string;
}

function relationOf(node: unknown): Relation | undefined {
  if (!isNode(node) || typeof node.relname !== "string") return undefined;
  return { table: node.relname, ...(typeof node.schemaname === "string" ? { schema: node.schemaname } : {}) };
}

/** The tables a statement names: the one its unqualified columns belong to when it names exactly one, and its aliases. */
interface TableContext {
  table?: Relation;
  aliases: ReadonlyMap<string, Relation>;
}

function tableContext(node: unknown): TableContext {
  const aliases = new Map<string, Relation>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (isNode(value)) {
      const rangeVar = isNode(value.RangeVar) ? value.RangeVar : undefined;
      const relation = relationOf(rangeVar);
      const alias = rangeVar && isNode(rangeVar.alias) && typeof rangeVar.alias.aliasname === "string" ? rangeVar.alias.aliasname : undefined;
      if (relation && alias) aliases.set(alias, relation);
      for (const child of Object.values(value)) walk(child);
    }
  };
  walk(node);
  const table = defaultTable(node);
  return { ...(table ? { table } : {}), aliases };
}

/** The table a statement's unqualified columns belong to when it names exactly one. */
function defaultTable(node: unknown): Relation | undefined {
  const found: Relation[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (isNode(value)) {
      // A FROM item is a RangeVar node; the target of UPDATE, INSERT and DELETE is a bare one under "relation".
      const relation = relationOf(value.RangeVar) ?? relationOf(value.relation);
      if (relation) found.push(relation);
      for (const child of Object.values(value)) walk(child);
    }
  };
  walk(node);
  const tables = new Set(found.map((relation) => `${relation.schema ?? ""}.${relation.table}`));
  return tables.size === 1 ? found[0] : undefined;
}

function columnNamed(name: string, relation: Relation | undefined): ResultColumn {
  return { name, ...(relation ? { table: `${relation.schema ?? "public"}.${relation.table}`, column: name } : {}), typeOid: 25, format: 0 };
}

/** A constant's value as text: a string, a number (an integer 0 is an empty ival), or undefined for NULL and booleans. */
function constantValue(node: Node): string | undefined {
  if (isNode(node.sval) && typeof node.sval.sval === "string") return node.sval.sval;
  if (isNode(node.fval) && typeof node.fval.fval === "string") return node.fval.fval;
  if (isNode(node.ival)) return typeof node.ival.ival === "number" ? String(node.ival.ival) : "0";
  return undefined;
}

/** What an assignment's target takes: its value, or for `SET (a, b) = (x, y)` the item of the row at its position. */
function assignedValue(value: unknown): unknown {
  const multi = isNode(value) && isNode(value.MultiAssignRef) ? value.MultiAssignRef : undefined;
  const source = multi && isNode(multi.source) && isNode(multi.source.RowExpr) && Array.isArray(multi.source.RowExpr.args) ? (multi.source.RowExpr.args as unknown[]) : undefined;
  return multi && source && typeof multi.colno === "number" ? source[multi.colno - 1] : value;
}

/** The constants of a tree, each with the column it meets, and the columns of its parameters. */
class ConstantFinder {
  constructor(
    private readonly constants: Constant[],
    private readonly parameters: Map<number, ResultColumn>,
    private readonly context: TableContext,
  ) {}

  visit(value: unknown, column: ResultColumn | undefined): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, column);
      return;
    }
    if (!isNode(value)) return;
    if (isNode(value.A_Const)) return this.constant(value.A_Const, column);
    if (isNode(value.ParamRef)) {
      if (column && typeof value.ParamRef.number === "number") this.parameters.set(value.ParamRef.number, column);
      return;
    }
    if (isNode(value.A_Expr)) return this.expression(value.A_Expr, column);
    if (isNode(value.UpdateStmt)) return this.update(value.UpdateStmt);
    if (isNode(value.InsertStmt)) return this.insert(value.InsertStmt);
    // A cast keeps the column its operand meets, and so do the items of an IN list or an ARRAY (= ANY).
    if (isNode(value.TypeCast)) return this.visit(value.TypeCast.arg, column);
    if (isNode(value.List)) return this.visit(value.List.items, column);
    if (isNode(value.A_ArrayExpr)) return this.visit(value.A_ArrayExpr.elements, column);
    for (const child of Object.values(value)) this.visit(child, undefined);
  }

  private constant(node: Node, column: ResultColumn | undefined): void {
    if (typeof node.location !== "number") return;
    const value = constantValue(node);
    if (value !== undefined) this.constants.push({ location: node.location, value, ...(column ? { column } : {}) });
  }

  /**
   * `column op value`, `value op column`, `column IN (values)`, `column = ANY(ARRAY[values])`, `f(column) op value`:
   * the values meet the column; `(a, b) = (x, y)` pairs them by position.
   */
  private expression(node: Node, outer: ResultColumn | undefined): void {
    const rows = [node.lexpr, node.rexpr].map((side) => (isNode(side) && isNode(side.RowExpr) && Array.isArray(side.RowExpr.args) ? (side.RowExpr.args as unknown[]) : undefined));
    const [leftRow, rightRow] = rows;
    if (leftRow && rightRow) {
      leftRow.forEach((item, index) => this.visit(item, this.columnOf(rightRow[index]) ?? outer));
      rightRow.forEach((item, index) => this.visit(item, this.columnOf(leftRow[index]) ?? outer));
      return;
    }
    const left = this.columnOf(node.lexpr);
    const right = this.columnOf(node.rexpr);
    this.visit(node.lexpr, right ?? outer);
    this.visit(node.rexpr, left ?? outer);
  }

  /** The column an operand is, through casts and functions of it (lower(email)). */
  private columnOf(value: unknown): ResultColumn | undefined {
    if (!isNode(value)) return undefined;
    if (isNode(value.TypeCast)) return this.columnOf(value.TypeCast.arg);
    if (isNode(value.FuncCall)) {
      const args: unknown[] = Array.isArray(value.FuncCall.args) ? value.FuncCall.args : [];
      return args.map((arg) => this.columnOf(arg)).find((column) => column !== undefined);
    }
    return isNode(value.ColumnRef) ? this.referenced(value.ColumnRef) : undefined;
  }

  /** A column reference: its name, and its table from a qualifier (a table or its alias) or the statement's one table. */
  private referenced(ref: Node): ResultColumn | undefined {
    const fields: unknown[] = Array.isArray(ref.fields) ? ref.fields : [];
    const names = fields.flatMap((field) => (isNode(field) && isNode(field.String) && typeof field.String.sval === "string" ? [field.String.sval] : []));
    const name = names.at(-1);
    if (name === undefined) return undefined;
    const qualifier = names.at(-2);
    const aliased = names.length === 2 && qualifier !== undefined ? this.context.aliases.get(qualifier) : undefined;
    const table = aliased ?? (qualifier !== undefined ? { table: qualifier, ...(names.length >= 3 ? { schema: names.at(-3) as string } : {}) } : this.context.table);
    return columnNamed(name, table);
  }

  private update(node: Node): void {
    this.assignments(node.targetList, relationOf(node.relation) ?? this.context.table);
    for (const [key, child] of Object.entries(node)) if (key !== "targetList") this.visit(child, undefined);
  }

  /** `SET column = value` (UPDATE, ON CONFLICT DO UPDATE), and `SET (a, b) = (x, y)` by position. */
  private assignments(targets: unknown, relation: Relation | undefined): void {
    for (const target of Array.isArray(targets) ? targets : []) {
      const resTarget = isNode(target) && isNode(target.ResTarget) ? target.ResTarget : undefined;
      if (resTarget && typeof resTarget.name === "string") this.visit(assignedValue(resTarget.val), columnNamed(resTarget.name, relation));
      else this.visit(target, undefined);
    }
  }

  private insert(node: Node): void {
    const relation = relationOf(node.relation) ?? this.context.table;
    const cols: unknown[] = Array.isArray(node.cols) ? node.cols : [];
    const columns = cols.map((col) => (isNode(col) && isNode(col.ResTarget) && typeof col.ResTarget.name === "string" ? columnNamed(col.ResTarget.name, relation) : undefined));
    const select = isNode(node.selectStmt) && isNode(node.selectStmt.SelectStmt) ? node.selectStmt.SelectStmt : {};
    this.insertedValues(select, columns);
    const conflict = isNode(node.onConflictClause) ? node.onConflictClause : {};
    this.assignments(conflict.targetList, relation);
    for (const [key, child] of Object.entries(conflict)) if (key !== "targetList") this.visit(child, undefined);
    for (const [key, child] of Object.entries(node)) if (key !== "selectStmt" && key !== "onConflictClause") this.visit(child, undefined);
  }

  /** The values an INSERT writes, by position: each VALUES row, or the select list of INSERT … SELECT. */
  private insertedValues(select: Node, columns: ReadonlyArray<ResultColumn | undefined>): void {
    const rows: unknown[] = Array.isArray(select.valuesLists) ? select.valuesLists : [];
    for (const row of rows) {
      const items: unknown[] = isNode(row) && isNode(row.List) && Array.isArray(row.List.items) ? row.List.items : [];
      items.forEach((item, index) => this.visit(item, columns[index]));
    }
    const targets: unknown[] = Array.isArray(select.targetList) ? select.targetList : [];
    targets.forEach((target, index) => this.visit(isNode(target) && isNode(target.ResTarget) ? target.ResTarget.val : target, columns[index]));
    for (const [key, child] of Object.entries(select)) if (key !== "valuesLists" && key !== "targetList") this.visit(child, undefined);
  }
}
