// One HTTP request through the gateway, in order: framing and the request
// target checked and canonicalised, the request decided by the policies
// (its JSON body read first when a rule needs it), held for a reviewer when a
// rule says so, recorded, forwarded with the Resource's credential, and its
// response streamed back — or, when masking applies, masked whole or (a
// watch) line by line. What differs between http and kubernetes — facts,
// refusal encoding, upgrades, masking — is the runtime's dialect. Every way this can fail is a refusal with a status and a reason, and
// everything after the session started is recorded.
import { sha256Digest } from "@portcullis/common/digest";
import type http from "node:http";
import { performance } from "node:perf_hooks";
import type { EvidenceRecord, RequestData } from "@portcullis/common/evidence/record";
import type { Dispatcher } from "undici";
import { errorMessage } from "../../config/error-message.js";
import { observeRequest, type RequestDecision } from "../../observability/metrics.js";
import type { Decision } from "../../policy/engine.js";
import { denialMessage } from "../../policy/engine.js";
import { BufferLease } from "../../runtime/byte-budget.js";
import { backendHeaders, forwardedRequestHeaders, returnedResponseHeaders } from "./headers.js";
import type { DialectRequest, DialectSession, HttpDialect, ResponseMasking } from "./dialect.js";
import { firstValue } from "./http-dialect.js";
import { type Refusal, type RefusalOptions, type Reply, refuseReply } from "./responses.js";
import { relayWebSocket } from "./websocket.js";
import { BodyTooLarge, BuffersFull, describeUpstreamError, drained, goneSignal, readBody, readLimited, relay } from "./streams.js";
import type { CanonicalTarget } from "./request-target.js";
import type { HttpResourceRuntime } from "./runtime.js";
import type { HttpSession } from "./session.js";
import { shownBody, shownTarget } from "./shown-request.js";

const BUSY = "the gateway holds as many bodies in memory as it may (all sessions together), so this one cannot be read now; retry shortly";

/** What the listener hands a protocol for one request: it answers it, recording everything, and resolves when done (rejects when evidence cannot be written). */
export type ExchangeHandler<F> = (input: ExchangeInput<F>) => Promise<void>;

/** The exchange of a protocol described by its dialect (http, kubernetes). */
export const dialectExchange =
  <F>(dialect: HttpDialect<F>): ExchangeHandler<F> =>
  (input) =>
    new Exchange(input, dialect).run();

export interface ExchangeInput<F> {
  req: http.IncomingMessage;
  reply: Reply;
  runtime: HttpResourceRuntime<F>;
  session: HttpSession<F>;
  target: CanonicalTarget;
  started: number;
}

interface Held<F> {
  body?: Buffer;
  /** The facts the decision was made on; undefined when they could not be known (the request is refused). */
  facts?: F;
  decision: Decision;
  record?: EvidenceRecord;
  approvalRequest?: string;
}

type Outcome = { status: number; bytes: number; masked: Record<string, number>; events?: number; error?: { code: string; message: string } };

export class Exchange<F> {
  private readonly req: http.IncomingMessage;
  private readonly reply: Reply;
  /** Aborted when the agent goes away before its answer is complete. */
  private readonly gone: AbortSignal;
  private readonly runtime: HttpResourceRuntime<F>;
  private readonly session: HttpSession<F>;
  private readonly target: CanonicalTarget;
  private readonly started: number;
  private readonly method: string;
  private readonly request: DialectRequest;
  private readonly dialect: HttpDialect<F>;
  private readonly labels: { resource: string; protocol: string };
  /** What the dialect sees of the session. */
  private readonly dialectSession: DialectSession;
  /** The bodies this exchange holds in memory, given back when it ends. */
  private readonly lease: BufferLease;

