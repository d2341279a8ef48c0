// The gateway's PostgreSQL listener for one Resource: answers SSLRequest and
// GSSENCRequest (libpq sends SSLRequest first and stalls on a proxy that does
// not answer), forwards CancelRequests under the key it gave the client,
// authenticates the agent, opens the evidence session, connects upstream with
// the brokered credential, and hands the connection to a PostgresSession.
// Every refusal is a FATAL ErrorResponse that says why.
import { randomBytes, randomInt } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { authenticationCleartextPassword, authenticationOk, backendKeyData, errorResponse, parameterStatus, readyForQuery, SQLSTATE } from "./backend.js";
import { StartupSettingRefusal, startupSettings } from "./startup-settings.js";
import { FrameSplitter, ProtocolError } from "./frames.js";
import { parseFrontendMessage, parseStartupPacket, type StartupPacket } from "./frontend.js";
import type { ResultMasking, SessionGuard } from "./ports.js";
import { PostgresSession } from "./session.js";
import { connectUpstream, sendCancel, type UpstreamConnection, type UpstreamTarget } from "./upstream.js";
import { errorMessage } from "../../config/error-message.js";

/** A refusal during startup, sent to the client as a FATAL error with this SQLSTATE. */
export class StartupRefusal extends Error {
  override readonly name = "StartupRefusal";
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ClientInfo {
  address: string;
  user: string;
  database: string;
  applicationName: string;
}

export interface OpenedSession {
  guard: SessionGuard;
  masking: ResultMasking;
  sessionId: string;
}

/** What the listener needs from the Resource's current configuration; looked up per connection so config changes apply to new sessions. */
export interface PostgresResourceRuntime {
  /** Whether the client must present a password (a JWT) to be identified. */
  readonly wantsPassword: boolean;
  /** Throws StartupRefusal when the client cannot be identified or is not allowed. */
  openSession(client: ClientInfo, password: string | undefined): Promise<OpenedSession>;
  upstreamTarget(client: ClientInfo, parameters: Record<string, string>): UpstreamTarget;
  /** Releases what the runtime holds (e.g. its catalog connection) once it is replaced. */
  close?(): void;
}

export interface ListenerOptions {
  host: string;
  port: number;
  /** Current runtime, or a refusal message when the Resource cannot be served now. */
  runtime: () => PostgresResourceRuntime | string;
  tls?: tls.SecureContextOptions;
  onSessionStart?: (sessionId: string) => void;
  onSessionEnd?: (sessionId: string, reason: string, error?: unknown) => void;
  /** A connection was refused during startup, with the message the client got. */
  onRefused?: (reason: string) => void;
  onError?: (error: unknown) => void;
}

interface CancelTarget {
  target: UpstreamTarget;
  processId: number;
  secretKey: Buffer;
}

const STARTUP_TIMEOUT_MS = 30_000;

function readPacket(socket: net.Socket, splitter: FrameSplitter): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tryNext = (): boolean => {
      try {
        const frame = splitter.next();
        if (!frame) return false;
        cleanup();
        resolve(frame.raw);
        return true;
      } catch (error) {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
        return true;
      }
    };
    const onData = (chunk: Buffer): void => {
      splitter.push(chunk);
      tryNext();
    };
    const onEnd = (): void => {
      cleanup();
      reject(new ProtocolError("the client closed the connection during startup"));
    };
    const cleanup = (): void => {
      socket.off("data", onData);
      socket.off("close", onEnd);
      socket.off("error", onEnd);
      socket.pause();
    };
    if (tryNext()) return;
    socket.on("data", onData);
    socket.once("close", onEnd);
    socket.once("error", onEnd);
    socket.resume();
  });
}

