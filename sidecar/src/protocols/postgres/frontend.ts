// Decodes what a PostgreSQL client sends. Everything here is pure and total:
// any byte sequence either decodes or throws ProtocolError, which the gateway
// turns into an error message and a closed connection. This is the code the
// fuzzer drives (e2e/src/fuzz).
import type { BoundParameter } from "./parameters.js";
import { ProtocolError } from "./frames.js";

export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

export type StartupPacket =
  | { kind: "ssl-request" }
  | { kind: "gssenc-request" }
  | { kind: "cancel"; processId: number; secretKey: Buffer }
  | { kind: "startup"; protocol: number; parameters: Record<string, string> };

export type FrontendMessage =
  | { type: "Query"; text: string }
  | { type: "Parse"; name: string; text: string; parameterTypes: number[] }
  | { type: "Bind"; portal: string; statement: string; parameters: BoundParameter[]; resultFormats: number[] }
  | { type: "Describe"; target: "S" | "P"; name: string }
  | { type: "Execute"; portal: string; maxRows: number }
  | { type: "Close"; target: "S" | "P"; name: string }
  | { type: "Sync" }
  | { type: "Flush" }
  | { type: "Terminate" }
  | { type: "CopyData" }
  | { type: "CopyDone" }
  | { type: "CopyFail"; message: string }
  | { type: "FunctionCall"; functionOid: number }
  | { type: "Password"; data: Buffer };

/** Reads fields from a message body, refusing to run past its end. */
class BodyReader {
  private offset = 0;
  constructor(
    private readonly body: Buffer,
    private readonly what: string,
  ) {}

