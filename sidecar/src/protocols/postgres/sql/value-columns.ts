// Which column each value a statement carries meets, read from its parse tree:
// the constants (strings and numbers) and the $n parameters compared with or
// written to a column — `WHERE email = '…'`, `lower(email) = …`, `email IN
// (…)`, `email = ANY(ARRAY[…])`, `(email, …) = ('…', …)`, `CASE email WHEN
// '…'`, `SET email = '…'` (also through CASE, COALESCE, GREATEST and LEAST),
// `SET (…, email) = (…, '…')`, `INSERT … (email) VALUES ('…')` or `SELECT
// '…'`, `ON CONFLICT … DO UPDATE SET`, MERGE's UPDATE SET and INSERT. The
// evidence masks each value as the values of its column are masked
// (literal-evidence.ts), and a value this walk does not tie to a column as
// if it could be any column's: so what it does not follow is masked, not
// shown. A column whose table the statement does not make certain (an
// unqualified column where it names several tables, a qualifier that is a
// subquery's or a CTE's name) may be that column of any table, and a table
// named without its schema may be in any schema. Pure.
import type { ResultColumn } from "../../../masking/result-columns.js";

/** A constant of the statement: where its token starts, its value as text, and the column it meets. */
export interface Constant {
  /** Byte offset of its token. */
  location: number;
  value: string;
  column?: ResultColumn;
}

/** The columns the $n of a statement stand for. */
export type ParameterColumns = ReadonlyMap<number, ResultColumn>;

/** A value the walk ties to no column: it may be any column of any table. */
export const ANY_COLUMN: ResultColumn = { name: "?", typeOid: 25, format: 0, anyColumn: true };

export interface ValueColumns {
  constants: Constant[];
  parameters: Map<number, ResultColumn>;
}

type Node = Record<string, unknown>;
const isNode = (value: unknown): value is Node => value !== null && typeof value === "object" && !Array.isArray(value);
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The constants of a statement's tree with the columns they meet, and the columns of its parameters. */
export function valueColumns(statement: unknown): ValueColumns {
  const found: ValueColumns = { constants: [], parameters: new Map() };
  new ValueWalk(found, tableContext(statement)).visit(statement, undefined);
  return found;
}

interface Relation {
  schema?: string;
  table: string;
}

function relationOf(node: unknown): Relation | undefined {
  if (!isNode(node) || typeof node.relname !== "string") return undefined;
  return { table: node.relname, ...(typeof node.schemaname === "string" ? { schema: node.schemaname } : {}) };
}

/** "schema.table", or the bare table name when the statement does not say its schema (it may be in any). */
const tableName = (relation: Relation): string => (relation.schema === undefined ? relation.table : `${relation.schema}.${relation.table}`);

/** The tables a statement names: the one its unqualified columns belong to when it names exactly one, and the names its tables go by. */
interface TableContext {
  table?: Relation;
  /** A table by its alias, or by its own name. */
  names: ReadonlyMap<string, Relation>;
  /** The names of FROM items that are no tables: subqueries, functions, joins with an alias, CTEs. */
  opaque: ReadonlySet<string>;
}

/** The alias a FROM item that is no table goes by, and the kinds of such items. */
const OPAQUE_ITEMS = ["RangeSubselect", "RangeFunction", "RangeTableFunc", "JoinExpr"] as const;

