// Puts together the facts a policy sees for one statement: its kind, the
// tables and functions its tree names, and what it really runs. A statement
// is judged by its effect, not by its first keyword: EXPLAIN ANALYZE of a
// DELETE deletes, a SELECT with a DELETE in its WITH clause deletes, a DO
// block or function body is read through for the SQL inside it.
import type { Node } from "libpg-query";
import type { SqlFacts } from "@portcullis/common/policy/cel";
import { functionDangers } from "./dangerous-functions.js";
import { ClassificationError, parseStatements, parserMessage, type ParsedStatement } from "./parser.js";
import { plpgsqlBody } from "./plpgsql.js";
import { checkCodeReading } from "./code-readings.js";
import { reservedName, walkStatement, type Modification, type WalkResult } from "./sql-walk.js";
import { isObject, unwrap, type NodeBody } from "./parse-tree.js";
import { statementKind } from "./statement-kind.js";

export type StatementFacts = Omit<SqlFacts, "statementCount">;

const NO_VARIABLES: ReadonlySet<string> = new Set();

// Code inside code (a DO block whose SQL holds another DO block, …) is followed this far.
const MAX_DEPTH = 8;
// Commands whose statement runs its data-modifying parts: they take the command of what they modify.
const RUNS_MODIFICATIONS = new Set(["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY"]);
// When several parts modify data, the statement counts as the one policies treat most strictly.
const MODIFICATION_ORDER: readonly Modification["command"][] = ["DELETE", "UPDATE", "MERGE", "INSERT"];

const union = (...lists: readonly string[][]): string[] => [...new Set(lists.flat())];

/** The facts of one parsed statement (statementCount is the caller's to set). */
export function statementFacts(statement: ParsedStatement): StatementFacts {
  return factsOf(statement.node, statement.text, 0);
}

const TRIGGER_STATEMENTS = new Set(["CreateTrigStmt", "CreateEventTrigStmt"]);
const nestedTrigger = (): ClassificationError =>
  new ClassificationError("a CREATE TRIGGER inside another statement (CREATE SCHEMA, a DO block, a function) is refused: send it on its own, so the gateway can look up the function it runs");

function factsOf(node: Node, text: string, depth: number, variables: ReadonlySet<string> = NO_VARIABLES): StatementFacts {
  if (depth > MAX_DEPTH) throw new ClassificationError(`the statement nests code more than ${MAX_DEPTH} levels deep`);
  const [kind, body] = unwrap(node);
  // The guard looks up the function of a top-level CREATE TRIGGER only (trigger-functions.ts).
  if (depth > 0 && TRIGGER_STATEMENTS.has(kind)) throw nestedTrigger();
  switch (kind) {
    case "ExplainStmt":
      return explainFacts(body as NodeBody<"ExplainStmt">, text, depth, variables);
    case "PrepareStmt":
      reservedName(body as NodeBody<"PrepareStmt">);
      // PREPARE p AS DELETE … is judged as the DELETE, so a rule against DELETE catches it now.
      return withTags(innerFacts((body as NodeBody<"PrepareStmt">).query, text, depth, variables), ["prepare"]);
    case "DeclareCursorStmt":
      return innerFacts((body as NodeBody<"DeclareCursorStmt">).query, text, depth, variables);
    default:
      return plainFacts(node, text, depth, variables);
  }
}

function innerFacts(query: Node | undefined, text: string, depth: number, variables: ReadonlySet<string>): StatementFacts {
  if (!query) throw new ClassificationError("the statement has no inner statement to classify");
  return factsOf(query, text, depth + 1, variables);
}

