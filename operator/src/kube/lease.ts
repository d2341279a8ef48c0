// The rules of Lease-based leader election, as pure functions of the lease,
// the candidate and a time, so they can be tested with a fake clock.
//
// Expiry is judged on the candidate's own clock: a lease counts as expired
// when it has not changed for leaseDurationSeconds since this candidate last
// saw it change. The renewTime written by the holder is never compared with
// the local clock, so clock skew between machines cannot make a live leader
// look dead (the same rule as client-go's leaderelection).
import { V1MicroTime, type V1Lease, type V1LeaseSpec } from "@kubernetes/client-node";

/** What a candidate remembers of the lease: its version, holder and when the version was first seen. */
export interface LeaseObservation {
  resourceVersion: string;
  holder: string;
  leaseDurationSeconds: number;
  /** Local clock (ms) when this resourceVersion was first observed. */
  observedAt: number;
}

/**
 * The observation after seeing `lease` at `now`: unchanged (and so keeping
 * its observedAt) when the lease has the version seen before.
 */
export function observeLease(previous: LeaseObservation | undefined, lease: V1Lease, now: number, defaultDurationSeconds: number): LeaseObservation {
  const resourceVersion = lease.metadata?.resourceVersion ?? "";
  if (previous && previous.resourceVersion === resourceVersion) return previous;
  return {
    resourceVersion,
    holder: lease.spec?.holderIdentity ?? "",
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? defaultDurationSeconds,
    observedAt: now,
  };
}

/** Local time (ms) after which the observed holder is presumed gone. */
export function leaseExpiresAt(observation: LeaseObservation): number {
  return observation.observedAt + observation.leaseDurationSeconds * 1000;
}

export function isLeaseExpired(observation: LeaseObservation, now: number): boolean {
  return now > leaseExpiresAt(observation);
}

/** A candidate may write the lease when it holds it, nobody does (released), or the holder's lease expired. */
export function mayAcquire(observation: LeaseObservation, identity: string, now: number): boolean {
  return observation.holder === "" || observation.holder === identity || isLeaseExpired(observation, now);
}

/**
 * The spec `identity` writes to take or renew the lease at `now`: a renewal
 * keeps acquireTime and leaseTransitions, a takeover starts a new term and
 * counts one more transition.
 */
export function heldLeaseSpec(current: V1LeaseSpec | undefined, identity: string, leaseDurationSeconds: number, now: number): V1LeaseSpec {
  const renewTime = new V1MicroTime(now);
  const transitions = current?.leaseTransitions ?? 0;
  if (current && current.holderIdentity === identity) {
    return { ...current, leaseDurationSeconds, renewTime, acquireTime: current.acquireTime ?? renewTime };
  }
  return {
    ...current,
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: renewTime,
    renewTime,
    leaseTransitions: current ? transitions + 1 : 0,
  };
}

/** A lease given up on a clean stop: no holder and a 1 s duration, so a successor takes it at once. */
export function releasedLeaseSpec(current: V1LeaseSpec | undefined, now: number): V1LeaseSpec {
  const time = new V1MicroTime(now);
  return { ...current, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: time, renewTime: time, leaseTransitions: current?.leaseTransitions ?? 0 };
}
