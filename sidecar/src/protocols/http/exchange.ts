// One HTTP request through the gateway, in order: framing and the request
// target checked and canonicalised, the request decided by the policies
// (its JSON body read first when a rule needs it), held for a reviewer when a
// rule says so, recorded, forwarded with the Resource's credential, and its
// response streamed back — or, when masking applies, read whole, masked and
// sent. Every way this can fail is a refusal with a status and a reason, and
// everything after the session started is recorded.
import { createHash } from "node:crypto";
import type http from "node:http";
import { performance } from "node:perf_hooks";
import type { EvidenceRecord, RequestData } from "@portcullis/common/evidence/record";
import type { HttpFacts } from "@portcullis/common/policy/cel";
import type { Dispatcher } from "undici";
import { errorMessage } from "../../config/error-message.js";
import { observeRequest, type RequestDecision } from "../../observability/metrics.js";
import type { Decision } from "../../policy/engine.js";
import { denialMessage } from "../../policy/engine.js";
import { forwardedRequestHeaders, returnedResponseHeaders } from "./headers.js";
import { type Refusal, type RefusalOptions, type Reply, refuseReply, sendRefusal } from "./responses.js";
import { relayWebSocket } from "./websocket.js";
import type { CanonicalTarget } from "./request-target.js";
import type { HttpResourceRuntime } from "./runtime.js";
import type { HttpSession } from "./session.js";

export class BodyTooLarge extends Error {}

/** The request body, whole, or BodyTooLarge past `limit` bytes. */
export async function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  if (Number(req.headers["content-length"] ?? "0") > limit) throw new BodyTooLarge();
  return readLimited(req as AsyncIterable<Buffer>, limit);
}

const isJson = (contentType: string | undefined): boolean => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType ?? "");
const isText = (contentType: string | undefined): boolean => /^text\//i.test(contentType ?? "");

function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0 || !isJson(contentType)) return null;
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    // Declared JSON that does not parse: a backend's lenient parser could read something the policy did not.
    throw new BodyUnreadable("the request body says it is JSON but does not parse");
  }
}

export class BodyUnreadable extends Error {}

/** A charset other than UTF-8 (or none) would be read differently by the backend than by the gateway. */
const nonUtf8 = (contentType: string | undefined): boolean => {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? "")?.[1];
  return charset !== undefined && !/^utf-?8$/i.test(charset);
};

/** Why a body a rule must read cannot be read as the backend will, if so. */
function bodyProblem(req: http.IncomingMessage): string | undefined {
  const encoding = req.headers["content-encoding"];
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return `the request body is encoded (${encoding}), and a rule must read it: send it unencoded`;
  if (nonUtf8(req.headers["content-type"])) return `the request body's charset is not UTF-8 (${req.headers["content-type"] ?? ""}), and a rule must read it`;
  return undefined;
}

const sha256 = (data: Buffer | string): string => `sha256:${createHash("sha256").update(data).digest("hex")}`;

export interface ExchangeInput {
  req: http.IncomingMessage;
  reply: Reply;
  runtime: HttpResourceRuntime;
  session: HttpSession;
  target: CanonicalTarget;
  started: number;
}

interface Held {
  body?: Buffer;
  decision: Decision;
  record?: EvidenceRecord;
  approvalRequest?: string;
}

export class Exchange {
  private readonly req: http.IncomingMessage;
  private readonly reply: Reply;
  /** Aborted when the agent goes away before its answer is complete. */
  private readonly gone: AbortSignal;
  private readonly runtime: HttpResourceRuntime;
  private readonly session: HttpSession;
  private readonly target: CanonicalTarget;
  private readonly started: number;
  private readonly method: string;
  private readonly headers: Record<string, string>;
  private readonly labels: { resource: string; protocol: string };

