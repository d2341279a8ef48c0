// What an approval covers beyond the one operation it was asked for, by the
// rule's grantScope: once (nothing), session (the same operation again in the
// same client session) or window (the same operation from the same identity
// until the window ends). The same operation means the same Resource, policy,
// rule and fingerprint; anything else needs its own approval.
import type { ApprovalOutcome } from "./approval-service.js";

export interface GrantRequest {
  resource: string;
  policy: string;
  rule: string;
  fingerprint: string;
  /** The authenticated identity (user name) the operation runs as. */
  identity: string;
  /** The client session; without one, session grants cannot apply. */
  sessionID?: string;
}

interface Grant {
  /** Epoch ms after which the grant no longer applies; Infinity for a session grant, which ends with its session. */
  until: number;
  sessionID?: string;
}

export interface GrantCacheOptions {
  /** Beyond this many grants the oldest are forgotten (which only means asking again). */
  maxEntries?: number;
  now?: () => number;
}

const DEFAULT_MAX_ENTRIES = 10_000;

const operation = (request: GrantRequest): string[] => [request.identity, request.resource, request.policy, request.rule, request.fingerprint];
// JSON arrays, so no value can forge another key by containing a separator.
const sessionKey = (request: GrantRequest, sessionID: string): string => JSON.stringify(["session", sessionID, ...operation(request)]);
const windowKey = (request: GrantRequest): string => JSON.stringify(["window", ...operation(request)]);

export class GrantCache {
  private readonly grants = new Map<string, Grant>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: GrantCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  /** Remembers an Approved outcome as far as its scope reaches; anything else is not remembered. */
  record(request: GrantRequest, outcome: ApprovalOutcome): void {
    if (outcome.phase !== "Approved") return;
    if (outcome.grantScope === "session" && request.sessionID !== undefined) {
      this.store(sessionKey(request, request.sessionID), { until: Infinity, sessionID: request.sessionID });
    }
    if (outcome.grantScope === "window" && outcome.grantWindowMs !== undefined && outcome.grantWindowMs > 0) {
      // The window runs from the decision, not from when the gateway learnt of it.
      const until = (outcome.decidedAt?.getTime() ?? this.now()) + outcome.grantWindowMs;
      if (until > this.now()) this.store(windowKey(request), { until });
    }
  }

  /** Whether an earlier approval already covers this operation. */
  covers(request: GrantRequest): boolean {
    const keys = [windowKey(request), ...(request.sessionID !== undefined ? [sessionKey(request, request.sessionID)] : [])];
    return keys.some((key) => this.live(key));
  }

  /** Forgets the session's grants when it ends. */
  endSession(sessionID: string): void {
    for (const [key, grant] of this.grants) if (grant.sessionID === sessionID) this.grants.delete(key);
  }

  get size(): number {
    return this.grants.size;
  }

  private live(key: string): boolean {
    const grant = this.grants.get(key);
    if (!grant) return false;
    if (grant.until > this.now()) return true;
    this.grants.delete(key);
    return false;
  }

  private store(key: string, grant: Grant): void {
    this.grants.delete(key);
    if (this.grants.size >= this.maxEntries) this.evict();
    this.grants.set(key, grant);
  }

  private evict(): void {
    const now = this.now();
    for (const [key, grant] of this.grants) if (grant.until <= now) this.grants.delete(key);
    // Still full: the oldest grants go first (a Map iterates in insertion order).
    for (const key of this.grants.keys()) {
      if (this.grants.size < this.maxEntries) break;
      this.grants.delete(key);
    }
  }
}
