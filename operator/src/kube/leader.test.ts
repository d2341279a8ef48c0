// The elector's loop against an in-memory lease with the API server's
// optimistic concurrency (409 on a stale resourceVersion), on short real
// timings: a 1 s lease, 500 ms renew deadline, 100 ms retry period.
import { ApiException, type V1Lease } from "@kubernetes/client-node";
import { LeaderElector, type LeaderElectorOptions, type LeaseStore } from "./leader.js";
import { silentLogger } from "./logger.js";

class MemoryLeaseStore implements LeaseStore {
  private stored: V1Lease | undefined;
  private version = 0;
  failing = false;
  attempts = 0;

  get lease(): V1Lease | undefined {
    return this.stored && this.wire(this.stored);
  }

  /** As over HTTP: a copy, with times as strings. */
  private wire(lease: V1Lease): V1Lease {
    return JSON.parse(JSON.stringify(lease)) as V1Lease;
  }

  private check(): void {
    this.attempts += 1;
    if (this.failing) throw new ApiException(503, "Service Unavailable", "", {});
  }

  private commit(lease: V1Lease): V1Lease {
    this.version += 1;
    this.stored = this.wire({ ...lease, metadata: { ...lease.metadata, resourceVersion: String(this.version) } });
    return this.wire(this.stored);
  }

  read(): Promise<V1Lease | undefined> {
    this.check();
    return Promise.resolve(this.lease);
  }

  create(_namespace: string, lease: V1Lease): Promise<V1Lease> {
    this.check();
    if (this.stored) return Promise.reject(new ApiException(409, "AlreadyExists", "", {}));
    return Promise.resolve(this.commit(lease));
  }

  replace(_namespace: string, _name: string, lease: V1Lease): Promise<V1Lease> {
    this.check();
    if (lease.metadata?.resourceVersion !== this.stored?.metadata?.resourceVersion) {
      return Promise.reject(new ApiException(409, "Conflict", "", {}));
    }
    return Promise.resolve(this.commit(lease));
  }

  /** Another party writes the lease behind the electors' backs. */
  steal(holderIdentity: string): void {
    const current = this.stored;
    if (!current) throw new Error("no lease");
    this.commit({ ...current, spec: { ...current.spec, holderIdentity, leaseDurationSeconds: 30 } });
  }
}

interface Candidate {
  elector: LeaderElector;
  terms: AbortSignal[];
  stopped: number;
}

function candidate(store: LeaseStore, identity: string, options: Partial<LeaderElectorOptions> = {}): Candidate {
  const result: Candidate = { elector: undefined as unknown as LeaderElector, terms: [], stopped: 0 };
  result.elector = new LeaderElector({
    namespace: "ops",
    name: "portcullis-operator",
    identity,
    store,
    leaseDurationSeconds: 1,
    renewDeadlineMs: 500,
    retryPeriodMs: 100,
    onStartedLeading: (signal) => void result.terms.push(signal),
    onStoppedLeading: () => void (result.stopped += 1),
    logger: silentLogger,
    ...options,
  });
  return result;
}

async function until(condition: () => boolean, what: string, timeoutMs = 3_000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return Date.now() - started;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const started: Candidate[] = [];
function startAll(...candidates: Candidate[]): void {
  for (const c of candidates) {
    c.elector.start();
    started.push(c);
  }
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((c) => c.elector.stop({ release: false })));
});

describe("LeaderElector", () => {
  it("creates the lease and leads; a second candidate follows", async () => {
    const store = new MemoryLeaseStore();
    const a = candidate(store, "a");
    const b = candidate(store, "b");
    startAll(a, b);
    await until(() => a.elector.isLeader() || b.elector.isLeader(), "a leader");
    await sleep(1_500);
    expect([a.elector.isLeader(), b.elector.isLeader()].filter(Boolean)).toHaveLength(1);
    const leader = a.elector.isLeader() ? a : b;
    expect(leader.terms).toHaveLength(1);
    expect(store.lease?.spec).toMatchObject({ holderIdentity: leader === a ? "a" : "b", leaseTransitions: 0, leaseDurationSeconds: 1 });
    expect(b.elector.leader).toBe(store.lease?.spec?.holderIdentity);
  });

  it("takes over from a crashed leader once the lease expires", async () => {
    const store = new MemoryLeaseStore();
    const a = candidate(store, "a");
    startAll(a);
    await until(() => a.elector.isLeader(), "a to lead");
    const b = candidate(store, "b");
    startAll(b);
    await sleep(300);
    await a.elector.stop({ release: false });
    const waited = await until(() => b.elector.isLeader(), "b to take over");
    // Expiry is judged from b's last observation of a renewal, up to a retry period before the crash.
    expect(waited).toBeGreaterThan(700);
    expect(waited).toBeLessThan(1_000 + 100 + 400);
    expect(store.lease?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
  });

  it("hands over at once when the leader releases the lease", async () => {
    const store = new MemoryLeaseStore();
    const a = candidate(store, "a");
    startAll(a);
    await until(() => a.elector.isLeader(), "a to lead");
    const b = candidate(store, "b");
    startAll(b);
    await sleep(200);
    await a.elector.stop();
    expect(a.terms[0]?.aborted).toBe(true);
    const waited = await until(() => b.elector.isLeader(), "b to take over");
    expect(waited).toBeLessThan(500);
  });

  it("steps down when it cannot renew within the renew deadline", async () => {
    const store = new MemoryLeaseStore();
    const a = candidate(store, "a");
    startAll(a);
    await until(() => a.elector.isLeader(), "a to lead");
    const term = a.terms[0] as AbortSignal;
    store.failing = true;
    const lostAfter = await until(() => term.aborted, "a to step down");
    expect(lostAfter).toBeLessThan(800);
    expect(a.stopped).toBe(1);
    expect(a.elector.isLeader()).toBe(false);

    // While the API keeps failing, the former leader retries at the retry period, not in a tight loop.
    const attemptsBefore = store.attempts;
    await sleep(1_000);
    expect(store.attempts - attemptsBefore).toBeLessThanOrEqual(12);

    // Once the API answers again, the lease (still showing "a") is renewed: a new term with a new signal.
    store.failing = false;
    await until(() => a.elector.isLeader(), "a to lead again");
    expect(a.terms).toHaveLength(2);
    expect(a.terms[1]?.aborted).toBe(false);
  });

  it("steps down at once when it sees another holder on the lease", async () => {
    const store = new MemoryLeaseStore();
    const a = candidate(store, "a");
    startAll(a);
    await until(() => a.elector.isLeader(), "a to lead");
    store.steal("intruder");
    const lostAfter = await until(() => a.terms[0]?.aborted === true, "a to step down");
    expect(lostAfter).toBeLessThan(400);
    expect(a.elector.leader).toBe("intruder");
  });

  it("refuses timings that would let two leaders overlap", () => {
    const store = new MemoryLeaseStore();
    expect(() => candidate(store, "a", { leaseDurationSeconds: 1, renewDeadlineMs: 1_000 })).toThrow(
      "leader election on lease ops/portcullis-operator: renewDeadlineMs must be shorter than the lease duration",
    );
    expect(() => candidate(store, "a", { retryPeriodMs: 500 })).toThrow("retryPeriodMs must be positive and shorter than renewDeadlineMs");
    expect(() => candidate(store, "")).toThrow("identity is required");
  });
});
