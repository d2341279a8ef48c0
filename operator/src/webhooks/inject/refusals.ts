// Pods the gateway cannot protect. Injecting into them would look safe and
// not be, so the webhook refuses them and says why, naming the field. Each
// message reads on its own after "Portcullis cannot protect pod X: ".
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { IResource } from "@portcullis/crds";
import { transparentResources } from "./iptables.js";
import { INIT_CONTAINER, RESERVED_CONTAINER_NAMES, RESERVED_VOLUME_NAMES, SIDECAR_CONTAINER, TOKEN_AUDIENCE, TRUST_VOLUME } from "@portcullis/common/injection-names";
import type { InjectionSettings } from "./settings.js";

/** A container of the user's pod and where it sits, e.g. `spec.initContainers[1]`. */
export interface UserContainer {
  container: V1Container;
  path: string;
}

/** The pod's own containers and init containers (not the ones the injector owns). */
export function userContainers(pod: V1Pod): UserContainer[] {
  const list = (field: "initContainers" | "containers"): UserContainer[] =>
    (pod.spec?.[field] ?? [])
      .map((container, index) => ({ container, path: `spec.${field}[${index}]` }))
      .filter(({ container }) => !RESERVED_CONTAINER_NAMES.includes(container.name));
  return [...list("initContainers"), ...list("containers")];
}

function resourceName(resource: IResource): string {
  return resource.metadata?.name ?? "";
}

function podLevelRefusals(pod: V1Pod): string[] {
  const spec = pod.spec;
  const reasons: string[] = [];
  if (spec?.hostNetwork === true) {
    reasons.push(
      "spec.hostNetwork is true: the iptables rules would change the node's network instead of the pod's, and the agent could reach backends around the gateway sidecar",
    );
  }
  if (spec?.hostPID === true) {
    reasons.push("spec.hostPID is true: the agent could read the gateway sidecar's memory and files, including the brokered credentials");
  }
  if (spec?.shareProcessNamespace === true) {
    reasons.push(
      "spec.shareProcessNamespace is true: the agent could read the gateway sidecar's memory and files (/proc/<pid>/root, /proc/<pid>/mem), including the brokered credentials",
    );
  }
  if (spec?.hostIPC === true) {
    reasons.push("spec.hostIPC is true: the agent would share the node's IPC namespace, and with it other pods' shared memory");
  }
  if (spec?.os?.name !== undefined && spec.os.name !== "linux") {
    reasons.push(`spec.os.name is "${spec.os.name}": the gateway sidecar runs on Linux only`);
  }
  (spec?.volumes ?? []).forEach((volume, index) => {
    if (volume.hostPath) {
      reasons.push(
        `spec.volumes[${index}] "${volume.name}" is a hostPath volume (${volume.hostPath.path}): through the node's filesystem the agent could read the gateway sidecar's token and evidence spool`,
      );
    }
  });
  return reasons;
}

/** A capability as the container runtime reads it: upper case, without the CAP_ prefix. */
function capabilityName(capability: string): string {
  return capability.toUpperCase().replace(/^CAP_/, "");
}

/** What app, init and ephemeral containers have in common here. */
type AnyContainer = Pick<V1Container, "securityContext" | "volumeMounts">;

/** Whether the container's capability list `field` holds `capability` (or ALL). */
function listsCapability(container: AnyContainer, field: "add" | "drop", capability: string): boolean {
  return (container.securityContext?.capabilities?.[field] ?? []).some((cap) => [capability, "ALL"].includes(capabilityName(cap)));
}

/** How a container (`name` says which) could reach the gateway's token, spool or memory: being privileged, or mounting its volumes. */
function reachRefusals(container: AnyContainer, name: string): string[] {
  const reasons: string[] = [];
  if (container.securityContext?.privileged === true) {
    reasons.push(`${name} is privileged: it could read the gateway sidecar's token and memory through the node's devices`);
  }
  for (const mount of container.volumeMounts ?? []) {
    // The trust directory holds only the pod CA's certificate: app containers read it, none but the gateway writes it.
    if (mount.name === TRUST_VOLUME && mount.readOnly === true) continue;
    if (RESERVED_VOLUME_NAMES.includes(mount.name)) reasons.push(`${name} mounts volume "${mount.name}", which only the Portcullis containers may mount`);
  }
  return reasons;
}