function tableContext(node: unknown): TableContext {
  const found: Array<{ relation: Relation; alias?: string }> = [];
  const ctes = new Set<string>();
  const table = (rangeVar: unknown): void => {
    const relation = relationOf(rangeVar);
    if (!relation || !isNode(rangeVar)) return;
    const alias = isNode(rangeVar.alias) && typeof rangeVar.alias.aliasname === "string" ? rangeVar.alias.aliasname : undefined;
    found.push({ relation, ...(alias !== undefined ? { alias } : {}) });
  };
  const opaque = new Set<string>();
  let opaqueItems = 0;
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) walk(item);
    } else if (isNode(value)) {
      if (isNode(value.CommonTableExpr) && typeof value.CommonTableExpr.ctename === "string") ctes.add(value.CommonTableExpr.ctename);
      for (const kind of OPAQUE_ITEMS) {
        const item = value[kind];
        if (!isNode(item)) continue;
        if (kind !== "JoinExpr") opaqueItems += 1;
        if (isNode(item.alias) && typeof item.alias.aliasname === "string") opaque.add(item.alias.aliasname);
      }
      // A FROM item is a RangeVar node; the target of UPDATE, INSERT, DELETE and MERGE is a bare one under "relation".
      table(value.RangeVar);
      table(value.relation);
      for (const key in value) walk(value[key]);
    }
  };
  walk(node);
  for (const cte of ctes) opaque.add(cte);
  // A CTE's name in FROM is no table: its columns may be any table's.
  const tables = found.filter(({ relation }) => relation.schema !== undefined || !ctes.has(relation.table));
  // A name two different tables go by says neither, nor one a subquery or CTE goes by too.
  const names = new Map<string, Relation | undefined>();
  const name = (key: string, relation: Relation): void => {
    const known = names.get(key);
    names.set(key, names.has(key) && (known === undefined || tableName(known) !== tableName(relation)) ? undefined : relation);
  };
  for (const { relation, alias } of tables) name(alias ?? relation.table, relation);
  const distinct = new Set(tables.map(({ relation }) => tableName(relation)));
  const only = distinct.size === 1 && tables.length === found.length && opaqueItems === 0 ? tables[0]?.relation : undefined;
  const certain = [...names].flatMap(([key, relation]) => (relation && !opaque.has(key) ? [[key, relation] as const] : []));
  return { ...(only ? { table: only } : {}), names: new Map(certain), opaque };
}

/** Where a column of `relation` is, for the rules: its table, and whether its schema is left open. */
function placeOf(relation: Relation): Pick<ResultColumn, "table" | "schemaUnknown"> {
  return { table: tableName(relation), ...(relation.schema === undefined ? { schemaUnknown: true as const } : {}) };
}

/** A column of `relation`; without one, the column of that name in any table. */
function columnNamed(name: string, relation: Relation | undefined): ResultColumn {
  return { name, ...(relation ? { ...placeOf(relation), column: name } : { column: name, anyTable: true as const }), typeOid: 25, format: 0 };
}

/** Some column of `relation` (of any table when it is not known): where a statement writes without naming the column. */
function anyColumnOf(relation: Relation | undefined): ResultColumn {
  return relation ? { ...ANY_COLUMN, ...placeOf(relation) } : ANY_COLUMN;
}

/** A constant's value as text: a string, a number (an integer 0 is an empty ival), a bit string, or undefined for NULL and booleans. */
function constantValue(node: Node): string | undefined {
  if (isNode(node.sval) && typeof node.sval.sval === "string") return node.sval.sval;
  if (isNode(node.fval) && typeof node.fval.fval === "string") return node.fval.fval;
  if (isNode(node.ival)) return typeof node.ival.ival === "number" ? String(node.ival.ival) : "0";
  if (isNode(node.bsval) && typeof node.bsval.bsval === "string") return node.bsval.bsval;
  return undefined;
}

/** What an assignment's target takes: its value, or for `SET (a, b) = (x, y)` the item of the row at its position. */
function assignedValue(value: unknown): unknown {
  const multi = isNode(value) && isNode(value.MultiAssignRef) ? value.MultiAssignRef : undefined;
  const source = multi && isNode(multi.source) && isNode(multi.source.RowExpr) && Array.isArray(multi.source.RowExpr.args) ? (multi.source.RowExpr.args as unknown[]) : undefined;
  return multi && source && typeof multi.colno === "number" ? source[multi.colno - 1] : value;
}

