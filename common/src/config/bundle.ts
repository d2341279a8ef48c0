// The configuration bundle one sidecar runs with, as a pure function of what
// the broker read: the policies that select its pod, the Resources those
// policies name with their credentials resolved, the masking keys and the
// evidence store settings. Something missing (a Secret, a key, a ConfigMap)
// marks only the entry that needs it with an error — the sidecar refuses
// traffic for that entry and keeps serving the rest.
import { sha256Digest } from "../digest.js";
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { canonicalJson } from "../canonical-json.js";
import { selectPolicies } from "./select.js";

/** The ConfigMap key that names a Secret holding the evidence store's credentials. */
export const RECORDING_CREDENTIALS_KEY = "credentialsSecret";

/** A sidecar as the broker authenticated it from its projected token. */
export interface SidecarIdentity {
  username: string;
  uid: string;
  groups: string[];
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
  /** When the token stops being valid (its exp claim), if it says; long-lived streams end then. */
  tokenExpiresAt?: Date;
}

export type ResourceCredentials = { username: string; password: string } | { token: string } | { clientCertificate: string; clientKey: string };

export interface BrokeredResource {
  name: string;
  /** Absent only when the Resource does not exist. */
  spec?: IResource["spec"];
  credentials?: ResourceCredentials;
  /** PEM from spec.endpoint.tls.caBundleRef, so the sidecar can verify the backend without reading the cluster. */
  caBundle?: string;
  /** Set when something this Resource needs is missing; the sidecar refuses its traffic. */
  error?: string;
}

export interface RecordingSettings {
  /** The storeRef ConfigMap's data, as is. */
  store: Record<string, string>;
  /** The data of the Secret the ConfigMap names under credentialsSecret, decoded. */
  credentials?: Record<string, string>;
}

export interface BrokeredPolicy {
  name: string;
  spec: IAccessPolicy["spec"];
  /** HMAC keys of the hash masking rules, by masking rule name, base64 as stored in the Secret. */
  hashKeys?: Record<string, string>;
  recording?: RecordingSettings;
  /** Set when something this policy needs is missing; the sidecar refuses traffic it governs. */
  error?: string;
}

export interface ConfigBundle {
  /** sha256 of the canonical JSON of everything else; changes whenever anything in the bundle does. */
  revision: string;
  identity: Omit<SidecarIdentity, "tokenExpiresAt">;
  policies: BrokeredPolicy[];
  resources: BrokeredResource[];
}

export interface ConfigInputs {
  pod: V1Pod;
  /** Every AccessPolicy in the pod's namespace; selection happens here. */
  policies: readonly IAccessPolicy[];
  /** Every Resource in the pod's namespace. */
  resources: readonly IResource[];
  /** The Secrets and ConfigMaps that could be read, by name; an absent name is a missing object. */
  secrets: ReadonlyMap<string, V1Secret>;
  configMaps: ReadonlyMap<string, V1ConfigMap>;
  /** The Resources the pod was injected with (its injection record): no other is served to it. */
  pinnedResources?: readonly string[];
}

/** What the bundle is built from once the policies are chosen: the namespace's Resources and the referenced objects. */
export type BundleInputs = Pick<ConfigInputs, "resources" | "secrets" | "configMaps" | "pinnedResources"> & { namespace: string };

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const nameOf = (object: { metadata?: { name?: string } }): string => object.metadata?.name ?? "";
const decode = (base64: string): string => Buffer.from(base64, "base64").toString("utf8");

const governedResourceNames = (policies: readonly IAccessPolicy[]): string[] => [...new Set(policies.flatMap((policy) => policy.spec.resources))].sort();

/** The policies that select the pod, and the names of the Resources they govern. */
export function selectForPod(pod: V1Pod, policies: readonly IAccessPolicy[]): { policies: IAccessPolicy[]; resourceNames: string[] } {
  const selected = selectPolicies(pod, [...policies]);
  return { policies: selected, resourceNames: governedResourceNames(selected) };
}

function addResourceReferences(resource: IResource, secrets: Set<string>, configMaps: Set<string>): void {
  const { credentials, endpoint } = resource.spec;
  if (credentials) secrets.add(credentials.secretRef.name);
  const caRef = endpoint.tls?.caBundleRef;
  if (caRef) (caRef.kind === "Secret" ? secrets : configMaps).add(caRef.name);
}

function addPolicyReferences(policy: IAccessPolicy, fetched: ReadonlyMap<string, V1ConfigMap>, secrets: Set<string>, configMaps: Set<string>): void {
  for (const rule of policy.spec.masking ?? []) if (rule.hashKeyRef) secrets.add(rule.hashKeyRef.name);
  const store = policy.spec.recording?.storeRef.name;
  if (store === undefined) return;
  configMaps.add(store);
  const credentialsSecret = fetched.get(store)?.data?.[RECORDING_CREDENTIALS_KEY];
  if (credentialsSecret) secrets.add(credentialsSecret);
}