/** App containers that could reach the gateway's token, spool or memory whatever the Resources' mode. */
function containerRefusals(pod: V1Pod): string[] {
  return userContainers(pod).flatMap(({ container, path }) => reachRefusals(container, `container "${container.name}" (${path})`));
}

function listenerRefusals(resources: IResource[], settings: InjectionSettings): string[] {
  const reasons: string[] = [];
  const byPort = new Map<number, string[]>();
  for (const resource of resources) {
    const port = resource.spec.listener.port;
    byPort.set(port, [...(byPort.get(port) ?? []), resourceName(resource)]);
  }
  for (const [port, names] of byPort) {
    if (port === settings.metricsPort) {
      reasons.push(`Resource "${names.join('", "')}" listens on port ${port}, which is the gateway's metrics port`);
    }
    if (names.length > 1) {
      reasons.push(`Resources "${names.join('" and "')}" both use listener port ${port}; give each Resource its own spec.listener.port`);
    }
  }
  const byDestination = new Map<string, string[]>();
  for (const resource of transparentResources(resources)) {
    const destination = `${resource.spec.endpoint.host}:${resource.spec.endpoint.port}`;
    byDestination.set(destination, [...(byDestination.get(destination) ?? []), resourceName(resource)]);
    if (resource.spec.endpoint.host.includes(":")) {
      reasons.push(
        `Resource "${resourceName(resource)}" is transparent with an IPv6 endpoint.host (${resource.spec.endpoint.host}), which the iptables rules do not intercept yet; set spec.transparent to false`,
      );
    }
  }
  for (const [destination, names] of byDestination) {
    if (names.length > 1) {
      reasons.push(`transparent Resources "${names.join('" and "')}" both intercept ${destination}; traffic can be redirected to only one of them`);
    }
  }
  return reasons;
}

function portCollisions(pod: V1Pod, resources: IResource[], settings: InjectionSettings): string[] {
  const owners = new Map<number, string>(
    resources.map((r) => [r.spec.listener.port, `the listener port of Resource "${resourceName(r)}"; change the container's port or the Resource's spec.listener.port`]),
  );
  if (!owners.has(settings.metricsPort)) owners.set(settings.metricsPort, "the gateway's metrics port; change the container's port");
  const reasons: string[] = [];
  for (const { container, path } of userContainers(pod)) {
    (container.ports ?? []).forEach((port, index) => {
      const owner = owners.get(port.containerPort);
      if (owner !== undefined && (port.protocol ?? "TCP") === "TCP") {
        reasons.push(
          `${path}.ports[${index}].containerPort ${port.containerPort} of container "${container.name}" is ${owner}`,
        );
      }
    });
  }
  return reasons;
}

function effectiveUid(pod: V1Pod, container: V1Container): number | undefined {
  return container.securityContext?.runAsUser ?? pod.spec?.securityContext?.runAsUser;
}

/**
 * In transparent mode the rules let the gateway's UID through, so an app container could escape the
 * redirect by running as that UID — set in the pod, or switched to at run time with the SETUID
 * capability a root process has by default — or by changing iptables (NET_ADMIN). (An image whose USER
 * is the gateway's UID cannot be seen here; the README asks pod authors to set runAsUser.)
 */
export function transparentBypasses(pod: V1Pod, resources: IResource[], settings: Pick<InjectionSettings, "sidecarUid">): string[] {
  if (transparentResources(resources).length === 0) return [];
  const reasons: string[] = [];
  // Ephemeral (kubectl debug) containers join a running pod and share its network namespace too.
  const ephemeral = (pod.spec?.ephemeralContainers ?? []).map((container, index) => ({ container, path: `spec.ephemeralContainers[${index}]` }));
  for (const { container, path } of [...userContainers(pod), ...ephemeral]) {
    const name = `container "${container.name}" (${path})`;
    if (effectiveUid(pod, container) === settings.sidecarUid) {
      reasons.push(`${name} runs as UID ${settings.sidecarUid}, the gateway's UID, so its traffic would skip the transparent redirect`);
    }
    if (!listsCapability(container, "drop", "SETUID")) {
      reasons.push(
        `${name} keeps the SETUID capability, so it could switch to UID ${settings.sidecarUid}, the gateway's UID, and skip the transparent redirect; add "ALL" (or "SETUID") to securityContext.capabilities.drop`,
      );
    }
    if (listsCapability(container, "add", "NET_ADMIN")) {
      reasons.push(`${name} adds NET_ADMIN, so it could remove the transparent redirect rules`);
    }
  }
  return reasons;
}

