import { describe, expect, it } from "@jest/globals";
import {
  GENESIS_HASH,
  parseSpoolText,
  recordHash,
  recordLine,
  sealRecord,
  sealRecordLine,
  verifyChain,
  type EvidenceRecord,
  type EvidenceType,
  type UnsealedRecord,
} from "./record.js";

const TIME = "2026-11-25T10:00:00.000Z";

/** A sealed chain of the given types for one session. */
function chain(types: EvidenceType[], session = "S1"): EvidenceRecord[] {
  const records: EvidenceRecord[] = [];
  for (const [index, type] of types.entries()) {
    records.push(sealRecord({ v: 1, session, seq: index + 1, time: TIME, type, data: { n: index }, prev: records[index - 1]?.hash ?? GENESIS_HASH }));
  }
  return records;
}

const SESSION = chain(["session-start", "statement", "result", "statement", "session-end"]);

function at(records: readonly EvidenceRecord[], index: number): EvidenceRecord {
  const record = records[index];
  if (record === undefined) throw new Error(`no record ${index}`);
  return record;
}

/** The record with its content changed and its own hash recomputed, as a careful forger would. */
function resealed(record: EvidenceRecord, change: Partial<UnsealedRecord>): EvidenceRecord {
  const { v, session, seq, time, type, data, prev } = record;
  const unsealed: UnsealedRecord = { v, session, seq, time, type, data, prev, ...change };
  return { ...unsealed, hash: recordHash(unsealed) };
}

