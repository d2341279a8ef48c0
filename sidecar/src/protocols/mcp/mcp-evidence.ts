// What the evidence says of an MCP exchange: one request record per
// JSON-RPC message (who sent it, the method, the tool, resource or prompt,
// the arguments as the policies mask results and their hash, the tool
// definition's fingerprint, the decision), one for each HTTP request that
// carries no message (a stream opened, a body refused), and a result per
// response — in the session of the request it answers while that session is
// open, else in this one, naming where the request is.
import { sha256Digest } from "@portcullis/common/digest";
import { performance } from "node:perf_hooks";
import { canonicalJson } from "@portcullis/common/canonical-json";
import type { EvidenceRecord, McpRequestDetails, RequestData, ResultData } from "@portcullis/common/evidence/record";
import type { McpFacts } from "@portcullis/common/policy/cel";
import type { BodyMasker } from "../../masking/body-masking.js";
import type { Decision } from "../../policy/engine.js";
import type { ExchangeInput } from "../http/exchange.js";
import type { PendingRequest } from "./conversations.js";
import { idKey, type JsonRpcMessage, WITHHELD } from "./json-rpc.js";
import { describeMcp } from "./mcp-match.js";
import type { ShapedResponse } from "./response-shaping.js";
import type { ToolLedger } from "./tool-ledger.js";

const MAX_RECORDED_ARGUMENTS = 16_384;

/** What came of a forwarded request (or a stream), for its result record. */
export type Outcome = Pick<ResultData, "masked" | "error" | "mcp"> & { status: number; bytes: number };

export class McpEvidence {
  constructor(
    private readonly input: ExchangeInput<McpFacts>,
    private readonly method: string,
    private readonly tools: ToolLedger,
    private readonly masker: BodyMasker,
    private readonly labels: { resource: string; protocol: string },
  ) {}

  private httpDetails(body: Buffer | undefined): RequestData["http"] {
    const { runtime, target } = this.input;
    const declared = Number(this.input.req.headers["content-length"] ?? "0");
    return {
      method: this.method,
      target: target.target,
      host: runtime.upstream.host,
      bodyBytes: body?.length ?? (Number.isFinite(declared) ? declared : 0),
      ...(body ? { bodySha256: sha256Digest(body) } : {}),
    };
  }

  /** An HTTP request refused before any message in it was read (its method, type, size, path). */
  refused(body: Buffer | undefined, rule: string, reason: string): Promise<EvidenceRecord> {
    return this.input.session.recorder.append("request", {
      protocol: "mcp",
      summary: `${this.method} ${this.input.target.path}`,
      decision: { action: "deny", rule, reason },
      http: this.httpDetails(body),
    });
  }

  /** An HTTP request that carries no message: the server's event stream opened, the MCP session ended. */
  transport(what: string): Promise<EvidenceRecord> {
    return this.input.session.recorder.append("request", {
      protocol: "mcp",
      summary: `${this.method} ${this.input.target.path} (${what})`,
      decision: { action: "allow", rule: "(transport)" },
      http: this.httpDetails(undefined),
    });
  }

  /** One JSON-RPC message, with the decision on it. */
  message(message: JsonRpcMessage, facts: McpFacts | undefined, decision: Decision, body: Buffer | undefined, direction: McpFacts["direction"] = "client"): Promise<EvidenceRecord> {
    const details: McpRequestDetails = { ...envelopeDetails(message, direction), ...(facts ? this.factDetails(facts) : {}) };
    const summary = facts ? describeMcp(facts) : message.kind === "response" ? `response ${idKey(message.id)}` : message.method;
    return this.input.session.recorder.append("request", {
      protocol: "mcp",
      summary: direction === "server" ? `server: ${summary}` : summary,
      decision: {
        action: decision.action,
        ...(decision.policy ? { policy: decision.policy } : {}),
        rule: decision.rule,
        ...(decision.action === "deny" ? { reason: decision.message } : {}),
      },
      ...(direction === "client" ? { http: this.httpDetails(body) } : {}),
      mcp: details,
    });
  }

