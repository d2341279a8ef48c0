// Walks one statement's whole parse tree (subqueries, CTEs, joins, set
// operations, DEFAULTs and CHECKs of DDL) for the tables it reads and
// writes, the functions it calls and the data-modifying statements inside it.
// A table name hidden in any corner of the tree is a way around a table rule,
// so the walk visits every field and only the few positions that write are
// named; any other table reference counts as read.
import type { Node } from "libpg-query";
import { isObject, unwrap, type Fields, type NodeKind } from "./parse-tree.js";

/** An INSERT, UPDATE, DELETE or MERGE that runs as part of the statement. */
export interface Modification {
  command: "INSERT" | "UPDATE" | "DELETE" | "MERGE";
  hasWhere: boolean;
}

export interface WalkResult {
  tablesRead: string[];
  tablesWritten: string[];
  functions: string[];
  modifications: Modification[];
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

class Walker {
  readonly read = new Set<string>();
  readonly written = new Set<string>();
  readonly functions = new Set<string>();
  readonly modifications: Modification[] = [];
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
      case "CommonTableExpr":
        if (isObject(body.ctequery) && MODIFYING[unwrap(body.ctequery as Node)[0]]) this.dangerous.add("data-modifying-cte");
        break;
      case "ExecuteStmt":
        // CREATE TABLE … AS EXECUTE p runs a prepared statement the text does not show.
        this.dangerous.add("execute-prepared");
        break;
      case "DropStmt":
        this.dropped(body);
        break;
    }
    this.visitStatement(kind, body, scope);
  }

  /** Records what the node writes and modifies, then walks the rest of it. */
  private visitStatement(kind: NodeKind, body: Fields, scope: Scope): void {
    const modifying = MODIFYING[kind];
    if (modifying && this.storedCode === 0) this.modifications.push({ command: modifying, hasWhere: this.hasWhere(kind, body) });
    // COPY FROM fills its table; COPY TO only reads it.
    const target = kind === "CopyStmt" ? (body.is_from === true ? ["relation"] : []) : (WRITE_TARGETS[kind] ?? []);
    this.writeTarget(body, target);
    const stored = STORED_CODE.has(kind);
    if (stored) this.storedCode++;
    this.visitFields(body, scope, target);
    if (stored) this.storedCode--;
  }

  private hasWhere(kind: NodeKind, body: Fields): boolean {
    return (kind === "UpdateStmt" || kind === "DeleteStmt") && body.whereClause !== undefined;
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

/** The tables, functions and data-modifying parts of one statement. */
export function walkStatement(node: Node): WalkResult {
  const walker = new Walker();
  walker.visit(node, new Set());
  const written = [...walker.written];
  return {
    tablesRead: [...walker.read],
    tablesWritten: written,
    functions: [...walker.functions],
    modifications: walker.modifications,
    dangerous: [...walker.dangerous],
  };
}
