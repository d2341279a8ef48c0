// SPDY/3.1 as Kubernetes streams use it (exec, attach and port-forward from
// clients older than WebSocket streams, or with them turned off), read
// enough to record what passes: frames (control frames with a version and
// type; data frames with a stream id), and the header blocks of SYN_STREAM,
// SYN_REPLY and HEADERS — zlib-compressed with the dictionary the protocol
// defines, one compression context per direction for the whole connection —
// where a stream says what it is ("streamtype": stdin, stdout, stderr,
// error, resize; data and error with a port for port-forward). The gateway
// relays the bytes unchanged; this only reads a copy.
import { createHash } from "node:crypto";
import zlib from "node:zlib";

/** The header-compression dictionary of SPDY/3: these names, each after its 32-bit length, then one string. */
const DICTIONARY_WORDS = [
  "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding", "accept-language",
  "accept-ranges", "age", "allow", "authorization", "cache-control", "connection", "content-base", "content-encoding",
  "content-language", "content-length", "content-location", "content-md5", "content-range", "content-type", "date", "etag",
  "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since",
  "last-modified", "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
  "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
  "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
];
const DICTIONARY_TAIL =
  "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 Non-Authoritative Information" +
  "204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error" +
  "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT" +
  "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=" +
  "gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

function dictionary(): Buffer {
  const parts = DICTIONARY_WORDS.map((word) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(word.length);
    return Buffer.concat([length, Buffer.from(word, "latin1")]);
  });
  return Buffer.concat([...parts, Buffer.from(DICTIONARY_TAIL, "latin1")]);
}

export const SPDY_DICTIONARY = dictionary();
/** Its SHA-256, as the specification's byte list gives it (checked in the tests). */
export const SPDY_DICTIONARY_SHA256 = createHash("sha256").update(SPDY_DICTIONARY).digest("hex");

export const CONTROL_TYPES = { synStream: 1, synReply: 2, rstStream: 3, settings: 4, ping: 6, goAway: 7, headers: 8, windowUpdate: 9 } as const;
export const FLAG_FIN = 0x01;

export type SpdyFrame =
  | { control: true; version: number; type: number; flags: number; data: Buffer }
  | { control: false; streamId: number; flags: number; data: Buffer };

/** Frames from a byte stream as they complete; throws past `maxFrameBytes` or on a control frame of another version. */
export class SpdyFrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Buffer): SpdyFrame[] {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    const frames: SpdyFrame[] = [];
    while (this.buffered.length >= 8) {
      const length = this.buffered.readUIntBE(5, 3);
      if (length > this.maxFrameBytes) throw new Error(`a SPDY frame of ${length} bytes is larger than ${this.maxFrameBytes}`);
      if (this.buffered.length < 8 + length) break;
      const first = this.buffered.readUInt32BE(0);
      const flags = this.buffered.readUInt8(4);
      const data = this.buffered.subarray(8, 8 + length);
      this.buffered = this.buffered.subarray(8 + length);
      if (first & 0x80000000) {
        const version = (first >>> 16) & 0x7fff;
        if (version !== 3) throw new Error(`a SPDY control frame of version ${version}; only SPDY/3 is relayed`);
        frames.push({ control: true, version, type: first & 0xffff, flags, data });
      } else {
        frames.push({ control: false, streamId: first & 0x7fffffff, flags, data });
      }
    }
    return frames;
  }
}

/** Where a control frame's stream id and header block are: SYN_STREAM (after the associated id and priority), SYN_REPLY, HEADERS; undefined for the others. */
export function headerBlockOf(frame: Extract<SpdyFrame, { control: true }>): { streamId: number; block: Buffer } | undefined {
  const offset = frame.type === CONTROL_TYPES.synStream ? 10 : frame.type === CONTROL_TYPES.synReply || frame.type === CONTROL_TYPES.headers ? 4 : undefined;
  if (offset === undefined) return undefined;
  if (frame.data.length < offset) throw new Error("a SPDY control frame is shorter than its fixed fields");
  return { streamId: frame.data.readUInt32BE(0) & 0x7fffffff, block: frame.data.subarray(offset) };
}

/** A decompressed header block's names (lower case) and values; throws when it is cut short. */
export function parseHeaderBlock(block: Buffer): Map<string, string> {
  const headers = new Map<string, string>();
  let at = 0;
  const take = (): string => {
    if (at + 4 > block.length) throw new Error("a SPDY header block is cut short");
    const length = block.readUInt32BE(at);
    at += 4;
    if (at + length > block.length) throw new Error("a SPDY header block is cut short");
    const text = block.subarray(at, at + length).toString("utf8");
    at += length;
    return text;
  };
  if (block.length < 4) throw new Error("a SPDY header block is cut short");
  const pairs = block.readUInt32BE(0);
  at = 4;
  for (let i = 0; i < pairs; i += 1) headers.set(take().toLowerCase(), take());
  return headers;
}

/**
 * One direction's header decompression: a zlib stream with the SPDY dictionary that lives as long as the
 * connection, each block flushed out as it comes. Calls must not overlap (the relay chains them).
 */
export class HeaderInflater {
  private readonly inflate: zlib.Inflate;
  private output: Buffer[] = [];
  private size = 0;
  private failure: Error | undefined;

  constructor(private readonly maxBlockBytes: number) {
    this.inflate = zlib.createInflate({ dictionary: SPDY_DICTIONARY });
    this.inflate.on("data", (chunk: Buffer) => {
      this.size += chunk.length;
      this.output.push(chunk);
    });
    this.inflate.on("error", (error: Error) => (this.failure = error));
  }

  decompress(block: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.inflate.write(block);
      this.inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        const out = Buffer.concat(this.output, this.size);
        this.output = [];
        this.size = 0;
        if (this.failure) reject(this.failure);
        else if (out.length > this.maxBlockBytes) reject(new Error(`a SPDY header block decompresses to more than ${this.maxBlockBytes} bytes`));
        else resolve(out);
      });
    });
  }

  close(): void {
    this.inflate.close();
  }
}
