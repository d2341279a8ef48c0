// WebSocket frames (RFC 6455 section 5) as the gateway relays them: a
// streaming reader that yields whole frames from TCP chunks however they are
// cut, and the encoding of an unmasked frame (what a server sends), used when
// a message is masked and re-sent. Extensions (permessage-deflate) are never
// negotiated through the gateway, so the reserved bits must be zero.

export const OPCODES = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

export interface Frame {
  fin: boolean;
  opcode: number;
  /** The payload, unmasked. */
  payload: Buffer;
  /** The frame as it arrived, for relaying unchanged. */
  raw: Buffer;
}

export class FrameError extends Error {}

const KNOWN_OPCODES: ReadonlySet<number> = new Set(Object.values(OPCODES));

/** Accumulates bytes and yields whole frames; throws FrameError on a frame this gateway refuses to relay. */
export class FrameReader {
  private buffered: Buffer[] = [];
  private size = 0;
  /** The length of the frame being gathered, once its header is in: nothing is joined before it is whole. */
  private wanted = 0;

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Buffer): Frame[] {
    this.buffered.push(chunk);
    this.size += chunk.length;
    if (this.size < this.wanted) return [];
    const frames: Frame[] = [];
    let data = Buffer.concat(this.buffered, this.size);
    this.wanted = 0;
    for (let frame = this.next(data); frame; frame = this.next(data)) {
      frames.push(frame);
      data = data.subarray(frame.raw.length);
    }
    this.buffered = data.length ? [data] : [];
    this.size = data.length;
    return frames;
  }

  private next(data: Buffer): Frame | undefined {
    if (data.length < 2) return undefined;
    const first = data[0] as number;
    const second = data[1] as number;
    checkHeader(first, second);
    const size = this.payloadLength(data, second);
    if (!size) return undefined;
    const masked = (second & 0x80) !== 0;
    const keyAt = size.offset;
    const offset = size.offset + (masked ? 4 : 0);
    const { length } = size;
    if (data.length < offset + length) {
      this.wanted = offset + length;
      return undefined;
    }
    const payload = Buffer.from(data.subarray(offset, offset + length));
    if (masked) for (let i = 0; i < payload.length; i += 1) payload[i] = (payload[i] as number) ^ (data[keyAt + (i % 4)] as number);
    return { fin: (first & 0x80) !== 0, opcode: first & 0x0f, payload, raw: Buffer.from(data.subarray(0, offset + length)) };
  }

  /** The payload length and where the bytes after it start; undefined until the extended length has arrived. */
  private payloadLength(data: Buffer, second: number): { length: number; offset: number } | undefined {
    const short = second & 0x7f;
    let size: { length: number; offset: number };
    if (short === 126) {
      if (data.length < 4) return undefined;
      size = { length: data.readUInt16BE(2), offset: 4 };
    } else if (short === 127) {
      if (data.length < 10) return undefined;
      const big = data.readBigUInt64BE(2);
      if (big > BigInt(this.maxFrameBytes)) throw new FrameError(`a frame of ${big} bytes is larger than ${this.maxFrameBytes}`);
      size = { length: Number(big), offset: 10 };
    } else size = { length: short, offset: 2 };
    if (size.length > this.maxFrameBytes) throw new FrameError(`a frame of ${size.length} bytes is larger than ${this.maxFrameBytes}`);
    return size;
  }
}

/** Frames the gateway relays only if they are as the protocol says: no extension bits, known opcodes, short whole control frames. */
function checkHeader(first: number, second: number): void {
  if ((first & 0x70) !== 0) throw new FrameError("a frame uses reserved bits (an extension the gateway did not negotiate)");
  const opcode = first & 0x0f;
  if (!KNOWN_OPCODES.has(opcode)) throw new FrameError(`a frame has the reserved opcode ${opcode}`);
  if (opcode >= OPCODES.close && ((first & 0x80) === 0 || (second & 0x7f) > 125)) throw new FrameError("a control frame is fragmented or longer than 125 bytes");
}

/** An unmasked, unfragmented frame (server to client). */
export function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.alloc(2) : length < 65_536 ? Buffer.alloc(4) : Buffer.alloc(10);
  header[0] = 0x80 | opcode;
  if (length < 126) header[1] = length;
  else if (length < 65_536) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** A close frame with a status code and reason. */
export function closeFrame(code: number, reason: string): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return encodeFrame(OPCODES.close, payload);
}