export class PostgresListener {
  private server?: net.Server;
  private readonly cancelKeys = new Map<string, CancelTarget>();
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly options: ListenerOptions) {}

  async listen(): Promise<number> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => this.sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    socket.setTimeout(STARTUP_TIMEOUT_MS, () => this.refuse(socket, new StartupRefusal(SQLSTATE.protocolViolation, "startup took too long")));
    this.startup(socket, new FrameSplitter(true)).catch((error: unknown) => this.refuse(socket, error));
  }

  private refuse(socket: net.Socket, error: unknown): void {
    if (error instanceof StartupRefusal || error instanceof ProtocolError) {
      this.options.onRefused?.(error.message);
      const code = error instanceof StartupRefusal ? error.code : SQLSTATE.protocolViolation;
      if (!socket.destroyed) socket.end(errorResponse({ severity: "FATAL", code, message: error.message }));
    } else {
      this.options.onError?.(error);
      if (!socket.destroyed) socket.end(errorResponse({ severity: "FATAL", code: SQLSTATE.connectionFailure, message: "portcullis gateway error; see the gateway's log" }));
    }
    setTimeout(() => socket.destroy(), 1000).unref();
  }

  private async startup(plain: net.Socket, splitter: FrameSplitter): Promise<void> {
    let socket = plain;
    for (;;) {
      const packet = parseStartupPacket((await readPacket(socket, splitter)).subarray(4));
      if (packet.kind === "startup") return this.authenticate(socket, splitter, packet);
      if (packet.kind === "cancel") return this.cancel(socket, packet);
      if (packet.kind === "ssl-request" && this.options.tls && socket === plain) {
        // Bytes sent after the SSLRequest but before the handshake were not encrypted; taking them as
        // the startup packet would let a man in the middle inject it (PostgreSQL's CVE-2021-23214).
        if (splitter.bufferedBytes > 0) throw new StartupRefusal(SQLSTATE.protocolViolation, "unencrypted data after the SSL request");
        socket.write("S");
        socket = await this.upgrade(plain);
        continue;
      }
      // GSSAPI encryption is never offered, and TLS only when configured.
      socket.write("N");
    }
  }

  private upgrade(socket: net.Socket): Promise<tls.TLSSocket> {
    const secured = new tls.TLSSocket(socket, { isServer: true, secureContext: tls.createSecureContext(this.options.tls) });
    return new Promise((resolve, reject) => {
      secured.once("secure", () => resolve(secured));
      secured.once("error", (error: Error) => reject(new StartupRefusal(SQLSTATE.protocolViolation, `TLS handshake failed: ${error.message}`)));
    });
  }

  private async cancel(socket: net.Socket, packet: Extract<StartupPacket, { kind: "cancel" }>): Promise<void> {
    socket.destroy();
    const entry = this.cancelKeys.get(cancelKey(packet.processId, packet.secretKey));
    // An unknown key gets no answer, as with PostgreSQL itself.
    if (entry) await sendCancel(entry.target, entry.processId, entry.secretKey);
  }

  private async readPassword(socket: net.Socket, splitter: FrameSplitter): Promise<string> {
    socket.write(authenticationCleartextPassword());
    splitter.startupPhase = false;
    const raw = await readPacket(socket, splitter);
    const message = parseFrontendMessage(String.fromCharCode(raw[0] ?? 0), raw.subarray(5));
    if (message.type !== "Password") throw new ProtocolError("expected a password message");
    const end = message.data.indexOf(0);
    return message.data.toString("utf8", 0, end < 0 ? message.data.length : end);
  }

  private async authenticate(socket: net.Socket, splitter: FrameSplitter, packet: Extract<StartupPacket, { kind: "startup" }>): Promise<void> {
    const { parameters } = packet;
    if (parameters.replication !== undefined) throw new StartupRefusal(SQLSTATE.featureNotSupported, "replication connections are not allowed through the Portcullis gateway");
    const forwarded = forwardedParameters(parameters);
    const runtime = this.options.runtime();
    if (typeof runtime === "string") throw new StartupRefusal(SQLSTATE.cannotConnectNow, runtime);
    const client: ClientInfo = {
      address: `${socket.remoteAddress ?? ""}:${socket.remotePort ?? ""}`,
      user: parameters.user ?? "",
      database: parameters.database ?? parameters.user ?? "",
      applicationName: parameters.application_name ?? "",
    };
    const password = runtime.wantsPassword ? await this.readPassword(socket, splitter) : undefined;
    splitter.startupPhase = false;
    const opened = await runtime.openSession(client, password);
    let upstream: UpstreamConnection;
    const target = runtime.upstreamTarget(client, forwarded);
    try {
      upstream = await connectUpstream(target);
    } catch (error) {
      await opened.guard.end("upstream-failed");
      throw new StartupRefusal(SQLSTATE.connectionFailure, `portcullis: cannot connect to the database: ${errorMessage(error)}`);
    }
    this.begin(socket, splitter, upstream, target, opened);
  }

  private begin(socket: net.Socket, splitter: FrameSplitter, upstream: UpstreamConnection, target: UpstreamTarget, opened: OpenedSession): void {
    socket.setTimeout(0);
    const processId = randomInt(1, 2 ** 31 - 1);
    const secretKey = randomBytes(4);
    const key = cancelKey(processId, secretKey);
    this.cancelKeys.set(key, { target, processId: upstream.processId, secretKey: upstream.secretKey });
    const greeting = [authenticationOk(), ...upstream.parameters.map(([name, value]) => parameterStatus(name, value)), backendKeyData(processId, secretKey), readyForQuery("I")];
    socket.write(Buffer.concat(greeting));
    const session = new PostgresSession({
      client: socket,
      clientSplitter: splitter,
      upstream,
      guard: opened.guard,
      masking: opened.masking,
      onEnd: (reason, error) => {
        this.cancelKeys.delete(key);
        this.options.onSessionEnd?.(opened.sessionId, reason, error);
      },
    });
    this.options.onSessionStart?.(opened.sessionId);
    session.start();
  }
}

const cancelKey = (processId: number, secretKey: Buffer): string => `${processId}:${secretKey.toString("hex")}`;

function forwardedParameters(parameters: Record<string, string>): Record<string, string> {
  try {
    return startupSettings(parameters);
  } catch (error) {
    if (error instanceof StartupSettingRefusal) throw new StartupRefusal(error.code, error.message);
    throw error;
  }
}
