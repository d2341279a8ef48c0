import { Backoff, pause } from "./backoff.js";

describe("Backoff", () => {
  it("doubles from the initial delay up to the maximum", () => {
    const backoff = new Backoff({ initialMs: 200, maxMs: 1_000, jitter: 0 });
    expect([1, 2, 3, 4, 5].map(() => backoff.next())).toEqual([200, 400, 800, 1_000, 1_000]);
  });

  it("starts over after reset", () => {
    const backoff = new Backoff({ initialMs: 100, jitter: 0 });
    backoff.next();
    backoff.next();
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it("shortens delays at random by at most the jitter fraction", () => {
    const low = new Backoff({ initialMs: 1_000, jitter: 0.5, random: () => 0.999 });
    const high = new Backoff({ initialMs: 1_000, jitter: 0.5, random: () => 0 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1_000);
  });

  it("rejects a maximum below the initial delay", () => {
    expect(() => new Backoff({ initialMs: 500, maxMs: 100 })).toThrow("invalid backoff");
  });
});

describe("pause", () => {
  it("ends early when its signal aborts", async () => {
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 20);
    await pause(10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
