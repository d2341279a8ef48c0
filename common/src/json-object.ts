// Reading back a JSON object the evidence pipeline wrote (records, manifests,
// ledger entries): the object, or which of the two ways it is not one.

/** The text's JSON object, or "not JSON" / "not a JSON object". */
export function parseJsonObject(text: string): Record<string, unknown> | "not JSON" | "not a JSON object" {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : "not a JSON object";
}
