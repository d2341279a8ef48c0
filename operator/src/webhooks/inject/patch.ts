// Sidecar injection as a pure function of (pod, AccessPolicies, Resources,
// settings): the webhook's HTTP layer only looks up its inputs and returns
// the outcome. Tested with golden files (patch.test.ts, testdata/).
//
// Container layout, native mode (the default):
//   initContainers: portcullis-init      only with transparent Resources: installs the iptables rules, exits
//                   portcullis-gateway   restartPolicy Always: a native sidecar
//                   ...the pod's own init containers
//   containers:     ...the pod's own containers (explicit Resources: PORTCULLIS_*_URL, PGHOST, ... added)
// Why: init containers start one after another. The redirect must be in place before any process of the
// agent runs, and the gateway must be ready (its startup probe passes) before anything that may talk to a
// backend, including the pod's own init containers (a migration, say). A native sidecar also stops after
// the app containers, so their last statements are still recorded, and it does not keep a Job running.
//
// Classic mode (nativeSidecar false, for clusters before 1.29): portcullis-gateway is first in containers.
// The kubelet starts containers in order without waiting for them, so an agent may briefly get
// "connection refused" (closed, not open), and the pod's own init containers run before the gateway
// exists: with transparent rules their connections to backends fail rather than bypass it; they get no
// Portcullis variables.
//
// The projected token (audience "portcullis") is mounted only into the sidecar: it is what the broker
// trusts to hand out the backends' credentials, so in an agent container it would let the agent fetch
// them itself. Mounts are per container, so the agent's containers cannot see it. The iptables init
// container is the only one with capabilities (NET_ADMIN, NET_RAW) and it exits before the agent starts.
//
// Idempotency: the portcullis.dev/injected annotation records what was added (record.ts), sealed with
// the operator's key (seal.ts). A pod that carries it, and really holds what it records under a seal
// that matches, gets an empty patch, so a webhook reinvocation changes nothing; a pod whose record does
// not hold (written by hand, copied from another namespace, or altered) is refused.
//
// The JSON patch replaces whole members (/metadata/annotations, /spec/initContainers, /spec/containers,
// /spec/volumes) with `add`, which sets a member whether or not it exists: short, and correct whatever
// the pod already holds.
import type { V1Container, V1Pod, V1PodSpec } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { addEnvToContainer, addTrustMount, apiServerTokenVolumes, explicitResourceEnv, trustEnv, withGatewayServiceAccount } from "./app-env.js";
import { governsInClusterApi, needsPodTrust } from "@portcullis/common/config/agent-tls";
import { gatewayContainer, injectedVolumes, iptablesInitContainer } from "./containers.js";
import { renderInitScript, transparentRedirectRules } from "./iptables.js";
import { jsonPointer, type JsonPatchOperation } from "../json-patch.js";
import { INIT_CONTAINER, INJECTED_ANNOTATION, SIDECAR_CONTAINER } from "@portcullis/common/injection-names";
import { injectionDecision } from "./opt-in.js";
import { configurationHash, encodeRecord, type InjectionRecord } from "./record.js";
import { canonicalJson } from "@portcullis/common/canonical-json";
import { podRefusals, podSecurityRefusals, refusalReasons, reservedNameConflicts } from "./refusals.js";
import { checkInjection, injectionSeal } from "./seal.js";
import { selectPolicies, selectResources } from "@portcullis/common/config/select";
import type { InjectionSettings } from "./settings.js";

export type { JsonPatchOperation } from "../json-patch.js";

export interface InjectionInput {
  /** AccessPolicies (any namespace; only the pod's are used). */
  policies: IAccessPolicy[];
  /** Resources (any namespace; only the pod's are used). */
  resources: IResource[];
  settings: InjectionSettings;
  /** Labels of the pod's namespace, for the opt-in; undefined when unknown (then only the pod label opts in). */
  namespaceLabels: Record<string, string> | undefined;
  /** The admission request's namespace; defaults to the pod's metadata.namespace. */
  namespace?: string;
  /** The key the injection record is sealed with (seal.ts). */
  sealKey: Buffer;
}

export interface SidecarPatch {
  kind: "patch";
  /** Empty when the pod stays as it is. */
  patch: JsonPatchOperation[];
  /** For the admission response's warnings. */
  warnings: string[];
  /** The pod already carries a valid portcullis.dev/injected record; nothing was added. */
  alreadyInjected: boolean;
  /** Why no sidecar was added, when none was and the pod was not already injected. */
  skipped?: string;
  /** The pod after the patch. */
  pod: V1Pod;
}

