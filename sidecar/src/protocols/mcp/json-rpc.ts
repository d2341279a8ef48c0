// JSON-RPC 2.0 as MCP carries it: a body or an SSE event holds one message
// or a batch. A text is read strictly — UTF-8 only, no object with the same
// key twice (parsers disagree on which one wins, so the server could read an
// argument the policy did not) — and each message is sorted into a request,
// a notification or a response. What is forwarded is the parsed message
// serialised again, so the backend reads exactly what the policy judged.

export type JsonRpcId = string | number;

export type JsonRpcMessage =
  | { kind: "request"; id: JsonRpcId; method: string; params: Record<string, unknown> | undefined; raw: Record<string, unknown> }
  | { kind: "notification"; method: string; params: Record<string, unknown> | undefined; raw: Record<string, unknown> }
  | { kind: "response"; id: JsonRpcId | null; raw: Record<string, unknown> };

export type ParsedMessages = { ok: true; batch: boolean; messages: JsonRpcMessage[] } | { ok: false; code: number; message: string };

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
/** Portcullis's own codes, in the range JSON-RPC leaves to implementations. */
export const DENIED = -32001;
export const APPROVAL_REFUSED = -32002;
export const WITHHELD = -32003;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The key used for a JSON-RPC id in maps: its JSON, so 1 and "1" stay apart. */
export const idKey = (id: JsonRpcId | null): string => JSON.stringify(id);

/** The first key an object of `text` repeats, if any; `text` is valid JSON. */
export function repeatedKey(text: string): string | undefined {
  // One frame per open object or array; in an object, whether the next string is a key.
  const frames: Array<{ keys: Set<string> | undefined; expectingKey: boolean }> = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const top = frames[frames.length - 1];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      if (top?.keys && top.expectingKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return key;
        top.keys.add(key);
        top.expectingKey = false;
      }
      i = end + 1;
      continue;
    }
    if (c === "{") frames.push({ keys: new Set(), expectingKey: true });
    else if (c === "[") frames.push({ keys: undefined, expectingKey: false });
    else if (c === "}" || c === "]") frames.pop();
    else if (c === "," && top?.keys) top.expectingKey = true;
    i += 1;
  }
  return undefined;
}

/** Strict JSON: UTF-8 only, no repeated keys. */
export function parseStrictJson(bytes: Buffer | string): { ok: true; value: unknown } | { ok: false; message: string } {
  let text: string;
  try {
    text = typeof bytes === "string" ? bytes : new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, message: "the body is not valid UTF-8" };
  }
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (error) {
    return { ok: false, message: `the body is not JSON (${error instanceof Error ? error.message : String(error)})` };
  }
  const repeated = repeatedKey(text);
  if (repeated !== undefined) return { ok: false, message: `an object names the key "${repeated}" twice, which servers read differently` };
  return { ok: true, value };
}

/** One message checked against JSON-RPC 2.0; why it is not one otherwise. */
export function toMessage(value: unknown): JsonRpcMessage | string {
  if (!isObject(value)) return "a JSON-RPC message must be an object";
  if (value.jsonrpc !== "2.0") return 'a JSON-RPC message must say "jsonrpc": "2.0"';
  const hasId = "id" in value;
  const id = value.id;
  if (hasId && id !== null && typeof id !== "string" && !(typeof id === "number" && Number.isFinite(id))) return "a JSON-RPC id must be a string or a number";
  if ("method" in value) {
    if (typeof value.method !== "string" || value.method === "") return "a JSON-RPC method must be a non-empty string";
    if ("params" in value && !isObject(value.params)) return "MCP's params must be an object";
    if ("result" in value || "error" in value) return "a message cannot be both a request and a response";
    const params = value.params as Record<string, unknown> | undefined;
    if (!hasId) return { kind: "notification", method: value.method, params, raw: value };
    if (id === null) return "a request's id must not be null";
    return { kind: "request", id: id as JsonRpcId, method: value.method, params, raw: value };
  }
  if (!hasId) return "a JSON-RPC message has a method (request, notification) or an id (response)";
  if (("result" in value) === ("error" in value)) return "a JSON-RPC response has a result or an error, not both and not neither";
  if ("error" in value && !(isObject(value.error) && typeof value.error.code === "number" && typeof value.error.message === "string")) {
    return "a JSON-RPC error has a numeric code and a message";
  }
  return { kind: "response", id: id as JsonRpcId | null, raw: value };
}

/** A body or an SSE event's data: one message or a non-empty batch, each checked. */
export function parseMessages(bytes: Buffer | string): ParsedMessages {
  const parsed = parseStrictJson(bytes);
  if (!parsed.ok) return { ok: false, code: PARSE_ERROR, message: parsed.message };
  const batch = Array.isArray(parsed.value);
  const values = batch ? (parsed.value as unknown[]) : [parsed.value];
  if (values.length === 0) return { ok: false, code: INVALID_REQUEST, message: "an empty batch is not a JSON-RPC message" };
  const messages: JsonRpcMessage[] = [];
  for (const [index, value] of values.entries()) {
    const message = toMessage(value);
    if (typeof message === "string") return { ok: false, code: INVALID_REQUEST, message: batch ? `message ${index + 1} of the batch: ${message}` : message };
    messages.push(message);
  }
  return { ok: true, batch, messages };
}

/** A JSON-RPC error response. */
export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: Record<string, unknown>): Record<string, unknown> {
  return { jsonrpc: "2.0", id, error: { code, message, ...(data ? { data } : {}) } };
}