  constructor(input: ExchangeInput) {
    ({ req: this.req, reply: this.reply, runtime: this.runtime, session: this.session, target: this.target, started: this.started } = input);
    this.gone = goneSignal(this.reply);
    this.method = (this.req.method ?? "GET").toUpperCase();
    this.headers = forwardedRequestHeaders(this.req.headers, this.runtime.upstream.credential?.name);
    this.labels = { resource: this.runtime.resource.name, protocol: "http" };
  }

  /** Runs the exchange; rejects only when the session's evidence cannot be written (the caller ends the session). */
  async run(): Promise<void> {
    const held: Held = { decision: this.decide(undefined) };
    if (!(await this.readBody(held))) return;
    held.decision = this.upgradeRefusal(held.decision) ?? held.decision;
    if (held.decision.action === "deny") return this.deny(held);
    held.record = await this.record(held, held.decision.action);
    if (held.decision.action === "requireApproval" && !(await this.approve(held))) return;
    if (held.decision.action === "allow") this.count("allow");
    if (this.reply.kind === "upgrade") return this.relayUpgrade(held, this.reply);
    await this.forward(held, this.reply.res);
  }

  /**
   * Reads the body when a rule must see it (and decides again with it) or an approval binds to it;
   * false when it cannot be read as the backend will read it, or is too large — refused and recorded.
   */
  private async readBody(held: Held): Promise<boolean> {
    const needed = this.runtime.readsBody || held.decision.action === "requireApproval";
    if (!needed) return true;
    const unreadable = this.runtime.readsBody ? bodyProblem(this.req) : undefined;
    if (unreadable) {
      held.decision = { action: "deny", policy: held.decision.policy, rule: "(body)", message: unreadable };
      await this.deny(held);
      return false;
    }
    try {
      held.body = await readBody(this.req, this.runtime.maxBodyBytes);
      if (this.runtime.readsBody) held.decision = this.decide(held.body);
      return true;
    } catch (error) {
      if (error instanceof BodyUnreadable) {
        held.decision = { action: "deny", policy: held.decision.policy, rule: "(body)", message: error.message };
        await this.deny(held);
        return false;
      }
      if (!(error instanceof BodyTooLarge)) throw error;
    }
    const limit = this.runtime.maxBodyBytes;
    held.decision = { action: "deny", policy: held.decision.policy, rule: "(body too large)", message: `the request body is larger than ${limit} bytes (spec.http.maxBodyBytes), so it cannot be checked` };
    await this.record(held, "deny");
    this.count("deny");
    this.refuse({ status: 413, error: "request body too large", message: `portcullis: ${held.decision.message}` }, { close: true });
    return false;
  }

  /** An upgrade passes only as a GET, and only when the rule that allowed it names the Upgrade header. */
  private upgradeRefusal(decision: Decision): Decision | undefined {
    if (this.reply.kind !== "upgrade" || decision.action === "deny") return undefined;
    const refused = (message: string): Decision => ({ action: "deny", policy: decision.policy, rule: "(protocol)", message });
    if (this.method !== "GET") return refused(`a protocol upgrade must be a GET, not ${this.method}`);
    if (upgradeAllowed(this.runtime, decision)) return undefined;
    return refused(`protocol upgrades (${this.req.headers.upgrade ?? ""}) are relayed only when the rule that allows them names the Upgrade header in match.http.headers`);
  }

  private decide(body: Buffer | undefined): Decision {
    const { runtime, session } = this;
    const query: Record<string, string[]> = {};
    for (const [name, value] of this.target.query) (query[name] ??= []).push(value);
    // Upgrade is hop-by-hop, never forwarded as a header, but a rule must see it to allow a WebSocket.
    const headers = this.req.headers.upgrade === undefined ? this.headers : { ...this.headers, upgrade: this.req.headers.upgrade };
    const facts: HttpFacts = { method: this.method, path: this.target.path, host: runtime.factsHost, headers, query };
    if (body !== undefined) facts.body = parseJsonBody(body, this.req.headers["content-type"]);
    return session.rules.policies.decide({ ok: true, items: [facts] }, session.identity, runtime.resource);
  }

