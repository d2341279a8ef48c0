import { describe, expect, it } from "@jest/globals";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { GENESIS_HASH, recordLine, type EvidenceRecord } from "./record.js";
import { buildChunk, completeLinesLength, describeLines } from "./chunks.js";
import { linesOf, recordChain } from "./test-fixtures.js";

const SESSION = "01JD0000000000000000000000";

describe("completeLinesLength", () => {
  const cases: Array<[string, string, number, number]> = [
    ["nothing", "", 10, 0],
    ["a partial line only", "abc", 10, 0],
    ["one complete line", "abc\n", 10, 4],
    ["complete lines and a partial one", "ab\ncd\nef", 10, 6],
    ["lines up to the limit exactly", "ab\ncd\nef\n", 6, 6],
    ["lines past the limit: those that fit", "ab\ncd\nef\n", 7, 6],
    ["a first line longer than the limit: that line alone", "abcdef\ngh\n", 3, 7],
    ["a first line longer than the limit, incomplete", "abcdef", 3, 0],
  ];
  it.each(cases)("%s", (_name, text, max, expected) => {
    expect(completeLinesLength(Buffer.from(text), max)).toBe(expected);
  });
});

describe("describeLines", () => {
  const records = recordChain(SESSION, 3);
  const record = (index: number): EvidenceRecord => {
    const found = records[index];
    if (found === undefined) throw new Error(`no record ${index}`);
    return found;
  };

  it("describes the first chunk of a session from the genesis value", () => {
    expect(describeLines(linesOf(records.slice(0, 2)), { seq: 1, prev: GENESIS_HASH, session: SESSION })).toEqual({
      firstSeq: 1,
      lastSeq: 2,
      prev: GENESIS_HASH,
      head: record(1).hash,
      lastType: "request",
    });
  });

  it("continues where the previous chunk ended, and knows a session-end", () => {
    const start = { seq: 3, prev: record(1).hash, session: SESSION };
    expect(describeLines(linesOf(records.slice(2)), start)).toEqual({ firstSeq: 3, lastSeq: 5, prev: start.prev, head: record(4).hash, lastType: "session-end", end: { reason: "client-terminated", time: record(4).time } });
  });

  it("reports where the chain breaks, keeping the positional facts", () => {
    const described = describeLines(linesOf([record(0), record(2)]), { seq: 1, prev: GENESIS_HASH, session: SESSION });
    expect(described).toMatchObject({ firstSeq: 1, lastSeq: 2, head: record(2).hash });
    expect(described.problem).toEqual({ seq: 2, problem: "record 2 missing (deleted?)" });
  });

  it("counts a line that is no record by position and gives it a hash no prev matches", () => {
    const text = `${recordLine(record(0))}not json\n`;
    const described = describeLines(text, { seq: 1, prev: GENESIS_HASH, session: SESSION });
    expect(described).toMatchObject({ firstSeq: 1, lastSeq: 2, lastType: undefined, problem: { seq: 2, problem: "not JSON" } });
    expect(described.head).toBe(`sha256:${createHash("sha256").update("not json").digest("hex")}`);
  });

  it("refuses text without a complete line", () => {
    expect(() => describeLines("partial", { seq: 1, prev: GENESIS_HASH, session: SESSION })).toThrow("a chunk needs at least one complete line");
  });
});

describe("buildChunk", () => {
  it("gzips the lines, names the chunk and hashes the object bytes", async () => {
    const lines = Buffer.from(linesOf(recordChain(SESSION, 2)));
    const chunk = await buildChunk(12, lines, { seq: 1, prev: GENESIS_HASH, session: SESSION });
    expect(gunzipSync(chunk.body).equals(lines)).toBe(true);
    expect(chunk.lineBytes).toBe(lines.length);
    expect(chunk.entry).toMatchObject({ name: "000012.jsonl.gz", firstSeq: 1, lastSeq: 4, bytes: chunk.body.length });
    expect(chunk.entry.sha256).toBe(createHash("sha256").update(chunk.body).digest("hex"));
  });

  it("builds the same bytes from the same lines, so a retried chunk is identical", async () => {
    const lines = Buffer.from(linesOf(recordChain(SESSION, 5)));
    const start = { seq: 1, prev: GENESIS_HASH, session: SESSION };
    const [first, second] = await Promise.all([buildChunk(1, lines, start), buildChunk(1, lines, start)]);
    expect(second.body.equals(first.body)).toBe(true);
    expect(second.entry).toEqual(first.entry);
  });
});
