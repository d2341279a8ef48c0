// jazzer.js fuzz target for the gateway's PostgreSQL frontend decoding (run by
// `make fuzz` through run.ts). Every byte an agent sends reaches
// FrameSplitter and parseStartupPacket / parseFrontendMessage before any
// policy sees it, so these must be total: anything they cannot decode is a
// ProtocolError (the gateway answers with an error and closes), never another
// exception and never a hang. The input is replayed the way a client
// connection delivers it, and the bytes each frame carries are checked
// against the stream, because a splitter that slipped while copying across
// reads would forward bytes the policy never saw.
//
// Input: one control byte, then the client's bytes. The control byte's low 7
// bits are the socket read size (0: one read). With its top bit clear the
// rest is sent as is (raw mode: arbitrary framing and lengths). With it set
// the rest is a list of messages, separated by RECORD_SEPARATOR, whose length
// words the target writes itself (framed mode): inserting or removing bytes
// then changes a message body instead of breaking the framing, so the fuzzer
// gets deep into message bodies instead of spending its time on length words.
import { type Frame, FrameSplitter, ProtocolError } from "@portcullis/sidecar/protocols/postgres/frames";
import { parseFrontendMessage, parseStartupPacket } from "@portcullis/sidecar/protocols/postgres/frontend";

type Phase = "startup" | "messages" | "closed";

const FRAMED_MODE = 0x80;
const READ_SIZE_BITS = 0x7f;
/** Unlikely in real messages; frontend.dict lists it so that mutations add message boundaries. */
export const RECORD_SEPARATOR = Buffer.from("\xff\xfe\xfd\xfc", "latin1");

/** Framed mode: each record is a type byte (0: a startup-phase packet, which has none) and the payload, which gets a length word to match. */
function framedStream(records: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let start = 0; start < records.length; ) {
    const found = records.indexOf(RECORD_SEPARATOR, start);
    const end = found < 0 ? records.length : found;
    if (end > start) {
      const type = records[start] ?? 0;
      const payload = records.subarray(start + 1, end);
      const header = Buffer.alloc(type === 0 ? 4 : 5);
      if (type !== 0) header[0] = type;
      header.writeUInt32BE(payload.length + 4, header.length - 4);
      parts.push(header, payload);
    }
    start = end + RECORD_SEPARATOR.length;
  }
  return Buffer.concat(parts);
}

/**
 * Cuts the stream into socket reads of `readSize` bytes (0: one read), so the
 * fuzzer also explores frames that span reads. Each read is a copy, as a
 * socket's would be: a splitter that wrote into its chunks must not also
 * change the reference stream.
 */
function* socketReads(stream: Buffer, readSize: number): Generator<Buffer> {
  const step = readSize === 0 ? Math.max(stream.length, 1) : readSize;
  for (let offset = 0; offset < stream.length; offset += step) yield Buffer.from(stream.subarray(offset, offset + step));
}

/** What the gateway does with one frame, as PostgresListener and ClientStream do: the phase the connection is in afterwards. */
function decode(frame: Frame, phase: Phase): Phase {
  if (phase === "startup") {
    const packet = parseStartupPacket(frame.body);
    if (packet.kind === "cancel") return "closed";
    // SSLRequest and GSSENCRequest are answered and another startup-phase packet follows.
    return packet.kind === "startup" ? "messages" : "startup";
  }
  return parseFrontendMessage(frame.type, frame.body).type === "Terminate" ? "closed" : "messages";
}

/** The gateway's side of one client connection, fed the bytes of `stream` in order. */
class ClientConnection {
  private readonly splitter = new FrameSplitter(true);
  private phase: Phase = "startup";
  private received = 0;
  private consumed = 0;

  constructor(private readonly stream: Buffer) {}

  /** One socket read; false once the gateway has closed the connection. */
  receive(read: Buffer): boolean {
    this.splitter.push(read);
    this.received += read.length;
    for (let frame = this.splitter.next(); frame; frame = this.splitter.next()) {
      this.expectNextBytes(frame);
      this.phase = decode(frame, this.phase);
      if (this.phase === "closed") return false;
      this.splitter.startupPhase = this.phase === "startup";
    }
    return true;
  }

  /** What the splitter still holds must be exactly the bytes received and not yet framed. */
  expectRemainder(): void {
    const expected = this.stream.subarray(this.consumed, this.received);
    if (this.splitter.bufferedBytes !== expected.length) {
      throw new Error(`FrameSplitter reports ${this.splitter.bufferedBytes} buffered bytes; ${expected.length} were received and not framed`);
    }
    if (!this.splitter.drain().equals(expected)) throw new Error(`FrameSplitter drained bytes that differ from stream bytes ${this.consumed}..${this.received}`);
  }

  private expectNextBytes(frame: Frame): void {
    const headerBytes = this.phase === "startup" ? 4 : 5;
    const expected = this.stream.subarray(this.consumed, this.consumed + frame.raw.length);
    if (!frame.raw.equals(expected)) throw new Error(`FrameSplitter returned a frame at stream offset ${this.consumed} whose bytes differ from the stream`);
    if (frame.raw.length !== frame.raw.readUInt32BE(headerBytes - 4) + headerBytes - 4) throw new Error(`FrameSplitter returned a frame at stream offset ${this.consumed} whose length disagrees with its header`);
    if (!frame.body.equals(frame.raw.subarray(headerBytes))) throw new Error(`FrameSplitter returned a frame at stream offset ${this.consumed} whose body is not its payload`);
    const type = headerBytes === 5 ? String.fromCharCode(frame.raw[0] ?? 0) : "";
    if (frame.type !== type) throw new Error(`FrameSplitter returned type ${JSON.stringify(frame.type)} for a frame starting ${JSON.stringify(type)}`);
    this.consumed += frame.raw.length;
  }
}

/** How a replayed connection ended: closed by Terminate or a CancelRequest, still open when the input ran out, or refused with a ProtocolError. */
export type ReplayOutcome = { kind: "closed" } | { kind: "open" } | { kind: "refused"; reason: string };

/** Replays one fuzz input (see the top of this file) as a client connection. */
export function replayClientStream(data: Buffer): ReplayOutcome {
  const control = data[0] ?? 0;
  const stream = control & FRAMED_MODE ? framedStream(data.subarray(1)) : data.subarray(1);
  const connection = new ClientConnection(stream);
  let outcome: ReplayOutcome = { kind: "open" };
  try {
    for (const read of socketReads(stream, control & READ_SIZE_BITS)) {
      if (connection.receive(read)) continue;
      outcome = { kind: "closed" };
      break;
    }
  } catch (error) {
    // The gateway's answer to input it cannot decode; anything else is a bug the fuzzer must report.
    if (!(error instanceof ProtocolError)) throw error;
    outcome = { kind: "refused", reason: error.message };
  }
  connection.expectRemainder();
  return outcome;
}

/** The entry point jazzer.js calls with each generated input. */
export function fuzz(data: Buffer): void {
  replayClientStream(data);
}
