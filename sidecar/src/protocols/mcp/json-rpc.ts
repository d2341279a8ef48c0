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
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    const top = frames[frames.length - 1];
    if (c === '"') {
      const end = stringEnd(text, i);
      const repeated = top?.keys && top.expectingKey ? noteKey(top as { keys: Set<string>; expectingKey: boolean }, JSON.parse(text.slice(i, end + 1)) as string) : undefined;
      if (repeated !== undefined) return repeated;
      i = end;
    } else if (c === "{" || c === "[") frames.push({ keys: c === "{" ? new Set() : undefined, expectingKey: c === "{" });
    else if (c === "}" || c === "]") frames.pop();
    else if (c === "," && top?.keys) top.expectingKey = true;
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start`. */
function stringEnd(text: string, start: number): number {
  let end = start + 1;
  while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
  return end;
}

/** Records a key of an object; the key when the object already has it. */
function noteKey(frame: { keys: Set<string>; expectingKey: boolean }, key: string): string | undefined {
  if (frame.keys.has(key)) return key;
  frame.keys.add(key);
  frame.expectingKey = false;
  return undefined;
}

/** JSON nests no deeper than this: serialising, hashing and masking recurse. */
export const MAX_DEPTH = 64;

/** Why the value cannot be judged as the server will read it: nesting too deep, a number JSON cannot carry. */
function valueProblem(value: unknown, depth = 0): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : "a number is too large to be read the same way by the server";
  if (value === null || typeof value !== "object") return undefined;
  if (depth >= MAX_DEPTH) return `the JSON nests deeper than ${MAX_DEPTH} levels`;
  for (const item of Array.isArray(value) ? value : Object.values(value)) {
    const problem = valueProblem(item, depth + 1);
    if (problem) return problem;
  }
  return undefined;
}

/** Strict JSON: UTF-8 only, no repeated keys, numbers that stay what they say, bounded nesting. Messages never quote the input. */
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
    const position = /position (\d+)/.exec(error instanceof Error ? error.message : "")?.[1];
    return { ok: false, message: `the body is not JSON${position ? ` (at position ${position})` : ""}` };
  }
  const repeated = repeatedKey(text);
  if (repeated !== undefined) return { ok: false, message: `an object names the key "${repeated.slice(0, 64)}" twice, which servers read differently` };
  const problem = valueProblem(value);
  return problem ? { ok: false, message: problem } : { ok: true, value };
}

/** MCP's methods: one that differs from these only in case or spacing would be read as it by a lenient server, and is refused. */
const KNOWN_METHODS = [
  "initialize", "ping", "tools/list", "tools/call", "resources/list", "resources/templates/list", "resources/read", "resources/subscribe",
  "resources/unsubscribe", "prompts/list", "prompts/get", "completion/complete", "logging/setLevel", "sampling/createMessage", "elicitation/create", "roots/list",
];
const CANONICAL_METHOD = new Map(KNOWN_METHODS.map((method) => [method.toLowerCase(), method]));
const MEMBERS = new Set(["jsonrpc", "id", "method", "params", "result", "error"]);

function methodProblem(method: unknown): string | undefined {
  if (typeof method !== "string" || method === "") return "a JSON-RPC method must be a non-empty string";
  if (!/^[\x21-\x7e]+$/.test(method)) return "a JSON-RPC method may not hold spaces or control characters";
  const known = CANONICAL_METHOD.get(method.toLowerCase());
  return known !== undefined && known !== method ? `"${method}" is not MCP's "${known}": methods are exact` : undefined;
}

/** Why the object is not a JSON-RPC 2.0 message (as MCP carries it), if so. */
function envelopeProblem(value: Record<string, unknown>): string | undefined {
  if (value.jsonrpc !== "2.0") return 'a JSON-RPC message must say "jsonrpc": "2.0"';
  const unknown = Object.keys(value).find((key) => !MEMBERS.has(key));
  if (unknown !== undefined) return `a JSON-RPC message has no member "${unknown.slice(0, 64)}"`;
  const id = value.id;
  if ("id" in value && id !== null && typeof id !== "string" && !(typeof id === "number" && Number.isFinite(id))) return "a JSON-RPC id must be a string or a number";
  return undefined;
}

function requestOrNotification(value: Record<string, unknown>): JsonRpcMessage | string {
  const problem = methodProblem(value.method);
  if (problem) return problem;
  if ("params" in value && !isObject(value.params)) return "MCP's params must be an object";
  if ("result" in value || "error" in value) return "a message cannot be both a request and a response";
  const method = value.method as string;
  const params = value.params as Record<string, unknown> | undefined;
  if (!("id" in value)) return { kind: "notification", method, params, raw: value };
  if (value.id === null) return "a request's id must not be null";
  return { kind: "request", id: value.id as JsonRpcId, method, params, raw: value };
}

function response(value: Record<string, unknown>): JsonRpcMessage | string {
  if (!("id" in value)) return "a JSON-RPC message has a method (request, notification) or an id (response)";
  if ("result" in value === "error" in value) return "a JSON-RPC response has a result or an error, not both and not neither";
  const error = value.error;
  if ("error" in value && !(isObject(error) && typeof error.code === "number" && typeof error.message === "string")) return "a JSON-RPC error has a numeric code and a message";
  return { kind: "response", id: value.id as JsonRpcId | null, raw: value };
}

/** One message checked against JSON-RPC 2.0; why it is not one otherwise. */
export function toMessage(value: unknown): JsonRpcMessage | string {
  if (!isObject(value)) return "a JSON-RPC message must be an object";
  return envelopeProblem(value) ?? ("method" in value ? requestOrNotification(value) : response(value));
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
