import { describe, expect, it } from "@jest/globals";
import type { ApprovalOutcome } from "./approval-service.js";
import { GrantCache, type GrantRequest } from "./grants.js";

const HOUR = 3_600_000;
const request: GrantRequest = { resource: "orders-db", policy: "p", rule: "writes", fingerprint: "sha256:aa", identity: "system:serviceaccount:agents:bot", sessionID: "s1" };
const approved = (grant: Pick<ApprovalOutcome, "grantScope" | "grantWindowMs" | "decidedAt">): ApprovalOutcome => ({ phase: "Approved", ...grant });

function cacheAt(start = 1_000_000): { cache: GrantCache; advance: (ms: number) => void } {
  let now = start;
  return { cache: new GrantCache({ now: () => now }), advance: (ms) => (now += ms) };
}

describe("GrantCache", () => {
  it("remembers nothing for grant scope once", () => {
    const { cache } = cacheAt();
    cache.record(request, approved({ grantScope: "once" }));
    expect(cache.covers(request)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it("remembers a session grant for the same operation in the same session only, until the session ends", () => {
    const { cache, advance } = cacheAt();
    cache.record(request, approved({ grantScope: "session" }));
    advance(30 * 24 * HOUR);
    expect(cache.covers(request)).toBe(true);
    expect(cache.covers({ ...request, sessionID: "s2" })).toBe(false);
    expect(cache.covers({ ...request, sessionID: undefined })).toBe(false);
    cache.endSession("s1");
    expect(cache.covers(request)).toBe(false);
  });

  it("cannot grant for a session when the operation has none", () => {
    const { cache } = cacheAt();
    cache.record({ ...request, sessionID: undefined }, approved({ grantScope: "session" }));
    expect(cache.size).toBe(0);
  });

  it("remembers a window grant for the same identity across sessions until the window ends", () => {
    const { cache, advance } = cacheAt();
    cache.record(request, approved({ grantScope: "window", grantWindowMs: HOUR }));
    expect(cache.covers({ ...request, sessionID: "another-session" })).toBe(true);
    expect(cache.covers({ ...request, identity: "someone-else" })).toBe(false);
    advance(HOUR - 1);
    expect(cache.covers(request)).toBe(true);
    advance(1);
    expect(cache.covers(request)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it("starts the window at the decision, not when the gateway learns of it", () => {
    const { cache } = cacheAt(10 * HOUR);
    cache.record(request, approved({ grantScope: "window", grantWindowMs: HOUR, decidedAt: new Date(9.5 * HOUR) }));
    expect(cache.covers(request)).toBe(true);
    const late = cacheAt(10 * HOUR).cache;
    late.record(request, approved({ grantScope: "window", grantWindowMs: HOUR, decidedAt: new Date(8 * HOUR) }));
    expect(late.covers(request)).toBe(false);
  });

  it.each([
    ["another Resource", { resource: "billing-api" }],
    ["another policy", { policy: "q" }],
    ["another rule", { rule: "deletes" }],
    ["another fingerprint", { fingerprint: "sha256:bb" }],
  ])("does not cover %s", (_case, change) => {
    const { cache } = cacheAt();
    cache.record(request, approved({ grantScope: "window", grantWindowMs: HOUR }));
    cache.record(request, approved({ grantScope: "session" }));
    expect(cache.covers({ ...request, ...change })).toBe(false);
  });

  it.each([
    ["a denial", { phase: "Denied", grantScope: "window", grantWindowMs: HOUR }],
    ["an expiry", { phase: "Expired", grantScope: "session" }],
    ["a window grant without a window", { phase: "Approved", grantScope: "window" }],
  ] as [string, ApprovalOutcome][])("remembers nothing for %s", (_case, outcome) => {
    const { cache } = cacheAt();
    cache.record(request, outcome);
    expect(cache.covers(request)).toBe(false);
  });

  it("keys cannot be forged with separators inside values", () => {
    const { cache } = cacheAt();
    cache.record({ ...request, resource: "a", policy: "b,c" }, approved({ grantScope: "window", grantWindowMs: HOUR }));
    expect(cache.covers({ ...request, resource: "a,b", policy: "c" })).toBe(false);
  });

  it("stays within its size, dropping expired grants first and then the oldest", () => {
    let now = 0;
    const cache = new GrantCache({ maxEntries: 3, now: () => now });
    const op = (fingerprint: string): GrantRequest => ({ ...request, fingerprint });
    cache.record(op("short"), approved({ grantScope: "window", grantWindowMs: 10 }));
    cache.record(op("a"), approved({ grantScope: "window", grantWindowMs: HOUR }));
    cache.record(op("b"), approved({ grantScope: "window", grantWindowMs: HOUR }));
    now = 20;
    cache.record(op("c"), approved({ grantScope: "window", grantWindowMs: HOUR }));
    expect([cache.size, cache.covers(op("a")), cache.covers(op("b")), cache.covers(op("c"))]).toEqual([3, true, true, true]);
    cache.record(op("d"), approved({ grantScope: "window", grantWindowMs: HOUR }));
    expect([cache.size, cache.covers(op("a")), cache.covers(op("d"))]).toEqual([3, false, true]);
  });
});
