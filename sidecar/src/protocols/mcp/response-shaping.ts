// What the agent is shown of an MCP server's response: lists cut to what the
// policy could allow (and to tools whose definition is accepted), and every
// payload masked with the policies' masking rules — a tool's text content
// (read as JSON when it is JSON, so JSON paths reach into it), its
// structuredContent, embedded resources, a resource's text, a prompt's
// messages, an error's message and data. Binary content (images, audio,
// blobs) cannot be scanned: under masking rules it is withheld.
import type { BodyMasker } from "../../masking/body-masking.js";
import { parseStrictJson } from "./json-rpc.js";
import { toolFingerprint, type ToolLedger } from "./tool-ledger.js";

type Counts = Record<string, number>;

export interface ShapeJudge {
  masker: BodyMasker;
  tools: ToolLedger;
  /** Why the agent may not see this entry of a list (nothing it could be allowed to do with it), if so. */
  unlisted(kind: "tools" | "resources" | "prompts", name: string): string | undefined;
}

export interface ShapedResponse {
  /** The response as the agent gets it (the same object, changed in place). */
  message: Record<string, unknown>;
  masked: Counts;
  /** One line for the evidence. */
  summary: string;
  isError?: boolean;
  hidden?: string[];
  /** Why the response cannot be shown (binary content under masking, text a JSON-path rule cannot reach); it is replaced by an error. */
  withheld?: string;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

class Withheld extends Error {}

function add(counts: Counts, more: Counts): void {
  for (const [key, n] of Object.entries(more)) counts[key] = (counts[key] ?? 0) + n;
}

/** A JSON value masked in place of `holder[key]`. */
function maskValue(holder: Record<string, unknown>, key: string, masker: BodyMasker, counts: Counts): void {
  const document = { value: holder[key] };
  add(counts, masker.maskJson(document));
  holder[key] = document.value;
}

/** Text that is JSON is masked as a document (and written back compact); other text by the rules' detectors and patterns. */
function maskText(holder: Record<string, unknown>, key: string, masker: BodyMasker, counts: Counts, what: string): void {
  const text = holder[key];
  if (typeof text !== "string") return;
  const trimmed = text.trimStart();
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    const parsed = parseStrictJson(text);
    if (parsed.ok) {
      const document = { value: parsed.value };
      add(counts, masker.maskJson(document));
      holder[key] = JSON.stringify(document.value);
      return;
    }
  }
  const masked = masker.maskText(text);
  if (!masked) throw new Withheld(`${what} is text that is not JSON, and a masking rule names only JSON paths`);
  add(counts, masked.counts);
  holder[key] = masked.text;
}

/** One content item of a tool result or prompt message. */
function maskContent(item: unknown, masker: BodyMasker, counts: Counts): void {
  if (!isObject(item)) return;
  const type = typeof item.type === "string" ? item.type : "";
  if (type === "text") return maskText(item, "text", masker, counts, "a text content item");
  if (type === "resource" && isObject(item.resource)) return maskResourceContents(item.resource, masker, counts);
  if (type === "image" || type === "audio") throw new Withheld(`it holds ${type} content, which cannot be scanned for what the masking rules hide`);
  if (type !== "resource_link") throw new Withheld(`it holds content of type "${type}", which the gateway cannot mask`);
  if (item.description !== undefined) maskValue(item, "description", masker, counts);
}

function maskResourceContents(contents: Record<string, unknown>, masker: BodyMasker, counts: Counts): void {
  if (contents.blob !== undefined) throw new Withheld("it holds a binary resource (blob), which cannot be scanned for what the masking rules hide");
  maskText(contents, "text", masker, counts, "a resource's text");
}

function eachOf(value: unknown, visit: (item: unknown) => void): void {
  if (Array.isArray(value)) value.forEach(visit);
}

const contentSummary = (content: unknown): string => {
  if (!Array.isArray(content)) return "no content";
  const kinds: Record<string, number> = {};
  for (const item of content) {
    const type = isObject(item) && typeof item.type === "string" ? item.type : "?";
    kinds[type] = (kinds[type] ?? 0) + 1;
  }
  return Object.entries(kinds).map(([type, n]) => `${n} ${type}`).join(", ") || "no content";
};