  constructor(input: ExchangeInput<F>, dialect: HttpDialect<F>) {
    ({ req: this.req, reply: this.reply, runtime: this.runtime, session: this.session, target: this.target, started: this.started } = input);
    this.gone = goneSignal(this.reply);
    this.method = (this.req.method ?? "GET").toUpperCase();
    this.dialect = dialect;
    const headers = forwardedRequestHeaders(this.req.headers, this.runtime.upstream.credential?.name);
    this.request = { req: this.req, method: this.method, target: this.target, headers };
    this.labels = { resource: this.runtime.resource.name, protocol: this.dialect.protocol };
    this.lease = new BufferLease(this.runtime.services.buffers);
    this.dialectSession = { identity: this.session.identity, id: this.session.id, masker: this.session.rules.masker.body };
  }

  /** Runs the exchange; rejects only when the session's evidence cannot be written (the caller ends the session). */
  async run(): Promise<void> {
    try {
      await this.exchange();
    } finally {
      this.lease.release();
    }
  }

  private async exchange(): Promise<void> {
    const held: Held<F> = this.decide(undefined);
    const problem = this.dialect.requestProblem?.(this.request);
    if (problem !== undefined) held.decision = this.refused(held.decision, "(request)", problem);
    else if (!(await this.readBody(held))) return;
    if (held.decision.action !== "deny" && this.reply.kind === "upgrade") held.decision = this.upgradeRefusal(held) ?? held.decision;
    if (held.decision.action === "deny") return this.deny(held);
    held.record = await this.record(held, held.decision.action);
    if (held.decision.action === "requireApproval" && !(await this.approve(held))) return;
    if (held.decision.action === "allow") this.count("allow");
    if (this.reply.kind === "upgrade") return this.relayUpgrade(held, this.reply);
    await this.forward(held, this.reply.res);
  }

  private refused(decision: Decision, rule: string, message: string): Decision {
    return { action: "deny", policy: decision.policy, rule, message };
  }

  /**
   * Reads the body when a rule must see it (and decides again with it) or an approval binds to it;
   * false when it cannot be read as the backend will read it, or is too large — refused and recorded.
   */
  private async readBody(held: Held<F>): Promise<boolean> {
    const decidesOnBody = this.runtime.readsBody || (this.dialect.factsNeedBody?.(this.request) ?? false);
    if (!decidesOnBody && held.decision.action !== "requireApproval") return true;
    const unreadable = decidesOnBody ? this.dialect.bodyProblem?.(this.request) : undefined;
    if (unreadable) {
      held.decision = this.refused(held.decision, "(body)", unreadable);
      await this.deny(held);
      return false;
    }
    try {
      held.body = await readBody(this.req, this.runtime.maxBodyBytes, this.lease);
      if (decidesOnBody) Object.assign(held, this.decide(held.body));
      return true;
    } catch (error) {
      if (error instanceof BuffersFull) {
        held.decision = this.refused(held.decision, "(busy)", BUSY);
        await this.record(held, "deny");
        this.count("deny");
        this.refuse({ status: 503, error: "busy", message: `portcullis: ${BUSY}` }, { close: true, headers: { "retry-after": "1" } });
        return false;
      }
      if (!(error instanceof BodyTooLarge)) throw error;
    }
    const limit = this.runtime.maxBodyBytes;
    held.decision = this.refused(held.decision, "(body too large)", `the request body is larger than ${limit} bytes (${this.runtime.maxBodySetting}), so it cannot be checked`);
    await this.record(held, "deny");
    this.count("deny");
    this.refuse({ status: 413, error: "request body too large", message: `portcullis: ${held.decision.message}` }, { close: true });
    return false;
  }

  /** An upgrade passes only when the protocol's rules for upgrades say so. */
  private upgradeRefusal(held: Held<F>): Decision | undefined {
    const { decision } = held;
    if (held.facts === undefined) return undefined;
    const refusal = this.dialect.upgradeRefusal(held.facts, decision, this.request);
    return refusal === undefined ? undefined : this.refused(decision, "(protocol)", refusal);
  }

