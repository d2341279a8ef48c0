// What the broker reads from the cluster. The broker never talks to informers
// directly: main.ts wires these to the operator's caches, and tests pass plain
// objects, so the broker can be exercised without an API server.
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";

export interface BrokerSources {
  /** The key injected pods' records are sealed with (webhooks/inject/seal.ts). */
  sealKey: Buffer;
  /** The UID the gateway runs as: transparent mode's rules let it through (webhooks/inject/refusals.ts). */
  sidecarUid: number;
  /** The pod from the cache; undefined when it does not exist (or is not cached yet). */
  pod(namespace: string, name: string): V1Pod | undefined;
  /** Every AccessPolicy in the namespace. */
  accessPolicies(namespace: string): IAccessPolicy[];
  /** Every Resource in the namespace. */
  resources(namespace: string): IResource[];
  /** Async because Secrets may be read on demand rather than cached cluster-wide. */
  secret(namespace: string, name: string): Promise<V1Secret | undefined>;
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined>;
  /**
   * Calls listener with the namespace of anything that may change a sidecar's
   * configuration: a Pod, AccessPolicy, Resource, Secret or ConfigMap added,
   * updated or deleted. Returns a function that removes the listener.
   */
  onChange(listener: (namespace: string) => void): () => void;
}
