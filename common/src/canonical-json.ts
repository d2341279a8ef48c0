// Canonical JSON: the JSON that JSON.stringify makes of a value, with object
// keys sorted (by UTF-16 code units) and nothing else changed, so equal values
// always serialise, and so hash, alike. The evidence chain, manifests,
// configuration revisions and injection records all hash it. As with
// JSON.stringify, toJSON is called, undefined, functions and symbols are left
// out of objects and become null in arrays, and numbers that are not finite
// become null. It is on the gateway's hot path (each evidence record), so it
// writes the text in one pass rather than building entry arrays, and keeps
// the quoted form of the short keys it meets (records use a few dozen).

/** JSON with object keys sorted, so equal values always hash alike. */
export function canonicalJson(value: unknown): string {
  return write(value, "") ?? "null";
}

const QUOTED_KEYS_MAX = 1024;
const quotedKeys = new Map<string, string>();

function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    if (quotedKeys.size < QUOTED_KEYS_MAX && key.length <= 64) quotedKeys.set(key, quoted);
  }
  return quoted;
}

/** The canonical text of `value`, or undefined where JSON.stringify would leave a member out (`resolved`: toJSON already called). */
function write(value: unknown, key: string, resolved = false): string | undefined {
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
      if (Array.isArray(value)) return writeArray(value);
      if (!resolved && typeof (value as { toJSON?: unknown }).toJSON === "function") return write((value as { toJSON: (key: string) => unknown }).toJSON(key), key, true);
      return writeObject(value as Record<string, unknown>);
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
  const keys = Object.keys(object);
  if (keys.length > 1) keys.sort(byCodeUnits);
  let text = "{";
  for (const key of keys) {
    const member = write(object[key], key);
    if (member === undefined) continue;
    text += text.length > 1 ? `,${quotedKey(key)}${member}` : `${quotedKey(key)}${member}`;
  }
  return `${text}}`;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
