// Compiles the CEL `when` expressions of AccessPolicy rules. The admission
// webhook compiles them to refuse a broken policy before it is stored; the
// sidecar compiles the same way to evaluate them, so both agree on what a
// `when` may say. Expressions are type-checked against the facts the gateway
// provides for a request, so `sql.command + 1` or an unknown variable is an
// admission error rather than a request that fails at run time.
import { Environment, type ASTNode, type ObjectSchema, type ParseResult, type TypeCheckResult } from "@marcbachmann/cel-js";
import { LruCache } from "../lru.js";

export type WhenProtocol = "postgres" | "http" | "kubernetes" | "mcp";

export const WHEN_PROTOCOLS: readonly WhenProtocol[] = ["postgres", "http", "kubernetes", "mcp"];

/** The CEL variable that carries the request's classification for each protocol. */
export const PROTOCOL_VARIABLE: Readonly<Record<WhenProtocol, "sql" | "http" | "kubernetes" | "mcp">> = {
  postgres: "sql",
  http: "http",
  kubernetes: "kubernetes",
  mcp: "mcp",
};

/** A PostgreSQL statement as the gateway classified it. */
export interface SqlFacts {
  /** The statement's own command (for a statement that runs a data-modifying part, the strictest such part). */
  command: string;
  /** Every command the statement runs or stores to run: its own, its data-modifying parts, MERGE's actions, and those of code inside it (DO blocks, function bodies, rule actions, trigger functions). */
  commands: string[];
  /** ALTER TABLE's subcommands in words, e.g. DROP COLUMN, ADD COLUMN, DROP CONSTRAINT. */
  subcommands: string[];
  tables: string[];
  tablesRead: string[];
  tablesWritten: string[];
  hasWhere: boolean;
  functions: string[];
  /** A CEL int; a JS number is converted. */
  statementCount: number | bigint;
  dangerous: string[];
  objectType: string;
}

export interface HttpFacts {
  method: string;
  /** The canonical path (percent-encoding normalised, dot segments and duplicate slashes removed). */
  path: string;
  /** The host the backend sees (the Resource's). */
  host: string;
  /** Header names in lower case; repeated headers joined with ", ". The agent's Authorization is never among them. */
  headers: Record<string, string>;
  /** Query parameters, decoded, each with its values in order. */
  query: Record<string, string[]>;
  /** The parsed JSON body, read only when a rule's when refers to http.body; null when there is none or it is not JSON. */
  body?: unknown;
}

/** A Kubernetes API request, parsed from its path as the API server parses it. */
export interface KubernetesFacts {
  /**
   * get, list, watch, create, update, patch, delete, deletecollection; exec, attach, portforward and
   * proxy for those subresources (whatever the HTTP method); for a non-resource path the HTTP method in
   * lower case (get, post, …).
   */
  verb: string;
  /** False for discovery and non-resource paths (/version, /openapi/v3, /healthz, /apis/apps/v1). */
  resourceRequest: boolean;
  /** The canonical path. */
  path: string;
  /** "" is the core group. */
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  /** The object's name: from the path, or from a list's or watch's fieldSelector metadata.name=…. */
  name: string;
  /** For patch, its type from the Content-Type: json, merge, strategic-merge or apply; "" otherwise. */
  patchType: string;
  dryRun: boolean;
  fieldManager: string;
  labelSelector: string;
  fieldSelector: string;
}

/**
 * One JSON-RPC request or notification of the Model Context Protocol: the agent's to its
 * MCP server (direction client), or the server's to the agent (server: sampling,
 * elicitation, logging). Fields that do not apply to the method are empty.
 */
export interface McpFacts {
  direction: "client" | "server";
  /** request (it expects a response) or notification. */
  kind: "request" | "notification";
  /** e.g. tools/call, tools/list, resources/read, prompts/get, sampling/createMessage. */
  method: string;
  /** tools/call: the tool and its arguments as the server will read them. */
  tool: { name: string; arguments: Record<string, unknown> };
  /** resources/read, resources/subscribe: the resource's URI. */
  resource: { uri: string };
  /** prompts/get: the prompt and its arguments. */
  prompt: { name: string; arguments: Record<string, unknown> };
}

/** The agent, as the gateway authenticated it. */
export interface IdentityFacts {
  username: string;
  groups: string[];
  serviceAccount: string;
  namespace: string;
  pod: string;
  /** Claims of a verified JWT; empty for pod identities. */
  claims: Record<string, unknown>;
}

export interface ResourceFacts {
  name: string;
  protocol: string;
}

