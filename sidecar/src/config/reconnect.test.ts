import { describe, expect, it } from "@jest/globals";
import { DEFAULT_BACKOFF, backoffDelay, planReconnect } from "./reconnect.js";

const low = (): number => 0;
const high = (): number => 1;

describe("backoffDelay", () => {
  it.each([
    [0, 250, 500],
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [5, 8_000, 16_000],
    [6, 15_000, 30_000],
    [7, 15_000, 30_000],
    [1_000, 15_000, 30_000],
  ])("after %i failures waits between %i and %i ms", (failures, min, max) => {
    expect(backoffDelay(failures, low)).toBe(min);
    expect(backoffDelay(failures, high)).toBe(max);
    expect(backoffDelay(failures, () => 0.5)).toBe(Math.round((min + max) / 2));
  });

  it("follows the policy it is given", () => {
    expect(backoffDelay(3, high, { initialMs: 100, maxMs: 500 })).toBe(500);
    expect(backoffDelay(2, high, { initialMs: 100, maxMs: 500 })).toBe(400);
  });
});

describe("planReconnect", () => {
  it("backs off further with each failed stream", () => {
    let failures = 0;
    const delays: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const plan = planReconnect(failures, { delivered: false, reconnectRequested: false }, high);
      failures = plan.failures;
      delays.push(plan.delayMs);
    }
    expect(delays).toEqual([500, 1_000, 2_000, 4_000]);
    expect(failures).toBe(4);
  });

  it("starts over after a stream that delivered a bundle", () => {
    expect(planReconnect(6, { delivered: true, reconnectRequested: false }, high)).toEqual({ failures: 1, delayMs: 500 });
  });

  it("reconnects promptly, with jitter, when the broker asks", () => {
    expect(planReconnect(6, { delivered: false, reconnectRequested: true }, high)).toEqual({ failures: 0, delayMs: DEFAULT_BACKOFF.initialMs });
    expect(planReconnect(6, { delivered: true, reconnectRequested: true }, low)).toEqual({ failures: 0, delayMs: 0 });
  });
});
