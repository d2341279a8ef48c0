// A result column as the PostgreSQL gateway knows it from RowDescription, and
// which of them hold text that detectors and patterns can scan.

export interface ResultColumn {
  /** The field name in the result (after any alias). */
  name: string;
  /** "schema.table", when the column comes straight from a table; just "table" with schemaUnknown. */
  table?: string;
  /** Set for a value a statement carries into a table it names without its schema: the table may be in any schema. */
  schemaUnknown?: true;
  /** The column's attname in that table. */
  column?: string;
  typeOid: number;
  /** 0 text, 1 binary. */
  format: 0 | 1;
  /**
   * Set for a value a statement writes where it does not say which column it goes to (INSERT without a column list, or
   * EXECUTE of a statement the gateway does not know): it may be any column of `table`, or of any table when that is
   * unknown too, so every rule that could name such a column applies.
   */
  anyColumn?: true;
  /** Set for a value compared with or written to a column whose table the statement does not make certain: `column` of any table. */
  anyTable?: true;
}

/**
 * text, varchar, bpchar, name, json, jsonb, xml, unknown, "char", and arrays
 * of them: their text form is the content itself, so a detector finds what a
 * reader would see. So do values that hold other values: record (a whole row,
 * `SELECT customers FROM customers`), anyarray (pg_stats' sampled values), and
 * every type created in the database (OIDs from 16384: a table's row type, a
 * domain over text, an enum). Other built-in types (numbers, dates, bytea)
 * are scanned only when a rule names the column.
 */
const TEXTUAL_TYPE_OIDS = new Set([25, 1043, 1042, 19, 114, 3802, 142, 705, 18, 1009, 1015, 1014, 1003, 199, 3807, 143, 1002, 2249, 2287, 2277]);
const FIRST_USER_OID = 16384;

export function isTextual(column: ResultColumn): boolean {
  return TEXTUAL_TYPE_OIDS.has(column.typeOid) || column.typeOid >= FIRST_USER_OID;
}