  private refuse(refusal: Refusal, options: RefusalOptions = {}): void {
    refuseReply(this.reply, refusal, options);
  }

  private async deny(held: Held): Promise<void> {
    await this.record(held, "deny");
    this.count("deny");
    const { decision } = held;
    this.refuse({ status: 403, error: "denied", message: denialMessage(decision), ...this.named(decision) }, { close: !this.req.complete });
  }

  private named(decision: Decision): Pick<Refusal, "policy" | "rule"> {
    return { ...(decision.policy ? { policy: decision.policy } : {}), ...(decision.rule.startsWith("(") ? {} : { rule: decision.rule }) };
  }

  private async approve(held: Held): Promise<boolean> {
    const body = held.body ?? Buffer.alloc(0);
    const bodyHash = sha256(body);
    const fingerprint = sha256(JSON.stringify([this.method, this.target.target, bodyHash]));
    const shown = body.length ? `\n\n${body.toString("utf8").slice(0, 16_384)}` : "";
    const outcome = await this.session.approvals.obtain(
      {
        decision: held.decision,
        summary: `${this.method} ${this.target.path}`,
        details: `${this.method} ${this.target.target}\nhost: ${this.runtime.upstream.host}${shown}`,
        fingerprint,
        requestSeq: held.record?.seq ?? 0,
      },
      () => undefined,
      this.gone,
    );
    this.count(outcome.approved ? "approval-approved" : outcome.expired ? "approval-expired" : "approval-denied");
    if (outcome.approved) return true;
    this.refuse({
      status: 403,
      error: outcome.expired ? "approval expired" : "approval denied",
      message: outcome.message,
      ...this.named(held.decision),
      ...(outcome.name ? { approvalRequest: outcome.name } : {}),
    });
    await this.result(held, { status: 403, bytes: 0, masked: {}, error: { code: "403", message: outcome.message } });
    return false;
  }

  private upstreamHeaders(bodyLength: number | undefined, masking: boolean): Record<string, string> {
    const { upstream } = this.runtime;
    const headers: Record<string, string> = { ...this.headers, host: upstream.host };
    if (upstream.credential) headers[upstream.credential.name] = upstream.credential.value;
    if (masking) {
      // A compressed body cannot be masked, and a range of one could cut a value out of its field or split it: ask for it whole and plain.
      headers["accept-encoding"] = "identity";
      delete headers.range;
      delete headers["if-range"];
    }
    // A streamed body without a length goes chunked: undici frames it itself.
    if (bodyLength !== undefined) headers["content-length"] = String(bodyLength);
    else if (this.req.headers["content-length"] !== undefined) headers["content-length"] = this.req.headers["content-length"];
    return headers;
  }