  /** The request's facts and the decision on them; a deny naming why when they cannot be known. */
  private decide(body: Buffer | undefined): Pick<Held<F>, "facts" | "decision"> {
    const { session } = this;
    const facts = this.dialect.facts(this.request, body);
    if (typeof facts === "string") return { decision: { action: "deny", policy: "", rule: body === undefined ? "(request)" : "(body)", message: facts } };
    return { facts, decision: session.rules.policies.decide({ ok: true, items: [facts] }, session.identity, this.runtime.resource) };
  }

  private refuse(refusal: Refusal, options: RefusalOptions = {}): void {
    refuseReply(this.reply, refusal, { ...options, encode: this.dialect.encodeRefusal });
  }

  private async deny(held: Held<F>): Promise<void> {
    await this.record(held, "deny");
    this.count("deny");
    const { decision } = held;
    const status = decision.rule === "(request)" ? 400 : 403;
    this.refuse({ status, error: status === 400 ? "bad request" : "denied", message: denialMessage(decision), ...this.named(decision) }, { close: !this.req.complete });
  }

  private named(decision: Decision): Pick<Refusal, "policy" | "rule"> {
    return { ...(decision.policy ? { policy: decision.policy } : {}), ...(decision.rule.startsWith("(") ? {} : { rule: decision.rule }) };
  }

  private summary(held: Held<F>): string {
    return held.facts === undefined ? `${this.method} ${this.target.path}` : this.dialect.summary(held.facts, this.request);
  }

