// The HTTP listener of one http Resource: HTTP/1.1 from the agent — over TLS
// with a pod-CA certificate for the backend's names when the Resource is
// transparent HTTPS, or with --tls-cert's — each connection's requests grouped into
// sessions by identity, each request an Exchange. Requests the parser cannot
// read, or whose framing or target a backend could read differently, are
// refused with 400 before anything else happens.
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import { performance } from "node:perf_hooks";
import type tls from "node:tls";
import { errorMessage } from "../../config/error-message.js";
import { SpoolFullError } from "../../evidence/spool.js";
import { IdentityRefusal } from "../../runtime/identity-refusal.js";
import type { ListenerHooks, ProtocolListener, RuntimeOrRefusal } from "../../runtime/registry.js";
import { LEAF_RENEW_MS, type PodCertificates } from "../../runtime/pod-certificates.js";
import { framingProblem } from "./framing.js";
import { bearerToken, overrideProblem } from "./headers.js";
import { type CanonicalTarget, canonicalTarget } from "./request-target.js";
import { type Refusal, type RefusalEncoder, type RefusalOptions, type Reply, refuseReply } from "./responses.js";
import type { HttpResourceRuntime } from "./runtime.js";
import { type HttpSession, startHttpSession } from "./session.js";

export interface HttpListenerOptions<F> {
  host: string;
  port: number;
  runtime: () => RuntimeOrRefusal<HttpResourceRuntime<F>>;
  /** How refusals made before a request reaches its runtime are written (the protocol's encoding). */
  encodeRefusal: RefusalEncoder;
  /** The agent's client expects TLS: a pod-CA certificate for these names is presented (renewed before it expires). */
  agentTls?: { names: string[]; certificates: PodCertificates };
  hooks: ListenerHooks;
  tls?: tls.SecureContextOptions;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** The host part of a Host header or authority, lower case, without the port. */
function hostName(authority: string): string {
  const bracketed = /^(\[[^\]]*\])(:\d+)?$/.exec(authority);
  if (bracketed) return (bracketed[1] ?? "").toLowerCase();
  return authority.replace(/:\d+$/, "").toLowerCase();
}

/** How a session that could not start is refused: 401 for identity, 503 when its evidence cannot be recorded. */
function sessionRefusal(error: unknown): [Refusal, { close?: boolean; headers?: Record<string, string> }] {
  if (error instanceof IdentityRefusal) {
    return [{ status: 401, error: "unauthenticated", message: error.message }, { headers: { "www-authenticate": 'Bearer realm="portcullis"' } }];
  }
  const message = `portcullis: the session's evidence cannot be recorded, so it is refused: ${errorMessage(error)}`;
  return [{ status: 503, error: error instanceof SpoolFullError ? "evidence spool full" : "unavailable", message }, { close: true }];
}

export class HttpListener<F> implements ProtocolListener {
  private readonly server: http.Server;
  /** Sessions by connection, and by the token the identity came from ("" for the pod's). */
  private readonly sessions = new Map<net.Socket, Map<string, Promise<HttpSession<F>>>>();
  /** Exchanges not finished yet, by connection. */
  private readonly inFlight = new Map<net.Socket, Set<Promise<void>>>();

  /** The names the certificate presented to the agent is for (fixed for the listener's life: listenerKey). */
  private readonly agentTls: HttpListenerOptions<F>["agentTls"];
  private renewal: NodeJS.Timeout | undefined;