/**
 * What a `when` is evaluated over. Only the variable of the request's protocol
 * is set; an expression that reads another one fails, and the caller treats a
 * failure as "does not allow" (fail closed).
 */
export interface WhenContext {
  identity: IdentityFacts;
  resource: ResourceFacts;
  sql?: SqlFacts;
  http?: HttpFacts;
  kubernetes?: KubernetesFacts;
  mcp?: McpFacts;
}

export type CompiledWhen =
  | { ok: true; evaluate(context: WhenContext): boolean }
  | { ok: false; message: string };

export interface CompileWhenOptions {
  /**
   * The protocols the rule can apply to. Only their request variables are
   * declared, so a `when` that reads `http` in a rule for postgres requests is
   * refused at compile time instead of failing on every request. Default: all.
   */
  protocols?: readonly WhenProtocol[];
}

/** Thrown by `evaluate` when the expression fails or does not yield a bool. */
export class WhenEvaluationError extends Error {
  override readonly name = "WhenEvaluationError";
}

/** The CRD's maxLength for `when`; checked here too because the sidecar reads local files. */
export const MAX_WHEN_LENGTH = 4096;
const CACHE_SIZE = 1000;

const SQL_SCHEMA: ObjectSchema = {
  command: "string",
  commands: "list<string>",
  subcommands: "list<string>",
  tables: "list<string>",
  tablesRead: "list<string>",
  tablesWritten: "list<string>",
  hasWhere: "bool",
  functions: "list<string>",
  statementCount: "int",
  dangerous: "list<string>",
  objectType: "string",
};
const HTTP_SCHEMA: ObjectSchema = { method: "string", path: "string", host: "string", headers: "map<string, string>", query: "map<string, list<string>>", body: "dyn" };
const KUBERNETES_SCHEMA: ObjectSchema = {
  verb: "string",
  resourceRequest: "bool",
  path: "string",
  apiGroup: "string",
  apiVersion: "string",
  resource: "string",
  subresource: "string",
  namespace: "string",
  name: "string",
  patchType: "string",
  dryRun: "bool",
  fieldManager: "string",
  labelSelector: "string",
  fieldSelector: "string",
};
const MCP_SCHEMA: ObjectSchema = {
  direction: "string",
  kind: "string",
  method: "string",
  tool: { name: "string", arguments: "map<string, dyn>" },
  resource: { uri: "string" },
  prompt: { name: "string", arguments: "map<string, dyn>" },
};
const IDENTITY_SCHEMA: ObjectSchema = {
  username: "string",
  groups: "list<string>",
  serviceAccount: "string",
  namespace: "string",
  pod: "string",
  claims: "map<string, dyn>",
};
const RESOURCE_SCHEMA: ObjectSchema = { name: "string", protocol: "string" };
const PROTOCOL_SCHEMA: Record<WhenProtocol, ObjectSchema> = {
  postgres: SQL_SCHEMA,
  http: HTTP_SCHEMA,
  kubernetes: KUBERNETES_SCHEMA,
  mcp: MCP_SCHEMA,
};

// Environments are expensive to build, so there is one per protocol subset (at most 15).
const environments = new Map<string, Environment>();
const compiled = new LruCache<string, CompiledWhen>(CACHE_SIZE);

/**
 * Parses and type-checks a `when` expression. Syntax errors, unknown variables
 * and type errors come back as cel-js's message and the position it names.
 */
