// What a statement does to the session's SQL prepared statements (PREPARE,
// EXECUTE, DEALLOCATE, DISCARD ALL), read from its parse tree. The session
// (sql-prepared.ts) keeps the facts of each statement the server prepared, so
// EXECUTE is judged as the statement it runs, and the evidence knows which
// column each of its arguments goes to.
import { isObject, unwrap } from "./parse-tree.js";
import type { ParsedStatement } from "./parser.js";
import { preparedParameterColumns, type ParameterColumns } from "./value-columns.js";

export type PreparedUse = { prepares: string; parameterColumns: ParameterColumns } | { executes: string } | { deallocates: string } | { deallocatesAll: true };

export function preparedUseOf({ node }: ParsedStatement): PreparedUse | undefined {
  const [kind, body] = unwrap(node);
  if (!isObject(body)) return undefined;
  // Names are identifiers the parser has already folded to lower case where unquoted.
  if (kind === "PrepareStmt" && typeof body.name === "string") return { prepares: body.name, parameterColumns: preparedParameterColumns(body.query) };
  if (kind === "ExecuteStmt" && typeof body.name === "string") return { executes: body.name };
  if (kind === "DeallocateStmt") return body.isall === true || typeof body.name !== "string" ? { deallocatesAll: true } : { deallocates: body.name };
  if (kind === "DiscardStmt" && body.target === "DISCARD_ALL") return { deallocatesAll: true };
  return undefined;
}
