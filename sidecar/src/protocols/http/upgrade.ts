// What every relayed protocol upgrade shares, whatever it upgrades to
// (WebSocket; SPDY for Kubernetes streams): the upgrade request to the
// backend and its 101 passed back to the agent — any other answer is
// withheld, since no policy or masking looked at it — and then the two
// sockets relayed with backpressure both ways while each message is
// recorded, the agent's side paused while too many records wait.
import http from "node:http";
import https from "node:https";
import type net from "node:net";
import type { MessageData } from "@portcullis/common/evidence/record";
import { errorMessage } from "../../config/error-message.js";
import type { BodyMasker } from "../../masking/body-masking.js";
import type { MessageContent } from "./dialect.js";
import { rawRefusal, type RefusalEncoder } from "./responses.js";
import type { UpstreamOrigin } from "./runtime.js";

export interface UpgradeRelay {
  req: http.IncomingMessage;
  socket: net.Socket;
  head: Buffer;
  target: string;
  /** The request headers for the backend (credential and Host included), hop-by-hop ones left out. */
  headers: Record<string, string>;
  origin: UpstreamOrigin;
  maxMessageBytes: number;
  masker: BodyMasker;
  /** How a refused upgrade's body is written. */
  encodeRefusal: RefusalEncoder;
  /** How messages are recorded beyond their size, by the subprotocol the backend chose. */
  messageContent?: (subprotocol: string | undefined) => MessageContent | undefined;
  recordMessage(message: Omit<MessageData, "request">): Promise<unknown>;
}

export interface RelayOutcome {
  status: number;
  bytes: number;
  masked: Record<string, number>;
  error?: { code: string; message: string };
}

export interface Upgraded {
  response: http.IncomingMessage;
  upstream: net.Socket;
  upstreamHead: Buffer;
}

/** Message records waiting at most; past it the agent's side is not read until they are written. */
const MAX_UNRECORDED = 1024;

function responseHead(response: http.IncomingMessage, dropped: ReadonlySet<string>): string {
  const lines = [`HTTP/1.1 ${response.statusCode ?? 101} ${response.statusMessage ?? "Switching Protocols"}`];
  for (let i = 0; i + 1 < response.rawHeaders.length; i += 2) {
    const name = response.rawHeaders[i] ?? "";
    if (!dropped.has(name.toLowerCase())) lines.push(`${name}: ${response.rawHeaders[i + 1] ?? ""}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n`;
}

/**
 * Sends the upgrade to the backend (without the `dropped` headers, both ways); on its 101 writes the
 * answer to the agent and resolves with the backend's socket, else refuses the agent and resolves with the outcome.
 */
export function upgradeUpstream(relay: UpgradeRelay, protocol: string, dropped: ReadonlySet<string> = new Set()): Promise<Upgraded | RelayOutcome> {
  const { origin } = relay;
  const headers: Record<string, string> = { ...relay.headers, connection: "Upgrade", upgrade: String(relay.req.headers.upgrade ?? protocol) };
  for (const name of dropped) delete headers[name];
  const options: https.RequestOptions = { host: origin.host, port: origin.port, method: relay.req.method ?? "GET", path: relay.target, headers, agent: false };
  const request = origin.scheme === "https" ? https.request({ ...options, ...origin.tls, ca: origin.tls.ca }) : http.request(options);
  const refuse = (message: string, code: string): RelayOutcome => {
    if (relay.socket.writable) relay.socket.end(rawRefusal({ status: 502, error: "bad gateway", message }, relay.encodeRefusal));
    return { status: 502, bytes: 0, masked: {}, error: { code, message } };
  };
  return new Promise((resolve) => {
    request.once("upgrade", (response: http.IncomingMessage, upstream: net.Socket, upstreamHead: Buffer) => {
      relay.socket.write(responseHead(response, dropped));
      resolve({ response, upstream, upstreamHead });
    });
    request.once("response", (response: http.IncomingMessage) => {
      // The backend declined the upgrade. Its answer is not passed on: no masking or policy looked at it.
      const status = response.statusCode ?? 502;
      response.resume();
      resolve(refuse(`portcullis: the backend declined the ${protocol} upgrade with status ${status}`, String(status)));
    });
    request.once("error", (error) => resolve(refuse(`portcullis: the backend could not be reached for the ${protocol} upgrade: ${errorMessage(error)}`, "502")));
    relay.socket.once("close", () => request.destroy());
    request.end();
  });
}

/** Writes to one side; while it cannot take more, the other side is not read (bounded memory both ways). */
export function sendOn(to: net.Socket, from: net.Socket, data: Buffer): void {
  if (to.write(data)) return;
  from.pause();
  to.once("drain", () => from.resume());
}

/** The message records of one relayed stream, written in order; the agent is not read while too many wait. */
export class MessageRecords {
  private chain: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  constructor(
    private readonly relay: UpgradeRelay,
    private readonly onFailure: () => void,
  ) {}

  add(message: Omit<MessageData, "request">): void {
    this.waiting += 1;
    if (this.waiting === MAX_UNRECORDED) this.relay.socket.pause();
    this.chain = this.chain
      .then(() => this.relay.recordMessage(message))
      .then(() => {
        this.waiting -= 1;
        if (this.waiting === MAX_UNRECORDED - 1) this.relay.socket.resume();
      })
      .catch(() => this.onFailure());
  }

  /** Resolves once every record so far is written (or failed). */
  get written(): Promise<unknown> {
    return this.chain;
  }
}

/** Relays until either side closes, both sockets destroyed then; resolves once both have closed. */
export function relaySockets(agent: net.Socket, upstream: net.Socket, onAgent: (chunk: Buffer) => void, onUpstream: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve) => {
    let open = 2;
    const closed = (): void => {
      open -= 1;
      agent.destroy();
      upstream.destroy();
      if (open === 0) resolve();
    };
    agent.once("close", closed);
    upstream.once("close", closed);
    agent.on("error", () => undefined);
    upstream.on("error", () => undefined);
    agent.on("data", onAgent);
    upstream.on("data", onUpstream);
  });
}
