// A keyed work queue: a key enqueued many times is processed once, one at a
// time, and a failed key is retried with exponential backoff. Controllers use
// it so a burst of watch events becomes one reconcile per object.
import type { Logger } from "../log.js";

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly failures = new Map<string, number>();
  private running = false;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly reconcile: (key: string) => Promise<void>,
    private readonly log: Logger,
  ) {}

  add(key: string): void {
    if (this.stopped) return;
    this.pending.add(key);
    if (!this.running) void this.drain();
  }

  /** Adds the key after delayMs; the timer does not keep the process alive. */
  addAfter(key: string, delayMs: number): void {
    setTimeout(() => this.add(key), Math.max(0, Math.min(delayMs, 2 ** 31 - 1))).unref();
  }

  stop(): void {
    this.stopped = true;
    this.pending.clear();
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (!this.stopped && this.pending.size > 0) {
      const key = this.pending.values().next().value as string;
      this.pending.delete(key);
      try {
        await this.reconcile(key);
        this.failures.delete(key);
      } catch (error) {
        const attempt = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, attempt);
        const delay = Math.min(100 * 2 ** attempt, 60_000);
        this.log.warn("reconcile failed; will retry", { queue: this.name, key, attempt, delayMs: delay, error: (error as Error).message });
        this.addAfter(key, delay);
      }
    }
    this.running = false;
  }
}

export const keyOf = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ""}/${name ?? ""}`;

export function splitKey(key: string): [string, string] {
  const slash = key.indexOf("/");
  return [key.slice(0, slash), key.slice(slash + 1)];
}