  /** What the evidence says of a message's facts: the tool, resource or prompt, the arguments as masked, the tool's fingerprint. */
  private factDetails(facts: McpFacts): Partial<McpRequestDetails> {
    const details: Partial<McpRequestDetails> = {};
    if (facts.tool.name) details.tool = facts.tool.name;
    if (facts.resource.uri) details.uri = facts.resource.uri;
    if (facts.prompt.name) details.prompt = facts.prompt.name;
    if (facts.method === "tools/call" || facts.method === "prompts/get") {
      const args = facts.method === "tools/call" ? facts.tool.arguments : facts.prompt.arguments;
      details.arguments = this.maskedArguments(args).text.slice(0, MAX_RECORDED_ARGUMENTS);
      details.argumentsSha256 = sha256Digest(canonicalJson(args));
    }
    const fingerprint = facts.tool.name ? this.tools.standing(facts.tool.name).fingerprint : undefined;
    if (fingerprint) details.toolFingerprint = fingerprint;
    return details;
  }

  /** Arguments as the policies mask results: what a reviewer and the evidence are shown. */
  maskedArguments(args: Record<string, unknown>): { text: string } {
    const document = { value: structuredClone(args) as unknown };
    if (this.masker.active) this.masker.maskJson(document);
    return { text: JSON.stringify(document.value) };
  }

  /** A request that never reached the server though no rule denied it (its approval was not obtained): why, as its result. */
  async refusal(seq: number, reason: string, code: number): Promise<void> {
    await this.input.session.recorder.append("result", { request: seq, masked: {}, durationMs: 0, refused: reason, error: { code: String(code), message: reason } });
  }

  /** The result of a forwarded request: in its own session while that is open, else in this one. */
  async result(pending: PendingRequest, outcome: Outcome): Promise<void> {
    const durationMs = Math.round((performance.now() - pending.started) * 1000) / 1000;
    this.input.runtime.services.metrics.requestDuration.observe(this.labels, durationMs / 1000);
    // The request's own session when it is still open; else this one, naming where the request is.
    const own = !pending.recorder.ended;
    const recorder = own ? pending.recorder : this.input.session.recorder;
    await recorder.append("result", {
      request: pending.seq,
      masked: outcome.masked,
      durationMs,
      ...(outcome.error ? { error: outcome.error } : {}),
      http: { status: outcome.status, bytes: outcome.bytes },
      ...(outcome.mcp ? { mcp: outcome.mcp } : {}),
      ...(own ? {} : { requestSession: pending.recorder.session }),
    });
  }
}

/** What the evidence says of any message: who sent it, its kind, id and method. */
function envelopeDetails(message: JsonRpcMessage, direction: McpFacts["direction"]): McpRequestDetails {
  return {
    direction,
    kind: message.kind,
    ...(message.kind !== "notification" ? { id: idKey(message.id) } : {}),
    ...(message.kind !== "response" ? { method: message.method } : {}),
  };
}

/** A shaped response in its result record. */
export function mcpResult(shaped: ShapedResponse): NonNullable<ResultData["mcp"]> {
  return { summary: shaped.summary, ...(shaped.isError ? { isError: true } : {}), ...(shaped.hidden?.length ? { hidden: shaped.hidden } : {}) };
}

/** A response's error for its result record: the server's JSON-RPC error, or why the gateway withheld the response. */
export function responseError(raw: Record<string, unknown>, withheld: string | undefined): Pick<ResultData, "error"> {
  if (withheld !== undefined) return { error: { code: String(WITHHELD), message: withheld.slice(0, 1024) } };
  const error = raw.error as { code: number; message: string } | undefined;
  return error ? { error: { code: String(error.code), message: error.message.slice(0, 1024) } } : {};
}
