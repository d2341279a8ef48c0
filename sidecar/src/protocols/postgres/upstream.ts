// Opens the gateway's own connection to the real PostgreSQL server: TLS as the
// Resource says (verify-full by default), then the startup packet and the
// server's authentication exchange — SCRAM-SHA-256, md5 or cleartext — with
// the brokered credential, up to the first ReadyForQuery. The agent's client
// never takes part in this, so it never sees the credential.
import { createHash } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { serialize } from "pg-protocol";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { BackendDecoder } from "./backend.js";
import { FrameSplitter, ProtocolError } from "./frames.js";
import { ScramClient } from "./scram.js";
import { errorMessage } from "../../config/error-message.js";

export interface UpstreamTarget {
  host: string;
  port: number;
  tls: { mode: "disable" | "require" | "verify-full"; ca?: string; serverName?: string };
  username: string;
  password: string;
  database: string;
  /** Further startup parameters from the client (application_name, options, …). */
  parameters: Record<string, string>;
  connectTimeoutMs?: number;
}

export interface UpstreamConnection {
  socket: net.Socket;
  /** ParameterStatus values the server sent during startup, in order. */
  parameters: Array<[string, string]>;
  processId: number;
  secretKey: Buffer;
  /** Holds anything the server sent after the first ReadyForQuery. */
  splitter: FrameSplitter;
}

/** The server refused or failed: `code` is its SQLSTATE when it sent one. */
export class UpstreamError extends Error {
  override readonly name = "UpstreamError";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

function openTcp(target: UpstreamTarget): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    socket.setTimeout(target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, () => socket.destroy(new UpstreamError(`connecting to ${target.host}:${target.port} timed out`)));
    socket.once("connect", () => resolve(socket));
    socket.once("error", (error) => reject(new UpstreamError(`cannot reach ${target.host}:${target.port}: ${error.message}`)));
  });
}

function readByte(socket: net.Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      socket.off("error", onError);
      socket.pause();
      if (chunk.length !== 1) return reject(new UpstreamError("the server answered the SSL request with unexpected data"));
      resolve(String.fromCharCode(chunk[0] ?? 0));
    };
    const onError = (error: Error): void => reject(new UpstreamError(error.message));
    socket.once("data", onData);
    socket.once("error", onError);
  });
}

async function secure(socket: net.Socket, target: UpstreamTarget): Promise<net.Socket> {
  const mode = target.tls.mode;
  if (mode === "disable") return socket;
  socket.write(serialize.requestSsl());
  const answer = await readByte(socket);
  if (answer !== "S") throw new UpstreamError(`the server at ${target.host}:${target.port} does not offer TLS, and the Resource requires it (tls.mode ${mode})`);
  return await new Promise((resolve, reject) => {
    const secured = tls.connect({
      socket,
      servername: net.isIP(target.tls.serverName ?? target.host) ? undefined : (target.tls.serverName ?? target.host),
      ...(target.tls.ca ? { ca: target.tls.ca } : {}),
      rejectUnauthorized: mode === "verify-full",
      checkServerIdentity: mode === "verify-full" ? (_host, cert) => tls.checkServerIdentity(target.tls.serverName ?? target.host, cert) : () => undefined,
    });
    secured.once("secureConnect", () => resolve(secured));
    secured.once("error", (error: Error) => reject(new UpstreamError(`TLS to ${target.host}:${target.port} failed: ${error.message}`)));
  });
}

function md5Password(username: string, password: string, salt: Buffer): string {
  const inner = createHash("md5").update(password + username).digest("hex");
  return "md5" + createHash("md5").update(inner).update(salt).digest("hex");
}

