// What a statement does to the session's SQL prepared statements (PREPARE,
// EXECUTE, DEALLOCATE, DISCARD ALL), read from its parse tree. The session
// (sql-prepared.ts) keeps the facts of each statement the server prepared, so
// EXECUTE is judged as the statement it runs.
import { isObject, unwrap } from "./parse-tree.js";
import type { ParsedStatement } from "./parser.js";

export type PreparedUse = { prepares: string } | { executes: string } | { deallocates: string } | { deallocatesAll: true };

export function preparedUseOf({ node }: ParsedStatement): PreparedUse | undefined {
  const [kind, body] = unwrap(node);
  if (!isObject(body)) return undefined;
  // Names are identifiers the parser has already folded to lower case where unquoted.
  if (kind === "PrepareStmt" && typeof body.name === "string") return { prepares: body.name };
  if (kind === "ExecuteStmt" && typeof body.name === "string") return { executes: body.name };
  if (kind === "DeallocateStmt") return body.isall === true || typeof body.name !== "string" ? { deallocatesAll: true } : { deallocates: body.name };
  if (kind === "DiscardStmt" && body.target === "DISCARD_ALL") return { deallocatesAll: true };
  return undefined;
}