export function compileWhen(expression: string, options: CompileWhenOptions = {}): CompiledWhen {
  const protocols = normaliseProtocols(options.protocols);
  const key = `${protocols.join(",")}\u0000${expression}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const result = compileUncached(expression, protocols);
  compiled.set(key, result);
  return result;
}

function compileUncached(expression: string, protocols: WhenProtocol[]): CompiledWhen {
  if (expression.length > MAX_WHEN_LENGTH) {
    return { ok: false, message: `the expression is ${expression.length} characters long; at most ${MAX_WHEN_LENGTH} are allowed` };
  }
  let parsed: ParseResult;
  let checked: TypeCheckResult;
  try {
    parsed = environmentFor(protocols).parse(expression);
    checked = parsed.check();
  } catch (error) {
    return { ok: false, message: describeCelError(error, expression, protocols) };
  }
  if (!checked.valid) return { ok: false, message: describeCelError(checked.error, expression, protocols) };
  if (checked.type !== "bool" && checked.type !== "dyn") {
    return { ok: false, message: `a when expression must yield a bool, but this one yields ${checked.type ?? "an unknown type"}` };
  }
  if (usesFunction(parsed.ast, "matches")) {
    // cel-js implements matches() with JavaScript's backtracking RegExp, so an agent
    // could send a path or statement that keeps the gateway busy for minutes.
    return {
      ok: false,
      message:
        "matches() is not available in a when expression: its regular expressions backtrack, so a crafted request could stall the gateway; use startsWith(), endsWith(), contains() or a rule's match instead",
    };
  }
  return { ok: true, evaluate: (context) => evaluateParsed(parsed, expression, context) };
}

function evaluateParsed(parsed: ParseResult, expression: string, context: WhenContext): boolean {
  let value: unknown;
  try {
    value = parsed(toCelContext(context));
  } catch (error) {
    throw new WhenEvaluationError(`${celSummary(error)}${position(error, expression)}`);
  }
  if (typeof value !== "boolean") throw new WhenEvaluationError(`a when expression must yield a bool, got ${describeValue(value)}`);
  return value;
}

function toCelContext(context: WhenContext): Record<string, unknown> {
  const { sql, ...rest } = context;
  if (!sql) return { ...rest };
  // CEL ints are BigInts in cel-js; a plain number would be rejected as a double.
  const statementCount = typeof sql.statementCount === "number" ? BigInt(Math.trunc(sql.statementCount)) : sql.statementCount;
  return { ...rest, sql: { ...sql, statementCount } };
}

function normaliseProtocols(protocols: readonly WhenProtocol[] | undefined): WhenProtocol[] {
  if (!protocols || protocols.length === 0) return [...WHEN_PROTOCOLS];
  return WHEN_PROTOCOLS.filter((p) => protocols.includes(p));
}

function environmentFor(protocols: WhenProtocol[]): Environment {
  const key = protocols.join(",");
  let env = environments.get(key);
  if (!env) {
    env = new Environment()
      .registerVariable({ name: "identity", schema: IDENTITY_SCHEMA, description: "The agent, as the gateway authenticated it" })
      .registerVariable({ name: "resource", schema: RESOURCE_SCHEMA, description: "The Resource the request is for" });
    for (const protocol of protocols) {
      env.registerVariable({ name: PROTOCOL_VARIABLE[protocol], schema: PROTOCOL_SCHEMA[protocol] });
    }
    environments.set(key, env);
  }
  return env;
}

/**
 * cel-js's message on one line, with where in the expression it applies: the
 * multi-line source excerpt cel-js adds does not survive being joined into an
 * admission message. An unknown protocol variable is explained: it exists, just
 * not for the requests this rule sees.
 */
function describeCelError(error: unknown, expression: string, protocols: WhenProtocol[]): string {
  const summary = celSummary(error);
  const unknown = /^Unknown variable: (\w+)$/.exec(summary)?.[1];
  const protocol = WHEN_PROTOCOLS.find((p) => PROTOCOL_VARIABLE[p] === unknown);
  const hint =
    protocol && !protocols.includes(protocol)
      ? ` (${unknown} is only set for ${protocol} Resources, and this rule applies to ${protocols.join(" and ")} requests)`
      : "";
  return `${summary}${hint}${position(error, expression)}`;
}

function position(error: unknown, expression: string): string {
  const range = typeof error === "object" && error !== null && "range" in error ? (error.range as { start?: unknown } | undefined) : undefined;
  if (typeof range?.start !== "number") return "";
  const before = expression.slice(0, range.start).split("\n");
  const column = (before[before.length - 1]?.length ?? 0) + 1;
  return before.length > 1 ? ` at line ${before.length}, column ${column}` : ` at column ${column}`;
}

function usesFunction(root: ASTNode, name: string): boolean {
  const seen = new Set<object>();
  const visit = (value: unknown): boolean => {
    if (typeof value !== "object" || value === null || seen.has(value)) return false;
    seen.add(value);
    if (Array.isArray(value)) return value.some(visit);
    if (!isAstNode(value)) return false;
    if ((value.op === "call" || value.op === "rcall") && value.args[0] === name) return true;
    return Array.isArray(value.args) && value.args.some(visit);
  };
  return visit(root);
}

function isAstNode(value: object): value is ASTNode {
  return "op" in value && typeof value.op === "string" && "args" in value;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function celSummary(error: unknown): string {
  if (typeof error === "object" && error !== null && "summary" in error && typeof error.summary === "string") return error.summary;
  return errorMessage(error).split("\n")[0] ?? "";
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (typeof value === "bigint") return `the int ${value}`;
  if (typeof value === "string") return `the string ${JSON.stringify(value.slice(0, 64))}`;
  return `a ${typeof value}`;
}
