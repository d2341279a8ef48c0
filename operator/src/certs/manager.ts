// Keeps the operator's CA and serving certificate in a Secret, rotates them
// before expiry (see rotation.ts), and publishes the CA bundle into the
// webhook configurations. Every replica runs it: writes use the Secret's
// resourceVersion, so when two replicas race, one wins and the other adopts
// its result on the next pass.
import { EventEmitter } from "node:events";
import type { AdmissionregistrationV1Api, CoreV1Api, V1Secret } from "@kubernetes/client-node";
import { isStatus } from "../kube/client.js";
import type { Logger } from "../log.js";
import { applyRotation, planRotation, type CertificateMaterial, type RotationPolicy } from "./rotation.js";

const STAGED_AT = "portcullis.dev/next-ca-staged-at";
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
  const stagedAt = secret.metadata?.annotations?.[STAGED_AT];
  const nextCert = unb64(data["next-ca.crt"]);
  const nextKey = unb64(data["next-ca.key"]);
  return {
    ca: { certPem: ca, keyPem: caKey },
    serving: { certPem: tls, keyPem: tlsKey },
    bundle: unb64(data["ca-bundle.crt"]).match(PEM_CERT)?.map((pem) => pem.trim() + "\n") ?? [ca],
    ...(nextCert && nextKey && stagedAt ? { next: { ca: { certPem: nextCert, keyPem: nextKey }, stagedAt: new Date(stagedAt) } } : {}),
  };
}

function secretFromMaterial(base: V1Secret, material: CertificateMaterial): V1Secret {
  const annotations = { ...(base.metadata?.annotations ?? {}) };
  delete annotations[STAGED_AT];
  if (material.next) annotations[STAGED_AT] = material.next.stagedAt.toISOString();
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

/** Emits "changed" with the new material whenever the serving certificate or the bundle changes. */
export class CertificateManager extends EventEmitter<{ changed: [CertificateMaterial] }> {
  private current?: CertificateMaterial;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: CertificateManagerOptions) {
    super();
  }

  get material(): CertificateMaterial | undefined {
    return this.current;
  }

  /** Reconciles until material exists (so servers can start), then every intervalMs. */
  async start(intervalMs: number): Promise<CertificateMaterial> {
    for (let attempt = 0; !this.current; attempt++) {
      await this.reconcileSafely();
      if (!this.current) await new Promise((resolve) => setTimeout(resolve, Math.min(200 * 2 ** attempt, 5_000)));
    }
    this.timer = setInterval(() => void this.reconcileSafely(), intervalMs);
    return this.current;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async reconcileSafely(): Promise<void> {
    try {
      await this.reconcile();
    } catch (error) {
      this.options.log.error("certificate reconcile failed", { error: (error as Error).message });
    }
  }

  /** One pass: read, rotate if due, write, publish. */
  async reconcile(): Promise<void> {
    const { core, namespace, secretName, policy } = this.options;
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
      const body = secretFromMaterial(secret ?? { apiVersion: "v1", kind: "Secret", metadata: { name: secretName, namespace } }, material);
      try {
        secret = secret
          ? await core.replaceNamespacedSecret({ name: secretName, namespace, body })
          : await core.createNamespacedSecret({ namespace, body });
        this.options.log.info("certificates rotated", { step, secret: `${namespace}/${secretName}` });
      } catch (error) {
        if (isStatus(error, 409)) return; // another replica wrote first; adopt its result next pass
        throw error;
      }
    }
    if (!material) return;
    await this.publishBundle(material.bundle.join(""));
    if (this.current?.serving.certPem !== material.serving.certPem || this.current.bundle.join("") !== material.bundle.join("")) {
      this.current = material;
      this.emit("changed", material);
    }
  }

  private async publishBundle(bundlePem: string): Promise<void> {
    const caBundle = b64(bundlePem);
    const { admission, mutatingWebhooks, validatingWebhooks } = this.options;
    const patchFor = (webhooks: { caBundle?: string }[] | undefined): object[] =>
      (webhooks ?? []).flatMap((hook, i) => (hook.caBundle === caBundle ? [] : [{ op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: caBundle }]));
    for (const name of mutatingWebhooks) {
      const config = await admission.readMutatingWebhookConfiguration({ name });
      const body = patchFor(config.webhooks?.map((w) => w.clientConfig));
      if (body.length > 0) await admission.patchMutatingWebhookConfiguration({ name, body });
    }
    for (const name of validatingWebhooks) {
      const config = await admission.readValidatingWebhookConfiguration({ name });
      const body = patchFor(config.webhooks?.map((w) => w.clientConfig));
      if (body.length > 0) await admission.patchValidatingWebhookConfiguration({ name, body });
    }
  }
}
