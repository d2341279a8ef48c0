// What the gateway says to a client in the server's voice, and the few server
// messages it must look inside. Server messages are decoded with pg-protocol's
// parser (one complete frame at a time); DataRow is split by hand because
// masking needs each value's raw bytes and must not decode the others.
import { Parser } from "pg-protocol/dist/parser.js";
import type { BackendMessage } from "pg-protocol/dist/messages.js";
import { ProtocolError } from "./frames.js";

export const SQLSTATE = {
  insufficientPrivilege: "42501",
  invalidPassword: "28P01",
  invalidAuthorization: "28000",
  protocolViolation: "08P01",
  connectionFailure: "08006",
  cannotConnectNow: "57P03",
  configurationLimitExceeded: "53400",
  featureNotSupported: "0A000",
  adminShutdown: "57P01",
} as const;

export interface ErrorFields {
  severity?: "ERROR" | "FATAL" | "WARNING" | "NOTICE";
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** Where in the query text the error is: 1-based, in characters (psql draws its LINE 1: … ^ from it). */
  position?: number;
}

/** A protocol message: its type byte, its length, its body (either direction uses this framing). */
export function message(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.write(type, 0, "latin1");
  out.writeUInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}

const cstring = (text: string): Buffer => Buffer.concat([Buffer.from(text, "utf8"), Buffer.from([0])]);

function fields(type: "E" | "N", error: ErrorFields): Buffer {
  const severity = error.severity ?? (type === "E" ? "ERROR" : "NOTICE");
  const parts: Buffer[] = [];
  const add = (code: string, value: string | undefined): void => {
    if (value !== undefined) parts.push(Buffer.from(code, "latin1"), cstring(value));
  };
  add("S", severity);
  add("V", severity);
  add("C", error.code);
  add("M", error.message);
  add("D", error.detail);
  add("H", error.hint);
  add("P", error.position === undefined ? undefined : String(error.position));
  parts.push(Buffer.from([0]));
  return message(type, Buffer.concat(parts));
}

export const errorResponse = (error: ErrorFields): Buffer => fields("E", error);
export const noticeResponse = (notice: Omit<ErrorFields, "code"> & { code?: string }): Buffer =>
  fields("N", { code: "00000", ...notice, severity: notice.severity ?? "NOTICE" });

export const readyForQuery = (status: string): Buffer => message("Z", Buffer.from(status, "latin1"));

function int32s(...values: number[]): Buffer {
  const body = Buffer.allocUnsafe(values.length * 4);
  values.forEach((value, index) => body.writeInt32BE(value, index * 4));
  return body;
}

export const authenticationOk = (): Buffer => message("R", int32s(0));
export const authenticationCleartextPassword = (): Buffer => message("R", int32s(3));
export const parameterStatus = (name: string, value: string): Buffer => message("S", Buffer.concat([cstring(name), cstring(value)]));
export const backendKeyData = (processId: number, secretKey: Buffer): Buffer => message("K", Buffer.concat([int32s(processId), secretKey]));

/** The values of a DataRow body, as views into it (null for SQL NULL). */
export function splitDataRow(body: Buffer): Array<Buffer | null> {
  if (body.length < 2) throw new ProtocolError("DataRow: truncated");
  const count = body.readInt16BE(0);
  const values: Array<Buffer | null> = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > body.length) throw new ProtocolError("DataRow: truncated");
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    if (offset + length > body.length) throw new ProtocolError("DataRow: truncated");
    values.push(body.subarray(offset, offset + length));
    offset += length;
  }
  return values;
}

export function dataRow(values: ReadonlyArray<Buffer | null>): Buffer {
  let size = 2;
  for (const value of values) size += 4 + (value?.length ?? 0);
  const body = Buffer.allocUnsafe(size);
  body.writeInt16BE(values.length, 0);
  let offset = 2;
  for (const value of values) {
    if (value === null) {
      body.writeInt32BE(-1, offset);
      offset += 4;
      continue;
    }
    body.writeInt32BE(value.length, offset);
    value.copy(body, offset + 4);
    offset += 4 + value.length;
  }
  return message("D", body);
}

/** Decodes one complete server frame with pg-protocol. */
export class BackendDecoder {
  private readonly parser = new Parser();

  decode(raw: Buffer): BackendMessage {
    let decoded: BackendMessage | undefined;
    this.parser.parse(raw, (msg) => {
      decoded = msg;
    });
    if (!decoded) throw new ProtocolError("a server message could not be decoded");
    return decoded;
  }
}

/** Rows affected, from a CommandComplete tag such as "UPDATE 3" or "INSERT 0 1". */
export function rowsFromTag(tag: string): number | undefined {
  const last = tag.slice(tag.lastIndexOf(" ") + 1);
  return /^\d+$/.test(last) ? Number(last) : undefined;
}