/**
 * The Secrets and ConfigMaps the bundle needs, so the caller fetches exactly
 * those and no others. Pass the ConfigMaps already fetched to learn the
 * Secrets that recording stores name.
 */
export function referencedObjects(
  pod: V1Pod,
  policies: readonly IAccessPolicy[],
  resources: readonly IResource[],
  fetched: ReadonlyMap<string, V1ConfigMap> = new Map(),
): { secrets: string[]; configMaps: string[] } {
  const selection = selectForPod(pod, policies);
  const secrets = new Set<string>();
  const configMaps = new Set<string>();
  for (const resource of resources) {
    if (selection.resourceNames.includes(nameOf(resource))) addResourceReferences(resource, secrets, configMaps);
  }
  for (const policy of selection.policies) addPolicyReferences(policy, fetched, secrets, configMaps);
  return { secrets: [...secrets].sort(), configMaps: [...configMaps].sort() };
}

class Problems {
  readonly list: string[] = [];
  add(message: string): undefined {
    this.list.push(message);
    return undefined;
  }
  get error(): string | undefined {
    return this.list.length ? this.list.join("; ") : undefined;
  }
}

function secretValue(inputs: BundleInputs, problems: Problems, ref: { name: string; key: string }, field: string, owner: string): string | undefined {
  const secret = inputs.secrets.get(ref.name);
  if (!secret) return problems.add(`Secret "${ref.name}" (${field} of ${owner}) was not found`);
  const value = secret.data?.[ref.key];
  if (value === undefined) return problems.add(`Secret "${ref.name}" (${field} of ${owner}) has no key "${ref.key}"`);
  return value;
}

function resolveCredentials(resource: IResource, inputs: BundleInputs, problems: Problems): ResourceCredentials | undefined {
  const credentials = resource.spec.credentials;
  if (!credentials) return undefined;
  const owner = `Resource "${nameOf(resource)}"`;
  const name = credentials.secretRef.name;
  const read = (key: string, field: string): string | undefined => {
    const value = secretValue(inputs, problems, { name, key }, field, owner);
    return value === undefined ? undefined : decode(value);
  };
  if (!inputs.secrets.has(name)) return problems.add(`Secret "${name}" (spec.credentials.secretRef of ${owner}) was not found`);
  if (resource.spec.protocol === "postgres") {
    const username = read(credentials.usernameKey ?? "username", "spec.credentials.usernameKey");
    const password = read(credentials.passwordKey ?? "password", "spec.credentials.passwordKey");
    return username !== undefined && password !== undefined ? { username, password } : undefined;
  }
  if (credentials.clientCertificateKey !== undefined && credentials.clientKeyKey !== undefined) {
    const clientCertificate = read(credentials.clientCertificateKey, "spec.credentials.clientCertificateKey");
    const clientKey = read(credentials.clientKeyKey, "spec.credentials.clientKeyKey");
    return clientCertificate !== undefined && clientKey !== undefined ? { clientCertificate, clientKey } : undefined;
  }
  const token = read(credentials.tokenKey ?? "token", "spec.credentials.tokenKey");
  return token === undefined ? undefined : { token };
}

function resolveCaBundle(resource: IResource, inputs: BundleInputs, problems: Problems): string | undefined {
  const ref = resource.spec.endpoint.tls?.caBundleRef;
  if (!ref) return undefined;
  const owner = `Resource "${nameOf(resource)}"`;
  if (ref.kind === "Secret") {
    const value = secretValue(inputs, problems, ref, "spec.endpoint.tls.caBundleRef", owner);
    return value === undefined ? undefined : decode(value);
  }
  const configMap = inputs.configMaps.get(ref.name);
  if (!configMap) return problems.add(`ConfigMap "${ref.name}" (spec.endpoint.tls.caBundleRef of ${owner}) was not found`);
  const text = configMap.data?.[ref.key];
  const binary = configMap.binaryData?.[ref.key];
  if (text !== undefined) return text;
  if (binary !== undefined) return decode(binary);
  return problems.add(`ConfigMap "${ref.name}" (spec.endpoint.tls.caBundleRef of ${owner}) has no key "${ref.key}"`);
}

