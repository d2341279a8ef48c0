// Ready conditions for Resources and AccessPolicies, computed from what they
// reference (pure functions over caches). A user should understand a broken
// object from `kubectl get` and `kubectl describe` alone, so each message
// names the missing thing and where it was looked for.
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import { CREDENTIALS_LABEL_SELECTOR } from "@portcullis/common/injection-names";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { RECORDING_CREDENTIALS_KEY } from "@portcullis/common/config/bundle";
import { parseStoreSettings, StoreSettingsError } from "@portcullis/common/evidence/store-settings";

/** The operator sees only Secrets opted in with the label: a missing one may exist without it. */
const NOT_READABLE = `does not exist or is not labelled ${CREDENTIALS_LABEL_SELECTOR} (the operator reads only Secrets opted in for Portcullis)`;

export interface Cache<T> {
  get(namespace: string, name: string): T | undefined;
  list(namespace?: string): T[];
}

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type Verdict = Pick<Condition, "status" | "reason" | "message">;

export interface ReferenceCaches {
  secrets: Cache<V1Secret>;
  configMaps: Cache<V1ConfigMap>;
  resources: Cache<IResource>;
}

const ok = (message: string): Verdict => ({ status: "True", reason: "Ready", message });
const problem = (reason: string, message: string): Verdict => ({ status: "False", reason, message });

function credentialKeys(resource: IResource): string[] {
  const creds = resource.spec.credentials;
  if (!creds) return [];
  if (resource.spec.protocol === "postgres") return [creds.usernameKey ?? "username", creds.passwordKey ?? "password"];
  return [creds.tokenKey ?? "token"];
}

function hasKey(object: V1Secret | V1ConfigMap, key: string): boolean {
  return key in (object.data ?? {}) || key in ((object as V1Secret).stringData ?? {}) || key in ((object as V1ConfigMap).binaryData ?? {});
}

export function resourceVerdict(resource: IResource, caches: ReferenceCaches): Verdict {
  const namespace = resource.metadata?.namespace ?? "";
  const secretName = resource.spec.credentials?.secretRef.name;
  if (secretName) {
    const secret = caches.secrets.get(namespace, secretName);
    if (!secret) return problem("SecretNotFound", `Secret ${namespace}/${secretName} named in spec.credentials.secretRef ${NOT_READABLE}`);
    const missing = credentialKeys(resource).filter((key) => !hasKey(secret, key));
    if (missing.length > 0) return problem("SecretKeyMissing", `Secret ${namespace}/${secretName} has no key ${missing.map((k) => `"${k}"`).join(", ")}`);
  }
  const ca = resource.spec.endpoint.tls?.caBundleRef;
  if (ca) {
    const holder = ca.kind === "Secret" ? caches.secrets.get(namespace, ca.name) : caches.configMaps.get(namespace, ca.name);
    if (!holder) return problem("CABundleNotFound", `${ca.kind} ${namespace}/${ca.name} named in spec.endpoint.tls.caBundleRef ${ca.kind === "Secret" ? NOT_READABLE : "does not exist"}`);
    if (!hasKey(holder, ca.key)) return problem("CABundleKeyMissing", `${ca.kind} ${namespace}/${ca.name} has no key "${ca.key}"`);
  }
  return ok("every reference resolves");
}

/** `invalid` carries errors from the admission checks, for objects stored before the webhook existed. */
export function policyVerdict(policy: IAccessPolicy, caches: ReferenceCaches, invalid: string[] = []): Verdict {
  const namespace = policy.metadata?.namespace ?? "";
  if (invalid.length > 0) return problem("InvalidPolicy", invalid.join("; "));
  const missing = policy.spec.resources.filter((name) => !caches.resources.get(namespace, name));
  if (missing.length > 0) return problem("ResourceNotFound", `Resource${missing.length > 1 ? "s" : ""} ${missing.join(", ")} named in spec.resources do${missing.length > 1 ? "" : "es"} not exist in namespace ${namespace}`);
  return storeProblem(policy, caches) ?? maskingKeyProblem(policy, caches.secrets) ?? ok("every reference resolves");
}

const decode = (data: Record<string, string> | undefined): Record<string, string> =>
  Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]));

/** The evidence store must exist and be usable: checked with the parser the sidecar uses, so both say the same. */
function storeProblem(policy: IAccessPolicy, caches: ReferenceCaches): Verdict | undefined {
  const namespace = policy.metadata?.namespace ?? "";
  const store = policy.spec.recording?.storeRef.name;
  if (!store) return undefined;
  const configMap = caches.configMaps.get(namespace, store);
  if (!configMap) return problem("StoreConfigMapNotFound", `ConfigMap ${namespace}/${store} named in spec.recording.storeRef does not exist`);
  const data = configMap.data ?? {};
  const secretName = data[RECORDING_CREDENTIALS_KEY];
  const secret = secretName ? caches.secrets.get(namespace, secretName) : undefined;
  if (secretName && !secret) return problem("StoreSecretNotFound", `Secret ${namespace}/${secretName} named under ${RECORDING_CREDENTIALS_KEY} in ConfigMap ${namespace}/${store} ${NOT_READABLE}`);
  try {
    parseStoreSettings({ store: data, ...(secret ? { credentials: decode(secret.data) } : {}) }, `ConfigMap ${namespace}/${store}`);
  } catch (error) {
    if (error instanceof StoreSettingsError) return problem("InvalidStore", error.problems.join("; "));
    throw error;
  }
  return undefined;
}

function maskingKeyProblem(policy: IAccessPolicy, secrets: Cache<V1Secret>): Verdict | undefined {
  const namespace = policy.metadata?.namespace ?? "";
  for (const [index, rule] of (policy.spec.masking ?? []).entries()) {
    const ref = rule.hashKeyRef;
    if (!ref) continue;
    const secret = secrets.get(namespace, ref.name);
    if (!secret) return problem("SecretNotFound", `Secret ${namespace}/${ref.name} named in spec.masking[${index}].hashKeyRef ${NOT_READABLE}`);
    if (!hasKey(secret, ref.key)) return problem("SecretKeyMissing", `Secret ${namespace}/${ref.name} has no key "${ref.key}" (spec.masking[${index}].hashKeyRef)`);
  }
  return undefined;
}

/** The Ready condition to store, keeping lastTransitionTime when the status did not change. */
export function readyCondition(verdict: Verdict, generation: number | undefined, previous: Condition[] | undefined, now: Date): Condition {
  const before = previous?.find((c) => c.type === "Ready");
  const unchanged = before?.status === verdict.status;
  return {
    type: "Ready",
    ...verdict,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    lastTransitionTime: unchanged && before ? before.lastTransitionTime : now.toISOString(),
  };
}