/** Answers one authentication message; returns true once the server said AuthenticationOk. */
function answerAuthentication(message: BackendMessage, target: UpstreamTarget, socket: net.Socket, state: { scram?: ScramClient }): boolean {
  const msg = message as BackendMessage & { salt?: Buffer; mechanisms?: string[]; data?: string };
  switch (message.name) {
    case "authenticationOk":
      return true;
    case "authenticationCleartextPassword":
      socket.write(serialize.password(target.password));
      return false;
    case "authenticationMD5Password":
      socket.write(serialize.password(md5Password(target.username, target.password, msg.salt as Buffer)));
      return false;
    case "authenticationSASL":
      if (!msg.mechanisms?.includes("SCRAM-SHA-256")) throw new UpstreamError(`the server offers SASL mechanisms ${String(msg.mechanisms)}, not SCRAM-SHA-256`);
      state.scram = new ScramClient(target.password);
      socket.write(serialize.sendSASLInitialResponseMessage("SCRAM-SHA-256", state.scram.clientFirstMessage()));
      return false;
    case "authenticationSASLContinue":
      if (!state.scram) throw new UpstreamError("SASL continue without a SASL start");
      socket.write(serialize.sendSCRAMClientFinalMessage(state.scram.clientFinalMessage(msg.data ?? "")));
      return false;
    case "authenticationSASLFinal":
      if (!state.scram) throw new UpstreamError("SASL final without a SASL start");
      state.scram.verifyServerFinal(msg.data ?? "");
      return false;
    default:
      throw new UpstreamError(`the server asked for an authentication method the gateway does not support (${message.name})`);
  }
}

function handshake(socket: net.Socket, target: UpstreamTarget): Promise<UpstreamConnection> {
  // pg-protocol's startup message sets client_encoding UTF8 itself.
  const parameters = Object.fromEntries(Object.entries(target.parameters).filter(([name]) => name.toLowerCase() !== "client_encoding"));
  socket.write(serialize.startup({ user: target.username, database: target.database, ...parameters }));
  const splitter = new FrameSplitter();
  const decoder = new BackendDecoder();
  const result: UpstreamConnection = { socket, parameters: [], processId: 0, secretKey: Buffer.alloc(4), splitter };
  const state: { scram?: ScramClient } = {};
  return new Promise((resolve, reject) => {
    const fail = (error: unknown): void => {
      socket.off("data", onData);
      socket.destroy();
      reject(error instanceof UpstreamError ? error : new UpstreamError(errorMessage(error)));
    };
    const onData = (chunk: Buffer): void => {
      try {
        splitter.push(chunk);
        for (let frame = splitter.next(); frame; frame = splitter.next()) {
          if (frame.type === "Z") {
            socket.off("data", onData);
            socket.off("error", fail);
            socket.off("close", onClose);
            // Until its owner listens, a late socket error must not become an uncaught exception.
            socket.on("error", () => socket.destroy());
            socket.pause();
            socket.setTimeout(0);
            return resolve(result);
          }
          handleFrame(frame.type, frame.raw, frame.body);
        }
      } catch (error) {
        fail(error);
      }
    };
    const handleFrame = (type: string, raw: Buffer, body: Buffer): void => {
      if (type === "K") {
        result.processId = body.readInt32BE(0);
        result.secretKey = Buffer.from(body.subarray(4));
        return;
      }
      const message = decoder.decode(raw);
      if (type === "E") {
        const error = message as BackendMessage & { message: string; code?: string };
        throw new UpstreamError(`the server refused the connection: ${error.message}`, error.code);
      }
      if (type === "S") {
        const status = message as BackendMessage & { parameterName: string; parameterValue: string };
        result.parameters.push([status.parameterName, status.parameterValue]);
        return;
      }
      if (type === "R") answerAuthentication(message, target, socket, state);
      else if (type !== "N") throw new ProtocolError(`unexpected message ${JSON.stringify(type)} during startup`);
    };
    const onClose = (): void => fail(new UpstreamError("the server closed the connection during startup"));
    socket.on("data", onData);
    socket.once("error", fail);
    socket.once("close", onClose);
    socket.resume();
  });
}

export async function connectUpstream(target: UpstreamTarget): Promise<UpstreamConnection> {
  const tcp = await openTcp(target);
  try {
    const socket = await secure(tcp, target);
    const connection = await handshake(socket, target);
    // The timeout guarded connecting; an established session may idle for as long as the agent likes.
    tcp.setTimeout(0);
    return connection;
  } catch (error) {
    tcp.destroy();
    throw error;
  }
}

/** Forwards a client's cancel request to the server the session is connected to. */
export async function sendCancel(target: UpstreamTarget, processId: number, secretKey: Buffer): Promise<void> {
  const tcp = await openTcp(target);
  try {
    const socket = await secure(tcp, target);
    const packet = Buffer.allocUnsafe(12 + secretKey.length);
    packet.writeInt32BE(packet.length, 0);
    packet.writeInt32BE(80877102, 4);
    packet.writeInt32BE(processId, 8);
    secretKey.copy(packet, 12);
    await new Promise<void>((resolve) => socket.end(packet, resolve));
  } finally {
    tcp.destroy();
  }
}
