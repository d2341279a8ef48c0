import type { V1Lease } from "@kubernetes/client-node";
import { heldLeaseSpec, isLeaseExpired, mayAcquire, observeLease, releasedLeaseSpec } from "./lease.js";

const T0 = Date.parse("2030-01-01T00:00:00Z");

function lease(resourceVersion: string, holderIdentity: string, renewTime: string, leaseDurationSeconds = 15): V1Lease {
  // As the API server sends it: times are strings on the wire.
  return JSON.parse(
    JSON.stringify({ metadata: { name: "portcullis", namespace: "ops", resourceVersion }, spec: { holderIdentity, leaseDurationSeconds, renewTime, leaseTransitions: 2 } }),
  ) as V1Lease;
}

describe("lease expiry on the candidate's clock", () => {
  it("counts from when the candidate first saw the current version, not from renewTime", () => {
    // The holder's clock is an hour behind: its renewTime looks stale, yet it renewed just now.
    const seen = observeLease(undefined, lease("10", "a", "2029-12-31T23:00:00.000000Z"), T0, 15);
    expect(isLeaseExpired(seen, T0 + 14_000)).toBe(false);
    expect(isLeaseExpired(seen, T0 + 15_001)).toBe(true);
  });

  it("keeps the first observation time while the version does not change", () => {
    const first = observeLease(undefined, lease("10", "a", "x"), T0, 15);
    const again = observeLease(first, lease("10", "a", "x"), T0 + 10_000, 15);
    expect(again.observedAt).toBe(T0);
    expect(isLeaseExpired(again, T0 + 16_000)).toBe(true);
  });

  it("restarts the count when the holder renews (a new version)", () => {
    const first = observeLease(undefined, lease("10", "a", "x"), T0, 15);
    const renewed = observeLease(first, lease("11", "a", "y"), T0 + 10_000, 15);
    expect(isLeaseExpired(renewed, T0 + 16_000)).toBe(false);
    expect(isLeaseExpired(renewed, T0 + 25_001)).toBe(true);
  });

  it("uses the duration the holder wrote", () => {
    const seen = observeLease(undefined, lease("10", "a", "x", 1), T0, 15);
    expect(isLeaseExpired(seen, T0 + 1_001)).toBe(true);
  });
});

describe("mayAcquire", () => {
  const seen = observeLease(undefined, lease("10", "a", "x"), T0, 15);

  it("lets the holder renew and others wait until expiry", () => {
    expect(mayAcquire(seen, "a", T0 + 1_000)).toBe(true);
    expect(mayAcquire(seen, "b", T0 + 1_000)).toBe(false);
    expect(mayAcquire(seen, "b", T0 + 15_001)).toBe(true);
  });

  it("lets anyone take a released lease at once", () => {
    const released = observeLease(seen, lease("11", "", "x", 1), T0, 15);
    expect(mayAcquire(released, "b", T0)).toBe(true);
  });
});

describe("lease specs", () => {
  it("starts a new term on takeover and counts the transition", () => {
    const previous = lease("10", "a", "x").spec;
    const spec = heldLeaseSpec(previous, "b", 15, T0);
    expect(spec).toMatchObject({ holderIdentity: "b", leaseDurationSeconds: 15, leaseTransitions: 3 });
    expect(JSON.parse(JSON.stringify(spec))).toMatchObject({ acquireTime: "2030-01-01T00:00:00.000000Z", renewTime: "2030-01-01T00:00:00.000000Z" });
  });

  it("keeps acquireTime and transitions on renewal", () => {
    const previous = { ...lease("10", "a", "x").spec, acquireTime: "2029-12-31T00:00:00.000000Z" as unknown as Date };
    const spec = JSON.parse(JSON.stringify(heldLeaseSpec(previous, "a", 15, T0 + 1))) as Record<string, unknown>;
    expect(spec).toMatchObject({ holderIdentity: "a", leaseTransitions: 2, acquireTime: "2029-12-31T00:00:00.000000Z", renewTime: "2030-01-01T00:00:00.001000Z" });
  });

  it("creates a lease with no transitions", () => {
    expect(heldLeaseSpec(undefined, "a", 15, T0).leaseTransitions).toBe(0);
  });

  it("releases with no holder and a one-second duration", () => {
    expect(releasedLeaseSpec(lease("10", "a", "x").spec, T0)).toMatchObject({ holderIdentity: "", leaseDurationSeconds: 1, leaseTransitions: 2 });
  });
});
