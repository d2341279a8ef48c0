// Canonical JSON: the JSON that JSON.stringify makes of a value, with object
// keys sorted (by UTF-16 code units) and nothing else changed, so equal values
// always serialise, and so hash, alike. The evidence chain, manifests,
// configuration revisions and injection records all hash it. As with
// JSON.stringify, toJSON is called, undefined, functions and symbols are left
// out of objects and become null in arrays, and numbers that are not finite
// become null. It is on the gateway's hot path (each evidence record), so it
// writes the text in one pass rather than building entry arrays.

/** JSON with object keys sorted, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  return write(value, "") ?? "null";
}

/** The canonical text of `value`, or undefined where JSON.stringify would leave a member out. */
function write(value: unknown, key: string): string | undefined {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      // As JSON.stringify does.
      throw new TypeError("Do not know how to serialize a BigInt");
    case "object":
      if (value === null) return "null";
      return Array.isArray(value) ? writeArray(value) : writeObject(value as Record<string, unknown>);
    default:
      return undefined;
  }
}

function writeArray(items: readonly unknown[]): string {
  let text = "[";
  for (let index = 0; index < items.length; index++) {
    if (index > 0) text += ",";
    text += write(items[index], String(index)) ?? "null";
  }
  return `${text}]`;
}

function writeObject(object: Record<string, unknown>): string {
  const keys = Object.keys(object).sort(byCodeUnits);
  let text = "{";
  for (const key of keys) {
    const member = write(object[key], key);
    if (member === undefined) continue;
    if (text.length > 1) text += ",";
    text += `${JSON.stringify(key)}:${member}`;
  }
  return `${text}}`;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
