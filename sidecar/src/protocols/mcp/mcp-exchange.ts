// One HTTP request of an MCP client through the gateway. A POST carries
// JSON-RPC messages: each request and notification is decided on its own
// facts (a tool call also needs the tool's definition accepted), held for a
// reviewer when a rule says so, recorded, and only the allowed ones are
// forwarded — re-serialised, so the server reads what the policy judged. The
// server's answer (JSON, or an SSE stream read event by event) has its lists
// cut to what the policy could allow, its results masked, its own requests to
// the agent (sampling, elicitation) decided, and each response recorded as the
// result of its request. A refused request is answered with a JSON-RPC error
// naming the policy and rule. A GET opens the server's event stream (and, on
// the older HTTP+SSE transport, announces the endpoint to post to); a DELETE
// ends the MCP session. Anything the gateway cannot read is refused.
import { sha256Digest } from "@portcullis/common/digest";
import type http from "node:http";
import { performance } from "node:perf_hooks";
import { canonicalJson } from "@portcullis/common/canonical-json";
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import type { McpFacts } from "@portcullis/common/policy/cel";
import type { Dispatcher } from "undici";
import { errorMessage } from "../../config/error-message.js";
import type { BodyMasker } from "../../masking/body-masking.js";
import { observeRequest, type RequestDecision } from "../../observability/metrics.js";
import { type Decision, denialMessage } from "../../policy/engine.js";
import { BufferLease } from "../../runtime/byte-budget.js";
import type { ExchangeHandler, ExchangeInput } from "../http/exchange.js";
import { backendHeaders, forwardedRequestHeaders, returnedResponseHeaders } from "../http/headers.js";
import { firstValue, isJson, nonUtf8 } from "../http/http-dialect.js";
import { canonicalTarget } from "../http/request-target.js";
import { type Refusal, refuseReply } from "../http/responses.js";
import { BodyTooLarge, BuffersFull, describeUpstreamError, drained, goneSignal, readBody, readLimited } from "../http/streams.js";
import { Conversation, type Conversations, MAX_PENDING, type PendingRequest } from "./conversations.js";
import { APPROVAL_REFUSED, DENIED, errorResponse, idKey, type JsonRpcMessage, parseMessages, WITHHELD } from "./json-rpc.js";
import { McpEvidence, mcpResult, type Outcome, responseError } from "./mcp-evidence.js";
import { describeMcp, listingFacts, messageFacts } from "./mcp-match.js";
import { maskParams, type ShapeJudge, shapeResponse } from "./response-shaping.js";
import { eventData, eventType, messageEvent, serialiseEvent, type SseEvent, SseReader } from "./sse.js";
import type { ToolLedger } from "./tool-ledger.js";

/** What every exchange of one mcp Resource shares beyond the HTTP runtime. */
export interface McpParts {
  tools: ToolLedger;
  conversations: Conversations;
  /** The server's MCP endpoint (spec.mcp.path): Streamable HTTP's, or the HTTP+SSE stream's. */
  path: string;
}

export const mcpExchange =
  (parts: McpParts): ExchangeHandler<McpFacts> =>
  (input) =>
    new McpExchange(input, parts).run();

const isEventStream = (contentType: string | undefined): boolean => /^text\/event-stream\s*(;|$)/i.test(contentType ?? "");
const BUSY = "the gateway holds as many bodies in memory as it may (all sessions together), so this one cannot be read now; retry shortly";

type Message<K extends JsonRpcMessage["kind"]> = Extract<JsonRpcMessage, { kind: K }>;

class McpExchange {
  private readonly req: http.IncomingMessage;
  private readonly res: http.ServerResponse | undefined;
  private readonly input: ExchangeInput<McpFacts>;
  private readonly gone: AbortSignal;
  private readonly method: string;
  private readonly lease: BufferLease;
  private readonly labels: { resource: string; protocol: string };
  private readonly masker: BodyMasker;
  private readonly evidence: McpEvidence;
  /** The agent's forwarded requests of this exchange awaiting their responses, by id key. */
  private readonly pending = new Map<string, PendingRequest>();
  /** The MCP session this request belongs to: the one the server issued its Mcp-Session-Id for, an HTTP+SSE endpoint's, or (none known yet) one of its own. */
  private conversation: Conversation;
  /** This exchange's stream is the HTTP+SSE transport's: it announced this endpoint. */
  private announced: string | undefined;
  /** The POST goes to an HTTP+SSE endpoint another identity's stream announced. */
  private readonly foreignEndpoint: boolean;
  /** The HTTP+SSE transport: this POST goes to an endpoint the gateway announced. */
  private readonly legacy: boolean;