export interface InjectionRefusal {
  kind: "refusal";
  /** For the admission response's status message. */
  message: string;
  reasons: string[];
  warnings: string[];
}

export type SidecarPatchOutcome = SidecarPatch | InjectionRefusal;

function podDisplayName(pod: V1Pod): string {
  if (pod.metadata?.name) return pod.metadata.name;
  return pod.metadata?.generateName ? `${pod.metadata.generateName}<generated>` : "<unnamed>";
}

function refusal(pod: V1Pod, namespace: string | undefined, reasons: string[], warnings: string[]): InjectionRefusal {
  const where = namespace === undefined ? "" : ` in namespace "${namespace}"`;
  return {
    kind: "refusal",
    message: `Portcullis cannot protect pod "${podDisplayName(pod)}"${where}: ${reasons.join("; ")}`,
    reasons,
    warnings,
  };
}

function skipped(pod: V1Pod, reason: string, warnings: string[] = []): SidecarPatch {
  return { kind: "patch", patch: [], warnings, alreadyInjected: false, skipped: reason, pod };
}

/** The JSON patch that turns `before` into `after`, which differ only in the members the injector writes. */
export function patchBetween(before: V1Pod, after: V1Pod): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  if (before.metadata === undefined && after.metadata !== undefined) {
    operations.push({ op: "add", path: "/metadata", value: after.metadata });
  } else if (canonicalJson(before.metadata?.annotations) !== canonicalJson(after.metadata?.annotations)) {
    operations.push({ op: "add", path: jsonPointer(["metadata", "annotations"]), value: after.metadata?.annotations });
  }
  for (const field of ["initContainers", "containers", "volumes"] as const) {
    const value = after.spec?.[field];
    if (value !== undefined && canonicalJson(before.spec?.[field]) !== canonicalJson(value)) {
      operations.push({ op: "add", path: jsonPointer(["spec", field]), value });
    }
  }
  return operations;
}

interface AppContainers {
  initContainers: V1Container[];
  containers: V1Container[];
  env: string[];
  warnings: string[];
  /** The API server token volumes the app containers no longer mount: removed from the pod. */
  tokenVolumes: ReadonlySet<string>;
}

/**
 * Adds the explicit Resources' variables to the pod's containers (and, native mode, its init containers),
 * and, for transparent HTTPS Resources, the pod CA's trust directory and the variables that point at it.
 */
function withAppEnv(spec: V1PodSpec, resources: IResource[], settings: InjectionSettings): AppContainers {
  const explicit = explicitResourceEnv(resources);
  const trust = resources.some((resource) => needsPodTrust(resource.spec));
  const inCluster = resources.some((resource) => governsInClusterApi(resource.spec));
  const tokenVolumes = inCluster ? apiServerTokenVolumes(spec.volumes ?? []) : new Set<string>();
  const vars = [...explicit.vars, ...(trust ? trustEnv() : [])];
  const added = new Set<string>();
  const warnings = [...explicit.warnings];
  const update = (container: V1Container): V1Container => {
    if (vars.length === 0) return container;
    const result = addEnvToContainer(container, vars);
    result.added.forEach((name) => added.add(name));
    warnings.push(...result.warnings);
    return trust ? addTrustMount(result.container) : result.container;
  };
  // Every app container, init containers too (in classic mode they run before the gateway, so they get no API at all).
  const serviceAccount = (container: V1Container): V1Container => (inCluster ? withGatewayServiceAccount(container, tokenVolumes) : container);
  const initContainers = (spec.initContainers ?? []).map((c) => serviceAccount(settings.nativeSidecar ? update(c) : c));
  const containers = spec.containers.map((c) => serviceAccount(update(c)));
  return { initContainers, containers, env: [...added].sort(), warnings, tokenVolumes };
}

function dnsWarnings(resources: IResource[]): string[] {
  return resources
    .filter((r) => r.spec.transparent === true)
    .filter((r) => !/^[0-9.]+$/.test(r.spec.endpoint.host) && !/\.svc(\.|$)/.test(r.spec.endpoint.host))
    .map(
      (r) =>
        `transparent Resource "${r.metadata?.name ?? ""}": ${r.spec.endpoint.host} is resolved once when the pod starts; addresses it moves to later are not redirected (connections to them reach the backend without credentials)`,
    );
}

/** Puts the sealed record into the injected pod's annotation. */
function sealed(pod: V1Pod, namespace: string, record: InjectionRecord, key: Buffer): V1Pod {
  const annotation = encodeRecord({ ...record, seal: injectionSeal(key, pod, namespace, record) });
  return { ...pod, metadata: { ...pod.metadata, annotations: { ...pod.metadata?.annotations, [INJECTED_ANNOTATION]: annotation } } };
}

