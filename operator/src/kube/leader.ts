// Leader election on a coordination.k8s.io/v1 Lease, so that of several
// operator replicas exactly one reconciles and issues credentials.
//
// A candidate polls the lease every retryPeriod and takes it when it is
// absent, released, or expired on the candidate's own clock (see lease.ts).
// Every write carries the resourceVersion last read, so of two candidates
// racing for an expired lease one gets 409 Conflict and stays a follower.
// The leader renews every retryPeriod; if it has not renewed for renewDeadline
// (shorter than the lease duration, so before anyone else may take over), or
// it sees another holder, it stops leading: the AbortSignal handed to
// onStartedLeading aborts, because a deposed leader must stop writing. It then
// competes again like any candidate. stop() releases the lease unless told
// not to, so a successor can take over at once.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { pause } from "./backoff.js";
import { describeError, isStatus } from "./client.js";
import { heldLeaseSpec, leaseExpiresAt, mayAcquire, observeLease, releasedLeaseSpec, type LeaseObservation } from "./lease.js";
import { stderrLogger, type KubeLogger } from "./logger.js";

/** The three Lease calls the elector makes; apiServerLeaseStore() is the real one. */
export interface LeaseStore {
  /** undefined when the lease does not exist. */
  read(namespace: string, name: string): Promise<V1Lease | undefined>;
  /** Throws a 409 when the lease exists already. */
  create(namespace: string, lease: V1Lease): Promise<V1Lease>;
  /** Throws a 409 when metadata.resourceVersion is not the current one. */
  replace(namespace: string, name: string, lease: V1Lease): Promise<V1Lease>;
}

export function apiServerLeaseStore(kubeConfig: KubeConfig): LeaseStore {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  return {
    read: async (namespace, name) => {
      try {
        return await api.readNamespacedLease({ name, namespace });
      } catch (error) {
        if (isStatus(error, 404)) return undefined;
        throw error;
      }
    },
    create: (namespace, body) => api.createNamespacedLease({ namespace, body }),
    replace: (namespace, name, body) => api.replaceNamespacedLease({ name, namespace, body }),
  };
}

export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  /** Unique per replica, e.g. the pod name. */
  identity: string;
  /** Needed unless a store is given. */
  kubeConfig?: KubeConfig;
  store?: LeaseStore;
  /** How long a lease holds without renewal; default 15. */
  leaseDurationSeconds?: number;
  /** A leader that has not renewed for this long steps down; default 10 s; must be below the lease duration. */
  renewDeadlineMs?: number;
  /** Between attempts to acquire or renew; default 2 s; must be below renewDeadlineMs. */
  retryPeriodMs?: number;
  /** Called on each new term; `signal` aborts when the term ends, and the work it started must stop writing then. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void;
  /** Called when the observed holder changes ("" when the lease is released). */
  onNewLeader?(identity: string): void;
  /** The clock (ms) for lease times and expiry; Date.now unless a test fixes it. */
  now?: () => number;
  logger?: KubeLogger;
}