  constructor(
    input: ExchangeInput<McpFacts>,
    private readonly parts: McpParts,
  ) {
    this.input = input;
    this.req = input.req;
    this.res = input.reply.kind === "response" ? input.reply.res : undefined;
    this.gone = goneSignal(input.reply);
    this.method = (this.req.method ?? "GET").toUpperCase();
    this.lease = new BufferLease(input.runtime.services.buffers);
    this.labels = { resource: input.runtime.resource.name, protocol: "mcp" };
    this.masker = input.session.rules.masker.body;
    this.evidence = new McpEvidence(input, this.method, parts.tools, this.masker, this.labels);
    const user = input.session.identity.username;
    const endpoint = this.method === "POST" ? parts.conversations.endpoint(input.target.target) : undefined;
    this.foreignEndpoint = endpoint !== undefined && endpoint.owner !== user;
    this.legacy = endpoint !== undefined && !this.foreignEndpoint;
    const sessionId = firstValue(this.req.headers["mcp-session-id"]);
    const known = sessionId === undefined ? undefined : parts.conversations.session(user, sessionId);
    this.conversation = (this.legacy ? endpoint?.conversation : known) ?? new Conversation();
  }

  async run(): Promise<void> {
    try {
      await this.exchange();
    } finally {
      this.lease.release();
    }
  }

  private async exchange(): Promise<void> {
    if (!this.res) return this.refuseRequest(400, "bad request", "MCP does not upgrade connections: Streamable HTTP and HTTP+SSE are plain requests");
    if (this.foreignEndpoint) return this.refuseRequest(403, "denied", "this HTTP+SSE endpoint belongs to another agent's stream");
    if (!this.legacy && this.input.target.path !== this.parts.path) {
      return this.refuseRequest(404, "not found", `the MCP endpoint of Resource "${this.input.runtime.resource.name}" is ${this.parts.path} (spec.mcp.path); nothing else of its server is reachable`);
    }
    if (this.method === "POST") return this.post(this.res);
    if (this.method === "GET" || this.method === "DELETE") return this.stream(this.res);
    return this.refuseRequest(405, "method not allowed", `MCP clients send POST, GET and DELETE, not ${this.method}`);
  }

  // ---- the agent's messages ----

  private async post(res: http.ServerResponse): Promise<void> {
    const contentType = firstValue(this.req.headers["content-type"]);
    if (!isJson(contentType) || nonUtf8(contentType)) return this.refuseRequest(415, "unsupported media type", "MCP messages are posted as application/json in UTF-8");
    let body: Buffer;
    try {
      body = await readBody(this.req, this.input.runtime.maxBodyBytes, this.lease);
    } catch (error) {
      if (error instanceof BuffersFull) return this.refuseRequest(503, "busy", BUSY, { "retry-after": "1" });
      if (error instanceof BodyTooLarge) return this.refuseRequest(413, "request body too large", `the body is larger than ${this.input.runtime.maxBodyBytes} bytes (${this.input.runtime.maxBodySetting}), so it cannot be checked`);
      throw error;
    }
    const parsed = parseMessages(body);
    if (!parsed.ok) {
      await this.evidence.refused(body, "(request)", parsed.message);
      this.count("deny");
      return sendJson(res, 400, errorResponse(null, parsed.code, `portcullis: ${parsed.message}`));
    }
    const refusals: Record<string, unknown>[] = [];
    const forward: Record<string, unknown>[] = [];
    for (const message of parsed.messages) {
      const sent = message.kind === "response" ? await this.agentResponse(message, body) : await this.agentMessage(message, body, refusals);
      if (sent) forward.push(message.raw);
    }
    if (!forward.length) {
      this.answerLocally(res, refusals, parsed.batch);
      return;
    }
    // Registered before the server can answer: on HTTP+SSE, the answer may come on the stream before the POST's 202.
    for (const [key, pending] of this.pending) this.conversation.clientRequests.set(key, pending);
    const forwarded = JSON.stringify(parsed.batch ? forward : forward[0]);
    const response = await this.upstream("POST", Buffer.from(forwarded, "utf8"));
    if (!response) return;
    await this.relayResponse(response, res, refusals, parsed.batch);
  }

