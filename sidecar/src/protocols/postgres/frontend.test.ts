import { describe, expect, it } from "@jest/globals";
import { serialize } from "pg-protocol";
import { ProtocolError } from "./frames.js";
import { parseFrontendMessage, parseStartupPacket } from "./frontend.js";

const decode = (raw: Buffer): ReturnType<typeof parseFrontendMessage> => parseFrontendMessage(String.fromCharCode(raw[0] ?? 0), raw.subarray(5));

describe("parseStartupPacket", () => {
  it("reads a startup message's parameters", () => {
    const raw = serialize.startup({ user: "agent", database: "app" });
    expect(parseStartupPacket(raw.subarray(4))).toEqual({ kind: "startup", protocol: 196608, parameters: { user: "agent", database: "app", client_encoding: "UTF8" } });
  });

  it("recognises SSL, GSS encryption and cancel requests", () => {
    expect(parseStartupPacket(serialize.requestSsl().subarray(4))).toEqual({ kind: "ssl-request" });
    const gss = Buffer.alloc(4);
    gss.writeUInt32BE(80877104);
    expect(parseStartupPacket(gss)).toEqual({ kind: "gssenc-request" });
    const cancel = serialize.cancel(42, 7).subarray(4);
    expect(parseStartupPacket(cancel)).toMatchObject({ kind: "cancel", processId: 42 });
  });

  it.each([
    ["an old protocol version", Buffer.from([0, 2, 0, 0])],
    ["an unterminated parameter", Buffer.from([0, 3, 0, 0, 0x75, 0x73])],
    ["a truncated code", Buffer.from([0, 3])],
  ])("refuses %s", (_name, body) => {
    expect(() => parseStartupPacket(body)).toThrow(ProtocolError);
  });
});

describe("parseFrontendMessage", () => {
  it("decodes the extended protocol messages pg-protocol writes", () => {
    expect(decode(serialize.parse({ name: "s1", text: "SELECT $1", types: [23] }))).toEqual({ type: "Parse", name: "s1", text: "SELECT $1", parameterTypes: [23] });
    expect(decode(serialize.bind({ portal: "p", statement: "s1", values: ["1", null], binary: true }))).toEqual({
      type: "Bind",
      portal: "p",
      statement: "s1",
      parameters: [
        { format: 0, value: Buffer.from("1") },
        { format: 0, value: null },
      ],
      resultFormats: [1],
    });
    expect(decode(serialize.describe({ type: "P", name: "p" }))).toEqual({ type: "Describe", target: "P", name: "p" });
    expect(decode(serialize.execute({ portal: "p", rows: 10 }))).toEqual({ type: "Execute", portal: "p", maxRows: 10 });
    expect(decode(serialize.close({ type: "S", name: "s1" }))).toEqual({ type: "Close", target: "S", name: "s1" });
    expect(decode(serialize.sync())).toEqual({ type: "Sync" });
    expect(decode(serialize.flush())).toEqual({ type: "Flush" });
    expect(decode(serialize.end())).toEqual({ type: "Terminate" });
    expect(decode(serialize.query("SELECT 1"))).toEqual({ type: "Query", text: "SELECT 1" });
    expect(decode(serialize.copyFail("stop"))).toEqual({ type: "CopyFail", message: "stop" });
  });

  it("decodes a FunctionCall (libpq's fast path) as the function it calls", () => {
    // lo_creat(mode) with one binary int4 argument and a binary result, as libpq's PQfn sends it.
    const body = Buffer.from([0, 0, 0x03, 0xbd, 0, 1, 0, 1, 0, 1, 0, 0, 0, 4, 0, 2, 0, 0, 0, 1]);
    expect(parseFrontendMessage("F", body)).toEqual({ type: "FunctionCall", functionOid: 957 });
    expect(() => parseFrontendMessage("F", body.subarray(0, 12))).toThrow(ProtocolError);
  });

  it.each([
    ["an unknown type", "!", Buffer.alloc(0)],
    ["a query without its terminator", "Q", Buffer.from("SELECT 1")],
    ["trailing bytes", "S", Buffer.from([1])],
    ["a Describe of an unknown target", "D", Buffer.from("Xname\0")],
    ["a Bind with a negative count", "B", Buffer.from([0, 0, 0xff, 0xff])],
    ["a Bind value running past the end", "B", Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 1])],
    ["a Bind with an unknown result format", "B", Buffer.from([0, 0, 0, 0, 0, 0, 0, 1, 0, 2])],
  ])("refuses %s", (_name, type, body) => {
    expect(() => parseFrontendMessage(type, body)).toThrow(ProtocolError);
  });
});