function plainFacts(node: Node, text: string, depth: number, variables: ReadonlySet<string>): StatementFacts {
  const base = statementKind(node);
  // A SQL-standard body (BEGIN ATOMIC) is walked with the statement: its parameters are no columns either.
  const [ownKind, ownBody] = unwrap(node);
  const walk = walkStatement(node, ownKind === "CreateFunctionStmt" ? new Set([...variables, ...functionNames(ownBody as NodeBody<"CreateFunctionStmt">)]) : variables);
  if (walk.triggers > (TRIGGER_STATEMENTS.has(unwrap(node)[0]) ? 1 : 0)) throw nestedTrigger();
  let facts: StatementFacts = {
    command: base.command,
    commands: union([base.command], [...walk.modifications, ...walk.storedModifications].map((modification) => modification.command)),
    objectType: base.objectType,
    subcommands: walk.subcommands,
    tables: [],
    tablesRead: walk.tablesRead,
    tablesWritten: walk.tablesWritten,
    hasWhere: false,
    functions: walk.functions,
    dangerous: union(base.dangerous, walk.dangerous),
  };
  facts = applyModifications(facts, walk);
  const [kind, body] = unwrap(node);
  const code = kind === "DoStmt" ? doBlockFacts(body as NodeBody<"DoStmt">, text, depth) : kind === "CreateFunctionStmt" ? functionBodyFacts(body as NodeBody<"CreateFunctionStmt">, text, depth) : [];
  facts = merge(facts, code);
  return finish(withCodeBounds(facts, [...walk.storedModifications, ...code.map((part) => ({ command: part.command, hasWhere: part.hasWhere }))]));
}

/**
 * A statement that runs or stores code (a DO block, a function, a rule) is bounded when every UPDATE and
 * DELETE of that code is: `DO $$ … DELETE FROM t WHERE id = 1 … $$` has a WHERE, `DO $$ … DELETE FROM t … $$` none.
 */
function withCodeBounds(facts: StatementFacts, code: ReadonlyArray<{ command: string; hasWhere: boolean }>): StatementFacts {
  const bounded = code.filter((part) => part.command === "UPDATE" || part.command === "DELETE");
  if (bounded.length === 0) return facts;
  const own = facts.command === "UPDATE" || facts.command === "DELETE" ? facts.hasWhere : true;
  return { ...facts, hasWhere: own && bounded.every((part) => part.hasWhere) };
}

function finish(facts: StatementFacts): StatementFacts {
  return { ...facts, tables: union(facts.tablesRead, facts.tablesWritten), dangerous: union(facts.dangerous, functionDangers(facts.functions)) };
}

function applyModifications(facts: StatementFacts, walk: WalkResult): StatementFacts {
  if (walk.modifications.length === 0 || !RUNS_MODIFICATIONS.has(facts.command)) return facts;
  const commands = walk.modifications.map((modification) => modification.command);
  const command = MODIFICATION_ORDER.find((candidate) => commands.includes(candidate)) ?? facts.command;
  // WHERE only bounds the statement when every UPDATE and DELETE in it has one.
  const bounded = walk.modifications.filter((modification) => modification.command === "UPDATE" || modification.command === "DELETE");
  const hasWhere = bounded.length > 0 && bounded.every((modification) => modification.hasWhere);
  return { ...facts, command, hasWhere };
}

function withTags(facts: StatementFacts, tags: string[]): StatementFacts {
  return { ...facts, dangerous: union(facts.dangerous, tags) };
}

/** Adds what code inside the statement runs, reads, writes and calls; the statement keeps its own command. */
function merge(facts: StatementFacts, inner: readonly StatementFacts[]): StatementFacts {
  return inner.reduce(
    (merged, part) => ({
      ...merged,
      commands: union(merged.commands, part.commands),
      tablesRead: union(merged.tablesRead, part.tablesRead),
      tablesWritten: union(merged.tablesWritten, part.tablesWritten),
      functions: union(merged.functions, part.functions),
      dangerous: union(merged.dangerous, part.dangerous),
    }),
    facts,
  );
}

function explainFacts(body: NodeBody<"ExplainStmt">, text: string, depth: number, variables: ReadonlySet<string>): StatementFacts {
  const inner = innerFacts(body.query, text, depth, variables);
  // EXPLAIN ANALYZE runs the statement, so it is whatever the statement is.
  if (analyzes(body.options ?? []) && inner.command !== "SELECT") return withTags(inner, ["explain-analyze"]);
  const tablesRead = union(inner.tablesRead, inner.tablesWritten);
  // Without ANALYZE nothing of the statement runs.
  return { ...inner, command: "EXPLAIN", commands: ["EXPLAIN"], objectType: "", subcommands: [], tables: tablesRead, tablesRead, tablesWritten: [], hasWhere: false };
}