  /** A request or notification of the agent: decided, held, recorded; true when it goes on to the server. */
  private async agentMessage(message: Message<"request"> | Message<"notification">, body: Buffer, refusals: Record<string, unknown>[]): Promise<boolean> {
    const facts = messageFacts(message, "client");
    const decision = typeof facts === "string" ? refused("(request)", facts) : this.decideAgentMessage(message, facts);
    const record = await this.evidence.message(message, typeof facts === "string" ? undefined : facts, decision, body);
    const refusal = decision.action === "deny" ? errorResponse(message.kind === "request" ? message.id : null, DENIED, denialMessage(decision), named(decision)) : undefined;
    if (refusal) this.count("deny");
    else if (decision.action === "allow") this.count("allow");
    const stopped = refusal ?? (decision.action === "requireApproval" && message.kind === "request" ? await this.approve(message, facts as McpFacts, decision, record) : undefined);
    if (stopped) {
      if (message.kind === "request") refusals.push(stopped);
      return false;
    }
    if (message.kind === "request") this.pending.set(idKey(message.id), { seq: record.seq, recorder: this.input.session.recorder, method: message.method, started: performance.now() });
    return true;
  }

  /** The policies' decision, then what the protocol adds: a tool's definition accepted, a request id not already waiting, room to wait. */
  private decideAgentMessage(message: Message<"request"> | Message<"notification">, facts: McpFacts): Decision {
    const decision = this.decide(facts);
    if (decision.action === "deny") return decision;
    const standing = facts.method === "tools/call" ? this.parts.tools.standing(facts.tool.name) : undefined;
    if (standing && !standing.ok) return refused("(tool definition)", standing.reason, decision.policy);
    if (message.kind === "notification") {
      return decision.action === "requireApproval" ? refused("(notification)", "a notification cannot wait for a reviewer: it has no response to hold", decision.policy) : decision;
    }
    const key = idKey(message.id);
    if (this.pending.has(key) || this.conversation.clientRequests.has(key)) return refused("(request)", `request id ${key} is already awaiting a response; ids must be unique in a session`, decision.policy);
    if (this.pending.size + this.conversation.clientRequests.size >= MAX_PENDING) return refused("(busy)", `the MCP session already has ${MAX_PENDING} requests awaiting responses`, decision.policy);
    return decision;
  }

  /** The agent's answer to a server request: passed only when it answers one the gateway passed to it. */
  private async agentResponse(message: Message<"response">, body: Buffer): Promise<boolean> {
    const known = this.conversation.serverRequests.delete(idKey(message.id));
    const decision: Decision = known
      ? { action: "allow", policy: "", rule: "(response)", message: "it answers a request the server sent through this gateway" }
      : refused("(response)", "it answers no request the server sent through this gateway");
    await this.evidence.message(message, undefined, decision, body);
    this.count(known ? "allow" : "deny");
    return known;
  }

  private decide(facts: McpFacts): Decision {
    const { session, runtime } = this.input;
    return session.rules.policies.decide({ ok: true, items: [facts] }, session.identity, runtime.resource);
  }

