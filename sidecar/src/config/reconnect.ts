// When the gateway reconnects its configuration stream. Exponential backoff
// with jitter after failures, so a broker that is down is not hammered and
// many sidecars do not reconnect in step; a prompt (but still jittered)
// reconnect when the broker itself asks, e.g. because a replica shuts down.

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000 };

/**
 * The delay after `failures` consecutive failures (0 for the first): the
 * ceiling doubles from initialMs up to maxMs, and the delay is drawn from its
 * upper half ("equal jitter"), so it never collapses to zero.
 */
export function backoffDelay(failures: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(Math.max(failures, 0), 32));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface StreamOutcome {
  /** The stream delivered at least one valid bundle, so the broker was working. */
  delivered: boolean;
  /** The broker ended the stream on purpose and asked the sidecar to reconnect. */
  reconnectRequested: boolean;
}

export interface ReconnectPlan {
  /** Consecutive failures to carry into the next outcome. */
  failures: number;
  delayMs: number;
}

/** What to do after a stream ends, given the consecutive failures before it. */
export function planReconnect(failures: number, outcome: StreamOutcome, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): ReconnectPlan {
  if (outcome.reconnectRequested) return { failures: 0, delayMs: Math.round(random() * policy.initialMs) };
  const before = outcome.delivered ? 0 : failures;
  return { failures: before + 1, delayMs: backoffDelay(before, random, policy) };
}
