import { describe, expect, it } from "@jest/globals";
import { LineSplitter, LineTooLongError } from "./ndjson.js";

const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

/** Feeds the text in chunks of the given sizes (the rest in one chunk) and collects every line. */
function split(text: string, sizes: number[], splitter = new LineSplitter()): string[] {
  const data = bytes(text);
  const lines: string[] = [];
  let offset = 0;
  for (const size of [...sizes, data.length]) {
    lines.push(...splitter.push(data.subarray(offset, offset + size)));
    offset += size;
    if (offset >= data.length) break;
  }
  return lines;
}

describe("LineSplitter", () => {
  const stream = '{"type":"heartbeat"}\n{"type":"config","config":{"name":"größe"}}\n{"type":"reconnect"}\n';
  const expected = ['{"type":"heartbeat"}', '{"type":"config","config":{"name":"größe"}}', '{"type":"reconnect"}'];

  it.each([
    ["one chunk", []],
    ["a chunk boundary inside a line", [5]],
    ["a boundary right after a newline", [21]],
    ["a boundary right before a newline", [20]],
    ["a boundary inside a two-byte UTF-8 character", [stream.indexOf("ö") + 1]],
    ["one byte at a time", Array.from({ length: bytes(stream).length }, () => 1)],
  ])("splits across %s", (_case, sizes) => {
    expect(split(stream, sizes)).toEqual(expected);
  });

  it("drops a CR before the newline and skips blank lines", () => {
    expect(split("a\r\n\n  \nb\n", [2])).toEqual(["a", "b"]);
  });

  it("keeps an unfinished line pending until its newline arrives", () => {
    const splitter = new LineSplitter();
    expect(splitter.push(bytes('{"type":'))).toEqual([]);
    expect(splitter.pending).toBe(8);
    expect(splitter.push(bytes('"heartbeat"}\n{"ty'))).toEqual(['{"type":"heartbeat"}']);
    expect(splitter.pending).toBe(4);
  });

  it("refuses a line longer than its limit instead of buffering it, and recovers on the next line", () => {
    const splitter = new LineSplitter(10);
    expect(() => splitter.push(bytes("0123456789abc"))).toThrow(LineTooLongError);
    expect(splitter.pending).toBe(0);
    expect(splitter.push(bytes("short\n"))).toEqual(["short"]);
    // Exactly at the limit is fine, across chunks too.
    expect(split("0123456789\n", [4, 4], new LineSplitter(10))).toEqual(["0123456789"]);
  });

  it("takes linear time for a long line in many chunks", () => {
    const splitter = new LineSplitter();
    const chunk = Buffer.alloc(1024, 0x61);
    const started = process.hrtime.bigint();
    for (let i = 0; i < 8 * 1024; i += 1) splitter.push(chunk);
    const [line] = splitter.push(bytes("\n"));
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    expect(line).toHaveLength(8 * 1024 * 1024);
    // Concatenating per chunk copies ~34 GB here and takes minutes; joining once takes milliseconds.
    expect(elapsedMs).toBeLessThan(2_000);
  });
});
