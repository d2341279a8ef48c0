// One agent connection after authentication: the two pumps, the expectations
// between them, and the ending. Whatever way the session ends — Terminate,
// either side closing, a protocol error, evidence that cannot be written — both
// sockets are closed and the guard records the end exactly once.
import type net from "node:net";
import { serialize } from "pg-protocol";
import { errorResponse, SQLSTATE } from "./backend.js";
import { ClientStream } from "./client-stream.js";
import { PreparedState } from "./prepared-state.js";
import { ReadingSettings } from "./reading-settings.js";
import { ExpectationQueue } from "./expectations.js";
import { FrameSplitter, ProtocolError } from "./frames.js";
import { Output } from "./output.js";
import type { ResultMasking, SessionGuard } from "./ports.js";
import { Pump } from "./pump.js";
import { ServerStream } from "./server-stream.js";
import type { UpstreamConnection } from "./upstream.js";
import { errorMessage } from "../../config/error-message.js";

export interface SessionOptions {
  client: net.Socket;
  clientSplitter: FrameSplitter;
  upstream: UpstreamConnection;
  guard: SessionGuard;
  masking: ResultMasking;
  onEnd: (reason: string, error?: unknown) => void;
}

export class PostgresSession {
  private ended = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: SessionOptions) {}

  start(): void {
    const { client, upstream, guard, masking, clientSplitter } = this.options;
    const server = upstream.socket;
    const expected = new ExpectationQueue();
    // Each side's output pauses the other side's pump; the pumps exist only once both outputs do.
    const pumps: { client?: Pump; server?: Pump } = {};
    const toClient = new Output(client, (paused) => pumps.server?.setBackPressure(paused));
    const toServer = new Output(server, (paused) => pumps.client?.setBackPressure(paused));
    const prepared = new PreparedState();
    const reading = new ReadingSettings(upstream.parameters);
    const serverStream = new ServerStream(expected, toClient, masking, guard, reading, () => prepared.transactionEnded());
    const clientStream = new ClientStream({
      prepared,
      reading,
      expected,
      toServer,
      toClient,
      guard,
      masking,
      signal: this.abort.signal,
      onTerminate: () => this.end("client-terminated"),
    });
    const serverPump = new Pump(server, upstream.splitter, (frame) => serverStream.handle(frame), () => toClient.flush(), (error) => this.fail(error, "upstream"));
    const clientPump = new Pump(client, clientSplitter, (frame) => clientStream.handle(frame), () => toServer.flush(), (error) => this.fail(error, "client"));
    guard.onFatal((error) => this.fatal(`portcullis: evidence could not be recorded, so the session ends: ${errorMessage(error)}`, "evidence-write-failed", SQLSTATE.connectionFailure, error));
    client.on("close", () => this.end("client-disconnected"));
    client.on("error", () => this.end("client-disconnected"));
    server.on("close", () => this.fatal("the database server closed the connection", "server-disconnected"));
    server.on("error", (error) => this.fatal(`the connection to the database server failed: ${error.message}`, "server-disconnected"));
    pumps.client = clientPump;
    pumps.server = serverPump;
    // Anything either side sent before the pumps existed is still in the splitters.
    serverPump.run();
    clientPump.run();
    client.resume();
    server.resume();
  }

  private fail(error: unknown, side: "client" | "upstream"): void {
    if (error instanceof ProtocolError) {
      const message = side === "client" ? `invalid message from the client: ${error.message}` : `invalid message from the database server: ${error.message}`;
      return this.fatal(message, "protocol-error", SQLSTATE.protocolViolation);
    }
    const message = errorMessage(error);
    this.fatal(`portcullis gateway error: ${message}`, "gateway-error", SQLSTATE.connectionFailure, error);
  }

  private fatal(message: string, reason: string, code: string = SQLSTATE.connectionFailure, cause?: unknown): void {
    if (this.ended) return;
    const { client } = this.options;
    if (!client.destroyed) client.write(errorResponse({ severity: "FATAL", code, message }));
    this.end(reason, cause);
  }

  end(reason: string, cause?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    const { client, upstream, guard, onEnd } = this.options;
    client.end();
    // Terminate tells the server this is an orderly goodbye, not a lost connection.
    if (!upstream.socket.destroyed) upstream.socket.end(serialize.end());
    setTimeout(() => {
      client.destroy();
      upstream.socket.destroy();
    }, 1000).unref();
    guard.end(reason).then(
      () => onEnd(reason, cause),
      (error: unknown) => onEnd(reason, error),
    );
  }
}
