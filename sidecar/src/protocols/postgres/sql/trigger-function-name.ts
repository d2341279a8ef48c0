// The function a CREATE TRIGGER or CREATE EVENT TRIGGER statement makes the
// server run, read from its parse tree (trigger-functions.ts judges its code).
import { isObject, unwrap } from "./parse-tree.js";
import type { ParsedStatement } from "./parser.js";

export interface TriggerFunction {
  schema?: string;
  name: string;
  /** An event trigger's function returns event_trigger; a table trigger's, trigger. */
  event: boolean;
}

export function triggerFunctionOf({ node }: ParsedStatement): TriggerFunction | undefined {
  const [kind, body] = unwrap(node);
  if ((kind !== "CreateTrigStmt" && kind !== "CreateEventTrigStmt") || !isObject(body) || !Array.isArray(body.funcname)) return undefined;
  const parts = body.funcname.flatMap((part: unknown) => (isObject(part) && isObject(part.String) && typeof part.String.sval === "string" ? [part.String.sval] : []));
  const name = parts.at(-1);
  if (name === undefined) return undefined;
  const event = kind === "CreateEventTrigStmt";
  return parts.length > 1 ? { schema: parts.at(-2) as string, name, event } : { name, event };
}
