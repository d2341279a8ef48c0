import { describe, expect, it } from "@jest/globals";
import { formatAge, formatDuration, formatElapsed, formatRelative, parseTimeArgument } from "./time.js";

const NOW = new Date("2026-11-25T12:00:00.000Z");

describe("formatElapsed", () => {
  it.each([
    [0.412345, "0.4 ms"],
    [3, "3 ms"],
    [9.96, "10 ms"],
    [12.6, "13 ms"],
    [999.4, "999 ms"],
    [2_512, "2.5 s"],
    [200_000, "3m 20s"],
    [7_500_000, "2h 5m"],
    [-1, "?"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [-5_000, "0s"],
    [119_999, "119s"],
    [120_000, "2m"],
    [7_199_000, "119m"],
    [7_200_000, "2h"],
    [47 * 3_600_000, "47h"],
    [48 * 3_600_000, "2d"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe("ages and deadlines", () => {
  it("formats an age and a deadline relative to now", () => {
    expect(formatAge("2026-11-25T11:55:00Z", NOW)).toBe("5m");
    expect(formatRelative("2026-11-25T12:09:00Z", NOW)).toBe("in 9m");
    expect(formatRelative("2026-11-25T11:57:00Z", NOW)).toBe("3m ago");
  });

  it("says <unknown> for a missing or malformed time", () => {
    expect(formatAge(undefined, NOW)).toBe("<unknown>");
    expect(formatRelative("soon", NOW)).toBe("<unknown>");
  });
});

describe("parseTimeArgument", () => {
  it.each([
    ["90s", "2026-11-25T11:58:30.000Z"],
    ["15m", "2026-11-25T11:45:00.000Z"],
    ["1h30m", "2026-11-25T10:30:00.000Z"],
    ["2d", "2026-11-23T12:00:00.000Z"],
    ["2026-11-24T08:00:00Z", "2026-11-24T08:00:00.000Z"],
    ["2026-11-24T09:00:00.5+01:00", "2026-11-24T08:00:00.500Z"],
  ])("%s is %s", (text, iso) => {
    expect(parseTimeArgument(text, NOW)?.toISOString()).toBe(iso);
  });

  it.each(["", "yesterday", "1", "1w", "h1", "2026", "2026-11-24", "2026-11-24T08:00:00", "2026-13-45T99:00:00Z"])("refuses %j", (text) => {
    expect(parseTimeArgument(text, NOW)).toBeUndefined();
  });
});
