// How AccessPolicy rules apply to MCP messages, and the facts they are judged
// on. Like the other protocols, matching leans strict: deny and
// requireApproval rules compare methods and names without case (a server may
// be lenient), allow rules exactly. A rule naming tools, resources or prompts
// without methods means calling, reading or getting them.
import type { McpFacts } from "@portcullis/common/policy/cel";
import type { PolicyRule, ProtocolMatcher, RuleAction } from "../../policy/protocol-matcher.js";
import type { JsonRpcMessage } from "./json-rpc.js";

type Mcp = NonNullable<NonNullable<PolicyRule["match"]>["mcp"]>;

const escape = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** `*` matches any characters: notifications/* covers notifications/tools/list_changed. */
function glob(pattern: string, ignoreCase: boolean): RegExp {
  return new RegExp(`^${pattern.split("*").map(escape).join(".*")}$`, ignoreCase ? "is" : "s");
}

const IMPLIED_METHODS: Record<"tools" | "resources" | "prompts", string[]> = {
  tools: ["tools/call"],
  resources: ["resources/read", "resources/subscribe", "resources/unsubscribe"],
  prompts: ["prompts/get"],
};

function compileMcpMatch(match: PolicyRule["match"], action: RuleAction): (facts: McpFacts) => boolean {
  if (!match) return () => true;
  const mcp: Mcp | undefined = match.mcp;
  if (!mcp) return () => false;
  const broad = action !== "allow";
  const named = mcp.tools ? "tools" : mcp.resources ? "resources" : mcp.prompts ? "prompts" : undefined;
  const methods = (mcp.methods ?? (named ? IMPLIED_METHODS[named] : undefined))?.map((method) => glob(method, broad));
  const names = (mcp.tools ?? mcp.resources ?? mcp.prompts)?.map((name) => glob(name, broad));
  const nameOf = (facts: McpFacts): string => (named === "tools" ? facts.tool.name : named === "resources" ? facts.resource.uri : facts.prompt.name);
  return (facts) => (!methods || methods.some((pattern) => pattern.test(facts.method))) && (!names || names.some((pattern) => pattern.test(nameOf(facts))));
}

export function describeMcp(facts: McpFacts): string {
  const subject = facts.tool.name || facts.resource.uri || facts.prompt.name;
  return subject ? `${facts.method} ${subject}` : facts.method;
}

export const MCP_MATCHER: ProtocolMatcher<McpFacts> = {
  protocol: "mcp",
  noun: "message",
  compile: compileMcpMatch,
  describe: describeMcp,
  whenFacts: (mcp) => ({ mcp }),
};

const EMPTY = { tool: { name: "", arguments: {} }, resource: { uri: "" }, prompt: { name: "", arguments: {} } };

/** A request's or notification's facts; why they cannot be known (a tool call without a tool name) otherwise. */
export function messageFacts(message: Extract<JsonRpcMessage, { method: string }>, direction: McpFacts["direction"]): McpFacts | string {
  const facts: McpFacts = { direction, kind: message.kind, method: message.method, ...EMPTY };
  const params = message.params ?? {};
  const args = (field: string): Record<string, unknown> | string => {
    const value = params.arguments;
    if (value === undefined) return {};
    return isObject(value) ? value : `${message.method}'s ${field} must be an object`;
  };
  if (message.method === "tools/call" || message.method === "prompts/get") {
    if (typeof params.name !== "string" || params.name === "") return `${message.method} needs params.name, a string`;
    const values = args("arguments");
    if (typeof values === "string") return values;
    return message.method === "tools/call" ? { ...facts, tool: { name: params.name, arguments: values } } : { ...facts, prompt: { name: params.name, arguments: values } };
  }
  if (IMPLIED_METHODS.resources.includes(message.method)) {
    if (typeof params.uri !== "string" || params.uri === "") return `${message.method} needs params.uri, a string`;
    const problem = uriProblem(params.uri);
    return problem ?? { ...facts, resource: { uri: params.uri } };
  }
  return facts;
}

/**
 * Why a resource URI could be read as another one by the server, if so: servers parse it as a URL, which
 * resolves dot segments, decodes and re-encodes, and reads backslashes as slashes — a rule must see that
 * form, so a URI that is not already in it is refused. A URI that is no URL is an opaque name, read as is.
 */
export function uriProblem(uri: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return [...uri].some((character) => character <= " " || character === "\u007f") ? "a resource URI may not hold spaces or control characters" : undefined;
  }
  return parsed.href === uri ? undefined : `the resource URI is not in its canonical form (a server reads it as ${parsed.href.slice(0, 512)}); send that`;
}

/** The facts a list entry is judged on: could the agent call this tool, read this resource, get this prompt. */
export function listingFacts(kind: "tools" | "resources" | "prompts", name: string): McpFacts {
  const facts: McpFacts = { direction: "client", kind: "request", method: IMPLIED_METHODS[kind][0] as string, ...EMPTY };
  if (kind === "tools") return { ...facts, tool: { name, arguments: {} } };
  if (kind === "resources") return { ...facts, resource: { uri: name } };
  return { ...facts, prompt: { name, arguments: {} } };
}
