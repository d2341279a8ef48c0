// Walks one statement's whole parse tree (subqueries, CTEs, joins, set
// operations, DEFAULTs and CHECKs of DDL) for the tables it reads and
// writes, the functions it calls and the data-modifying statements inside it.
// A table name hidden in any corner of the tree is a way around a table rule,
// so the walk visits every field and only the few positions that write are
// named; any other table reference counts as read.
import type { Node } from "libpg-query";
import { isObject, unwrap, type Fields, type NodeKind } from "./parse-tree.js";
import { ClassificationError } from "./parser.js";

/** An INSERT, UPDATE, DELETE (or a MERGE without actions) that runs as part of the statement. */
export interface Modification {
  command: "INSERT" | "UPDATE" | "DELETE" | "MERGE";
  /** For UPDATE and DELETE: a condition that can tell rows apart bounds it (a constant-true WHERE does not). */
  hasWhere: boolean;
}

export interface WalkResult {
  tablesRead: string[];
  tablesWritten: string[];
  functions: string[];
  modifications: Modification[];
  /** The data modifications of code the statement stores for later (a rule's actions, a SQL-standard function body). */
  storedModifications: Modification[];
  /** ALTER TABLE's subcommands in words, e.g. DROP COLUMN, ADD CONSTRAINT (PostgreSQL's AT_DropColumn, AT_AddConstraint). */
  subcommands: string[];
  /** CREATE TRIGGER and CREATE EVENT TRIGGER statements in the tree, the statement itself included. */
  triggers: number;
  /** Tags for what the tree hides inside: data-modifying-cte, execute-prepared. */
  dangerous: string[];
}

type Scope = ReadonlySet<string>;

const MODIFYING: Partial<Record<NodeKind, Modification["command"]>> = {
  InsertStmt: "INSERT",
  UpdateStmt: "UPDATE",
  DeleteStmt: "DELETE",
  MergeStmt: "MERGE",
};
// MERGE's actions, by the command each performs.
const MERGE_ACTIONS: Readonly<Record<string, Modification["command"]>> = { CMD_INSERT: "INSERT", CMD_UPDATE: "UPDATE", CMD_DELETE: "DELETE" };

// Fields (as paths) whose relations the statement creates, changes or fills.
const WRITE_TARGETS: Partial<Record<NodeKind, string[]>> = {
  InsertStmt: ["relation"],
  UpdateStmt: ["relation"],
  DeleteStmt: ["relation"],
  MergeStmt: ["relation"],
  SelectStmt: ["intoClause", "rel"],
  CreateTableAsStmt: ["into", "rel"],
  CreateStmt: ["relation"],
  CreateForeignTableStmt: ["base", "relation"],
  TruncateStmt: ["relations"],
  AlterTableStmt: ["relation"],
  RenameStmt: ["relation"],
  IndexStmt: ["relation"],
  ViewStmt: ["view"],
  CreateTrigStmt: ["relation"],
  RuleStmt: ["relation"],
  CreatePolicyStmt: ["table"],
  AlterPolicyStmt: ["table"],
  ClusterStmt: ["relation"],
  RefreshMatViewStmt: ["relation"],
  AlterObjectSchemaStmt: ["relation"],
  AlterOwnerStmt: ["relation"],
  CreateSeqStmt: ["sequence"],
  AlterSeqStmt: ["sequence"],
  CompositeTypeStmt: ["typevar"],
  GrantStmt: ["objects"],
};

// DROP of these names relations; their names are written (removed) tables.
const DROPPED_RELATIONS = new Set(["OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"]);

// Code that is stored, not run, by the statement: its DML is no data-modifying part of it.
const STORED_CODE = new Set<NodeKind>(["CreateFunctionStmt", "RuleStmt"]);

function qualifiedName(rangeVar: Fields): string | undefined {
  if (typeof rangeVar.relname !== "string") return undefined;
  return typeof rangeVar.schemaname === "string" ? `${rangeVar.schemaname}.${rangeVar.relname}` : rangeVar.relname;
}

