// Keeps the operator's CA and serving certificate in a Secret, rotates them
// before expiry (see rotation.ts), publishes the CA bundle into the webhook
// configurations, and probes until the API server is seen trusting a staged
// CA (probe.ts) before it may be promoted. Every replica runs it: writes use
// the Secret's resourceVersion, so when two replicas race, one wins and the
// other adopts its result on the next pass.
import { X509Certificate } from "node:crypto";
import { EventEmitter } from "node:events";
import type { AdmissionregistrationV1Api, CoreV1Api, V1Secret } from "@kubernetes/client-node";
import { isStatus } from "../kube/client.js";
import type { Logger } from "../log.js";
import type { KeyPairPem } from "@portcullis/common/pki/pki";
import { caFingerprint, observeTrustedCa } from "./probe.js";
import { applyRotation, bundleToPublish, issueServing, planRotation, type CertificateMaterial, type RotationPolicy } from "./rotation.js";

const STAGED_AT = "portcullis.dev/next-ca-staged-at";
const OBSERVED_AT = "portcullis.dev/next-ca-observed-at";
/** A staged CA still unconfirmed after this many propagation delays is logged as a warning. */
const STALLED_AFTER_PROPAGATIONS = 10;

const caExpiry = (material: CertificateMaterial): string => new X509Certificate(material.ca.certPem).validTo;
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

export interface CertificateManagerOptions {
  namespace: string;
  secretName: string;
  /** Webhook configurations (mutating and validating) whose every webhook gets the bundle as caBundle. */
  mutatingWebhooks: string[];
  validatingWebhooks: string[];
  policy: RotationPolicy;
  core: CoreV1Api;
  admission: AdmissionregistrationV1Api;
  log: Logger;
  now?: () => Date;
}

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const unb64 = (text: string | undefined): string => Buffer.from(text ?? "", "base64").toString("utf8");

export function materialFromSecret(secret: V1Secret): CertificateMaterial | undefined {
  const data = secret.data ?? {};
  const [ca, caKey, tls, tlsKey] = [data["ca.crt"], data["ca.key"], data["tls.crt"], data["tls.key"]].map(unb64);
  if (!ca || !caKey || !tls || !tlsKey) return undefined;
  const next = stagedCa(secret);
  return {
    ca: { certPem: ca, keyPem: caKey },
    serving: { certPem: tls, keyPem: tlsKey },
    bundle: unb64(data["ca-bundle.crt"]).match(PEM_CERT)?.map((pem) => pem.trim() + "\n") ?? [ca],
    ...(next ? { next } : {}),
  };
}

function stagedCa(secret: V1Secret): CertificateMaterial["next"] {
  const annotations = secret.metadata?.annotations ?? {};
  const [certPem, keyPem] = [secret.data?.["next-ca.crt"], secret.data?.["next-ca.key"]].map(unb64);
  const stagedAt = annotations[STAGED_AT];
  const observedAt = annotations[OBSERVED_AT];
  if (!certPem || !keyPem || !stagedAt) return undefined;
  return { ca: { certPem, keyPem }, stagedAt: new Date(stagedAt), ...(observedAt ? { observedAt: new Date(observedAt) } : {}) };
}

function secretFromMaterial(base: V1Secret, material: CertificateMaterial): V1Secret {
  const annotations = { ...(base.metadata?.annotations ?? {}) };
  delete annotations[STAGED_AT];
  delete annotations[OBSERVED_AT];
  if (material.next) annotations[STAGED_AT] = material.next.stagedAt.toISOString();
  if (material.next?.observedAt) annotations[OBSERVED_AT] = material.next.observedAt.toISOString();
  return {
    ...base,
    type: "Opaque",
    metadata: { ...base.metadata, annotations },
    data: {
      "ca.crt": b64(material.ca.certPem),
      "ca.key": b64(material.ca.keyPem),
      "tls.crt": b64(material.serving.certPem),
      "tls.key": b64(material.serving.keyPem),
      "ca-bundle.crt": b64(material.bundle.join("")),
      ...(material.next ? { "next-ca.crt": b64(material.next.ca.certPem), "next-ca.key": b64(material.next.ca.keyPem) } : {}),
    },
  };
}

/** Emits "changed" with the new material whenever the serving certificate, the bundle or the probe certificate changes. */
export class CertificateManager extends EventEmitter<{ changed: [CertificateMaterial] }> {
  private current?: CertificateMaterial;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** What the CA probe listener serves: a certificate from the staged CA, else the serving certificate. */
  private probe?: { keys: KeyPairPem; ca: string };

  constructor(private readonly options: CertificateManagerOptions) {
    super();
  }

  get material(): CertificateMaterial | undefined {
    return this.current;
  }

  get probeServing(): KeyPairPem | undefined {
    return this.probe?.keys;
  }

  /** The fingerprint of the CA the probe listener's certificate chains to. */
  get probeCa(): string {
    return this.probe?.ca ?? "";
  }

