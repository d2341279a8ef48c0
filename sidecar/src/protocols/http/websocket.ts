// A WebSocket through the gateway, once a rule allowed the upgrade: the
// handshake goes to the backend (without extensions, so every frame can be
// read), its answer back to the agent, and then frames both ways. Each
// message is recorded (direction, kind, size). Where masking applies, the
// backend's text messages are masked with the same rules as HTTP bodies and
// re-sent as one frame; a message that cannot be masked (binary, or text under
// a rule that names only JSON paths and is not JSON) closes the connection
// with 1008 instead of reaching the agent.
import type net from "node:net";
import type { MessageData } from "@portcullis/common/evidence/record";
import { errorMessage } from "../../config/error-message.js";
import type { MessageContent } from "./dialect.js";
import { MessageRecords, type RelayOutcome, relaySockets, sendOn, type UpgradeRelay, upgradeUpstream } from "./upgrade.js";
import { closeFrame, encodeFrame, type Frame, FrameReader, OPCODES } from "./websocket-frames.js";

const KINDS: Record<number, MessageData["kind"]> = { [OPCODES.text]: "text", [OPCODES.binary]: "binary", [OPCODES.close]: "close", [OPCODES.ping]: "ping", [OPCODES.pong]: "pong" };
/** Handshake headers the gateway does not pass on: extensions would compress frames it must read. */
const DROPPED_HANDSHAKE: ReadonlySet<string> = new Set(["sec-websocket-extensions"]);

/** Connects to the backend and relays until either side closes; resolves with what the result record says. */
export async function relayWebSocket(relay: UpgradeRelay): Promise<RelayOutcome> {
  const upgraded = await upgradeUpstream(relay, "WebSocket", DROPPED_HANDSHAKE);
  if (!("upstream" in upgraded)) return upgraded;
  const content = relay.messageContent?.(firstHeader(upgraded.response.headers["sec-websocket-protocol"]));
  return new Session(relay, upgraded.upstream, content).run(upgraded.upstreamHead);
}

class Session {
  private bytes = 0;
  private readonly masked: Record<string, number> = {};
  private error: RelayOutcome["error"];
  private readonly fromAgent: FrameReader;
  private readonly fromBackend: FrameReader;
  /** The backend's data message being assembled from fragments (masking only). */
  private pending: { opcode: number; parts: Buffer[]; size: number } | undefined;
  private readonly records: MessageRecords;

  constructor(
    private readonly relay: UpgradeRelay,
    private readonly upstream: net.Socket,
    private readonly content: MessageContent | undefined,
  ) {
    this.fromAgent = new FrameReader(relay.maxMessageBytes);
    this.fromBackend = new FrameReader(relay.maxMessageBytes);
    this.records = new MessageRecords(relay, () => this.abort(1011, "the message's evidence cannot be recorded"));
  }

  async run(upstreamHead: Buffer): Promise<RelayOutcome> {
    const { socket, head } = this.relay;
    const relayed = relaySockets(socket, this.upstream, (chunk) => this.agentData(chunk), (chunk) => this.backendData(chunk));
    if (head.length) this.agentData(head);
    if (upstreamHead.length) this.backendData(upstreamHead);
    await relayed;
    await this.records.written;
    return { status: 101, bytes: this.bytes, masked: this.masked, ...(this.error ? { error: this.error } : {}) };
  }

  /** The frames a chunk completes; undefined (the socket is closed) when one is not relayable. */
  private framesOf(chunk: Buffer, direction: MessageData["direction"]): Frame[] | undefined {
    this.bytes += chunk.length;
    try {
      return (direction === "agent" ? this.fromAgent : this.fromBackend).push(chunk);
    } catch (error) {
      this.abort(1002, errorMessage(error), direction);
      return undefined;
    }
  }