  private async approve(held: Held<F>): Promise<boolean> {
    const body = held.body ?? Buffer.alloc(0);
    const bodyHash = sha256Digest(body);
    const fingerprint = sha256Digest(JSON.stringify([this.method, this.target.target, bodyHash]));
    const shownText = shownBody(body, this.session.rules.masker.body, 16_384);
    const shown = shownText ? `\n\n${shownText}` : "";
    const outcome = await this.session.approvals.obtain(
      {
        decision: held.decision,
        summary: this.summary(held),
        details: `${this.method} ${shownTarget(this.target, this.session.rules.masker.body)}\nhost: ${this.runtime.upstream.host}${shown}`,
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
    await this.result(held, { status: 403, bytes: 0, masked: {}, error: { code: "403", message: outcome.message } }, outcome.message);
    return false;
  }

  private upstreamHeaders(held: Held<F>, bodyLength: number | undefined, masking: boolean): Record<string, string> {
    const headers = backendHeaders(this.runtime.upstream, this.request.headers);
    if (masking) {
      // A compressed body cannot be masked, and a range of one could cut a value out of its field or split it: ask for it whole and plain.
      headers["accept-encoding"] = "identity";
      delete headers.range;
      delete headers["if-range"];
    }
    if (held.facts !== undefined) this.dialect.upstreamHeaders?.(headers, held.facts, this.dialectSession, masking);
    // A streamed body without a length goes chunked: undici frames it itself.
    if (bodyLength !== undefined) headers["content-length"] = String(bodyLength);
    else if (this.req.headers["content-length"] !== undefined) headers["content-length"] = this.req.headers["content-length"];
    return headers;
  }


  private async forward(held: Held<F>, res: http.ServerResponse): Promise<void> {
    const masking = held.facts === undefined ? undefined : this.dialect.responseMasking(held.facts, this.dialectSession);
    const hasBody = held.body !== undefined ? held.body.length > 0 : this.req.headers["content-length"] !== undefined || this.req.headers["transfer-encoding"] !== undefined;
    let response: Dispatcher.ResponseData;
    try {
      response = await this.runtime.upstream.pool.request({
        method: this.method,
        path: this.target.target,
        headers: this.upstreamHeaders(held, held.body?.length, masking !== undefined),
        body: held.body ?? (hasBody ? this.req : null),
        signal: this.gone,
        headersTimeout: 120_000,
        bodyTimeout: 0,
      });
    } catch (error) {
      const message = `portcullis: the backend of Resource "${this.runtime.resource.name}" could not be reached: ${describeUpstreamError(error)}`;
      this.refuse({ status: 502, error: "bad gateway", message });
      this.count("error");
      await this.result(held, { status: 502, bytes: 0, masked: {}, error: { code: "502", message } });
      return;
    }
    const bodiless = this.method === "HEAD" || response.statusCode === 204 || response.statusCode === 304;
    if (masking && !bodiless) return this.sendMasked(held, response, res, masking);
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

  /** A response under masking: masked whole or line by line; one that cannot be masked is withheld, never passed on. */
  private async sendMasked(held: Held<F>, response: Dispatcher.ResponseData, res: http.ServerResponse, masking: ResponseMasking): Promise<void> {
    const withhold = async (message: string): Promise<void> => {
      // Discarded, never sent: dump() reads a little to keep the connection, else closes it.
      response.body.dump({ limit: 65_536 }).catch(() => undefined);
      const text = `portcullis: the response of Resource "${this.runtime.resource.name}" is withheld: ${message}`;
      this.refuse({ status: 502, error: "response withheld", message: text });
      this.count("error");
      await this.result(held, { status: 502, bytes: 0, masked: {}, error: { code: "502", message: text } });
    };
    const unmaskable = masking.unmaskable(response);
    if (unmaskable) return withhold(`masking rules apply and ${unmaskable}`);
    const contentType = firstValue(response.headers["content-type"]);
    const headers = returnedResponseHeaders(response.headers);
    delete headers["content-length"];
    delete headers.etag;
    if (masking.framing === "lines") return this.sendMaskedLines(held, response, res, masking, headers);
    let body: Buffer;
    try {
      body = await readLimited(response.body, this.runtime.maxBodyBytes, this.lease);
    } catch (error) {
      if (error instanceof BuffersFull) return withhold(BUSY);
      if (error instanceof BodyTooLarge) return withhold(`masking rules apply and it is larger than ${this.runtime.maxBodyBytes} bytes (${this.runtime.maxBodySetting})`);
      return withhold(`it could not be read: ${errorMessage(error)}`);
    }
    const masked = masking.mask(body.toString("utf8"), contentType);
    if (typeof masked === "string") return withhold(masked);
    const out = Buffer.from(masked.text, "utf8");
    res.writeHead(response.statusCode, { ...headers, "content-length": String(out.length) });
    res.end(out);
    this.countMasked(masked.counts);
    await this.result(held, { status: response.statusCode, bytes: out.length, masked: masked.counts });
  }

  /** A stream of newline-delimited JSON (a watch): each line masked and sent as soon as it is whole; one that cannot be masked ends the stream. */
  private async sendMaskedLines(held: Held<F>, response: Dispatcher.ResponseData, res: http.ServerResponse, masking: ResponseMasking, headers: Record<string, string | string[]>): Promise<void> {
    const contentType = firstValue(response.headers["content-type"]);
    const counts: Record<string, number> = {};
    let bytes = 0;
    let events = 0;
    let failure: string | undefined;
    res.writeHead(response.statusCode, headers);
    const send = async (line: string): Promise<void> => {
      if (line.trim() === "") return;
      const masked = masking.mask(line, contentType);
      if (typeof masked === "string") throw new Error(`an event is withheld and the stream ended: ${masked}`);
      for (const [key, n] of Object.entries(masked.counts)) counts[key] = (counts[key] ?? 0) + n;
      const out = Buffer.from(`${masked.text}\n`, "utf8");
      events += 1;
      bytes += out.length;
      if (!res.write(out)) await drained(res);
    };
    try {
      let pending = "";
      const decoder = new TextDecoder("utf-8", { fatal: true });
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        pending += decoder.decode(chunk, { stream: true });
        let newline = pending.indexOf("\n");
        while (newline >= 0) {
          await send(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
          newline = pending.indexOf("\n");
        }
        if (pending.length > this.runtime.maxBodyBytes) throw new Error(`an event is larger than ${this.runtime.maxBodyBytes} bytes (${this.runtime.maxBodySetting}) and cannot be masked`);
      }
      await send(pending + decoder.decode());
      res.end();
    } catch (error) {
      failure = errorMessage(error);
      response.body.destroy();
      res.destroy();
    }
    this.countMasked(counts);
    await this.result(held, {
      status: response.statusCode,
      bytes,
      masked: counts,
      events,
      ...(failure ? { error: { code: String(response.statusCode), message: `the stream was cut: ${failure}` } } : {}),
    });
  }

  private countMasked(counts: Record<string, number>): void {
    const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
    if (total) this.runtime.services.metrics.maskedValues.inc(this.labels, total);
  }

  private record(held: Held<F>, action: "allow" | "deny" | "requireApproval"): Promise<EvidenceRecord> {
    const { decision, body } = held;
    const declared = Number(this.req.headers["content-length"] ?? "0");
    const data: RequestData = {
      protocol: this.dialect.protocol,
      summary: this.summary(held),
      decision: {
        action,
        ...(decision.policy ? { policy: decision.policy } : {}),
        rule: decision.rule,
        ...(action === "deny" ? { reason: decision.message } : {}),
      },
      http: {
        method: this.method,
        target: shownTarget(this.target, this.session.rules.masker.body),
        host: this.runtime.upstream.host,
        bodyBytes: body?.length ?? (Number.isFinite(declared) ? declared : 0),
        ...(body !== undefined ? { bodySha256: sha256Digest(body) } : {}),
      },
      ...(held.facts !== undefined ? this.dialect.details?.(held.facts) : {}),
    };
    return this.session.recorder.append("request", data);
  }

  /** An allowed WebSocket upgrade: the backend's handshake and then its messages, relayed and recorded; the result once it closes. */
  private async relayUpgrade(held: Held<F>, reply: Extract<Reply, { kind: "upgrade" }>): Promise<void> {
    const { upstream } = this.runtime;
    const record = held.record as EvidenceRecord;
    const relay = this.dialect.upgradeRelay?.(this.request) ?? relayWebSocket;
    const outcome = await relay({
      req: this.req,
      socket: reply.socket,
      head: reply.head,
      target: this.target.target,
      headers: this.upstreamHeaders(held, undefined, false),
      origin: upstream.origin,
      maxMessageBytes: this.runtime.maxBodyBytes,
      masker: this.dialect.streamMasker?.(this.dialectSession) ?? this.session.rules.masker.body,
      encodeRefusal: this.dialect.encodeRefusal,
      ...(this.dialect.messageContent ? { messageContent: this.dialect.messageContent } : {}),
      recordMessage: (message) => this.session.recorder.append("message", { request: record.seq, ...message }),
    });
    if (outcome.status !== 101) this.count("error");
    await this.result(held, outcome);
  }

  /** The request's result; `refused` says why it was not forwarded when no rule denied it. */
  private async result(held: Held<F>, outcome: Outcome, refused?: string): Promise<void> {
    if (!held.record) return;
    const durationMs = Math.round((performance.now() - this.started) * 1000) / 1000;
    this.runtime.services.metrics.requestDuration.observe(this.labels, durationMs / 1000);
    await this.session.recorder.append("result", {
      request: held.record.seq,
      masked: outcome.masked,
      durationMs,
      ...(outcome.error ? { error: outcome.error } : {}),
      ...(refused === undefined ? {} : { refused }),
      http: { status: outcome.status, bytes: outcome.bytes, ...(outcome.events !== undefined ? { events: outcome.events } : {}) },
    });
  }

  private count(decision: RequestDecision): void {
    observeRequest(this.runtime.services.metrics, this.labels, decision);
  }
}

