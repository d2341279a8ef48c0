// The operator's view of the cluster: one informer per kind it reads, shared
// by the webhooks, the broker and the controllers. Secrets are cached too —
// only those labelled portcullis.dev/credentials=true: the broker answers
// sidecars from memory, and a Secret created (or labelled) after its Resource
// flips the Resource's Ready condition at once.
import type { KubeConfig, KubernetesObject, V1ConfigMap, V1Namespace, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IApprovalRequest, IResource } from "@portcullis/crds";
import type { BrokerSources } from "./broker/sources.js";
import { CREDENTIALS_LABEL_SELECTOR } from "@portcullis/common/injection-names";
import { Informer } from "./kube/informer.js";
import type { Logger } from "./log.js";

export interface Caches {
  pods: Informer<V1Pod>;
  namespaces: Informer<V1Namespace>;
  secrets: Informer<V1Secret>;
  configMaps: Informer<V1ConfigMap>;
  resources: Informer<IResource & KubernetesObject>;
  policies: Informer<IAccessPolicy & KubernetesObject>;
  approvals: Informer<IApprovalRequest & KubernetesObject>;
}

const CRD_BASE = "/apis/portcullis.dev/v1alpha1";

export function createCaches(kubeConfig: KubeConfig, resyncMs: number, log: Logger): Caches {
  const make = <T extends KubernetesObject>(path: string, labelSelector?: string): Informer<T> =>
    new Informer<T>({ path, kubeConfig, resyncMs, logger: log, ...(labelSelector ? { labelSelector } : {}) });
  return {
    // The broker checks a token's pod (UID, service account, injection record) against this cache.
    pods: make<V1Pod>("/api/v1/pods"),
    namespaces: make<V1Namespace>("/api/v1/namespaces"),
    // Only Secrets opted in for Portcullis: the operator never lists, caches or hands out any other.
    secrets: make<V1Secret>("/api/v1/secrets", CREDENTIALS_LABEL_SELECTOR),
    configMaps: make<V1ConfigMap>("/api/v1/configmaps"),
    resources: make(`${CRD_BASE}/resources`),
    policies: make(`${CRD_BASE}/accesspolicies`),
    approvals: make(`${CRD_BASE}/approvalrequests`),
  };
}

export async function startCaches(caches: Caches, timeoutMs: number): Promise<void> {
  const all = Object.values(caches) as Informer<KubernetesObject>[];
  for (const informer of all) informer.start();
  await Promise.all(all.map((informer) => informer.waitForSync(timeoutMs)));
}

export async function stopCaches(caches: Caches): Promise<void> {
  await Promise.all((Object.values(caches) as Informer<KubernetesObject>[]).map((informer) => informer.stop()));
}

/** Calls listener(namespace) for every add, update and delete of the given informers. */
export function onAnyChange(informers: Informer<KubernetesObject>[], listener: (namespace: string) => void): () => void {
  const removers = informers.flatMap((informer) => {
    const notify = (object: KubernetesObject): void => listener(object.metadata?.namespace ?? "");
    return [informer.on("add", notify), informer.on("update", notify), informer.on("delete", notify)];
  });
  return () => removers.forEach((remove) => remove());
}

export function brokerSources(caches: Caches, sealKey: Buffer, sidecarUid: number): BrokerSources {
  return {
    sealKey,
    sidecarUid,
    pod: (namespace, name) => caches.pods.get(namespace, name),
    accessPolicies: (namespace) => caches.policies.list(namespace),
    resources: (namespace) => caches.resources.list(namespace),
    secret: (namespace, name) => Promise.resolve(caches.secrets.get(namespace, name)),
    configMap: (namespace, name) => Promise.resolve(caches.configMaps.get(namespace, name)),
    onChange: (listener) =>
      onAnyChange([caches.pods, caches.policies, caches.resources, caches.secrets, caches.configMaps] as Informer<KubernetesObject>[], listener),
  };
}
