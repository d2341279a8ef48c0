// Matches masking rules' column patterns (spec.masking[].columns) against
// result columns: "email" (a result name or a source column), "customers.email"
// (any schema), "public.customers.email", with * as a wildcard in any part,
// all case-insensitive. A qualified pattern looks at where a column comes
// from (its table and attname), so an alias does not hide a masked column.
// Globs are matched by hand rather than turned into a JavaScript RegExp: the
// patterns come from users, and the matcher below never backtracks further
// than the last star.
import type { ResultColumn } from "./result-columns.js";

export type ColumnMatcher = (column: ResultColumn) => boolean;

/** Why `pattern` cannot be used, or undefined when it can. */
export function columnPatternProblem(pattern: string): string | undefined {
  const parts = pattern.split(".");
  if (parts.length > 3) return `column pattern "${pattern}" has ${parts.length} parts; use column, table.column or schema.table.column`;
  if (parts.some((part) => part === "")) return `column pattern "${pattern}" has an empty part`;
  return undefined;
}

/** A matcher for a pattern that columnPatternProblem accepts. */
export function compileColumnPattern(pattern: string): ColumnMatcher {
  const parts = pattern.toLowerCase().split(".");
  const columnGlob = parts[parts.length - 1] ?? "";
  if (parts.length === 1) {
    return (column) => column.anyColumn === true || globMatches(columnGlob, column.name.toLowerCase()) || (column.column !== undefined && globMatches(columnGlob, column.column.toLowerCase()));
  }
  const tableGlob = parts[parts.length - 2] ?? "";
  const schemaGlob = parts.length === 3 ? (parts[0] ?? "") : "*";
  return (column) => {
    if (column.anyColumn) return column.table === undefined || tableMatches(column.table, schemaGlob, tableGlob, column.schemaUnknown);
    if (column.anyTable) return globMatches(columnGlob, (column.column ?? column.name).toLowerCase());
    // Without a known origin only an all-wildcard qualifier can be satisfied: *.ssn still masks a computed ssn.
    if (column.table === undefined || column.column === undefined) return tableGlob === "*" && schemaGlob === "*" && globMatches(columnGlob, column.name.toLowerCase());
    return tableMatches(column.table, schemaGlob, tableGlob, column.schemaUnknown) && globMatches(columnGlob, column.column.toLowerCase());
  };
}

/**
 * "schema.table", or with `schemaUnknown` a bare table name (a statement's, which did not say its schema: it may be in
 * any). Names may hold dots themselves ("acme.prod".customers), so every way of reading "schema.table" counts: the rule
 * applies if one matches.
 */
function tableMatches(table: string, schemaGlob: string, tableGlob: string, schemaUnknown = false): boolean {
  const qualified = table.toLowerCase();
  if (schemaUnknown) return globMatches(tableGlob, qualified);
  for (let dot = qualified.indexOf("."); dot >= 0; dot = qualified.indexOf(".", dot + 1)) {
    if (globMatches(schemaGlob, qualified.slice(0, dot)) && globMatches(tableGlob, qualified.slice(dot + 1))) return true;
  }
  return false;
}

/**
 * Whether `text` matches `glob`, where * stands for any run of characters.
 * On a mismatch after a star, the star takes one more character and matching
 * resumes: no backtracking beyond the last star.
 */
export function globMatches(glob: string, text: string): boolean {
  let g = 0;
  let t = 0;
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    if (glob[g] === "*") {
      star = g++;
      starText = t;
    } else if (g < glob.length && glob[g] === text[t]) {
      g += 1;
      t += 1;
    } else if (star >= 0) {
      g = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (glob[g] === "*") g += 1;
  return g === glob.length;
}