export interface StopOptions {
  /** Give the lease up so a successor need not wait for it to expire; default true. */
  release?: boolean;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class LeaderElector {
  private readonly store: LeaseStore;
  private readonly leaseDurationSeconds: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private readonly logger: KubeLogger;
  private readonly lifecycle = new AbortController();
  private running: Promise<void> | undefined;
  /** The lease as last read or written by this candidate. */
  private lease: V1Lease | undefined;
  private observation: LeaseObservation | undefined;
  private term: AbortController | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private lastLeader: string | undefined;

  constructor(private readonly options: LeaderElectorOptions) {
    this.leaseDurationSeconds = options.leaseDurationSeconds ?? 15;
    this.renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = options.retryPeriodMs ?? 2_000;
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? stderrLogger;
    this.validate();
    if (options.store) this.store = options.store;
    else if (options.kubeConfig) this.store = apiServerLeaseStore(options.kubeConfig);
    else throw new Error(`leader election on lease ${this.leaseName}: give a kubeConfig or a store`);
  }

  private get leaseName(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  private validate(): void {
    const { namespace, name, identity } = this.options;
    const problems: string[] = [];
    if (!namespace || !name) problems.push("namespace and name are required");
    if (!identity) problems.push("identity is required");
    if (!Number.isInteger(this.leaseDurationSeconds) || this.leaseDurationSeconds < 1) problems.push("leaseDurationSeconds must be a whole number >= 1");
    if (!(this.renewDeadlineMs < this.leaseDurationSeconds * 1000)) problems.push("renewDeadlineMs must be shorter than the lease duration");
    if (!(this.retryPeriodMs > 0 && this.retryPeriodMs < this.renewDeadlineMs)) problems.push("retryPeriodMs must be positive and shorter than renewDeadlineMs");
    if (problems.length > 0) throw new Error(`leader election on lease ${namespace}/${name}: ${problems.join("; ")}`);
  }

  /** Whether this candidate leads now (its current term has not ended). */
  isLeader(): boolean {
    return this.term !== undefined && !this.term.signal.aborted;
  }

  /** The holder last observed on the lease ("" when released; undefined before the first read). */
  get leader(): string | undefined {
    return this.observation?.holder;
  }

  /** Starts competing for the lease in the background. */
  start(): void {
    if (this.running) throw new Error(`leader elector ${this.options.identity} on lease ${this.leaseName} is already started`);
    if (this.lifecycle.signal.aborted) throw new Error(`leader elector ${this.options.identity} on lease ${this.leaseName} was stopped; make a new one`);
    this.running = this.run(this.lifecycle.signal);
  }

  /** Stops competing: ends the current term (aborting its signal) and, by default, releases the lease. */
  async stop(options: StopOptions = {}): Promise<void> {
    this.lifecycle.abort();
    await this.running;
    this.stepDown("the elector is stopping");
    if (options.release ?? true) await this.release();
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const attemptStartedAt = performance.now();
      const acquired = await this.tryAcquireOrRenew();
      if (signal.aborted) break;
      if (acquired) {
        this.beginTerm(attemptStartedAt);
        await this.renewWhileLeading(signal);
      } else {
        await pause(this.candidateDelay(), signal);
      }
    }
  }

  /**
   * The jittered retry period, cut short to wake just after a held lease
   * expires, so takeover is prompt. An already expired lease (the last attempt
   * failed) waits the full period, so a failing API is not hammered.
   */
  private candidateDelay(): number {
    const jittered = this.retryPeriodMs * (1 + 0.2 * Math.random());
    if (!this.observation || this.observation.holder === "") return jittered;
    const untilExpiry = leaseExpiresAt(this.observation) - this.now() + 1;
    return untilExpiry > 0 ? Math.min(jittered, untilExpiry) : jittered;
  }

  private beginTerm(renewedAt: number): void {
    const term = new AbortController();
    this.term = term;
    this.armRenewDeadline(renewedAt);
    this.logger.info("became leader", { lease: this.leaseName, identity: this.options.identity });
    Promise.resolve()
      .then(() => this.options.onStartedLeading(term.signal))
      .catch((error: unknown) => this.logger.error("onStartedLeading failed", { lease: this.leaseName, error: describeError(error) }));
  }

  /**
   * Steps down renewDeadline after `renewedAt` (performance.now() at the start
   * of the last successful attempt: the renewTime others saw is no earlier).
   */
  private armRenewDeadline(renewedAt: number): void {
    clearTimeout(this.deadlineTimer);
    const remaining = this.renewDeadlineMs - (performance.now() - renewedAt);
    this.deadlineTimer = setTimeout(() => this.stepDown(`could not renew the lease for ${this.renewDeadlineMs} ms`), Math.max(0, remaining));
  }

  private async renewWhileLeading(signal: AbortSignal): Promise<void> {
    const term = this.term;
    if (!term) return;
    const stopOrLoss = AbortSignal.any([signal, term.signal]);
    while (!stopOrLoss.aborted) {
      await pause(this.retryPeriodMs, stopOrLoss);
      if (stopOrLoss.aborted) return;
      const attemptStartedAt = performance.now();
      if (await this.tryAcquireOrRenew()) {
        if (!term.signal.aborted) this.armRenewDeadline(attemptStartedAt);
      } else if (this.observation && this.observation.holder !== this.options.identity) {
        this.stepDown(`the lease is now held by "${this.observation.holder}"`);
      }
    }
  }

  private stepDown(reason: string): void {
    clearTimeout(this.deadlineTimer);
    const term = this.term;
    if (!term || term.signal.aborted) return;
    term.abort(new Error(`leadership of lease ${this.leaseName} ended: ${reason}`));
    this.logger.warn("stopped leading", { lease: this.leaseName, identity: this.options.identity, reason });
    try {
      this.options.onStoppedLeading?.();
    } catch (error) {
      this.logger.error("onStoppedLeading failed", { lease: this.leaseName, error: describeError(error) });
    }
  }

  private remember(lease: V1Lease, observedAt: number): void {
    this.lease = lease;
    this.observation = observeLease(this.observation, lease, observedAt, this.leaseDurationSeconds);
    if (this.observation.holder !== this.lastLeader) {
      this.lastLeader = this.observation.holder;
      this.options.onNewLeader?.(this.observation.holder);
    }
  }

  /** One attempt; true when this candidate holds the lease afterwards. Failures are logged, never thrown. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const call = <T>(promise: Promise<T>, what: string): Promise<T> => withTimeout(promise, this.renewDeadlineMs, `${what} lease ${this.leaseName}`);
    try {
      const current = await call(this.store.read(namespace, name), "reading");
      const now = this.now();
      if (!current) {
        const body: V1Lease = { metadata: { name, namespace }, spec: heldLeaseSpec(undefined, identity, this.leaseDurationSeconds, now) };
        this.remember(await call(this.store.create(namespace, body), "creating"), this.now());
        return true;
      }
      this.remember(current, now);
      if (!this.observation || !mayAcquire(this.observation, identity, now)) return false;
      // The resourceVersion read above makes this write conditional: if anyone wrote since, it fails with 409.
      const body: V1Lease = { ...current, spec: heldLeaseSpec(current.spec, identity, this.leaseDurationSeconds, now) };
      this.remember(await call(this.store.replace(namespace, name, body), "updating"), this.now());
      return true;
    } catch (error) {
      if (!isStatus(error, 409)) this.logger.warn("leader election attempt failed", { lease: this.leaseName, identity, error: describeError(error) });
      return false;
    }
  }

  private async release(): Promise<void> {
    const lease = this.lease;
    if (!lease || lease.spec?.holderIdentity !== this.options.identity) return;
    const body: V1Lease = { ...lease, spec: releasedLeaseSpec(lease.spec, this.now()) };
    try {
      await withTimeout(this.store.replace(this.options.namespace, this.options.name, body), this.renewDeadlineMs, `releasing lease ${this.leaseName}`);
      this.logger.info("released the lease", { lease: this.leaseName, identity: this.options.identity });
    } catch (error) {
      // 409: someone wrote the lease since, so it is no longer ours to release.
      if (!isStatus(error, 409)) this.logger.warn("could not release the lease", { lease: this.leaseName, error: describeError(error) });
    }
  }
}