/** The injected pod and what to warn about; renderSidecarPatch checks opt-in and refusals before calling it. */
export function injectPod(pod: V1Pod, resources: IResource[], settings: InjectionSettings, seal: { namespace: string; key: Buffer }): { pod: V1Pod; warnings: string[] } {
  const spec: V1PodSpec = pod.spec ?? { containers: [] };
  const rules = transparentRedirectRules(resources, settings);
  const ours = rules.length > 0 ? [iptablesInitContainer(renderInitScript(rules), settings)] : [];
  const sidecar = gatewayContainer(resources, settings);
  const trust = resources.some((resource) => needsPodTrust(resource.spec));
  const app = withAppEnv(spec, resources, settings);
  const initContainers = settings.nativeSidecar ? [...ours, sidecar, ...app.initContainers] : [...ours, ...app.initContainers];
  const containers = settings.nativeSidecar ? app.containers : [sidecar, ...app.containers];
  const record: InjectionRecord = {
    version: 1,
    initContainers: initContainers.map((c) => c.name).filter((name) => name === INIT_CONTAINER || name === SIDECAR_CONTAINER),
    containers: settings.nativeSidecar ? [] : [SIDECAR_CONTAINER],
    volumes: injectedVolumes(settings, ours.length > 0, trust).map((v) => v.name),
    env: app.env,
    resources: resources.map((r) => r.metadata?.name ?? ""),
    hash: configurationHash(settings, resources),
  };
  const injected: V1Pod = {
    ...pod,
    spec: {
      ...spec,
      ...(initContainers.length > 0 ? { initContainers } : {}),
      containers,
      volumes: [...(spec.volumes ?? []).filter((volume) => !app.tokenVolumes.has(volume.name)), ...injectedVolumes(settings, ours.length > 0, trust)],
    },
  };
  return { pod: structuredClone(sealed(injected, seal.namespace, record, seal.key)), warnings: [...app.warnings, ...dnsWarnings(resources)] };
}

function alreadyInjected(pod: V1Pod, annotation: string, served: IResource[], input: InjectionInput, namespace: string): SidecarPatchOutcome {
  const { record, problems } = checkInjection(pod, annotation, namespace, input.sealKey);
  if (record === undefined || problems.length > 0) {
    const reason =
      `it carries annotation ${INJECTED_ANNOTATION}, but ${problems.join(", and ")}; ` +
      "remove the annotation and any portcullis-* containers and volumes, and create the pod again to have it injected";
    return refusal(pod, namespace, [reason], []);
  }
  // Someone may have copied an injected pod's spec and changed it: what makes a pod unprotectable still applies.
  const podProblems = podRefusals(pod);
  if (podProblems.length > 0) return refusal(pod, namespace, podProblems, []);
  const current = configurationHash(input.settings, served);
  const warnings =
    record.hash === current
      ? []
      : [`pod was injected with configuration ${record.hash}, the current one is ${current}; it keeps the old one until it is recreated`];
  return { kind: "patch", patch: [], warnings, alreadyInjected: true, pod };
}

/** What the webhook does with a pod on CREATE: a JSON patch (possibly empty) with warnings, or a refusal. */
export function renderSidecarPatch(pod: V1Pod, input: InjectionInput): SidecarPatchOutcome {
  const namespace = input.namespace ?? pod.metadata?.namespace ?? "default";
  const decision = injectionDecision(pod, input.namespaceLabels);
  if (!decision.inject) return skipped(pod, decision.reason);

  const policies = selectPolicies(pod, input.policies, namespace);
  const { resources, missing } = selectResources(policies, input.resources);
  const annotation = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (annotation !== undefined) return alreadyInjected(pod, annotation, resources, input, namespace);

  const conflicts = reservedNameConflicts(pod);
  if (conflicts.length > 0) return refusal(pod, namespace, conflicts, missing);
  if (policies.length === 0) return skipped(pod, `no AccessPolicy in namespace "${namespace ?? ""}" selects this pod`);
  if (resources.length === 0) return skipped(pod, "the AccessPolicies that select this pod name no existing Resource", missing);

  const reasons = [...refusalReasons(pod, resources, input.settings), ...podSecurityRefusals(input.namespaceLabels, resources)];
  if (reasons.length > 0) return refusal(pod, namespace, reasons, missing);

  const injected = injectPod(pod, resources, input.settings, { namespace, key: input.sealKey });
  return {
    kind: "patch",
    patch: patchBetween(pod, injected.pod),
    warnings: [...missing, ...injected.warnings],
    alreadyInjected: false,
    pod: injected.pod,
  };
}
