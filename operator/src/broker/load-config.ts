// Gathers what effectiveConfig needs for one sidecar: the namespace's policies
// and Resources from the caches, then only the Secrets and ConfigMaps the
// selected entries reference — the broker never reads Secrets it will not hand out.
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { SidecarIdentity } from "@portcullis/common/config/bundle";
import { effectiveConfig, referencedObjects, servingNothing, type ConfigBundle } from "@portcullis/common/config/bundle";
import type { BrokerSources } from "./sources.js";
import { INJECTED_ANNOTATION, SIDECAR_CONTAINER } from "@portcullis/common/injection-names";
import { parseRecord } from "../webhooks/inject/record.js";
import { transparentBypasses } from "../webhooks/inject/refusals.js";

async function fetchAll<T>(names: string[], read: (name: string) => Promise<T | undefined>): Promise<Map<string, T>> {
  const found = await Promise.all(names.map(async (name) => [name, await read(name)] as const));
  return new Map(found.filter((entry): entry is readonly [string, Awaited<T>] => entry[1] !== undefined));
}

/**
 * The Resources the pod was injected with (its injection record, which verifyPodBinding has checked): a
 * running pod is served no other, so relabelling it into another policy's selector cannot widen its reach.
 */
function injectedResources(pod: V1Pod): string[] {
  const record = parseRecord(pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? "");
  return typeof record === "string" ? [] : record.resources;
}

export async function loadConfigBundle(identity: SidecarIdentity, pod: V1Pod, sources: BrokerSources): Promise<ConfigBundle> {
  const namespace = identity.namespace;
  const policies = sources.accessPolicies(namespace);
  const pinnedResources = injectedResources(pod);
  // Secrets are read only for Resources the pod may be served.
  const resources = sources.resources(namespace).filter((resource) => pinnedResources.includes(resource.metadata?.name ?? ""));
  // Two rounds: a recording ConfigMap may name the Secret with the store's credentials.
  const first = referencedObjects(pod, policies, resources);
  const configMaps = await fetchAll<V1ConfigMap>(first.configMaps, (name) => sources.configMap(namespace, name));
  const { secrets: secretNames } = referencedObjects(pod, policies, resources, configMaps);
  const secrets = await fetchAll<V1Secret>(secretNames, (name) => sources.secret(namespace, name));
  const bundle = effectiveConfig(identity, { pod, policies, resources, secrets, configMaps, pinnedResources });
  // Checked at injection and again on every request: a Resource made transparent later must not serve a pod
  // whose app containers could step around the redirect (the gateway's UID, SETUID, NET_ADMIN).
  // A refusal would leave a running sidecar on its last bundle: it is sent a bundle that serves nothing instead.
  const served = resources.filter((resource) => bundle.resources.some((entry) => entry.name === resource.metadata?.name && entry.spec !== undefined));
  const bypasses = transparentBypasses(pod, served, { sidecarUid: gatewayUid(pod) ?? sources.sidecarUid });
  if (bypasses.length === 0) return bundle;
  return servingNothing(bundle, `pod ${namespace}/${identity.podName} cannot be protected in transparent mode, so it is served no Resource: ${bypasses.join("; ")}`);
}

/** The UID the pod's gateway runs as (sealed with its container): the one its redirect rules let through. */
function gatewayUid(pod: V1Pod): number | undefined {
  const gateway = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find((container) => container.name === SIDECAR_CONTAINER);
  return gateway?.securityContext?.runAsUser;
}
