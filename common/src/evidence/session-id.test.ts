import { describe, expect, it } from "@jest/globals";
import { SESSION_ID_PATTERN, newSessionId } from "./session-id.js";

const ZERO = new Uint8Array(10);

describe("newSessionId", () => {
  // The ULID specification's example timestamp.
  it.each([
    ["the epoch and zero bits", new Date(0), ZERO, "00000000000000000000000000"],
    ["the ULID example time", new Date(1469918176385), ZERO, "01ARYZ6S410000000000000000"],
    ["all random bits set", new Date(0), new Uint8Array(10).fill(0xff), "0000000000ZZZZZZZZZZZZZZZZ"],
    // 0x84 0x21 0x08 0x42 0x10 is 10000 repeated eight times: "G" is 16.
    ["a 5-bit pattern across byte borders", new Date(0), Uint8Array.from([0x84, 0x21, 0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x42, 0x10]), "0000000000GGGGGGGGGGGGGGGG"],
    ["the largest time", new Date(2 ** 48 - 1), ZERO, "7ZZZZZZZZZ0000000000000000"],
  ])("encodes %s", (_name, time, random, expected) => {
    expect(newSessionId(time, random)).toBe(expected);
  });

  it("sorts by creation time", () => {
    const times = [1, 31, 32, 1_000_000, Date.parse("2026-11-25T10:00:00Z"), Date.parse("2026-11-25T10:00:00.001Z")];
    const ids = times.map((ms) => newSessionId(new Date(ms), new Uint8Array(10).fill(0xff - (ms % 200))));
    expect([...ids].sort()).toEqual(ids);
  });

  it("makes unique, well-formed IDs within one millisecond", () => {
    const now = new Date();
    const ids = Array.from({ length: 1000 }, () => newSessionId(now));
    expect(new Set(ids).size).toBe(1000);
    for (const id of ids) expect(id).toMatch(SESSION_ID_PATTERN);
  });

  it.each([
    ["a time before 1970", new Date(-1), ZERO],
    ["a time beyond 48 bits", new Date(2 ** 48), ZERO],
    ["an invalid date", new Date(Number.NaN), ZERO],
    ["too few random bytes", new Date(0), new Uint8Array(9)],
  ])("refuses %s", (_name, time, random) => {
    expect(() => newSessionId(time, random)).toThrow(RangeError);
  });
});