  /** Holds a request for a reviewer; the JSON-RPC error to answer with when it is not approved. */
  private async approve(message: Message<"request">, facts: McpFacts, decision: Decision, record: EvidenceRecord): Promise<Record<string, unknown> | undefined> {
    const subject = facts.tool.name || facts.resource.uri || facts.prompt.name;
    const args = facts.method === "prompts/get" ? facts.prompt.arguments : facts.tool.arguments;
    const shown = this.evidence.maskedArguments(args);
    const outcome = await this.input.session.approvals.obtain(
      {
        decision,
        summary: describeMcp(facts),
        details: `${facts.method} ${subject}\narguments (masked as the policies mask results):\n${shown.text}`,
        // Bound to the exact call: the method and every parameter the server reads (not the JSON-RPC id, nor _meta's progress token).
        fingerprint: sha256Digest(canonicalJson([facts.method, { ...message.params, _meta: undefined }])),
        requestSeq: record.seq,
      },
      () => undefined,
      this.gone,
    );
    this.count(outcome.approved ? "approval-approved" : outcome.expired ? "approval-expired" : "approval-denied");
    // The tool may have changed while the call waited: what was approved is the call of the tool as it was.
    const standing = facts.method === "tools/call" ? this.parts.tools.standing(facts.tool.name) : { ok: true as const };
    if (outcome.approved && standing.ok) return undefined;
    const why = outcome.approved && !standing.ok ? `portcullis: the call was approved, but ${standing.reason}` : outcome.message;
    await this.evidence.refusal(record.seq, why, APPROVAL_REFUSED);
    return errorResponse(message.id, APPROVAL_REFUSED, why, { ...named(decision), ...(outcome.name ? { approvalRequest: outcome.name } : {}) });
  }

  /** Nothing goes to the server: the refusals are the answer (202 when only notifications and answers were refused). */
  private answerLocally(res: http.ServerResponse, refusals: Record<string, unknown>[], batch: boolean): void {
    if (this.answerRefusals(res, refusals, batch)) return;
    res.writeHead(202, { "content-length": "0" });
    res.end();
  }

  /**
   * The refusals of a POST whose answer has no body of the server's: sent as this response (true), or on
   * HTTP+SSE put on the agent's event stream, where it reads answers (false, as when there are none).
   */
  private answerRefusals(res: http.ServerResponse, refusals: Record<string, unknown>[], batch: boolean): boolean {
    if (!refusals.length || (this.legacy && this.deliverOnStream(refusals))) return false;
    sendJson(res, 200, batch ? refusals : refusals[0]);
    return true;
  }

  /** HTTP+SSE transport: the agent reads answers on its event stream; false when that stream is gone. */
  private deliverOnStream(messages: Record<string, unknown>[]): boolean {
    const sink = this.conversation.sink;
    return sink !== undefined && messages.every((message) => sink(messageEvent(message)));
  }

  // ---- the server's side ----

  /** The request sent to the server with the Resource's credential; undefined when it could not be reached (answered and recorded). */
  private async upstream(method: string, body: Buffer | undefined): Promise<Dispatcher.ResponseData | undefined> {
    const { upstream } = this.input.runtime;
    const headers = backendHeaders(upstream, forwardedRequestHeaders(this.req.headers, upstream.credential?.name));
    // A compressed answer cannot be read, filtered or masked: ask for it plain.
    headers["accept-encoding"] = "identity";
    if (body) {
      // The body is the messages as the gateway read them, serialised again: UTF-8 JSON, said so plainly.
      headers["content-type"] = "application/json";
      headers["content-length"] = String(body.length);
    }
    try {
      return await upstream.pool.request({ method, path: this.input.target.target, headers, body: body ?? null, signal: this.gone, headersTimeout: 120_000, bodyTimeout: 0 });
    } catch (error) {
      const message = `portcullis: the MCP server of Resource "${this.input.runtime.resource.name}" could not be reached: ${describeUpstreamError(error)}`;
      this.count("error");
      await this.unanswered({ code: "502", message });
      this.httpRefusal({ status: 502, error: "bad gateway", message });
      return undefined;
    }
  }

