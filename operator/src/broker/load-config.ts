// Gathers what effectiveConfig needs for one sidecar: the namespace's policies
// and Resources from the caches, then only the Secrets and ConfigMaps the
// selected entries reference — the broker never reads Secrets it will not hand out.
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { SidecarIdentity } from "@portcullis/common/config/bundle";
import { effectiveConfig, referencedObjects, type ConfigBundle } from "@portcullis/common/config/bundle";
import type { BrokerSources } from "./sources.js";

async function fetchAll<T>(names: string[], read: (name: string) => Promise<T | undefined>): Promise<Map<string, T>> {
  const found = await Promise.all(names.map(async (name) => [name, await read(name)] as const));
  return new Map(found.filter((entry): entry is readonly [string, Awaited<T>] => entry[1] !== undefined));
}

export async function loadConfigBundle(identity: SidecarIdentity, pod: V1Pod, sources: BrokerSources): Promise<ConfigBundle> {
  const namespace = identity.namespace;
  const policies = sources.accessPolicies(namespace);
  const resources = sources.resources(namespace);
  // Two rounds: a recording ConfigMap may name the Secret with the store's credentials.
  const first = referencedObjects(pod, policies, resources);
  const configMaps = await fetchAll<V1ConfigMap>(first.configMaps, (name) => sources.configMap(namespace, name));
  const { secrets: secretNames } = referencedObjects(pod, policies, resources, configMaps);
  const secrets = await fetchAll<V1Secret>(secretNames, (name) => sources.secret(namespace, name));
  return effectiveConfig(identity, { pod, policies, resources, secrets, configMaps });
}
