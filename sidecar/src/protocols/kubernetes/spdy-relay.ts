// An exec, attach or port-forward stream over SPDY/3.1 through the gateway,
// once a rule allowed it: the upgrade goes to the API server, its 101 back,
// and then the bytes both ways unchanged. A copy is read frame by frame:
// each stream's SYN_STREAM names what it carries (streamtype stdin, stdout,
// stderr, error, resize; data or error with a port for port-forward), and
// each data frame is recorded under that name with its text, like a
// WebSocket channel, so a replay shows the terminal session. A frame that
// cannot be read ends the connection (nothing passes unrecorded).
import type net from "node:net";
import type { MessageData } from "@portcullis/common/evidence/record";
import { errorMessage } from "../../config/error-message.js";
import { MessageRecords, type RelayOutcome, relaySockets, sendOn, type UpgradeRelay, upgradeUpstream } from "../http/upgrade.js";
import { CONTROL_TYPES, FLAG_FIN, HeaderInflater, headerBlockOf, parseHeaderBlock, type SpdyFrame, SpdyFrameReader } from "./spdy-frames.js";
import { RECORDED_TEXT_BYTES } from "./stream-channels.js";

const MAX_HEADER_BLOCK_BYTES = 65_536;

type Direction = MessageData["direction"];

/** What a stream carries, from its SYN_STREAM headers: "stdout", or "data port 8080" for port-forward. */
function streamName(headers: ReadonlyMap<string, string>): string {
  const type = headers.get("streamtype") ?? "unnamed stream";
  const port = headers.get("port");
  return port === undefined ? type : `${type} port ${port}`;
}

class SpdySession {
  private bytes = 0;
  private error: RelayOutcome["error"];
  private readonly readers: Record<Direction, SpdyFrameReader>;
  private readonly inflaters: Record<Direction, HeaderInflater>;
  /** Frames of each direction are read in order, one after the other (header blocks decompress asynchronously). */
  private readonly reading: Record<Direction, Promise<void>> = { agent: Promise.resolve(), backend: Promise.resolve() };
  private readonly streams = new Map<number, string>();
  private readonly records: MessageRecords;

  constructor(
    private readonly relay: UpgradeRelay,
    private readonly upstream: net.Socket,
  ) {
    this.readers = { agent: new SpdyFrameReader(relay.maxMessageBytes), backend: new SpdyFrameReader(relay.maxMessageBytes) };
    this.inflaters = { agent: new HeaderInflater(MAX_HEADER_BLOCK_BYTES), backend: new HeaderInflater(MAX_HEADER_BLOCK_BYTES) };
    this.records = new MessageRecords(relay, () => this.abort("the message's evidence cannot be recorded"));
  }

  async run(upstreamHead: Buffer): Promise<RelayOutcome> {
    const { socket, head } = this.relay;
    const relayed = relaySockets(socket, this.upstream, (chunk) => this.data(chunk, "agent"), (chunk) => this.data(chunk, "backend"));
    if (head.length) this.data(head, "agent");
    if (upstreamHead.length) this.data(upstreamHead, "backend");
    await relayed;
    await Promise.all([this.reading.agent, this.reading.backend]);
    await this.records.written;
    this.inflaters.agent.close();
    this.inflaters.backend.close();
    return { status: 101, bytes: this.bytes, masked: {}, ...(this.error ? { error: this.error } : {}) };
  }

  /** Passes the chunk on unchanged and reads its frames for the evidence. */
  private data(chunk: Buffer, from: Direction): void {
    this.bytes += chunk.length;
    const [to, source] = from === "agent" ? [this.upstream, this.relay.socket] : [this.relay.socket, this.upstream];
    let frames: SpdyFrame[];
    try {
      frames = this.readers[from].push(chunk);
    } catch (error) {
      return this.abort(errorMessage(error), from);
    }
    sendOn(to, source, chunk);
    this.reading[from] = this.reading[from].then(async () => {
      for (const frame of frames) await this.read(frame, from);
    }).catch((error: unknown) => this.abort(errorMessage(error), from));
  }

  private async read(frame: SpdyFrame, from: Direction): Promise<void> {
    if (!frame.control) return this.recordData(frame, from);
    const header = headerBlockOf(frame);
    // Every header block goes through its direction's decompressor, whatever it says: the next depends on it.
    if (header) {
      const headers = parseHeaderBlock(await this.inflaters[from].decompress(header.block));
      if (frame.type === CONTROL_TYPES.synStream) this.streams.set(header.streamId, streamName(headers));
      return;
    }
    if (frame.type === CONTROL_TYPES.rstStream && frame.data.length >= 4) {
      const stream = this.streams.get(frame.data.readUInt32BE(0) & 0x7fffffff);
      if (stream) this.records.add({ direction: from, kind: "close", bytes: 0, channel: `close ${stream}` });
    }
  }

  private recordData(frame: Extract<SpdyFrame, { control: false }>, from: Direction): void {
    const channel = this.streams.get(frame.streamId) ?? `stream ${frame.streamId}`;
    const cut = frame.data.length > RECORDED_TEXT_BYTES;
    if (frame.data.length > 0) {
      this.records.add({ direction: from, kind: "binary", bytes: frame.data.length, channel, text: frame.data.subarray(0, RECORDED_TEXT_BYTES).toString("utf8"), ...(cut ? { truncated: true } : {}) });
    }
    if (frame.flags & FLAG_FIN) this.records.add({ direction: from, kind: "close", bytes: 0, channel: `close ${channel}` });
  }

  /** Closes both sides: a stream the gateway cannot read is not relayed further. */
  private abort(reason: string, from?: Direction): void {
    if (this.error) return;
    this.error = { code: "502", message: `portcullis: the SPDY stream was closed: ${reason}` };
    if (from) this.records.add({ direction: from, kind: "close", bytes: 0, refused: reason });
    this.relay.socket.destroy();
    this.upstream.destroy();
  }
}

/** Connects to the API server and relays until either side closes; resolves with what the result record says. */
export async function relaySpdy(relay: UpgradeRelay): Promise<RelayOutcome> {
  const upgraded = await upgradeUpstream(relay, "SPDY/3.1");
  if (!("upstream" in upgraded)) return upgraded;
  return new SpdySession(relay, upgraded.upstream).run(upgraded.upstreamHead);
}