  int16(): number {
    this.need(2);
    const value = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(): number {
    this.need(4);
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  byte(): string {
    this.need(1);
    return String.fromCharCode(this.body[this.offset++] ?? 0);
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolError(`${this.what}: a string is not terminated`);
    const value = this.body.toString("utf8", this.offset, end);
    this.offset = end + 1;
    return value;
  }

  /** The next `count` bytes, as a view into the body. */
  bytes(count: number): Buffer {
    this.need(count);
    const value = this.body.subarray(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }

  rest(): Buffer {
    const value = this.body.subarray(this.offset);
    this.offset = this.body.length;
    return value;
  }

  count(limit: number, what: string): number {
    const n = this.int16();
    if (n < 0 || n > limit) throw new ProtocolError(`${this.what}: ${n} ${what} is out of range`);
    return n;
  }

  end(): void {
    if (this.offset !== this.body.length) throw new ProtocolError(`${this.what}: ${this.body.length - this.offset} unexpected trailing bytes`);
  }

  private need(count: number): void {
    if (this.offset + count > this.body.length) throw new ProtocolError(`${this.what}: the message is truncated`);
  }
}

const MAX_PARAMETERS = 65535;

/** Decodes a startup-phase packet body (after its length word). */
export function parseStartupPacket(body: Buffer): StartupPacket {
  const reader = new BodyReader(body, "startup packet");
  const code = reader.int32();
  if (code === SSL_REQUEST_CODE) return reader.end(), { kind: "ssl-request" };
  if (code === GSSENC_REQUEST_CODE) return reader.end(), { kind: "gssenc-request" };
  if (code === CANCEL_REQUEST_CODE) {
    const processId = reader.int32();
    const secretKey = Buffer.from(reader.rest());
    if (secretKey.length < 4 || secretKey.length > 256) throw new ProtocolError("cancel request: invalid secret key length");
    return { kind: "cancel", processId, secretKey };
  }
  if (code >> 16 !== 3) throw new ProtocolError(`unsupported protocol version ${code >> 16}.${code & 0xffff}; this gateway speaks 3.0`);
  const parameters: Record<string, string> = Object.create(null) as Record<string, string>;
  for (;;) {
    const name = reader.cstring();
    if (name === "") break;
    parameters[name] = reader.cstring();
  }
  reader.end();
  return { kind: "startup", protocol: code, parameters };
}

function parseBind(reader: BodyReader): FrontendMessage {
  const portal = reader.cstring();
  const statement = reader.cstring();
  const formatCount = reader.count(MAX_PARAMETERS, "parameter format codes");
  const formats: Array<0 | 1> = [];
  for (let i = 0; i < formatCount; i++) {
    const format = reader.int16();
    if (format !== 0 && format !== 1) throw new ProtocolError(`Bind: unknown parameter format ${format}`);
    formats.push(format);
  }
  const valueCount = reader.count(MAX_PARAMETERS, "parameter values");
  if (formatCount > 1 && formatCount !== valueCount) throw new ProtocolError(`Bind: ${formatCount} parameter format codes for ${valueCount} values`);
  const parameters: BoundParameter[] = [];
  for (let i = 0; i < valueCount; i++) {
    const length = reader.int32();
    if (length < -1) throw new ProtocolError("Bind: negative parameter length");
    // No format codes: all text; one: it applies to every value.
    const format = formats[formatCount === 1 ? 0 : i] ?? 0;
    parameters.push({ format, value: length === -1 ? null : reader.bytes(length) });
  }
  const resultCount = reader.count(MAX_PARAMETERS, "result format codes");
  const resultFormats: number[] = [];
  for (let i = 0; i < resultCount; i++) {
    const format = reader.int16();
    if (format !== 0 && format !== 1) throw new ProtocolError(`Bind: unknown result format ${format}`);
    resultFormats.push(format);
  }
  return { type: "Bind", portal, statement, parameters, resultFormats };
}

/** FunctionCall (libpq's fast path, used by its large-object API): read whole so a malformed one is a protocol error. */
function parseFunctionCall(reader: BodyReader): FrontendMessage {
  const functionOid = reader.int32() >>> 0;
  const formatCount = reader.count(MAX_PARAMETERS, "argument format codes");
  for (let i = 0; i < formatCount; i++) reader.int16();
  const argumentCount = reader.count(MAX_PARAMETERS, "arguments");
  for (let i = 0; i < argumentCount; i++) {
    const length = reader.int32();
    if (length < -1) throw new ProtocolError(`FunctionCall: argument ${i + 1} has length ${length}`);
    if (length > 0) reader.bytes(length);
  }
  reader.int16();
  return { type: "FunctionCall", functionOid };
}

function parseTarget(reader: BodyReader, what: string): "S" | "P" {
  const target = reader.byte();
  if (target !== "S" && target !== "P") throw new ProtocolError(`${what}: target must be S or P`);
  return target;
}

function parseParse(reader: BodyReader): FrontendMessage {
  const name = reader.cstring();
  const text = reader.cstring();
  const count = reader.count(MAX_PARAMETERS, "parameter types");
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) parameterTypes.push(reader.int32() >>> 0);
  return { type: "Parse", name, text, parameterTypes };
}

/** Each message type's decoder, by its type byte. */
const PARSERS: Readonly<Record<string, (reader: BodyReader) => FrontendMessage>> = {
  Q: (reader) => ({ type: "Query", text: reader.cstring() }),
  P: parseParse,
  B: parseBind,
  D: (reader) => ({ type: "Describe", target: parseTarget(reader, "Describe"), name: reader.cstring() }),
  E: (reader) => ({ type: "Execute", portal: reader.cstring(), maxRows: reader.int32() }),
  C: (reader) => ({ type: "Close", target: parseTarget(reader, "Close"), name: reader.cstring() }),
  S: () => ({ type: "Sync" }),
  H: () => ({ type: "Flush" }),
  X: () => ({ type: "Terminate" }),
  d: (reader) => {
    reader.rest();
    return { type: "CopyData" };
  },
  c: () => ({ type: "CopyDone" }),
  f: (reader) => ({ type: "CopyFail", message: reader.cstring() }),
  p: (reader) => ({ type: "Password", data: Buffer.from(reader.rest()) }),
  F: parseFunctionCall,
};

function parseBody(type: string, reader: BodyReader): FrontendMessage {
  const parse = Object.hasOwn(PARSERS, type) ? PARSERS[type] : undefined;
  if (!parse) throw new ProtocolError(`unknown message type ${JSON.stringify(type)}`);
  return parse(reader);
}

/** Decodes one regular (post-startup) client message. */
export function parseFrontendMessage(type: string, body: Buffer): FrontendMessage {
  const reader = new BodyReader(body, `message ${JSON.stringify(type)}`);
  const message = parseBody(type, reader);
  reader.end();
  return message;
}