  /**
   * Reconciles until material exists (so servers can start), then intervalMs after each pass ends: passes never
   * overlap, or a slow one could publish and serve older material after a newer one.
   */
  async start(intervalMs: number): Promise<CertificateMaterial> {
    for (let attempt = 0; !this.current; attempt++) {
      await this.reconcileSafely();
      if (!this.current) await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5_000)));
    }
    const next = (): void => {
      this.timer = setTimeout(() => void this.reconcileSafely().then(() => this.stopped || next()), intervalMs);
    };
    next();
    return this.current;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async reconcileSafely(): Promise<void> {
    try {
      await this.reconcile();
    } catch (error) {
      this.options.log.error("certificate reconcile failed", { error: (error as Error).message });
    }
  }

  /** One pass: read, rotate if due, write, publish, then probe a staged CA the API server was not yet seen trusting. */
  async reconcile(): Promise<void> {
    const { core, namespace, secretName, policy, log } = this.options;
    const now = (this.options.now ?? (() => new Date()))();
    let secret: V1Secret | undefined;
    try {
      secret = await core.readNamespacedSecret({ name: secretName, namespace });
    } catch (error) {
      if (!isStatus(error, 404)) throw error;
    }
    let material = secret ? materialFromSecret(secret) : undefined;
    const step = await planRotation(material, now, policy);
    if (step !== "none") {
      material = await applyRotation(step, material, now, policy);
      if (!material) return;
      secret = await this.write(secret, material);
      if (!secret) return;
      log.info("certificates rotated", { step, secret: `${namespace}/${secretName}` });
    }
    if (!material || !secret) return;
    await this.publishBundle(material.bundle, now);
    await this.adopt(material);
    const next = material.next;
    if (!next || next.observedAt) return;
    const problem = await observeTrustedCa(core, namespace, next.ca.certPem);
    if (problem !== undefined) {
      // A probe that keeps failing stalls the rotation until the current CA expires, and with it every webhook call.
      const overdue = now.getTime() - next.stagedAt.getTime() > STALLED_AFTER_PROPAGATIONS * policy.propagationMs;
      log[overdue ? "warn" : "info"]("waiting for the API server to trust the staged CA", { reason: problem, stagedAt: next.stagedAt.toISOString(), currentCaExpires: caExpiry(material) });
      return;
    }
    if (await this.write(secret, { ...material, next: { ...next, observedAt: now } })) log.info("the API server trusts the staged CA", { secret: `${namespace}/${secretName}` });
  }

  /** Writes the material; undefined when another replica wrote first (its result is adopted next pass). */
  private async write(secret: V1Secret | undefined, material: CertificateMaterial): Promise<V1Secret | undefined> {
    const { core, namespace, secretName } = this.options;
    const body = secretFromMaterial(secret ?? { apiVersion: "v1", kind: "Secret", metadata: { name: secretName, namespace } }, material);
    try {
      return secret ? await core.replaceNamespacedSecret({ name: secretName, namespace, body }) : await core.createNamespacedSecret({ namespace, body });
    } catch (error) {
      if (isStatus(error, 409)) return undefined;
      throw error;
    }
  }

  /** Serves this material from now on: the probe listener's certificate is ready before anyone hears of the change. */
  private async adopt(material: CertificateMaterial): Promise<void> {
    const probeCa = caFingerprint((material.next?.ca ?? material.ca).certPem);
    const probeChanged = this.probe?.ca !== probeCa;
    if (probeChanged) {
      const keys = material.next ? await issueServing(material.next.ca, this.options.policy, new Date()) : material.serving;
      this.probe = { keys, ca: probeCa };
    }
    if (probeChanged || this.current?.serving.certPem !== material.serving.certPem || this.current.bundle.join("") !== material.bundle.join("")) {
      this.current = material;
      this.emit("changed", material);
    }
  }

  /**
   * Sets every webhook's caBundle to our bundle plus the unexpired CAs already there (bundleToPublish), in one
   * patch per configuration that applies only to the version it was computed from.
   */
  private async publishBundle(bundle: readonly string[], now: Date): Promise<void> {
    const { admission, mutatingWebhooks, validatingWebhooks } = this.options;
    const patchFor = (config: { metadata?: { resourceVersion?: string }; webhooks?: { clientConfig: { caBundle?: string } }[] }): object[] => {
      const published = (config.webhooks ?? []).flatMap((hook) => unb64(hook.clientConfig.caBundle).match(PEM_CERT) ?? []);
      const caBundle = b64(bundleToPublish(bundle, published, now).join(""));
      const changes = (config.webhooks ?? []).flatMap((hook, i) => (hook.clientConfig.caBundle === caBundle ? [] : [{ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }]));
      return changes.length > 0 ? [{ op: "test", path: "/metadata/resourceVersion", value: config.metadata?.resourceVersion }, ...changes] : [];
    };
    for (const name of mutatingWebhooks) {
      const body = patchFor(await admission.readMutatingWebhookConfiguration({ name }));
      if (body.length > 0) await admission.patchMutatingWebhookConfiguration({ name, body });
    }
    for (const name of validatingWebhooks) {
      const body = patchFor(await admission.readValidatingWebhookConfiguration({ name }));
      if (body.length > 0) await admission.patchValidatingWebhookConfiguration({ name, body });
    }
  }
}
