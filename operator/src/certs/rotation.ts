// The webhook and broker certificates, as data: a CA, a serving certificate it
// signed, and the CA bundle clients trust. Rotation is planned from the
// material and the clock alone (a pure function), so every replica reaches
// the same decision and the tests need no waiting.
//
// A CA rotation has two steps so no client is cut off: first the next CA is
// staged into the bundle (clients learn to trust it while the serving
// certificate still chains to the current CA); once the API server has been
// seen trusting it (probe.ts) and the propagation delay has passed (sidecars
// read the bundle from a ConfigMap volume), it is promoted and the serving
// certificate is reissued by it. The previous CA stays in the bundle until it
// expires, so a replica that has not yet picked up the promotion keeps
// working.
import { x509 } from "@portcullis/common/pki/x509";
import { createCertificateAuthority, loadCertificateAuthority, type KeyPairPem } from "@portcullis/common/pki/pki";

export interface CertificateMaterial {
  ca: KeyPairPem;
  serving: KeyPairPem;
  /** PEM certificates clients should trust: the current CA, a staged next CA, previous CAs not yet expired. */
  bundle: string[];
  /** A staged CA; `observedAt`: when the API server was seen trusting it (probe.ts). */
  next?: { ca: KeyPairPem; stagedAt: Date; observedAt?: Date };
}

export interface RotationPolicy {
  caValidityDays: number;
  servingValidityDays: number;
  /** Stage a new CA when the current one has less than this fraction of its lifetime left. */
  renewFraction: number;
  /** How long a staged CA sits in the bundle before it signs anything. */
  propagationMs: number;
  dnsNames: string[];
  ipAddresses: string[];
}

export type RotationStep = "create" | "promote-ca" | "stage-ca" | "reissue-serving" | "prune-bundle" | "none";

const DAY_MS = 86_400_000;

function validity(pem: string): { notBefore: number; notAfter: number } {
  const cert = new x509.X509Certificate(pem);
  return { notBefore: cert.notBefore.getTime(), notAfter: cert.notAfter.getTime() };
}

function nearExpiry(pem: string, now: Date, fraction: number): boolean {
  const { notBefore, notAfter } = validity(pem);
  return notAfter - now.getTime() < (notAfter - notBefore) * fraction;
}

function servingNamesMatch(servingPem: string, policy: RotationPolicy): boolean {
  const san = new x509.X509Certificate(servingPem).getExtension(x509.SubjectAlternativeNameExtension);
  const names = (san?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value}`).sort();
  const wanted = [...policy.dnsNames.map((d) => `dns:${d}`), ...policy.ipAddresses.map((i) => `ip:${i}`)].sort();
  return JSON.stringify(names) === JSON.stringify(wanted);
}

async function signedBy(certPem: string, caPem: string): Promise<boolean> {
  const ca = new x509.X509Certificate(caPem);
  return new x509.X509Certificate(certPem).verify({ publicKey: await ca.publicKey.export(), signatureOnly: true });
}

/** What to do next with this material at this time; "none" when it is healthy. */
export async function planRotation(material: CertificateMaterial | undefined, now: Date, policy: RotationPolicy): Promise<RotationStep> {
  if (!material) return "create";
  if (material.next?.observedAt && now.getTime() - material.next.stagedAt.getTime() >= policy.propagationMs) return "promote-ca";
  if (!material.next && nearExpiry(material.ca.certPem, now, policy.renewFraction)) return "stage-ca";
  const servingOk =
    !nearExpiry(material.serving.certPem, now, policy.renewFraction) &&
    servingNamesMatch(material.serving.certPem, policy) &&
    (await signedBy(material.serving.certPem, material.ca.certPem));
  if (!servingOk) return "reissue-serving";
  if (material.bundle.some((pem) => validity(pem).notAfter <= now.getTime())) return "prune-bundle";
  return "none";
}

/** A serving certificate from `ca` for the policy's names. */
export async function issueServing(ca: KeyPairPem, policy: RotationPolicy, now: Date): Promise<KeyPairPem> {
  return loadCertificateAuthority(ca).issue({
    issuedAt: now,
    commonName: policy.dnsNames[0] ?? "portcullis-operator",
    dnsNames: policy.dnsNames,
    ipAddresses: policy.ipAddresses,
    usage: "server",
    validDays: policy.servingValidityDays,
  });
}

/**
 * Each certificate on lines of its own, ending in a newline: a bundle is the certificates joined, and a PEM
 * decoder (Go's, in the API server) skips a certificate whose BEGIN line does not start a line, together with
 * the one whose END line it follows.
 */
const onItsOwnLines = (pem: string): string => `${pem.trim()}\n`;

function unexpired(bundle: readonly string[], now: Date): string[] {
  return [...new Set(bundle.map(onItsOwnLines))].filter((pem) => validity(pem).notAfter > now.getTime());
}

/**
 * The bundle to publish where `published` is already: ours, plus whatever published CA has not expired. A
 * replica that read an older Secret (or a pass that overlapped a newer one) must never take out a CA that a
 * newer state staged and the API server may already be checking certificates against; CAs only leave the
 * webhook configurations by expiring, when no certificate can chain to them anyway.
 */
export function bundleToPublish(ours: readonly string[], published: readonly string[], now: Date): string[] {
  return unexpired([...ours, ...published], now);
}

/** Carries out one step and returns the new material. */
export async function applyRotation(
  step: RotationStep,
  material: CertificateMaterial | undefined,
  now: Date,
  policy: RotationPolicy,
): Promise<CertificateMaterial | undefined> {
  switch (step) {
    case "none":
      return material;
    case "create": {
      const authority = await createCertificateAuthority("portcullis-operator-ca", policy.caValidityDays, now);
      const ca = { certPem: authority.certPem, keyPem: authority.keyPem };
      return { ca, serving: await issueServing(ca, policy, now), bundle: [onItsOwnLines(ca.certPem)] };
    }
  }
  if (!material) throw new Error(`cannot ${step} without certificate material`);
  switch (step) {
    case "stage-ca": {
      const authority = await createCertificateAuthority("portcullis-operator-ca", policy.caValidityDays, now);
      const next = { ca: { certPem: authority.certPem, keyPem: authority.keyPem }, stagedAt: now };
      return { ...material, next, bundle: unexpired([...material.bundle, next.ca.certPem], now) };
    }
    case "promote-ca": {
      const ca = material.next?.ca ?? material.ca;
      return { ca, serving: await issueServing(ca, policy, now), bundle: unexpired([ca.certPem, ...material.bundle], now) };
    }
    case "reissue-serving":
      return { ...material, serving: await issueServing(material.ca, policy, now) };
    case "prune-bundle":
      return { ...material, bundle: unexpired(material.bundle, now) };
  }
}

export function policyFromDays(caValidityDays: number, servingValidityDays: number, names: { dnsNames: string[]; ipAddresses: string[] }): RotationPolicy {
  return { caValidityDays, servingValidityDays, renewFraction: 1 / 3, propagationMs: Math.min(caValidityDays * DAY_MS * 0.05, 5 * 60_000), ...names };
}