/** A projected token for the broker's audience anywhere but the injector's own volume would let the agent act as the sidecar. */
function foreignPortcullisTokens(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((volume, index) => {
    if (RESERVED_VOLUME_NAMES.includes(volume.name)) return [];
    const tokenForBroker = (volume.projected?.sources ?? []).some(
      (source) => source.serviceAccountToken?.audience === TOKEN_AUDIENCE,
    );
    return tokenForBroker
      ? [`spec.volumes[${index}] "${volume.name}" projects a ServiceAccount token for audience "${TOKEN_AUDIENCE}", which only the gateway sidecar may hold`]
      : [];
  });
}

/**
 * Ephemeral containers (kubectl debug) are added to running pods, after injection. One that targets the
 * gateway shares its process namespace (its memory and files), and one that is privileged, adds
 * NET_ADMIN or mounts a Portcullis volume reaches the token, the spool or the redirect rules. `considered`
 * limits the check to some of them (those an update adds).
 */
export function ephemeralContainerRefusals(pod: V1Pod, considered: (name: string) => boolean = () => true): string[] {
  return (pod.spec?.ephemeralContainers ?? []).flatMap((container, index) => {
    if (!considered(container.name)) return [];
    const name = `ephemeral container "${container.name}" (spec.ephemeralContainers[${index}])`;
    return [
      ...(container.targetContainerName === SIDECAR_CONTAINER ? [`${name} targets ${SIDECAR_CONTAINER}, whose memory and files it could read`] : []),
      ...(listsCapability(container, "add", "NET_ADMIN") ? [`${name} adds NET_ADMIN, so it could remove the transparent redirect rules`] : []),
      ...reachRefusals(container, name),
    ];
  });
}

/**
 * Why the gateway cannot protect this pod with these Resources; empty when it can. Collisions of the
 * injector's reserved names are checked separately (reservedNameConflicts), because an already
 * injected pod legitimately uses them.
 */
export function refusalReasons(pod: V1Pod, resources: IResource[], settings: InjectionSettings): string[] {
  return [
    ...podRefusals(pod),
    ...listenerRefusals(resources, settings),
    ...portCollisions(pod, resources, settings),
    ...transparentBypasses(pod, resources, settings),
  ];
}

/** The refusals that depend on the pod alone, not on the Resources it is served. */
export function podRefusals(pod: V1Pod): string[] {
  return [...podLevelRefusals(pod), ...containerRefusals(pod), ...foreignPortcullisTokens(pod)];
}

/**
 * Pod Security Admission runs after the mutating webhooks: in a namespace that enforces the baseline or
 * restricted level it would reject the iptables init container (root, NET_ADMIN) with a message that does
 * not say where the container came from. Refusing here says what to change instead.
 */
export function podSecurityRefusals(namespaceLabels: Record<string, string> | undefined, resources: IResource[]): string[] {
  const level = namespaceLabels?.["pod-security.kubernetes.io/enforce"];
  const transparent = transparentResources(resources).map(resourceName);
  if ((level !== "baseline" && level !== "restricted") || transparent.length === 0) return [];
  return [
    `the namespace enforces Pod Security level "${level}", which forbids the NET_ADMIN capability that ${INIT_CONTAINER} needs for the transparent Resources "${transparent.join('", "')}"; set their spec.transparent to false or allow the "privileged" level`,
  ];
}

/** Containers or volumes of a not-yet-injected pod that already use the injector's names. */
export function reservedNameConflicts(pod: V1Pod): string[] {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
    .filter((container) => RESERVED_CONTAINER_NAMES.includes(container.name))
    .map((container) => `container name "${container.name}" is reserved for Portcullis; rename the container`);
  const volumes = (pod.spec?.volumes ?? [])
    .filter((volume) => RESERVED_VOLUME_NAMES.includes(volume.name))
    .map((volume) => `volume name "${volume.name}" is reserved for Portcullis; rename the volume`);
  return [...containers, ...volumes];
}