/** Masks a result whose payloads MCP defines; any other result is masked as one JSON document. */
function maskResult(method: string, result: Record<string, unknown>, masker: BodyMasker, counts: Counts): string {
  if (method === "tools/call") {
    eachOf(result.content, (item) => maskContent(item, masker, counts));
    if (result.structuredContent !== undefined) maskValue(result, "structuredContent", masker, counts);
    return `${result.isError === true ? "tool error: " : ""}${contentSummary(result.content)}${result.structuredContent !== undefined ? " and structured content" : ""}`;
  }
  if (method === "resources/read") {
    eachOf(result.contents, (item) => isObject(item) && maskResourceContents(item, masker, counts));
    return `${Array.isArray(result.contents) ? result.contents.length : 0} resource contents`;
  }
  if (method === "prompts/get") {
    eachOf(result.messages, (message) => isObject(message) && maskContent(message.content, masker, counts));
    if (typeof result.description === "string") maskText(result, "description", masker, counts, "the prompt's description");
    return `${Array.isArray(result.messages) ? result.messages.length : 0} prompt messages`;
  }
  const holder = { result };
  maskValue(holder, "result", masker, counts);
  Object.assign(result, holder.result);
  return method || "a response";
}

const LISTS: Record<string, { field: string; kind: "tools" | "resources" | "prompts"; key: string }> = {
  "tools/list": { field: "tools", kind: "tools", key: "name" },
  "resources/list": { field: "resources", kind: "resources", key: "uri" },
  "resources/templates/list": { field: "resourceTemplates", kind: "resources", key: "uriTemplate" },
  "prompts/list": { field: "prompts", kind: "prompts", key: "name" },
};

/** A list response cut to the entries the agent may see; tools are fingerprinted on the way. */
function filterList(method: string, result: Record<string, unknown>, judge: ShapeJudge): { summary: string; hidden: string[] } {
  const list = LISTS[method] as (typeof LISTS)[string];
  const entries = Array.isArray(result[list.field]) ? (result[list.field] as unknown[]) : [];
  const hidden: string[] = [];
  const kept = entries.filter((entry) => {
    const name = isObject(entry) ? entry[list.key] : undefined;
    if (typeof name !== "string" || name === "") {
      hidden.push("(an entry without a name)");
      return false;
    }
    if (list.kind === "tools") {
      const standing = judge.tools.observe(name, toolFingerprint(entry as Record<string, unknown>));
      if (!standing.ok) {
        hidden.push(`${name} (${standing.accepted ? "changed" : "not accepted"}: ${standing.fingerprint ?? "?"})`);
        return false;
      }
    }
    if (judge.unlisted(list.kind, name) !== undefined) {
      hidden.push(name);
      return false;
    }
    return true;
  });
  result[list.field] = kept;
  const noun = list.field === "resourceTemplates" ? "resource templates" : list.field;
  return { summary: `listed ${kept.length} of ${entries.length} ${noun}${hidden.length ? `; hidden: ${hidden.join(", ")}` : ""}`, hidden };
}

/** Every string of the result the fields above did not cover (names, titles, URIs, _meta, annotations), scanned by the rules that scan. */
function scanRest(message: Record<string, unknown>, masker: BodyMasker, counts: Counts): void {
  if (masker.active) maskValue(message, "result", masker.scanning, counts);
}

/** The response to a request of `method`, shaped for the agent. */
export function shapeResponse(message: Record<string, unknown>, method: string, judge: ShapeJudge): ShapedResponse {
  const masked: Counts = {};
  try {
    if (isObject(message.error)) {
      const error = message.error;
      if (judge.masker.active) {
        maskText(error, "message", judge.masker, masked, "the error's message");
        if (error.data !== undefined) maskValue(error, "data", judge.masker, masked);
      }
      return { message, masked, summary: `error ${String(error.code)}: ${String(error.message).slice(0, 200)}` };
    }
    const result = message.result;
    if (!isObject(result)) return { message, masked, summary: "a result that is not an object" };
    if (method in LISTS) {
      const { summary, hidden } = filterList(method, result, judge);
      scanRest(message, judge.masker, masked);
      return { message, masked, summary, hidden };
    }
    if (!judge.masker.active) return { message, masked, summary: method === "tools/call" ? `${result.isError === true ? "tool error: " : ""}${contentSummary(result.content)}` : method };
    const summary = maskResult(method, result, judge.masker, masked);
    scanRest(message, judge.masker, masked);
    return { message, masked, summary, ...(result.isError === true ? { isError: true } : {}) };
  } catch (error) {
    if (error instanceof Withheld) return { message, masked, summary: "withheld", withheld: `masking rules apply and ${error.message}` };
    throw error;
  }
}

/** A server's request or notification params, masked (sampling prompts, elicitation messages, log data reach the agent too). */
export function maskParams(raw: Record<string, unknown>, masker: BodyMasker): Counts {
  const counts: Counts = {};
  if (masker.active && raw.params !== undefined) maskValue(raw, "params", masker, counts);
  return counts;
}
