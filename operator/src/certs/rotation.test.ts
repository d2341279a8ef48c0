import { x509 } from "@portcullis/common/pki/x509";
import { applyRotation, bundleToPublish, planRotation, type CertificateMaterial, type RotationPolicy } from "./rotation.js";

const MINUTE = 60_000;
const policy: RotationPolicy = {
  caValidityDays: 90 / 1440, // 90 minutes
  servingValidityDays: 30 / 1440,
  renewFraction: 1 / 3,
  propagationMs: MINUTE,
  dnsNames: ["portcullis-operator.portcullis-system.svc"],
  ipAddresses: ["127.0.0.1"],
};

async function step(material: CertificateMaterial | undefined, at: Date): Promise<[string, CertificateMaterial | undefined]> {
  const planned = await planRotation(material, at, policy);
  return [planned, await applyRotation(planned, material, at, policy)];
}

/** Joined, every certificate's BEGIN and END lines are lines of their own, as Go's PEM decoder requires (or it skips them). */
function expectLineSafe(bundle: readonly string[]): void {
  const lines = bundle.join("").split("\n");
  expect(lines.filter((line) => line === "-----BEGIN CERTIFICATE-----")).toHaveLength(bundle.length);
  expect(lines.filter((line) => line === "-----END CERTIFICATE-----")).toHaveLength(bundle.length);
}

const issuerOf = (pem: string): string => new x509.X509Certificate(pem).issuer;
const subjectOf = (pem: string): string => new x509.X509Certificate(pem).subject;

describe("certificate rotation", () => {
  const start = Date.now();
  const at = (minutes: number): Date => new Date(start + minutes * MINUTE);

  it("creates, keeps, reissues and rotates with an overlap", async () => {
    const [created, material] = await step(undefined, at(0));
    expect(created).toBe("create");
    expect(material?.bundle).toEqual([`${material?.ca.certPem.trim()}\n`]);
    expect(await planRotation(material, at(1), policy)).toBe("none");

    // The serving certificate is renewed in the last third of its lifetime, by the same CA.
    const [reissue, reissued] = await step(material, at(20));
    expect(reissue).toBe("reissue-serving");
    expect(reissued?.serving.certPem).not.toBe(material?.serving.certPem);
    expect(reissued?.ca).toEqual(material?.ca);
    const [, renewed] = await step(reissued, at(45));

    // The CA nears its end: the next CA is staged into the bundle, the serving certificate is untouched.
    const [stage, staged] = await step(renewed, at(60));
    expect(stage).toBe("stage-ca");
    expect(staged?.bundle).toHaveLength(2);
    expect(staged?.serving).toEqual(renewed?.serving);
    expect(await planRotation(staged, at(60.5), policy)).toBe("none");

    // Not before the API server has been seen trusting it, however long it has been staged.
    expect(await planRotation(staged, at(61.5), policy)).toBe("none");
    const observed = staged?.next ? { ...staged, next: { ...staged.next, observedAt: at(60.2) } } : staged;
    // Nor before the propagation delay has passed.
    expect(await planRotation(observed, at(60.5), policy)).toBe("none");

    // Then the next CA is promoted; the old CA stays trusted until it expires.
    const [promote, promoted] = await step(observed, at(61.5));
    expect(promote).toBe("promote-ca");
    expect(promoted?.ca).toEqual(staged?.next?.ca);
    expect(promoted?.next).toBeUndefined();
    expect(issuerOf(promoted?.serving.certPem ?? "")).toBe(subjectOf(promoted?.ca.certPem ?? ""));
    expect(promoted?.bundle.map((pem) => pem.trim())).toEqual(expect.arrayContaining([material?.ca.certPem.trim(), promoted?.ca.certPem.trim()]));
    expectLineSafe(promoted?.bundle ?? []);

    // Once the old CA has expired, it leaves the bundle.
    const [, fresh] = await step(promoted, at(91));
    const [prune, pruned] = await step(fresh, at(91));
    expect(prune).toBe("prune-bundle");
    expect(pruned?.bundle.map((pem) => pem.trim())).toEqual([promoted?.ca.certPem.trim()]);
  });

  it("reissues the serving certificate when the names it must carry change", async () => {
    const material = await applyRotation("create", undefined, at(0), policy);
    expect(await planRotation(material, at(1), { ...policy, ipAddresses: ["127.0.0.1", "10.0.0.7"] })).toBe("reissue-serving");
  });

  it("publishes what is already published too, until it expires, every certificate on its own lines", async () => {
    const older = await applyRotation("create", undefined, at(0), policy);
    const newer = await applyRotation("create", undefined, at(10), policy);
    if (!older || !newer) throw new Error("no material");
    const published = [older.ca.certPem.trim(), newer.ca.certPem.trim()];
    const bundle = bundleToPublish([newer.ca.certPem], published, at(20));
    expect(bundle.map((pem) => pem.trim())).toEqual([newer.ca.certPem.trim(), older.ca.certPem.trim()]);
    expectLineSafe(bundle);
    expect(bundleToPublish([newer.ca.certPem], published, at(95)).map((pem) => pem.trim())).toEqual([newer.ca.certPem.trim()]);
  });
});