function stringItems(list: unknown): string[] {
  const items = isObject(list) && isObject(list.List) && Array.isArray(list.List.items) ? list.List.items : [];
  return items.flatMap((item: unknown) => (isObject(item) && isObject(item.String) && typeof item.String.sval === "string" ? [item.String.sval] : []));
}

/** AT_DropColumn as DROP COLUMN: PostgreSQL's name for an ALTER TABLE subcommand, in words. */
function subcommandWords(subtype: string): string {
  return subtype
    .replace(/^AT_/, "")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toUpperCase();
}

/** How a condition may refer to the rows an UPDATE, DELETE or MERGE changes. */
interface RowScope {
  /** The target's alias, or its name. */
  target: ReadonlySet<string>;
  /** Whether an unqualified column is the target's: not when FROM, USING or a MERGE source brings other columns. */
  unqualifiedIsTarget: boolean;
  /** Names that are no columns: the variables and parameters of the code around it, a rule's NEW and OLD. */
  variables: ReadonlySet<string>;
}

function targetNames(relation: unknown): Set<string> {
  if (!isObject(relation)) return new Set();
  const alias = isObject(relation.alias) && typeof relation.alias.aliasname === "string" ? relation.alias.aliasname : undefined;
  const name = alias ?? relation.relname;
  return new Set(typeof name === "string" ? [name] : []);
}

function hasWhere(kind: NodeKind, body: Fields, variables: ReadonlySet<string>): boolean {
  if (kind !== "UpdateStmt" && kind !== "DeleteStmt") return false;
  const others = [body.fromClause, body.usingClause].some((list) => Array.isArray(list) && list.length > 0);
  return filtersRows(body.whereClause, { target: targetNames(body.relation), unqualifiedIsTarget: !others, variables });
}

// Within a condition's parts, these make a boolean out of others: a row reference under them may not decide it.
const BOOLEAN_LOGIC = new Set(["BoolExpr", "CaseExpr", "CoalesceExpr", "MinMaxExpr"]);

/**
 * Whether a condition can tell rows apart, so it bounds an UPDATE or DELETE. One that refers to no row
 * (WHERE true, WHERE 1 = 1, WHERE EXISTS (SELECT 1)) holds for every row or for none; an OR holds for every
 * row when any of its branches can (NOT swaps AND and OR); a row reference counts only where it decides the
 * part it is in (id = 5, lower(email) = 'x'; not COALESCE(true, id = 1)); WHERE CURRENT OF is one row. A
 * column of a subquery counts when it names the target and the subquery does not name another thing so.
 */
export function filtersRows(condition: unknown, scope: RowScope, negated = false): boolean {
  if (!isObject(condition)) return false;
  const [kind, body] = unwrap(condition as Node);
  if (kind === "BoolExpr" && isObject(body) && Array.isArray(body.args)) {
    const args: unknown[] = body.args;
    if (body.boolop === "NOT_EXPR") return filtersRows(args[0], scope, !negated);
    const everyBranch = (body.boolop === "OR_EXPR") !== negated;
    return everyBranch ? args.every((arg) => filtersRows(arg, scope, negated)) : args.some((arg) => filtersRows(arg, scope, negated));
  }
  return refersToRow(condition, scope, new Set(), false);
}

function refersToRow(value: unknown, scope: RowScope, declared: ReadonlySet<string>, inSubquery: boolean): boolean {
  if (Array.isArray(value)) return value.some((item) => refersToRow(item, scope, declared, inSubquery));
  if (!isObject(value)) return false;
  return Object.entries(value).some(([key, field]) => {
    if (key === "ColumnRef") return isObject(field) && columnOfTarget(field, scope, declared, inSubquery);
    if (key === "CurrentOfExpr") return true;
    if (BOOLEAN_LOGIC.has(key)) return false;
    if (key === "SubLink" && isObject(field)) return refersToRow(field.testexpr, scope, declared, inSubquery) || subqueryRefers(field.subselect, scope, declared);
    return refersToRow(field, scope, declared, inSubquery);
  });
}

