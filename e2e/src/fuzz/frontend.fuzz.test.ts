// The fuzz target's own behaviour, without the fuzzer: every seed in
// frontend-corpus/ must replay to a cleanly closed connection (a seed that
// is refused early would waste the fuzzer's time on shallow paths), however
// the stream is cut into reads, and malformed input must come back as a
// refusal rather than an exception.
//
// The seeds: psql-* and node-postgres-* are client bytes recorded between
// psql 15 / node-postgres 8 and PostgreSQL 15 (SSLRequest, startup, cleartext
// password, a simple query, COPY FROM STDIN, an extended-protocol query);
// cancel-request and gssenc-then-* were written with pg-protocol's serializer
// to cover the remaining packets and messages. framed-* hold the same
// sessions in framed mode (see frontend.fuzz.ts).
import { describe, expect, it } from "@jest/globals";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RECORD_SEPARATOR, replayClientStream } from "./frontend.fuzz.js";

const CORPUS = fileURLToPath(new URL("./frontend-corpus", import.meta.url));
const seeds = fs.readdirSync(CORPUS).map((name) => [name, fs.readFileSync(path.join(CORPUS, name))] as const);

/** A raw-mode input: one read, then the bytes as given. */
function raw(...parts: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0]), ...parts]);
}

/** A framed-mode input: one read, then records of a type character ("" for startup phase) and a payload. */
function framed(...records: [string, string | Buffer][]): Buffer {
  const parts = records.flatMap(([type, payload], index) => [
    ...(index > 0 ? [RECORD_SEPARATOR] : []),
    Buffer.from([type === "" ? 0 : type.charCodeAt(0)]),
    Buffer.from(payload),
  ]);
  return Buffer.concat([Buffer.from([0x80]), ...parts]);
}

const startup = Buffer.from("\x00\x03\x00\x00user\x00agent\x00\x00", "latin1");

describe("replayClientStream", () => {
  it("has seeds", () => {
    expect(seeds.length).toBeGreaterThanOrEqual(10);
  });

  it.each(seeds)("replays seed %s to a closed connection", (_name, seed) => {
    expect(replayClientStream(seed)).toEqual({ kind: "closed" });
  });

  it.each([1, 2, 3, 5, 64, 127])("gives the same outcome for every seed with %i-byte reads", (readSize) => {
    for (const [name, seed] of seeds) {
      const control = ((seed[0] ?? 0) & 0x80) | readSize;
      expect([name, replayClientStream(Buffer.concat([Buffer.from([control]), seed.subarray(1)]))]).toEqual([name, { kind: "closed" }]);
    }
  });

  it.each<[string, Buffer, string]>([
    ["a length word below 4", raw(Buffer.from([0, 0, 0, 3, 0, 0, 0, 0])), "invalid message length 3"],
    ["a length word above the limit", raw(Buffer.from([0x7f, 0xff, 0xff, 0xff])), "invalid message length 2147483647"],
    ["protocol 2.0", framed(["", Buffer.from("\x00\x02\x00\x00", "latin1")]), "unsupported protocol version 2.0"],
    ["an unterminated query", framed(["", startup], ["Q", "SELECT 1"]), "a string is not terminated"],
    ["an unknown message type", framed(["", startup], ["!", ""]), 'unknown message type "!"'],
    ["trailing bytes after Sync", framed(["", startup], ["S", "x"]), "1 unexpected trailing bytes"],
    ["a Describe of neither S nor P", framed(["", startup], ["D", "X\x00"]), "target must be S or P"],
  ])("refuses %s", (_what, input, reason) => {
    const outcome = replayClientStream(input);
    expect(outcome.kind).toBe("refused");
    expect(outcome.kind === "refused" && outcome.reason).toContain(reason);
  });

  it.each<[string, Buffer]>([
    ["a startup packet cut short", raw(Buffer.from([0, 0, 0, 40, 0, 3, 0, 0]))],
    ["a session without Terminate", framed(["", startup], ["Q", "SELECT 1\x00"])],
    ["no bytes at all", Buffer.alloc(0)],
  ])("leaves the connection open after %s", (_what, input) => {
    expect(replayClientStream(input)).toEqual({ kind: "open" });
  });

  it("writes length words in framed mode that agree with the raw stream", () => {
    const query = Buffer.from("Q\x00\x00\x00\x0dSELECT 1\x00X\x00\x00\x00\x04", "latin1");
    const rawStartup = Buffer.concat([Buffer.from([0, 0, 0, startup.length + 4]), startup]);
    expect(replayClientStream(raw(rawStartup, query))).toEqual({ kind: "closed" });
    expect(replayClientStream(framed(["", startup], ["Q", "SELECT 1\x00"], ["X", ""]))).toEqual({ kind: "closed" });
  });
});