  private async forward(held: Held, res: http.ServerResponse): Promise<void> {
    const masker = this.session.rules.masker.body;
    const hasBody = held.body !== undefined ? held.body.length > 0 : this.req.headers["content-length"] !== undefined || this.req.headers["transfer-encoding"] !== undefined;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.runtime.upstream.pool.request({
        method: this.method,
        path: this.target.target,
        headers: this.upstreamHeaders(held.body?.length, masker.active),
        body: held.body ?? (hasBody ? this.req : null),
        signal: this.gone,
        headersTimeout: 120_000,
        bodyTimeout: 0,
      });
    } catch (error) {
      const message = `portcullis: the backend of Resource "${this.runtime.resource.name}" could not be reached: ${describeUpstreamError(error)}`;
      sendRefusal(res, { status: 502, error: "bad gateway", message });
      this.count("error");
      await this.result(held, { status: 502, bytes: 0, masked: {}, error: { code: "502", message } });
      return;
    }
    const bodiless = this.method === "HEAD" || response.statusCode === 204 || response.statusCode === 304;
    if (masker.active && !bodiless) return this.sendMasked(held, response, res);
    res.writeHead(response.statusCode, returnedResponseHeaders(response.headers));
    let bytes = 0;
    let streamError: unknown;
    try {
      bytes = await relay(response.body, res);
    } catch (error) {
      streamError = error;
      response.body.destroy();
      res.destroy();
    }
    await this.result(held, {
      status: response.statusCode,
      bytes,
      masked: {},
      ...(streamError ? { error: { code: String(response.statusCode), message: `the response was cut short: ${errorMessage(streamError)}` } } : {}),
    });
  }

  /** A response under masking: read whole (up to the cap), masked, sent; one that cannot be masked is refused, never passed on. */
  private async sendMasked(held: Held, response: Dispatcher.ResponseData, res: http.ServerResponse): Promise<void> {
    const masker = this.session.rules.masker.body;
    const contentType = firstValue(response.headers["content-type"]);
    const refuse = async (message: string): Promise<void> => {
      // Discarded, never sent: dump() reads a little to keep the connection, else closes it.
      response.body.dump({ limit: 65_536 }).catch(() => undefined);
      const text = `portcullis: the response of Resource "${this.runtime.resource.name}" is withheld: ${message}`;
      sendRefusal(res, { status: 502, error: "response withheld", message: text });
      this.count("error");
      await this.result(held, { status: 502, bytes: 0, masked: {}, error: { code: "502", message: text } });
    };
    const unmaskable = unmaskableResponse(response, masker.masksText);
    if (unmaskable) return refuse(`masking rules apply and ${unmaskable}`);
    const json = isJson(contentType);
    let body: Buffer;
    try {
      body = await readLimited(response.body, this.runtime.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLarge) return refuse(`masking rules apply and it is larger than ${this.runtime.maxBodyBytes} bytes (spec.http.maxBodyBytes)`);
      return refuse(`it could not be read: ${errorMessage(error)}`);
    }
    let text: string;
    let masked: Record<string, number>;
    if (json) {
      let document: { value: unknown };
      try {
        document = { value: JSON.parse(body.toString("utf8")) as unknown };
      } catch {
        return refuse("masking rules apply and it says it is JSON but does not parse");
      }
      masked = masker.maskJson(document);
      text = JSON.stringify(document.value);
    } else {
      const result = masker.maskText(body.toString("utf8"));
      if (!result) return refuse("it is not JSON and a masking rule names only JSON paths");
      ({ text, counts: masked } = result);
    }
    const headers = returnedResponseHeaders(response.headers);
    delete headers["content-length"];
    delete headers.etag;
    const out = Buffer.from(text, "utf8");
    res.writeHead(response.statusCode, { ...headers, "content-length": String(out.length) });
    res.end(out);
    const total = Object.values(masked).reduce((sum, n) => sum + n, 0);
    if (total) this.runtime.services.metrics.maskedValues.inc(this.labels, total);
    await this.result(held, { status: response.statusCode, bytes: out.length, masked });
  }

  private record(held: Held, action: "allow" | "deny" | "requireApproval"): Promise<EvidenceRecord> {
    const { decision, body } = held;
    const declared = Number(this.req.headers["content-length"] ?? "0");
    const data: RequestData = {
      protocol: "http",
      summary: `${this.method} ${this.target.path}`,
      decision: {
        action,
        ...(decision.policy ? { policy: decision.policy } : {}),
        rule: decision.rule,
        ...(action === "deny" ? { reason: decision.message } : {}),
      },
      http: {
        method: this.method,
        target: this.target.target,
        host: this.runtime.upstream.host,
        bodyBytes: body?.length ?? (Number.isFinite(declared) ? declared : 0),
        ...(body !== undefined ? { bodySha256: sha256(body) } : {}),
      },
    };
    return this.session.recorder.append("request", data);
  }

  /** An allowed WebSocket upgrade: the backend's handshake and then its messages, relayed and recorded; the result once it closes. */
  private async relayUpgrade(held: Held, reply: Extract<Reply, { kind: "upgrade" }>): Promise<void> {
    const { upstream } = this.runtime;
    const record = held.record as EvidenceRecord;
    const outcome = await relayWebSocket({
      req: this.req,
      socket: reply.socket,
      head: reply.head,
      target: this.target.target,
      headers: this.upstreamHeaders(undefined, false),
      origin: upstream.origin,
      maxMessageBytes: this.runtime.maxBodyBytes,
      masker: this.session.rules.masker.body,
      recordMessage: (message) => this.session.recorder.append("message", { request: record.seq, ...message }),
    });
    if (outcome.status !== 101) this.count("error");
    await this.result(held, outcome);
  }

  private async result(held: Held, outcome: { status: number; bytes: number; masked: Record<string, number>; error?: { code: string; message: string } }): Promise<void> {
    if (!held.record) return;
    const durationMs = Math.round((performance.now() - this.started) * 1000) / 1000;
    this.runtime.services.metrics.requestDuration.observe(this.labels, durationMs / 1000);
    await this.session.recorder.append("result", {
      request: held.record.seq,
      masked: outcome.masked,
      durationMs,
      ...(outcome.error ? { error: outcome.error } : {}),
      http: { status: outcome.status, bytes: outcome.bytes },
    });
  }

  private count(decision: RequestDecision): void {
    observeRequest(this.runtime.services.metrics, this.labels, decision);
  }
}

