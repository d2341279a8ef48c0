// The wait for a decision, shared by the broker and kubeconfig modes: read the
// request until it is decided or the deadline passes, riding out transient
// failures (a broker restart, an API server blip) with backoff, because a
// reviewer's decision should not be lost to one failed read. A permanent
// failure ends the wait with an error, and the operation is refused.
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_BACKOFF, backoffDelay, type BackoffPolicy } from "../config/reconnect.js";
import { expiredOutcome, outcomeFromView, type ApprovalOutcome, type ApprovalView } from "./approval-service.js";

export interface DecisionSource {
  /** The request's current state; it may block up to waitMs (a long-poll) but not longer. */
  read(waitMs: number, signal?: AbortSignal): Promise<ApprovalView>;
  /** Whether a failed read is worth repeating. */
  isTransient(error: unknown): boolean;
  /** Pause after a Pending answer before reading again. */
  pauseMs: number;
  /** Delays between retries of transient failures. */
  backoff?: BackoffPolicy;
  now?: () => Date;
  random?: () => number;
}

export async function waitForDecision(source: DecisionSource, deadline: Date, signal?: AbortSignal): Promise<ApprovalOutcome> {
  const now = source.now ?? ((): Date => new Date());
  const random = source.random ?? Math.random;
  const timeLeft = (): number => deadline.getTime() - now().getTime();
  let failures = 0;
  for (let left = timeLeft(); left > 0; left = timeLeft()) {
    signal?.throwIfAborted();
    let pauseMs = source.pauseMs;
    try {
      const outcome = outcomeFromView(await source.read(left, signal));
      if (outcome) return outcome;
      failures = 0;
    } catch (error) {
      if (signal?.aborted || !source.isTransient(error)) throw error;
      pauseMs = backoffDelay(failures++, random, source.backoff ?? DEFAULT_BACKOFF);
    }
    await sleep(Math.max(0, Math.min(pauseMs, timeLeft())), undefined, signal ? { signal } : {});
  }
  return expiredOutcome(deadline);
}
