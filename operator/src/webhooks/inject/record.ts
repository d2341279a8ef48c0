// The portcullis.dev/injected annotation: what the injector added to a pod.
// It makes injection idempotent (a webhook reinvocation or a re-submitted
// injected pod is left alone) and tells an operator which configuration a
// running pod got. Because users can write annotations too, an annotation
// alone proves nothing: the pod must also contain what it records, the
// identity volume must be mounted only into the gateway, and the record's
// seal (seal.ts) must match the pod.
import { createHash } from "node:crypto";
import type { V1Pod } from "@kubernetes/client-node";
import type { IResource } from "@portcullis/crds";
import { IDENTITY_VOLUME, INJECTED_ANNOTATION, SIDECAR_CONTAINER } from "@portcullis/common/injection-names";
import type { InjectionSettings } from "./settings.js";
import { canonicalJson } from "@portcullis/common/canonical-json";

export interface InjectionRecord {
  version: 1;
  /** Init containers the injector added (the iptables init container, the native sidecar). */
  initContainers: string[];
  /** Containers the injector added (the classic sidecar). */
  containers: string[];
  volumes: string[];
  /** Environment variables the injector added to the app containers. */
  env: string[];
  /** The Resources the sidecar serves. */
  resources: string[];
  /** Hash of the settings and Resource specs the pod was injected with. */
  hash: string;
  /** The operator's HMAC over the pod's Portcullis parts and this record (seal.ts); absent only while sealing. */
  seal?: string;
}

/** A short hash of what determines the injected containers: the settings and the served Resources' specs. */
export function configurationHash(settings: InjectionSettings, resources: IResource[]): string {
  const served = resources.map((resource) => ({ name: resource.metadata?.name, spec: resource.spec }));
  const digest = createHash("sha256").update(canonicalJson({ settings, resources: served })).digest("hex");
  return `sha256:${digest.slice(0, 16)}`;
}

export function encodeRecord(record: InjectionRecord): string {
  return JSON.stringify(record);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

/** Parses the annotation value; a message instead when it is not a record this version wrote. */
export function parseRecord(value: string): InjectionRecord | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return `annotation ${INJECTED_ANNOTATION} is not JSON`;
  }
  const record = parsed as Partial<Record<keyof InjectionRecord, unknown>> | null;
  const listsOk = ["initContainers", "containers", "volumes", "env", "resources"].every((key) =>
    isStringArray(record?.[key as keyof InjectionRecord]),
  );
  if (record === null || typeof record !== "object" || record.version !== 1 || !listsOk || typeof record.hash !== "string" || !["string", "undefined"].includes(typeof record.seal)) {
    return `annotation ${INJECTED_ANNOTATION} is not a version 1 injection record`;
  }
  return record as InjectionRecord;
}

function missing(kind: string, wanted: string[], present: string[]): string[] {
  return wanted.filter((name) => !present.includes(name)).map((name) => `the recorded ${kind} "${name}" is missing`);
}

/** Where the pod contradicts its record; empty when the pod holds what the record says. */
export function recordProblems(pod: V1Pod, record: InjectionRecord): string[] {
  const initContainers = pod.spec?.initContainers ?? [];
  const containers = pod.spec?.containers ?? [];
  const problems = [
    ...missing("init container", record.initContainers, initContainers.map((c) => c.name)),
    ...missing("container", record.containers, containers.map((c) => c.name)),
    ...missing("volume", record.volumes, (pod.spec?.volumes ?? []).map((v) => v.name)),
  ];
  if (![...record.initContainers, ...record.containers].includes(SIDECAR_CONTAINER)) {
    problems.push(`the record names no "${SIDECAR_CONTAINER}" container`);
  }
  for (const container of [...initContainers, ...containers]) {
    const mountsIdentity = (container.volumeMounts ?? []).some((mount) => mount.name === IDENTITY_VOLUME);
    if (mountsIdentity && container.name !== SIDECAR_CONTAINER) {
      problems.push(`container "${container.name}" mounts volume "${IDENTITY_VOLUME}", which only "${SIDECAR_CONTAINER}" may mount`);
    }
  }
  return problems;
}