/**
 * Copies the backend's body to the agent chunk by chunk as it arrives (an SSE event is not held
 * back), waiting for the agent when it reads slower; resolves with the bytes sent. A plain loop:
 * measured here at 1.75x stream.pipeline's rate for small responses.
 */
async function relay(body: AsyncIterable<Buffer>, res: http.ServerResponse): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
  return bytes;
}

/** Why a response cannot be masked as it is, if so: compressed, a range, not UTF-8, or a type with no masking. */
function unmaskableResponse(response: Dispatcher.ResponseData, masksText: boolean): string | undefined {
  const contentType = firstValue(response.headers["content-type"]);
  const encoding = firstValue(response.headers["content-encoding"]);
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return `it is compressed (${encoding})`;
  if (response.statusCode === 206) return "it is a partial range of a body";
  if (nonUtf8(contentType)) return `its charset is not UTF-8 (${contentType ?? ""})`;
  if (!isJson(contentType) && !(isText(contentType) && masksText)) return `a ${contentType ?? "body without a Content-Type"} cannot be masked`;
  return undefined;
}

/** Aborted when the agent goes away before its answer is complete. */
function goneSignal(reply: Reply): AbortSignal {
  const controller = new AbortController();
  if (reply.kind === "response") reply.res.once("close", () => !reply.res.writableFinished && controller.abort());
  else reply.socket.once("close", () => controller.abort());
  return controller.signal;
}

/** Upgrades pass only when the rule that allowed them names the Upgrade header: an allow written for plain requests does not open a tunnel. */
function upgradeAllowed(runtime: HttpResourceRuntime, decision: Decision): boolean {
  const rule = runtime.bundle.policies.find((policy) => policy.name === decision.policy)?.spec.rules?.find((candidate) => candidate.name === decision.rule);
  return rule?.match?.http?.headers?.some((header) => header.name.toLowerCase() === "upgrade") ?? false;
}

/** Resolves when the response can take more, rejects when the agent went away; leaves no listener behind. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      res.off("drain", onDrain);
      res.off("close", onClose);
      if (error) reject(error);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error("the agent closed the connection"));
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A stream whole, or BodyTooLarge past `limit` bytes. */
async function readLimited(stream: AsyncIterable<Buffer>, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** One line naming the cause (connection refused, a certificate the CA does not vouch for, a timeout). */
function describeUpstreamError(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const code = (error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code;
  const message = errorMessage(cause ?? error);
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}