  /** The server's answer to a POST: JSON, an event stream, or an acknowledgement. */
  private async relayResponse(response: Dispatcher.ResponseData, res: http.ServerResponse, refusals: Record<string, unknown>[], batch: boolean): Promise<void> {
    const contentType = firstValue(response.headers["content-type"]);
    this.trackSession(response);
    if (isEventStream(contentType)) return this.relayStream(response, res, refusals);
    if (response.statusCode === 202 || response.statusCode === 204) {
      this.acknowledged(response, res, refusals, batch);
      return;
    }
    if (!isJson(contentType)) return this.relayOther(response, res);
    const body = await this.readResponse(response);
    if (typeof body === "string") return this.withhold(body);
    const parsed = parseMessages(body);
    if (!parsed.ok) return this.withhold(`it is not JSON-RPC: ${parsed.message}`);
    const out = [...refusals];
    for (const message of parsed.messages) {
      const shown = await this.serverMessage(message, response.statusCode, body.length);
      if (shown) out.push(shown);
    }
    await this.unanswered({ code: String(response.statusCode), message: "the server's response did not answer this request" });
    const headers = returnedResponseHeaders(response.headers);
    delete headers["content-length"];
    if (!out.length) {
      res.writeHead(response.statusCode < 300 ? 202 : response.statusCode, { ...headers, "content-length": "0" });
      res.end();
      return;
    }
    sendJson(res, response.statusCode, batch || parsed.batch || out.length > 1 ? out : out[0], headers);
  }

  /** A JSON answer, whole (within the limit and the pod's budget), or why it cannot be read. */
  private async readResponse(response: Dispatcher.ResponseData): Promise<Buffer | string> {
    try {
      return await readLimited(response.body, this.input.runtime.maxBodyBytes, this.lease);
    } catch (error) {
      response.body.destroy();
      if (error instanceof BuffersFull) return BUSY;
      return error instanceof BodyTooLarge ? `it is larger than ${this.input.runtime.maxBodyBytes} bytes (${this.input.runtime.maxBodySetting})` : `it could not be read: ${errorMessage(error)}`;
    }
  }

  /** A POST acknowledged without a body: on HTTP+SSE its answers come on the stream, where the gateway already expects them. */
  private acknowledged(response: Dispatcher.ResponseData, res: http.ServerResponse, refusals: Record<string, unknown>[], batch: boolean): void {
    response.body.dump().catch(() => undefined);
    this.pending.clear();
    if (this.answerRefusals(res, refusals, batch)) return;
    res.writeHead(response.statusCode, returnedResponseHeaders(response.headers));
    res.end();
  }

  /** A GET (the server's event stream) or DELETE (the end of the MCP session): recorded, forwarded, and the stream read event by event. */
  private async stream(res: http.ServerResponse): Promise<void> {
    const ending = this.method === "DELETE";
    const record = await this.evidence.transport(ending ? "end the MCP session" : "open the server's event stream");
    this.count("allow");
    const started = performance.now();
    const response = await this.upstream(this.method, undefined);
    if (!response) return;
    this.pending.set(STREAM, { seq: record.seq, recorder: this.input.session.recorder, method: "", started });
    const sessionId = firstValue(this.req.headers["mcp-session-id"]);
    if (ending && response.statusCode < 300 && sessionId !== undefined) this.parts.conversations.close(this.input.session.identity.username, sessionId);
    if (isEventStream(firstValue(response.headers["content-type"]))) return this.relayStream(response, res, []);
    return this.relayOther(response, res);
  }

