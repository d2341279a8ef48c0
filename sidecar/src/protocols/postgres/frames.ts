// Splits a PostgreSQL byte stream into whole messages without concatenating
// every chunk onto a growing buffer (which makes a proxy quadratic in the
// size of large results). Chunks are kept in a list; a message that lies
// inside one chunk is returned as a view of it, and only a message that spans
// chunks is copied, once.

/** The largest message the gateway accepts from either side (PostgreSQL's own limit for most messages is 1 GiB; nothing an agent sends legitimately comes near this). */
export const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

export interface Frame {
  /** The type byte as a character; "" for startup-phase messages, which have none. */
  type: string;
  /** The whole message including type byte and length, ready to forward. */
  raw: Buffer;
  /** The payload after the length. */
  body: Buffer;
}

export class FrameSplitter {
  private chunks: Buffer[] = [];
  private head = 0; // read offset into chunks[0]
  private buffered = 0;

  /** While true, messages have no type byte (the startup packet, SSLRequest, CancelRequest). */
  constructor(public startupPhase = false) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The next whole message, or undefined until more bytes arrive. */
  next(): Frame | undefined {
    const headerBytes = this.startupPhase ? 4 : 5;
    if (this.buffered < headerBytes) return undefined;
    const header = this.peek(headerBytes);
    const length = header.readUInt32BE(headerBytes - 4);
    const minimum = 4;
    if (length < minimum || length > MAX_MESSAGE_BYTES) {
      throw new ProtocolError(`invalid message length ${length}`);
    }
    const total = length + headerBytes - 4;
    if (this.buffered < total) return undefined;
    const raw = this.take(total);
    return { type: this.startupPhase ? "" : String.fromCharCode(raw[0] ?? 0), raw, body: raw.subarray(headerBytes) };
  }

  /** Whatever is buffered, as one buffer (used when the stream changes hands, e.g. after authentication). */
  drain(): Buffer {
    const rest = this.take(this.buffered);
    return rest;
  }

  private peek(count: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length - this.head >= count) return first.subarray(this.head, this.head + count);
    return this.copyOut(count, false);
  }

  private take(count: number): Buffer {
    if (count === 0) return Buffer.alloc(0);
    const first = this.chunks[0] as Buffer;
    if (first.length - this.head >= count) {
      const view = first.subarray(this.head, this.head + count);
      this.advance(count);
      return view;
    }
    return this.copyOut(count, true);
  }

  private copyOut(count: number, consume: boolean): Buffer {
    const out = Buffer.allocUnsafe(count);
    let written = 0;
    let index = 0;
    let offset = this.head;
    while (written < count) {
      const chunk = this.chunks[index] as Buffer;
      const n = Math.min(count - written, chunk.length - offset);
      chunk.copy(out, written, offset, offset + n);
      written += n;
      offset = 0;
      index += 1;
    }
    if (consume) this.advance(count);
    return out;
  }

  private advance(count: number): void {
    this.buffered -= count;
    let left = count;
    while (left > 0) {
      const first = this.chunks[0] as Buffer;
      const available = first.length - this.head;
      if (left < available) {
        this.head += left;
        return;
      }
      left -= available;
      this.chunks.shift();
      this.head = 0;
    }
  }
}