function columnOfTarget(columnRef: Fields, scope: RowScope, declared: ReadonlySet<string>, inSubquery: boolean): boolean {
  const parts = (Array.isArray(columnRef.fields) ? columnRef.fields : []).map((part: unknown) => (isObject(part) && isObject(part.String) && typeof part.String.sval === "string" ? part.String.sval : "*"));
  const first = parts[0];
  if (first === undefined || scope.variables.has(first.toLowerCase())) return false;
  if (parts.length === 1) return !inSubquery && scope.unqualifiedIsTarget;
  const qualifier = parts[parts.length - 2] as string;
  return !declared.has(qualifier) && scope.target.has(qualifier);
}

/** A subquery filters the outer rows when its own conditions (WHERE, JOIN … ON) do, through a reference to them. */
function subqueryRefers(subselect: unknown, scope: RowScope, declared: ReadonlySet<string>): boolean {
  const select = isObject(subselect) && isObject(subselect.SelectStmt) ? subselect.SelectStmt : undefined;
  if (!select) return false;
  const inner = new Set([...declared, ...declaredNames(select)]);
  const correlated = (condition: unknown): boolean => {
    if (!isObject(condition)) return false;
    const [kind, body] = unwrap(condition as Node);
    if (kind === "BoolExpr" && isObject(body) && Array.isArray(body.args)) {
      const args: unknown[] = body.args;
      if (body.boolop === "OR_EXPR") return args.every(correlated);
      if (body.boolop === "AND_EXPR") return args.some(correlated);
      return correlated(args[0]);
    }
    return refersToRow(condition, scope, inner, true);
  };
  return correlated(select.whereClause) || joinConditions(select.fromClause).some(correlated);
}

/** The names a SELECT's FROM list and WITH clause bring into scope: tables (by alias or name), subqueries, CTEs. */
function declaredNames(select: Fields): string[] {
  const names: string[] = [];
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(collect);
    if (!isObject(value)) return;
    if (typeof value.relname === "string") names.push(isObject(value.alias) && typeof value.alias.aliasname === "string" ? value.alias.aliasname : value.relname);
    else if (isObject(value.alias) && typeof value.alias.aliasname === "string") names.push(value.alias.aliasname);
    if (typeof value.ctename === "string") names.push(value.ctename);
    for (const [key, field] of Object.entries(value)) if (key !== "SubLink" && key !== "alias") collect(field);
  };
  collect(select.fromClause);
  collect(select.withClause);
  return names;
}

function joinConditions(fromClause: unknown): unknown[] {
  const conditions: unknown[] = [];
  const collect = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(collect);
    if (!isObject(value)) return;
    if (isObject(value.JoinExpr)) {
      conditions.push(value.JoinExpr.quals);
      collect(value.JoinExpr.larg);
      collect(value.JoinExpr.rarg);
    }
  };
  collect(fromClause);
  return conditions;
}

/**
 * MERGE as the INSERT, UPDATE and DELETE its actions perform. An action on matched rows is bounded by the
 * join condition or its own; one on target rows the source does not match (BY SOURCE) only by its own. The
 * source's columns are no bound: only a reference to the target counts.
 */
function mergeModifications(body: Fields, variables: ReadonlySet<string>): Modification[] {
  const scope: RowScope = { target: targetNames(body.relation), unqualifiedIsTarget: false, variables };
  const clauses = Array.isArray(body.mergeWhenClauses) ? body.mergeWhenClauses : [];
  const actions = clauses.flatMap((clause: unknown): Modification[] => {
    const when = isObject(clause) && isObject(clause.MergeWhenClause) ? clause.MergeWhenClause : undefined;
    const command = when && typeof when.commandType === "string" ? MERGE_ACTIONS[when.commandType] : undefined;
    if (!when || !command) return [];
    const joined = when.matchKind === "MERGE_WHEN_MATCHED" && filtersRows(body.joinCondition, scope);
    return [{ command, hasWhere: command === "INSERT" || joined || filtersRows(when.condition, scope) }];
  });
  return actions.length > 0 ? actions : [{ command: "MERGE", hasWhere: false }];
}