  /** The agent's frames go on unchanged (they are masked by the client, as the protocol requires); each message is recorded. */
  private agentData(chunk: Buffer): void {
    const frames = this.framesOf(chunk, "agent");
    if (!frames) return;
    sendOn(this.upstream, this.relay.socket, chunk);
    for (const frame of frames) this.recordFrame(frame, "agent");
  }

  /** The backend's frames: unchanged without masking, else each message masked (maskedFrame). */
  private backendData(chunk: Buffer): void {
    const frames = this.framesOf(chunk, "backend");
    if (!frames) return;
    if (this.relay.masker.active) {
      for (const frame of frames) this.maskedFrame(frame);
      return;
    }
    sendOn(this.relay.socket, this.upstream, chunk);
    for (const frame of frames) this.recordFrame(frame, "backend");
  }

  private recordFrame(frame: Frame, direction: MessageData["direction"], masked?: Record<string, number>): void {
    const kind = KINDS[frame.opcode];
    // Continuations belong to the message their first frame started; it was recorded with its own size.
    if (!kind) return;
    const content = this.content && (kind === "binary" || kind === "text") ? this.content(frame.payload) : {};
    this.records.add({ direction, kind, bytes: frame.payload.length, ...(masked && Object.keys(masked).length ? { masked } : {}), ...content });
  }

  /** Under masking: control frames pass, data messages are assembled, masked and sent whole. */
  private maskedFrame(frame: Frame): void {
    if (frame.opcode >= OPCODES.close) {
      // Control frames carry the backend's text too (a close reason, ping data): under masking only the close code passes.
      const code = frame.opcode === OPCODES.close && frame.payload.length >= 2 ? frame.payload.subarray(0, 2) : Buffer.alloc(0);
      sendOn(this.relay.socket, this.upstream, encodeFrame(frame.opcode, code));
      this.recordFrame(frame, "backend");
      return;
    }
    const pending = (this.pending ??= { opcode: frame.opcode, parts: [], size: 0 });
    pending.parts.push(frame.payload);
    pending.size += frame.payload.length;
    if (pending.size > this.relay.maxMessageBytes) return this.abort(1009, `a message larger than ${this.relay.maxMessageBytes} bytes cannot be masked`, "backend");
    if (!frame.fin) return;
    this.pending = undefined;
    const payload = Buffer.concat(pending.parts, pending.size);
    const kind = KINDS[pending.opcode] ?? "binary";
    const masked = kind === "text" ? this.maskText(payload.toString("utf8")) : undefined;
    if (!masked) {
      this.records.add({ direction: "backend", kind, bytes: payload.length, refused: "masking rules apply and this message cannot be masked" });
      return this.abort(1008, "a message that masking rules cover could not be masked");
    }
    for (const [rule, count] of Object.entries(masked.counts)) this.masked[rule] = (this.masked[rule] ?? 0) + count;
    sendOn(this.relay.socket, this.upstream, encodeFrame(OPCODES.text, Buffer.from(masked.text, "utf8")));
    this.records.add({ direction: "backend", kind, bytes: payload.length, ...(Object.keys(masked.counts).length ? { masked: masked.counts } : {}) });
  }

  private maskText(text: string): { text: string; counts: Record<string, number> } | undefined {
    const masker = this.relay.masker;
    try {
      const document = { value: JSON.parse(text) as unknown };
      const counts = masker.maskJson(document);
      return { text: JSON.stringify(document.value), counts };
    } catch {
      return masker.maskText(text);
    }
  }

  /** Closes both sides: the agent gets a close frame saying why. */
  private abort(code: number, reason: string, from?: MessageData["direction"]): void {
    this.error = { code: String(code), message: `portcullis: the WebSocket was closed: ${reason}` };
    if (from) this.records.add({ direction: from, kind: "close", bytes: 0, refused: reason });
    if (this.relay.socket.writable) this.relay.socket.end(closeFrame(code, `portcullis: ${reason}`.slice(0, 120)));
    this.upstream.destroy();
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