describe("sealRecord", () => {
  it("chains from the genesis value and hashes the canonical record", () => {
    const [first, second] = SESSION;
    expect(GENESIS_HASH).toBe(`sha256:${"0".repeat(64)}`);
    expect(first?.prev).toBe(GENESIS_HASH);
    expect(first?.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(second?.prev).toBe(first?.hash);
  });

  it("hashes the same content alike whatever the key order", () => {
    const a = sealRecord({ v: 1, session: "S", seq: 1, time: TIME, type: "session-start", data: { a: 1, b: { c: 2, d: 3 } }, prev: GENESIS_HASH });
    const b = sealRecord({ prev: GENESIS_HASH, data: { b: { d: 3, c: 2 }, a: 1 }, type: "session-start", time: TIME, seq: 1, session: "S", v: 1 });
    expect(a.hash).toBe(b.hash);
  });

  it("writes the line from the hashed text, which parses back to the sealed record", () => {
    const { record, line } = sealRecordLine({ v: 1, session: "S", seq: 1, time: TIME, type: "session-start", data: { b: [1, { z: null }], a: "x" }, prev: GENESIS_HASH });
    expect(line.endsWith("}\n")).toBe(true);
    expect(JSON.parse(line)).toEqual(record);
    expect(verifyChain([JSON.parse(line) as EvidenceRecord])).toEqual({ ok: true, head: record.hash, count: 1 });
  });

  it("hashes what a reader parses back (dates as strings, no undefined fields)", () => {
    const record = sealRecord({ v: 1, session: "S", seq: 1, time: TIME, type: "session-start", data: { at: new Date(TIME), gone: undefined }, prev: GENESIS_HASH });
    expect(record.data).toEqual({ at: TIME });
    const read = JSON.parse(recordLine(record)) as EvidenceRecord;
    expect(verifyChain([read])).toEqual({ ok: true, head: record.hash, count: 1 });
  });

  it("refuses data JSON cannot hold", () => {
    expect(() => sealRecord({ v: 1, session: "S", seq: 1, time: TIME, type: "session-start", data: { n: 1n }, prev: GENESIS_HASH })).toThrow();
  });
});

describe("verifyChain", () => {
  it("accepts an intact chain and returns its head", () => {
    expect(verifyChain(SESSION)).toEqual({ ok: true, head: at(SESSION, 4).hash, count: 5 });
  });

  it("verifies a later chunk from where the previous one ended", () => {
    const head = at(SESSION, 1).hash;
    expect(verifyChain(SESSION.slice(2), { seq: 3, prev: head, session: "S1" })).toEqual({ ok: true, head: at(SESSION, 4).hash, count: 3 });
    expect(verifyChain(SESSION.slice(2), { seq: 3, prev: GENESIS_HASH })).toMatchObject({ ok: false, seq: 3, problem: expect.stringContaining("prev does not match") });
  });

  const other = chain(["session-start", "statement", "result"], "S2");
  const tampered: Array<[string, EvidenceRecord[], number, string]> = [
    ["an edited record", SESSION.map((r, i) => (i === 1 ? { ...r, data: { n: 99 } } : r)), 2, "the record was edited"],
    ["an edited record with a recomputed hash", SESSION.map((r, i) => (i === 1 ? resealed(r, { data: { n: 99 } }) : r)), 3, "prev does not match"],
    ["a deleted record", SESSION.filter((_, i) => i !== 2), 3, "record 3 missing"],
    ["two deleted records", SESSION.filter((_, i) => i !== 1 && i !== 2), 2, "record 2-3 missing"],
    ["a deleted record with later ones renumbered", [at(SESSION, 0), at(SESSION, 1), resealed(at(SESSION, 3), { seq: 3 })], 3, "prev does not match"],
    ["two swapped records", [at(SESSION, 0), at(SESSION, 2), at(SESSION, 1), at(SESSION, 3)], 2, "out of order"],
    ["a duplicated record", [at(SESSION, 0), at(SESSION, 1), at(SESSION, 1), at(SESSION, 2)], 3, "duplicate of record 2"],
    ["a record of another session", [at(SESSION, 0), at(SESSION, 1), at(other, 2)], 3, "record of session S2"],
    ["a wrong version", SESSION.map((r, i) => (i === 1 ? resealed(r, { v: 2 as 1 }) : r)), 2, "unsupported version 2"],
    ["a chain not starting with session-start", chain(["statement", "result"]), 1, "not a session-start"],
    ["a second session-start", chain(["session-start", "session-start"]), 2, "not the first record"],
    ["a record after the session-end", chain(["session-start", "session-end", "statement"]), 3, "after the session-end"],
  ];
  it.each(tampered)("detects %s", (_name, records, seq, problem) => {
    expect(verifyChain(records)).toEqual({ ok: false, seq, problem: expect.stringContaining(problem) });
  });
});

describe("parseSpoolText", () => {
  const text = SESSION.map(recordLine).join("");

  it("reads a complete file", () => {
    expect(parseSpoolText(text)).toEqual({ records: SESSION, problems: [], partialLastLine: null });
  });

  it("reports a last line cut mid-write apart from corruption", () => {
    const cut = text.slice(0, text.length - 40);
    const parsed = parseSpoolText(cut);
    expect(parsed.records).toEqual(SESSION.slice(0, 4));
    expect(parsed.problems).toEqual([]);
    expect(parsed.partialLastLine).toEqual({ line: 5, bytes: Buffer.byteLength(recordLine(at(SESSION, 4))) - 40 });
  });

  it("treats a last line without its newline as partial even when it parses", () => {
    const parsed = parseSpoolText(text.slice(0, -1));
    expect(parsed.records).toHaveLength(4);
    expect(parsed.partialLastLine?.line).toBe(5);
  });

  it("counts the partial line in bytes, not characters", () => {
    expect(parseSpoolText(`${recordLine(at(SESSION, 0))}{"text":"é€"`).partialLastLine).toEqual({ line: 2, bytes: 15 });
  });

  const corrupt: Array<[string, string, string]> = [
    ["garbage", "not JSON{", "not JSON"],
    ["an empty line", "", "empty line"],
    ["an array", "[1,2]", "not a JSON object"],
    ["an unknown field", JSON.stringify({ ...at(SESSION, 1), extra: 1 }), "unknown fields extra"],
    ["a bad time", JSON.stringify({ ...at(SESSION, 1), time: "yesterday" }), "time is not"],
    ["an unknown type", JSON.stringify({ ...at(SESSION, 1), type: "login" }), 'unknown type "login"'],
    ["a bad hash", JSON.stringify({ ...at(SESSION, 1), hash: "md5:00" }), "hash is not"],
    ["a string seq", JSON.stringify({ ...at(SESSION, 1), seq: "2" }), "seq is not"],
    ["data that is not an object", JSON.stringify({ ...at(SESSION, 1), data: [] }), "data is not an object"],
  ];
  it.each(corrupt)("reports %s in the middle as a problem of its line", (_name, line, problem) => {
    const lines = SESSION.map(recordLine);
    lines[1] = `${line}\n`;
    const parsed = parseSpoolText(lines.join(""));
    expect(parsed.problems).toEqual([{ line: 2, problem: expect.stringContaining(problem) }]);
    expect(parsed.records).toHaveLength(4);
    expect(parsed.partialLastLine).toBeNull();
  });
});
