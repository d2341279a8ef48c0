// Retry pacing for API server connections: exponential delays with jitter, so
// that many watchers cut off by one API server restart do not all come back in
// the same instant, and an abortable pause to wait them out.

export interface BackoffOptions {
  /** The first delay; default 200 ms. */
  initialMs?: number;
  /** The largest delay; default 30 s. */
  maxMs?: number;
  /** Growth per failure; default 2. */
  factor?: number;
  /** Fraction (0..1) by which a delay is shortened at random; default 0.5. */
  jitter?: number;
  /** Uniform in [0, 1); Math.random unless a test fixes it. */
  random?: () => number;
}

export class Backoff {
  private failures = 0;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 200;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !(this.maxMs >= this.initialMs) || !(this.factor >= 1)) {
      throw new Error(`invalid backoff: initialMs ${this.initialMs}, maxMs ${this.maxMs}, factor ${this.factor}`);
    }
  }

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const nominal = Math.min(this.maxMs, this.initialMs * this.factor ** this.failures);
    if (nominal < this.maxMs) this.failures += 1;
    return Math.round(nominal * (1 - this.jitter * this.random()));
  }

  /** After a success: the next delay is the initial one again. */
  reset(): void {
    this.failures = 0;
  }
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    signal?.addEventListener("abort", done, { once: true });
  });
}