function brokerResource(name: string, namingPolicies: string[], inputs: BundleInputs): BrokeredResource {
  if (inputs.pinnedResources && !inputs.pinnedResources.includes(name)) {
    const injected = inputs.pinnedResources.map((resource) => `"${resource}"`).join(", ") || "none";
    return { name, error: `Resource "${name}" is not served to this pod: it was injected with ${injected}, and a running pod gets no other (a new pod, e.g. a rollout, does)` };
  }
  const resource = inputs.resources.find((candidate) => nameOf(candidate) === name);
  if (!resource) {
    const namedBy = namingPolicies.map((policy) => `"${policy}"`).join(", ");
    return { name, error: `Resource "${name}" (named by AccessPolicy ${namedBy}) does not exist in namespace "${inputs.namespace}"` };
  }
  const problems = new Problems();
  const credentials = resolveCredentials(resource, inputs, problems);
  const caBundle = resolveCaBundle(resource, inputs, problems);
  const error = problems.error;
  // A Resource with any problem gets no credentials at all: nothing half-resolved reaches the sidecar.
  if (error) return { name, spec: resource.spec, error };
  return { name, spec: resource.spec, ...(credentials ? { credentials } : {}), ...(caBundle !== undefined ? { caBundle } : {}) };
}

function resolveHashKeys(policy: IAccessPolicy, inputs: BundleInputs, problems: Problems): Record<string, string> | undefined {
  const keys: Record<string, string> = {};
  const owner = `AccessPolicy "${nameOf(policy)}"`;
  for (const rule of policy.spec.masking ?? []) {
    if (!rule.hashKeyRef) continue;
    const value = secretValue(inputs, problems, rule.hashKeyRef, `spec.masking[${rule.name}].hashKeyRef`, owner);
    if (value !== undefined) keys[rule.name] = value;
  }
  return Object.keys(keys).length ? keys : undefined;
}

function decodeAll(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, decode(value)]));
}

function resolveRecording(policy: IAccessPolicy, inputs: BundleInputs, problems: Problems): RecordingSettings | undefined {
  const storeName = policy.spec.recording?.storeRef.name;
  if (storeName === undefined) return undefined;
  const owner = `AccessPolicy "${nameOf(policy)}"`;
  const configMap = inputs.configMaps.get(storeName);
  if (!configMap) return problems.add(`ConfigMap "${storeName}" (spec.recording.storeRef of ${owner}) was not found`);
  const store = { ...(configMap.data ?? {}) };
  const secretName = store[RECORDING_CREDENTIALS_KEY];
  if (!secretName) return { store };
  const secret = inputs.secrets.get(secretName);
  if (!secret) return problems.add(`Secret "${secretName}" (named under ${RECORDING_CREDENTIALS_KEY} in ConfigMap "${storeName}", the recording store of ${owner}) was not found`);
  return { store, credentials: decodeAll(secret.data) };
}

function brokerPolicy(policy: IAccessPolicy, inputs: BundleInputs): BrokeredPolicy {
  const problems = new Problems();
  const hashKeys = resolveHashKeys(policy, inputs, problems);
  const recording = resolveRecording(policy, inputs, problems);
  const error = problems.error;
  return {
    name: nameOf(policy),
    spec: policy.spec,
    ...(hashKeys && !error ? { hashKeys } : {}),
    ...(recording && !error ? { recording } : {}),
    ...(error ? { error } : {}),
  };
}

export function effectiveConfig(identity: SidecarIdentity, inputs: ConfigInputs): ConfigBundle {
  const { policies } = selectForPod(inputs.pod, inputs.policies);
  return bundleFor(identity, policies, { ...inputs, namespace: inputs.pod.metadata?.namespace ?? "" });
}

/** The bundle with none of its Resources served, each saying why (a new revision). */
export function servingNothing(bundle: ConfigBundle, reason: string): ConfigBundle {
  const { identity, policies } = bundle;
  const content = { identity, policies, resources: bundle.resources.map(({ name }) => ({ name, error: reason })) };
  return { revision: sha256Digest(canonicalJson(content)), ...content };
}

/**
 * The bundle for policies already chosen — by pod selection in the broker, or
 * all of them in standalone mode — so both modes resolve and report alike.
 */
export function bundleFor(identity: ConfigBundle["identity"], selected: readonly IAccessPolicy[], inputs: BundleInputs): ConfigBundle {
  const policies = selected.map((policy) => brokerPolicy(policy, inputs)).sort(byName);
  const resources = governedResourceNames(selected)
    .map((name) => brokerResource(name, selected.filter((policy) => policy.spec.resources.includes(name)).map(nameOf), inputs))
    .sort(byName);
  const { username, uid, groups, namespace, serviceAccount, podName, podUid } = identity;
  const content = { identity: { username, uid, groups, namespace, serviceAccount, podName, podUid }, policies, resources };
  const revision = sha256Digest(canonicalJson(content));
  return { revision, ...content };
}