/** The names of an INSERT's column list (ResTargets with only a name), as columns of `relation`. */
function insertColumns(targets: unknown, relation: Relation | undefined): Array<ResultColumn | undefined> {
  return listOf(targets).map((target) => (isNode(target) && isNode(target.ResTarget) && typeof target.ResTarget.name === "string" ? columnNamed(target.ResTarget.name, relation) : undefined));
}

/**
 * What keeps the column the node meets: a cast's operand, the items of an IN list or an ARRAY (= ANY), and what
 * COALESCE, GREATEST and LEAST may give; undefined for other nodes.
 */
function keepsColumn(value: Node): unknown {
  if (isNode(value.TypeCast)) return value.TypeCast.arg ?? [];
  if (isNode(value.List)) return value.List.items ?? [];
  if (isNode(value.A_ArrayExpr)) return value.A_ArrayExpr.elements ?? [];
  if (isNode(value.CoalesceExpr)) return value.CoalesceExpr.args ?? [];
  if (isNode(value.MinMaxExpr)) return value.MinMaxExpr.args ?? [];
  return undefined;
}

/** The comparisons, which tie a value to the column on the other side; other operators put it into what they give. */
const COMPARING_KINDS = new Set(["AEXPR_IN", "AEXPR_LIKE", "AEXPR_ILIKE", "AEXPR_SIMILAR", "AEXPR_BETWEEN", "AEXPR_NOT_BETWEEN", "AEXPR_BETWEEN_SYM", "AEXPR_NOT_BETWEEN_SYM", "AEXPR_DISTINCT", "AEXPR_NOT_DISTINCT", "AEXPR_NULLIF"]);
const COMPARING_OPERATORS = new Set(["=", "<>", "!=", "<", ">", "<=", ">=", "~~", "!~~", "~~*", "!~~*", "~", "!~", "~*", "!~*"]);

function compares(node: Node): boolean {
  if (typeof node.kind === "string" && COMPARING_KINDS.has(node.kind)) return true;
  const operator = listOf(node.name).at(-1);
  const symbol = isNode(operator) && isNode(operator.String) ? operator.String.sval : undefined;
  return typeof symbol === "string" && COMPARING_OPERATORS.has(symbol);
}

/** Whether two values' columns are the same for the rules. */
function sameColumn(a: ResultColumn, b: ResultColumn): boolean {
  return a.name === b.name && a.table === b.table && a.column === b.column && a.anyColumn === b.anyColumn && a.anyTable === b.anyTable && a.schemaUnknown === b.schemaUnknown;
}

/** The values of every key of `node` but those given. */
function others(node: Node, ...skipped: string[]): unknown[] {
  return Object.entries(node).flatMap(([key, child]) => (skipped.includes(key) ? [] : [child]));
}

class ValueWalk {
  constructor(
    private readonly found: ValueColumns,
    private readonly context: TableContext,
  ) {}

  visit(value: unknown, column: ResultColumn | undefined): void {
    if (Array.isArray(value)) {
      for (const item of value) this.visit(item, column);
      return;
    }
    if (!isNode(value)) return;
    if (isNode(value.A_Const)) return this.constant(value.A_Const, column);
    if (isNode(value.ParamRef)) return this.parameter(value.ParamRef, column);
    if (isNode(value.A_Expr)) return this.expression(value.A_Expr, column);
    if (isNode(value.CaseExpr)) return this.caseExpression(value.CaseExpr, column);
    if (this.statement(value)) return;
    const keeping = keepsColumn(value);
    if (keeping !== undefined) return this.visit(keeping, column);
    for (const key in value) this.visit(value[key], undefined);
  }

  /** Statements that write to columns, or prepare: true when `value` is one and was visited. */
  private statement(value: Node): boolean {
    if (isNode(value.UpdateStmt)) this.update(value.UpdateStmt);
    else if (isNode(value.InsertStmt)) this.insert(value.InsertStmt);
    else if (isNode(value.MergeStmt)) this.merge(value.MergeStmt);
    else if (isNode(value.PrepareStmt)) this.prepare(value.PrepareStmt);
    else return false;
    return true;
  }