/** Whether an EXPLAIN option list turns ANALYZE on; only an explicit false/off/0 turns it off. */
function analyzes(options: readonly Node[]): boolean {
  return options.some((option) => {
    const [kind, body] = unwrap(option);
    if (kind !== "DefElem" || !isObject(body) || body.defname !== "analyze") return false;
    const arg = isObject(body.arg) ? body.arg : undefined;
    if (!arg) return true;
    const [argKind, value] = unwrap(arg as Node);
    if (!isObject(value)) return true;
    if (argKind === "String") return !["false", "off"].includes(String(value.sval).toLowerCase());
    if (argKind === "Integer") return value.ival !== undefined && value.ival !== 0;
    if (argKind === "Boolean") return value.boolval === true;
    return true;
  });
}

/** DefElem options of DO and CREATE FUNCTION by name, e.g. language and as. */
function option(options: readonly Node[] | undefined, name: string): unknown {
  for (const item of options ?? []) {
    const [kind, body] = unwrap(item);
    if (kind === "DefElem" && isObject(body) && body.defname === name) return body.arg;
  }
  return undefined;
}

function stringValue(arg: unknown): string | undefined {
  return isObject(arg) && isObject(arg.String) && typeof arg.String.sval === "string" ? arg.String.sval : undefined;
}

function doBlockFacts(body: NodeBody<"DoStmt">, text: string, depth: number): StatementFacts[] {
  const language = (stringValue(option(body.args, "language")) ?? "plpgsql").toLowerCase();
  // Code in another language could do anything, and nothing here can read it.
  if (language !== "plpgsql") throw new ClassificationError(`a DO block in language ${language} cannot be inspected`);
  return plpgsqlFacts(text, stringValue(option(body.args, "as")), depth, []);
}

function functionSource(body: NodeBody<"CreateFunctionStmt">): string | undefined {
  const definition = option(body.options, "as");
  return isObject(definition) && isObject(definition.List) && Array.isArray(definition.List.items) ? stringValue(definition.List.items[0]) : undefined;
}

/** A function's parameters and its own name (which qualifies them: f.id), in lower case: names in its body that are no columns. */
function functionNames(body: NodeBody<"CreateFunctionStmt">): string[] {
  const names: string[] = [];
  for (const parameter of body.parameters ?? []) {
    const [, value] = unwrap(parameter);
    if (isObject(value) && typeof value.name === "string") names.push(value.name.toLowerCase());
  }
  const name = (body.funcname ?? []).map((part) => stringValue(part)).at(-1);
  return name === undefined ? names : [...names, name.toLowerCase()];
}

/** PL/pgSQL code: every statement and expression in it, classified with its variables known as such. */
function plpgsqlFacts(text: string, source: string | undefined, depth: number, names: readonly string[]): StatementFacts[] {
  checkCodeReading(source);
  const code = plpgsqlBody(text);
  const variables = new Set([...code.variables, ...names]);
  const facts = code.statements.flatMap((sql) => embeddedFacts(sql, depth, variables));
  return code.dynamicSql ? [...facts, { ...emptyFacts(), dangerous: ["dynamic-sql"] }] : facts;
}

function functionBodyFacts(body: NodeBody<"CreateFunctionStmt">, text: string, depth: number): StatementFacts[] {
  // Without LANGUAGE only a SQL-standard body (BEGIN ATOMIC / RETURN) is valid; the walk covers that one.
  const language = (stringValue(option(body.options, "language")) ?? "sql").toLowerCase();
  const source = functionSource(body);
  if (language === "plpgsql") return plpgsqlFacts(text, source, depth, functionNames(body));
  if (language === "sql" && source !== undefined) {
    checkCodeReading(source);
    return embeddedFacts(source, depth, new Set(functionNames(body)));
  }
  return [];
}

function embeddedFacts(sql: string, depth: number, variables: ReadonlySet<string>): StatementFacts[] {
  let statements: ParsedStatement[];
  try {
    statements = parseStatements(sql);
  } catch (error) {
    throw new ClassificationError(`the SQL inside the statement's code cannot be parsed: ${parserMessage(error)}`);
  }
  return statements.map((statement) => factsOf(statement.node, statement.text, depth + 1, variables));
}

function emptyFacts(): StatementFacts {
  return { command: "", commands: [], objectType: "", subcommands: [], tables: [], tablesRead: [], tablesWritten: [], hasWhere: false, functions: [], dangerous: [] };
}