  /**
   * A body that is neither JSON-RPC nor an event stream. A success with one could carry what the gateway
   * cannot read (a stream under another type): withheld. An error (a 405 for a server without a GET stream)
   * passes with its status; its body only where no masking rule applies.
   */
  private async relayOther(response: Dispatcher.ResponseData, res: http.ServerResponse): Promise<void> {
    const status = response.statusCode;
    const outcome = (bytes: number): Outcome => ({ status, bytes, masked: {}, ...(status >= 400 ? { error: { code: String(status), message: `the server answered ${status}` } } : {}) });
    if (status < 300 && !(this.method === "DELETE" && status === 200)) {
      response.body.dump().catch(() => undefined);
      return this.withhold(`the server answered ${status} with ${firstValue(response.headers["content-type"]) ?? "no Content-Type"}, which is neither JSON-RPC nor an event stream`);
    }
    if (this.masker.active) {
      response.body.dump().catch(() => undefined);
      this.httpRefusal({ status, error: "withheld", message: `portcullis: the MCP server answered ${status} with a body that is not JSON-RPC; masking rules apply, so it is withheld` });
      return this.finish(outcome(0));
    }
    res.writeHead(status, returnedResponseHeaders(response.headers));
    let bytes = 0;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (!res.write(chunk)) await drained(res);
      }
      res.end();
    } catch {
      response.body.destroy();
      res.destroy();
    }
    await this.finish(outcome(bytes));
  }

  /** An event stream, event by event: messages shaped, the server's requests decided, other events passed as they are. */
  private async relayStream(response: Dispatcher.ResponseData, res: http.ServerResponse, refusals: Record<string, unknown>[]): Promise<void> {
    const headers = returnedResponseHeaders(response.headers);
    delete headers["content-length"];
    res.writeHead(response.statusCode, headers);
    let bytes = 0;
    const write = async (text: string): Promise<void> => {
      bytes += Buffer.byteLength(text);
      if (!res.write(text)) await drained(res);
    };
    for (const refusal of refusals) await write(messageEvent(refusal));
    const reader = new SseReader(this.input.runtime.maxBodyBytes);
    const decoder = new TextDecoder("utf-8", { fatal: true });
    // What the stream holds of an event not complete yet counts against the pod's budget, as bodies do.
    const held = new BufferLease(this.input.runtime.services.buffers);
    let events = 0;
    let failure: string | undefined;
    try {
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        for (const event of reader.push(decoder.decode(chunk, { stream: true }))) {
          const text = await this.streamEvent(event, response.statusCode, res);
          events += 1;
          if (text !== undefined) await write(text);
        }
        if (!held.resize(reader.buffered)) throw new Error(BUSY);
      }
      decoder.decode();
      if (reader.end()) throw new Error("the stream ended inside an event");
      res.end();
    } catch (error) {
      // The agent closing its stream ends it normally; anything else cut it.
      if (!this.gone.aborted) failure = errorMessage(error);
      response.body.destroy();
      res.destroy();
    } finally {
      held.release();
      if (this.announced !== undefined) this.parts.conversations.closeEndpoint(this.announced);
    }
    await this.unanswered({ code: String(response.statusCode), message: `the stream ended before the server answered${failure ? `: ${failure}` : ""}` });
    const closed = this.gone.aborted ? "; the agent closed the stream" : "";
    await this.finish({ status: response.statusCode, bytes, masked: {}, mcp: { summary: `${events} events${closed}` }, ...(failure ? { error: { code: String(response.statusCode), message: `the stream was cut: ${failure}` } } : {}) });
  }

  /** One event as the agent gets it; undefined when nothing of it is passed. */
  private async streamEvent(event: SseEvent, status: number, res: http.ServerResponse): Promise<string | undefined> {
    const data = eventData(event);
    if (data === undefined) return serialiseEvent(event);
    const type = eventType(event);
    if (type === "endpoint") return this.announceEndpoint(event, data, res);
    if (type !== "message") throw new Error(`the server sent an event of type "${type.slice(0, 64)}", which is not MCP`);
    const parsed = parseMessages(data);
    if (!parsed.ok) throw new Error(`an event is not JSON-RPC: ${parsed.message}`);
    const out: Record<string, unknown>[] = [];
    for (const message of parsed.messages) {
      const shown = await this.serverMessage(message, status, Buffer.byteLength(data));
      if (shown) out.push(shown);
    }
    // An event with nothing left keeps its id (the agent resumes after it) without data.
    if (!out.length) return event.fields.some(([name]) => name === "id") ? serialiseEvent({ fields: event.fields.filter(([name]) => name !== "data" && name !== "event") }) : undefined;
    return serialiseEvent(event, JSON.stringify(parsed.batch ? out : out[0]));
  }

  /** HTTP+SSE: the endpoint the agent posts to, as a canonical path on this gateway, owned by this agent; the answers to its posts come on this stream. */
  private announceEndpoint(event: SseEvent, data: string, res: http.ServerResponse): string {
    if (this.announced !== undefined) throw new Error("the server announced a second endpoint on one stream");
    const { origin } = this.input.runtime.upstream;
    let url: URL;
    try {
      url = new URL(data.trim(), `${origin.scheme}://gateway.invalid${this.input.target.path}`);
    } catch {
      throw new Error("the server's endpoint event names no URL");
    }
    if (url.host !== "gateway.invalid" && (url.hostname !== origin.host.toLowerCase() || Number(url.port || (url.protocol === "https:" ? 443 : 80)) !== origin.port)) {
      throw new Error("the server's endpoint event points at another server");
    }
    const target = canonicalTarget(`${url.pathname}${url.search}`, "POST");
    if (!target.ok) throw new Error(`the server's endpoint cannot be read one way only: ${target.message}`);
    const conversation = this.parts.conversations.announce(this.input.session.identity.username, target.target);
    if (!conversation) throw new Error("the server announced an endpoint another agent's stream owns");
    conversation.sink = (text) => !res.destroyed && res.write(text);
    this.conversation = conversation;
    this.announced = target.target;
    return serialiseEvent(event, target.target);
  }

  /** One message from the server, as the agent gets it; undefined when it is not passed. */
  private async serverMessage(message: JsonRpcMessage, status: number, bytes: number): Promise<Record<string, unknown> | undefined> {
    if (message.kind === "response") return this.serverResponse(message, status, bytes);
    const facts = messageFacts(message, "server");
    let decision = typeof facts === "string" ? refused("(request)", facts) : this.decide(facts);
    if (decision.action === "requireApproval") decision = refused("(server request)", "the gateway does not hold a server's request for a reviewer; allow or deny it", decision.policy);
    if (message.kind === "request" && decision.action === "allow" && this.conversation.serverRequests.size >= MAX_PENDING) {
      decision = refused("(busy)", `the agent already has ${MAX_PENDING} of the server's requests to answer`, decision.policy);
    }
    await this.evidence.message(message, typeof facts === "string" ? undefined : facts, decision, undefined, "server");
    this.count(decision.action === "deny" ? "deny" : "allow");
    if (decision.action === "deny") {
      if (message.kind === "request") await this.answerServer(errorResponse(message.id, DENIED, denialMessage(decision), named(decision)));
      return undefined;
    }
    this.countMasked(maskParams(message.raw, this.masker));
    if (message.kind === "request") this.conversation.serverRequests.add(idKey(message.id));
    return message.raw;
  }

  /** A response to one of the agent's requests: shaped, and recorded as that request's result; one that answers none the gateway forwarded is dropped. */
  private async serverResponse(message: Message<"response">, status: number, bytes: number): Promise<Record<string, unknown> | undefined> {
    const key = idKey(message.id);
    const pending = this.pending.get(key) ?? this.conversation.clientRequests.get(key);
    this.pending.delete(key);
    this.conversation.clientRequests.delete(key);
    if (message.id === null && message.raw.error !== undefined) {
      // The server could not read a request's id (a malformed or unexpected message): its error passes, masked; the requests it leaves unanswered are recorded so.
      return shapeResponse(message.raw, "", this.judge()).message;
    }
    if (!pending) {
      await this.evidence.message(message, undefined, refused("(response)", "it answers no request the agent sent through this gateway, so it cannot be shaped as the policy says"), undefined, "server");
      this.count("deny");
      return undefined;
    }
    const shaped = shapeResponse(message.raw, pending.method, this.judge());
    this.countMasked(shaped.masked);
    await this.evidence.result(pending, { status, bytes, masked: shaped.masked, mcp: mcpResult(shaped), ...responseError(message.raw, shaped.withheld) });
    return shaped.withheld ? errorResponse(message.id, WITHHELD, `portcullis: the response is withheld: ${shaped.withheld}`) : shaped.message;
  }

  /** Tells the server that the agent will not answer its request (the policy refused it), as the agent would. */
  private async answerServer(answer: Record<string, unknown>): Promise<void> {
    const { upstream } = this.input.runtime;
    const headers = backendHeaders(upstream, { "content-type": "application/json", accept: "application/json, text/event-stream" });
    for (const name of ["mcp-session-id", "mcp-protocol-version"]) {
      const value = firstValue(this.req.headers[name]);
      if (value !== undefined) headers[name] = value;
    }
    const path = this.conversation.endpoint ?? this.input.target.target;
    try {
      const response = await upstream.pool.request({ method: "POST", path, headers, body: JSON.stringify(answer), headersTimeout: 30_000 });
      await response.body.dump();
    } catch {
      // The server then waits out its own timeout; the refusal itself is in the evidence.
      this.count("error");
    }
  }

  private judge(): ShapeJudge {
    const { session, runtime } = this.input;
    return {
      masker: this.masker,
      tools: this.parts.tools,
      unlisted: (kind, name) => {
        const decision = session.rules.policies.decide({ ok: true, items: [listingFacts(kind, name)] }, session.identity, runtime.resource, { possible: true });
        return decision.action === "deny" ? decision.message : undefined;
      },
    };
  }

  /** The server issued a session id (answering initialize), or accepted the one the agent sent: later requests find this session's state by it. */
  private trackSession(response: Dispatcher.ResponseData): void {
    if (this.legacy) return;
    const id = firstValue(response.headers["mcp-session-id"]) ?? (response.statusCode < 300 ? firstValue(this.req.headers["mcp-session-id"]) : undefined);
    if (id === undefined) return;
    const conversation = this.parts.conversations.open(this.input.session.identity.username, id);
    if (conversation === this.conversation) return;
    for (const [key, pending] of this.conversation.clientRequests) conversation.clientRequests.set(key, pending);
    this.conversation = conversation;
  }

  // ---- refusals and evidence ----

  /** A request refused before any message in it was read (its method, type, size): recorded and answered. */
  private async refuseRequest(status: number, error: string, reason: string, headers?: Record<string, string>): Promise<void> {
    await this.evidence.refused(undefined, "(request)", reason);
    this.count("deny");
    this.httpRefusal({ status, error, message: `portcullis: ${reason}` }, headers);
  }

  private httpRefusal(refusal: Refusal, headers?: Record<string, string>): void {
    refuseReply(this.input.reply, refusal, { close: !this.req.complete, encode: this.input.runtime.encodeRefusal, ...(headers ? { headers } : {}) });
  }

  /** A 502 in place of a response that cannot be shown as the policy says. */
  private async withhold(why: string): Promise<void> {
    const message = `portcullis: the MCP server's response is withheld: ${why}`;
    this.count("error");
    await this.unanswered({ code: "502", message });
    this.httpRefusal({ status: 502, error: "response withheld", message });
  }

  /** Results for the requests of this exchange no response answered. */
  private async unanswered(error: { code: string; message: string }): Promise<void> {
    for (const [key, pending] of this.pending) {
      if (key === STREAM) continue;
      this.pending.delete(key);
      this.conversation.clientRequests.delete(key);
      await this.evidence.result(pending, { status: Number(error.code) || 502, bytes: 0, masked: {}, error });
    }
  }

  /** The result of the GET or DELETE itself. */
  private async finish(outcome: Outcome): Promise<void> {
    const stream = this.pending.get(STREAM);
    this.pending.delete(STREAM);
    if (stream) await this.evidence.result(stream, outcome);
  }

  private countMasked(counts: Record<string, number>): void {
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (total) this.input.runtime.services.metrics.maskedValues.inc(this.labels, total);
  }

  private count(decision: RequestDecision): void {
    observeRequest(this.input.runtime.services.metrics, this.labels, decision);
  }
}

/** The key of a GET's or DELETE's own result among the pending requests (no JSON-RPC id is this). */
const STREAM = "(stream)";

function refused(rule: string, message: string, policy = ""): Decision {
  return { action: "deny", policy, rule, message };
}

function named(decision: Decision): Record<string, unknown> {
  return { ...(decision.policy ? { policy: decision.policy } : {}), ...(decision.rule.startsWith("(") ? { reason: decision.rule } : { rule: decision.rule }) };
}

function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string | string[]> = {}): void {
  const body = Buffer.from(JSON.stringify(value), "utf8");
  res.writeHead(status, { ...headers, "content-type": "application/json", "content-length": String(body.length) });
  res.end(body);
}