/** The gateway's own prepared statements are named with this prefix on the wire (statement-names.ts). */
export const RESERVED_STATEMENT_PREFIX = "portcullis_";

/** SQL may not name the gateway's statements: their text was checked when they ran through Execute, not here. */
export function reservedName(body: { name?: unknown }): void {
  if (typeof body.name === "string" && body.name.toLowerCase().startsWith(RESERVED_STATEMENT_PREFIX)) {
    throw new ClassificationError(`prepared statement names beginning with ${RESERVED_STATEMENT_PREFIX} are the gateway's own`);
  }
}

class Walker {
  readonly read = new Set<string>();
  readonly written = new Set<string>();
  readonly functions = new Set<string>();
  readonly modifications: Modification[] = [];
  readonly storedModifications: Modification[] = [];
  triggers = 0;
  private ruleActions = 0;

  constructor(private readonly variables: ReadonlySet<string>) {}
  readonly subcommands = new Set<string>();
  readonly dangerous = new Set<string>();
  private storedCode = 0;

  visit(value: unknown, scope: Scope): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, scope);
      return;
    }
    if (!isObject(value)) return;
    // RangeVar bodies appear both wrapped ({RangeVar: …}) and bare in typed fields.
    if (typeof value.relname === "string") {
      this.reference(value, scope);
      return;
    }
    const keys = Object.keys(value);
    const only = keys.length === 1 ? keys[0] : undefined;
    if (only !== undefined && /^[A-Z]/.test(only) && isObject(value[only])) {
      this.visitNode(only as NodeKind, value[only], scope);
      return;
    }
    this.visitFields(value, scope, []);
  }

  private visitNode(kind: NodeKind, body: Fields, scope: Scope): void {
    switch (kind) {
      case "RangeVar":
        return this.reference(body, scope);
      case "FuncCall":
        return this.call(body, scope);
      case "CallStmt":
        // CALL holds its FuncCall bare rather than wrapped.
        return this.call(isObject(body.funccall) ? body.funccall : {}, scope);
      case "LockingClause":
        // FOR UPDATE OF names FROM items (often aliases) that the FROM clause already reported.
        return;
      default:
        this.note(kind, body);
    }
    this.visitStatement(kind, body, scope);
  }

  /** What a node adds to the statement's facts before it is walked. */
  private note(kind: NodeKind, body: Fields): void {
    if (kind === "CommonTableExpr" && isObject(body.ctequery) && MODIFYING[unwrap(body.ctequery as Node)[0]]) this.dangerous.add("data-modifying-cte");
    // CREATE TABLE … AS EXECUTE p runs a prepared statement the text does not show.
    if (kind === "ExecuteStmt") this.dangerous.add("execute-prepared");
    if (kind === "ExecuteStmt" || kind === "PrepareStmt" || kind === "DeallocateStmt") reservedName(body);
    if (kind === "DropStmt") this.dropped(body);
    if (kind === "CreateTrigStmt" || kind === "CreateEventTrigStmt") this.triggers += 1;
    if (kind === "AlterTableCmd" && typeof body.subtype === "string") this.subcommands.add(subcommandWords(body.subtype));
  }

  /** Records what the node writes and modifies, then walks the rest of it. */
  private visitStatement(kind: NodeKind, body: Fields, scope: Scope): void {
    // A rule's actions refer to the rule's rows as NEW and OLD.
    const variables = this.ruleActions > 0 ? new Set([...this.variables, "new", "old"]) : this.variables;
    const modifications = kind === "MergeStmt" ? mergeModifications(body, variables) : MODIFYING[kind] ? [{ command: MODIFYING[kind], hasWhere: hasWhere(kind, body, variables) }] : [];
    if (this.storedCode === 0) this.modifications.push(...modifications);
    else this.storedModifications.push(...modifications);
    // COPY FROM fills its table; COPY TO only reads it.
    const target = kind === "CopyStmt" ? (body.is_from === true ? ["relation"] : []) : (WRITE_TARGETS[kind] ?? []);
    this.writeTarget(body, target);
    const stored = STORED_CODE.has(kind);
    if (stored) this.storedCode++;
    if (kind === "RuleStmt") this.ruleActions++;
    this.visitFields(body, scope, target);
    if (kind === "RuleStmt") this.ruleActions--;
    if (stored) this.storedCode--;
  }

  private call(body: Fields, scope: Scope): void {
    const name = stringItems({ List: { items: body.funcname } }).join(".").toLowerCase();
    if (name) this.functions.add(name);
    this.visitFields(body, scope, ["funcname"]);
  }

  private reference(rangeVar: Fields, scope: Scope): void {
    const name = qualifiedName(rangeVar);
    // An unqualified name that a visible CTE declares is that CTE, not a table.
    if (name === undefined || (rangeVar.schemaname === undefined && scope.has(name))) return;
    this.read.add(name);
  }

  private dropped(body: Fields): void {
    if (typeof body.removeType !== "string" || !DROPPED_RELATIONS.has(body.removeType) || !Array.isArray(body.objects)) return;
    for (const object of body.objects) {
      const name = stringItems(object);
      if (name.length > 0) this.written.add(name.slice(-2).join("."));
    }
  }

  /** Records the relations at path as written; the walk skips them afterwards. */
  private writeTarget(body: Fields, path: string[]): void {
    if (path.length === 0) return;
    let value: unknown = body;
    for (const field of path) value = isObject(value) ? value[field] : undefined;
    const items: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of items) {
      const rangeVar = isObject(item) && isObject(item.RangeVar) ? item.RangeVar : item;
      const name = isObject(rangeVar) ? qualifiedName(rangeVar) : undefined;
      if (name !== undefined) this.written.add(name);
    }
  }

  /** Visits every field except the one at `skip`, with the scope of any WITH clause the object carries. */
  private visitFields(fields: Fields, scope: Scope, skip: string[]): void {
    const inner = this.visitWith(fields.withClause, scope);
    const [first, ...rest] = skip;
    for (const [key, value] of Object.entries(fields)) {
      if (key === "withClause") continue;
      if (key !== first) this.visit(value, inner);
      else if (rest.length > 0 && isObject(value)) this.visitFields(value, inner, rest);
    }
  }

  /**
   * Visits the CTEs of a WITH clause and returns the scope of the statement it
   * belongs to. Without RECURSIVE a CTE sees only the CTEs before it, so in
   * `WITH t AS (SELECT * FROM t)` the inner t is the real table.
   */
  private visitWith(withClause: unknown, scope: Scope): Scope {
    if (!isObject(withClause) || !Array.isArray(withClause.ctes)) return scope;
    const names = withClause.ctes.map((cte: unknown) => (isObject(cte) && isObject(cte.CommonTableExpr) ? cte.CommonTableExpr.ctename : undefined));
    const all = new Set([...scope, ...names.filter((name): name is string => typeof name === "string")]);
    withClause.ctes.forEach((cte: unknown, index: number) => {
      const visible = withClause.recursive === true ? all : new Set([...scope, ...names.slice(0, index).filter((name): name is string => typeof name === "string")]);
      this.visit(cte, visible);
    });
    return all;
  }
}

/**
 * The tables, functions and data-modifying parts of one statement; `variables` are the names that are no
 * columns in it (the variables and parameters of the code it is part of).
 */
export function walkStatement(node: Node, variables: ReadonlySet<string> = new Set()): WalkResult {
  const walker = new Walker(variables);
  walker.visit(node, new Set());
  const written = [...walker.written];
  return {
    tablesRead: [...walker.read],
    tablesWritten: written,
    functions: [...walker.functions],
    modifications: walker.modifications,
    storedModifications: walker.storedModifications,
    triggers: walker.triggers,
    subcommands: [...walker.subcommands],
    dangerous: [...walker.dangerous],
  };
}