  constructor(private readonly options: HttpListenerOptions<F>) {
    const settings: http.ServerOptions = { requireHostHeader: true, insecureHTTPParser: false, keepAliveTimeout: 5_000, headersTimeout: 30_000 };
    this.agentTls = options.agentTls;
    // The pod-CA certificate is set in listen(), once issued.
    this.server = this.agentTls || options.tls ? https.createServer({ ...settings, ...(this.agentTls ? {} : options.tls), ALPNProtocols: ["http/1.1"] }) : http.createServer(settings);
    this.server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, { kind: "response", res }));
    this.server.on("clientError", (error: Error & { code?: string }, socket: net.Socket) => {
      this.refuseRaw(socket, { status: 400, error: "bad request", message: `portcullis: the request could not be parsed (${error.code ?? errorMessage(error)})` });
    });
    this.server.on("connect", (_req: http.IncomingMessage, socket: net.Socket) => {
      // Node takes its own error handler off an upgraded or CONNECT socket: without one, a reset would end the process.
      socket.on("error", () => socket.destroy());
      this.refuseRaw(socket, { status: 400, error: "bad request", message: "portcullis: CONNECT is refused: the gateway forwards requests to one backend, not tunnels" });
    });
    this.server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      socket.on("error", () => socket.destroy());
      void this.handle(req, { kind: "upgrade", socket, head });
    });
  }

  async listen(): Promise<number> {
    if (this.agentTls) {
      const { certificates, names } = this.agentTls;
      const install = async (fresh: boolean): Promise<void> => {
        const { certPem, keyPem } = await certificates.serverCertificate(names, fresh);
        (this.server as https.Server).setSecureContext({ cert: certPem, key: keyPem });
      };
      await install(false);
      // Replaced long before it expires, for pods that live longer than a certificate.
      this.renewal = setInterval(() => void install(true).catch((error: unknown) => this.options.hooks.onError(error)), LEAF_RENEW_MS);
      this.renewal.unref();
    }
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    clearInterval(this.renewal);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private refuseRaw(socket: net.Socket, refusal: Refusal): void {
    refuseReply({ kind: "upgrade", socket, head: Buffer.alloc(0) }, refusal, { encode: this.options.encodeRefusal });
    this.options.hooks.onRefused(refusal.message);
  }

  private async handle(req: http.IncomingMessage, reply: Reply): Promise<void> {
    const started = performance.now();
    const refuse = (refusal: Refusal, options: RefusalOptions = {}): void => {
      this.options.hooks.onRefused(refusal.message);
      refuseReply(reply, refusal, { ...options, encode: this.options.encodeRefusal });
    };
    const runtime = this.options.runtime();
    if (typeof runtime === "string") return refuse({ status: 503, error: "unavailable", message: runtime }, { close: true });
    const target = this.acceptedTarget(req, runtime);
    if (typeof target === "string") return refuse({ status: 400, error: "bad request", message: `portcullis: ${target}` }, { close: true });
    let session: HttpSession<F>;
    try {
      session = await this.sessionFor(req, runtime);
    } catch (error) {
      return refuse(...sessionRefusal(error));
    }
    const exchange = runtime.exchange({ req, reply, runtime, session, target, started });
    this.track(req.socket, exchange);
    try {
      await exchange;
    } catch (error) {
      // The evidence could not be written: nothing more goes through this session.
      refuse({ status: 503, error: "evidence unavailable", message: `portcullis: the request's evidence cannot be recorded, so it is refused: ${errorMessage(error)}` }, { close: true });
      req.socket.destroy();
    }
  }

  /** The canonical target, once framing, headers, target and Host are accepted; else why not. */
  private acceptedTarget(req: http.IncomingMessage, runtime: HttpResourceRuntime<F>): CanonicalTarget | string {
    const problem = framingProblem(req.rawHeaders) ?? overrideProblem(req.headers);
    if (problem !== undefined) return problem;
    const target = canonicalTarget(req.url ?? "", (req.method ?? "").toUpperCase());
    if (!target.ok) return target.message;
    const host = hostName(req.headers.host ?? "");
    if (target.authority !== undefined && hostName(target.authority) !== host) return "the absolute-form target names another host than the Host header";
    if (!LOOPBACK_NAMES.has(host) && !runtime.hostNames.has(host) && host !== hostName(this.options.host)) {
      return `the Host "${req.headers.host ?? ""}" is neither this Resource's host nor the gateway's address`;
    }
    return target;
  }

  private sessionFor(req: http.IncomingMessage, runtime: HttpResourceRuntime<F>): Promise<HttpSession<F>> {
    const token = runtime.rules.wantsToken ? bearerToken(req.headers) : undefined;
    let byToken = this.sessions.get(req.socket);
    if (!byToken) {
      byToken = new Map();
      this.sessions.set(req.socket, byToken);
      // The socket the request came on (for HTTPS the TLS socket, not the TCP one the server's connection event names).
      const socket = req.socket;
      socket.once("close", () => this.endSessions(socket));
    }
    const key = token ?? "";
    let session = byToken.get(key);
    if (!session) {
      session = startHttpSession(runtime, token, req.socket);
      const sessions = byToken;
      session.then(
        () => this.options.hooks.onSessionStart(),
        () => sessions.delete(key),
      );
      byToken.set(key, session);
    }
    return session;
  }

  /** An exchange still writing its evidence when its connection closes (a relayed stream's result): its session ends after it. */
  private track(socket: net.Socket, exchange: Promise<void>): void {
    let running = this.inFlight.get(socket);
    if (!running) this.inFlight.set(socket, (running = new Set()));
    const set = running;
    set.add(exchange);
    void exchange.finally(() => set.delete(exchange)).catch(() => undefined);
  }

  private endSessions(socket: net.Socket): void {
    const byToken = this.sessions.get(socket);
    this.sessions.delete(socket);
    const running = [...(this.inFlight.get(socket) ?? [])];
    this.inFlight.delete(socket);
    for (const pending of byToken?.values() ?? []) {
      pending
        .then(async (session) => {
          await Promise.allSettled(running);
          session.approvals.end();
          await session.recorder.end({ reason: "client-disconnected" });
          this.options.hooks.onSessionEnd(session.id, "client-disconnected");
        })
        .catch((error: unknown) => this.options.hooks.onError(error));
    }
  }
}
