// Leader election on a real coordination.k8s.io/v1 Lease: of two candidates
// exactly one leads; a crashed leader is replaced once its lease expires, a
// stopped one at once; and a leader that is deposed (its lease taken, or its
// renewals refused) sees its term's signal abort, so its work stops writing.
// Short timings keep the suite quick: a 3 s lease, 2 s renew deadline, 500 ms retry period.
import { CoordinationV1Api, type V1Lease } from "@kubernetes/client-node";
import { loadKubeConfig } from "@portcullis/operator/kube/client";
import { LeaderElector, type LeaderElectorOptions } from "@portcullis/operator/kube/leader";
import { silentLogger } from "@portcullis/operator/kube/logger";
import { controlPlane, kubectlOk } from "./jest/environment.js";

const NAMESPACE = "leader-e2e";
const LEASE_SECONDS = 3;
const RETRY_MS = 500;

const admin = (): CoordinationV1Api => loadKubeConfig(controlPlane().state.adminKubeconfig).makeApiClient(CoordinationV1Api);
const readLease = (name: string): Promise<V1Lease> => admin().readNamespacedLease({ name, namespace: NAMESPACE });

interface Candidate {
  identity: string;
  elector: LeaderElector;
  terms: AbortSignal[];
  stoppedLeading: number;
}

const running: Candidate[] = [];

function candidate(lease: string, identity: string, options: Partial<LeaderElectorOptions> = {}): Candidate {
  const c: Candidate = { identity, elector: undefined as unknown as LeaderElector, terms: [], stoppedLeading: 0 };
  c.elector = new LeaderElector({
    namespace: NAMESPACE,
    name: lease,
    identity,
    kubeConfig: loadKubeConfig(controlPlane().state.adminKubeconfig),
    leaseDurationSeconds: LEASE_SECONDS,
    renewDeadlineMs: 2_000,
    retryPeriodMs: RETRY_MS,
    onStartedLeading: (signal) => void c.terms.push(signal),
    onStoppedLeading: () => void (c.stoppedLeading += 1),
    logger: silentLogger,
    ...options,
  });
  running.push(c);
  c.elector.start();
  return c;
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Two candidates on one lease, once one of them leads: [leader, follower]. */
async function electOne(lease: string): Promise<[Candidate, Candidate]> {
  const a = candidate(lease, `${lease}-a`);
  const b = candidate(lease, `${lease}-b`);
  await until(() => a.elector.isLeader() || b.elector.isLeader(), "a leader");
  return a.elector.isLeader() ? [a, b] : [b, a];
}

beforeAll(async () => {
  await kubectlOk(["create", "namespace", NAMESPACE]);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((c) => c.elector.stop({ release: false })));
});

describe("leader election on a Lease", () => {
  it("lets exactly one of two candidates lead, and keeps it leading", async () => {
    const [leader, follower] = await electOne("one-leader");
    for (let i = 0; i < 6; i++) {
      await sleep(RETRY_MS);
      expect([leader.elector.isLeader(), follower.elector.isLeader()]).toEqual([true, false]);
    }
    const lease = await readLease("one-leader");
    expect(lease.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: LEASE_SECONDS, leaseTransitions: 0 });
    expect(follower.elector.leader).toBe(leader.identity);
    expect(leader.terms).toHaveLength(1);
    expect(follower.terms).toHaveLength(0);
  });

  it("replaces a crashed leader within the lease duration plus a retry period", async () => {
    const [leader, follower] = await electOne("crash");
    await sleep(1_000);
    // A crash: the leader stops renewing and does not release.
    await leader.elector.stop({ release: false });
    expect((await readLease("crash")).spec?.holderIdentity).toBe(leader.identity);
    const waited = await until(() => follower.elector.isLeader(), "the follower to take over");
    // Measured from the crash, which can come up to a retry period after the renewal the follower last saw; plus API latency.
    expect(waited).toBeLessThan(LEASE_SECONDS * 1000 + RETRY_MS + 700);
    expect(waited).toBeGreaterThan(LEASE_SECONDS * 1000 - RETRY_MS - 300);
    expect((await readLease("crash")).spec).toMatchObject({ holderIdentity: follower.identity, leaseTransitions: 1 });
  });

  it("hands over at once when the leader stops cleanly and releases the lease", async () => {
    const [leader, follower] = await electOne("release");
    await sleep(1_000);
    await leader.elector.stop();
    expect(leader.terms[0]?.aborted).toBe(true);
    expect(leader.stoppedLeading).toBe(1);
    const waited = await until(() => follower.elector.isLeader(), "the follower to take over");
    expect(waited).toBeLessThan(2 * RETRY_MS + 500);
    expect((await readLease("release")).spec).toMatchObject({ holderIdentity: follower.identity, leaseTransitions: 1, leaseDurationSeconds: LEASE_SECONDS });
  });

  it("aborts a deposed leader's signal when someone else takes the lease", async () => {
    const [leader, follower] = await electOne("deposed");
    const term = leader.terms[0] as AbortSignal;
    // Another party (an administrator, a replica with a skewed view) writes itself in as holder.
    const api = admin();
    const lease = await api.readNamespacedLease({ name: "deposed", namespace: NAMESPACE });
    await api.replaceNamespacedLease({ name: "deposed", namespace: NAMESPACE, body: { ...lease, spec: { ...lease.spec, holderIdentity: "intruder", leaseDurationSeconds: 60 } } });

    await until(() => term.aborted, "the deposed leader's signal to abort", 2 * RETRY_MS + 2_000);
    expect(leader.stoppedLeading).toBe(1);
    expect(leader.elector.isLeader()).toBe(false);
    expect(String((term.reason as Error).message)).toContain('held by "intruder"');
    await sleep(2 * RETRY_MS);
    expect((await readLease("deposed")).spec?.holderIdentity).toBe("intruder");
    expect([leader.elector.isLeader(), follower.elector.isLeader()]).toEqual([false, false]);
  });

  it("aborts a leader's signal when it cannot renew within the renew deadline", async () => {
    // A candidate whose right to write leases is taken away while it leads.
    const user = "lease-candidate";
    await kubectlOk(["create", "role", "lease-writer", "-n", NAMESPACE, "--verb=get,create,update", "--resource=leases.coordination.k8s.io"]);
    await kubectlOk(["create", "rolebinding", "lease-writer", "-n", NAMESPACE, "--role=lease-writer", `--user=${user}`]);
    const kubeConfig = loadKubeConfig(await controlPlane().kubeconfigFor(user));
    const leader = candidate("cut-off", "cut-off-a", { kubeConfig });
    await until(() => leader.elector.isLeader(), "the candidate to lead");
    const term = leader.terms[0] as AbortSignal;

    await kubectlOk(["delete", "rolebinding", "lease-writer", "-n", NAMESPACE]);
    const lostAfter = await until(() => term.aborted, "the leader to step down", 10_000);
    expect(lostAfter).toBeLessThan(2_000 + RETRY_MS + 1_500);
    expect(String((term.reason as Error).message)).toContain("could not renew the lease");
    expect(leader.stoppedLeading).toBe(1);
    expect(leader.elector.isLeader()).toBe(false);
  });
});