  private visitAll(children: readonly unknown[]): void {
    for (const child of children) this.visit(child, undefined);
  }

  /** A $n meets the column of each place it is used; used where no column is, or at two different columns, it may be any column's. */
  private parameter(node: Node, column: ResultColumn | undefined): void {
    if (typeof node.number !== "number") return;
    const known = this.found.parameters.get(node.number);
    const here = column ?? ANY_COLUMN;
    this.found.parameters.set(node.number, known === undefined || sameColumn(known, here) ? here : ANY_COLUMN);
  }

  private constant(node: Node, column: ResultColumn | undefined): void {
    if (typeof node.location !== "number") return;
    const value = constantValue(node);
    if (value !== undefined) this.found.constants.push({ location: node.location, value, ...(column ? { column } : {}) });
  }

  /**
   * `column op value`, `value op column`, `column IN (values)`, `column = ANY(ARRAY[values])`, `f(column) op value`
   * for comparisons: the values meet the column; `(a, b) = (x, y)` pairs them by position.
   */
  private expression(node: Node, outer: ResultColumn | undefined): void {
    // Arithmetic and concatenation put their operands into what they give, which meets the outer column (SET a = b || 'x').
    if (!compares(node)) {
      this.visit(node.lexpr, outer);
      this.visit(node.rexpr, outer);
      return;
    }
    const [leftRow, rightRow] = [node.lexpr, node.rexpr].map((side) => (isNode(side) && isNode(side.RowExpr) && Array.isArray(side.RowExpr.args) ? (side.RowExpr.args as unknown[]) : undefined));
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

  /** `CASE column WHEN value …` compares each value with the column; the results and ELSE give the CASE's own column. */
  private caseExpression(node: Node, outer: ResultColumn | undefined): void {
    const compared = this.columnOf(node.arg);
    this.visit(node.arg, undefined);
    for (const when of listOf(node.args)) {
      const body = isNode(when) && isNode(when.CaseWhen) ? when.CaseWhen : undefined;
      if (!body) continue;
      this.visit(body.expr, compared);
      this.visit(body.result, outer);
    }
    this.visit(node.defresult, outer);
  }

  /** The column an operand is, through casts and functions of it (lower(email)). */
  private columnOf(value: unknown): ResultColumn | undefined {
    if (!isNode(value)) return undefined;
    if (isNode(value.TypeCast)) return this.columnOf(value.TypeCast.arg);
    if (isNode(value.FuncCall)) {
      // A function of one column (lower(email)) is that column's; of several, it may be any of them.
      const columns = listOf(value.FuncCall.args).flatMap((arg) => this.columnOf(arg) ?? []);
      return columns.length === 1 ? columns[0] : columns.length > 1 ? ANY_COLUMN : undefined;
    }
    return isNode(value.ColumnRef) ? this.referenced(value.ColumnRef) : undefined;
  }

  /** A column reference: its name, and its table from a qualifier (a table or its alias) or the statement's one table. */
  private referenced(ref: Node): ResultColumn | undefined {
    const fields = listOf(ref.fields);
    const names = fields.flatMap((field) => (isNode(field) && isNode(field.String) && typeof field.String.sval === "string" ? [field.String.sval] : []));
    const name = names.at(-1);
    // t.* is a whole row: it holds every column.
    if (name === undefined || names.length !== fields.length) return ANY_COLUMN;
    const qualifier = names.at(-2);
    // A name the statement's tables or subqueries go by may be a whole row (customers::text).
    if (qualifier === undefined && (this.context.names.has(name) || this.context.opaque.has(name))) return ANY_COLUMN;
    if (qualifier === undefined) return columnNamed(name, this.context.table);
    // schema.table.column says it all, unless its first name is one the statement's FROM items go by: then it is a
    // field of a composite column (o.customer.ssn), which may be that field of any table's type.
    if (names.length >= 3) {
      const first = names[0] as string;
      if (this.context.names.has(first) || this.context.opaque.has(first)) return columnNamed(name, undefined);
      return columnNamed(name, { table: qualifier, schema: names.at(-3) as string });
    }
    // table.column only when table is one the statement names (not a subquery's alias).
    return columnNamed(name, this.context.names.get(qualifier));
  }

  private update(node: Node): void {
    this.assignments(node.targetList, relationOf(node.relation) ?? this.context.table);
    this.visitAll(others(node, "targetList"));
  }

  /** `SET column = value` (UPDATE, ON CONFLICT DO UPDATE, MERGE), and `SET (a, b) = (x, y)` by position. */
  private assignments(targets: unknown, relation: Relation | undefined): void {
    for (const target of listOf(targets)) {
      const resTarget = isNode(target) && isNode(target.ResTarget) ? target.ResTarget : undefined;
      if (resTarget && typeof resTarget.name === "string") this.visit(assignedValue(resTarget.val), columnNamed(resTarget.name, relation));
      else this.visit(target, undefined);
    }
  }

  private insert(node: Node): void {
    const relation = relationOf(node.relation) ?? this.context.table;
    const select = isNode(node.selectStmt) && isNode(node.selectStmt.SelectStmt) ? node.selectStmt.SelectStmt : {};
    this.insertedValues(select, this.written(node.cols, relation));
    const conflict = isNode(node.onConflictClause) ? node.onConflictClause : {};
    this.assignments(conflict.targetList, relation);
    this.visitAll(others(conflict, "targetList"));
    this.visitAll(others(node, "selectStmt", "onConflictClause"));
  }

  /** The column each written value goes to, by position: the column list's, or without one some column of the table. */
  private written(cols: unknown, relation: Relation | undefined): (index: number) => ResultColumn | undefined {
    const columns = insertColumns(cols, relation);
    return columns.length > 0 ? (index) => columns[index] : () => anyColumnOf(relation);
  }

  /** The values an INSERT writes, by position: each VALUES row, or the select list of INSERT … SELECT. */
  private insertedValues(select: Node, columnAt: (index: number) => ResultColumn | undefined): void {
    for (const row of listOf(select.valuesLists)) {
      const items = isNode(row) && isNode(row.List) ? listOf(row.List.items) : [];
      items.forEach((item, index) => this.visit(item, columnAt(index)));
    }
    listOf(select.targetList).forEach((target, index) => this.visit(isNode(target) && isNode(target.ResTarget) ? target.ResTarget.val : target, columnAt(index)));
    this.visitAll(others(select, "valuesLists", "targetList"));
  }

  /** MERGE: each WHEN clause's UPDATE SET as an UPDATE's, its INSERT's VALUES as an INSERT's. */
  private merge(node: Node): void {
    const relation = relationOf(node.relation) ?? this.context.table;
    for (const clause of listOf(node.mergeWhenClauses)) {
      const when = isNode(clause) && isNode(clause.MergeWhenClause) ? clause.MergeWhenClause : undefined;
      if (!when) continue;
      if (when.commandType === "CMD_INSERT") {
        const columnAt = this.written(when.targetList, relation);
        listOf(when.values).forEach((value, index) => this.visit(value, columnAt(index)));
      } else {
        this.assignments(when.targetList, relation);
      }
      this.visitAll(others(when, "targetList", "values"));
    }
    this.visitAll(others(node, "mergeWhenClauses"));
  }

  /** `PREPARE name AS query`: the query's constants as the query's own; its $n are not this statement's parameters. */
  private prepare(node: Node): void {
    for (const constant of valueColumns(node.query).constants) this.found.constants.push(constant);
    this.visitAll(others(node, "query"));
  }
}
