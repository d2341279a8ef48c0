// The injection seal. Anyone who may create pods can write the
// portcullis.dev/injected annotation and containers named portcullis-*, and
// pods' container images can be changed after creation; the broker hands out
// credentials to whatever it takes for an injected gateway. So the injector
// seals what it added: an HMAC, under a key only the operator holds (a Secret
// in its namespace, seal-key.ts), over the pod's namespace and service
// account, the injection record, and the security-relevant fields of the
// containers and volumes it added. The broker recomputes it from the pod as
// it is now; a hand-written, copied or altered pod does not match.
//
// Only fields the injector sets and the API server does not default are
// covered (probes and resources are defaulted, and do not change what the
// gateway can reach); a fieldRef's apiVersion is read as the API server
// defaults it, and the service-account token mount the API server adds to
// every container after the webhook is left out.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { V1Container, V1EnvVar, V1Pod, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { RESERVED_CONTAINER_NAMES, RESERVED_VOLUME_NAMES } from "@portcullis/common/injection-names";
import { parseRecord, recordProblems, type InjectionRecord } from "./record.js";
import { canonicalJson } from "@portcullis/common/canonical-json";

export const SEAL_KEY_BYTES = 32;

/** Why a pod whose record does not carry a matching seal is not trusted. */
export const UNSEALED = "its seal does not match: Portcullis did not inject this pod as it is now (the record was written by hand or copied, or the Portcullis containers or volumes were changed)";

function envProjection(env: V1EnvVar): V1EnvVar {
  const fieldRef = env.valueFrom?.fieldRef;
  return fieldRef ? { ...env, valueFrom: { ...env.valueFrom, fieldRef: { apiVersion: "v1", ...fieldRef } } } : env;
}

/** The API server's ServiceAccount admission adds this mount to every container, the injected ones included, after the webhook. */
const SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
const addedByServiceAccountAdmission = (mount: V1VolumeMount): boolean => mount.mountPath === SERVICE_ACCOUNT_MOUNT_PATH && mount.name.startsWith("kube-api-access-");

function containerProjection(container: V1Container): object {
  return {
    name: container.name,
    image: container.image,
    command: container.command,
    args: container.args,
    workingDir: container.workingDir,
    env: container.env?.map(envProjection),
    envFrom: container.envFrom,
    volumeMounts: container.volumeMounts?.filter((mount) => !addedByServiceAccountAdmission(mount)),
    securityContext: container.securityContext,
    restartPolicy: container.restartPolicy,
  };
}

function volumeProjection(volume: V1Volume): object {
  return { name: volume.name, projected: volume.projected?.sources, emptyDir: volume.emptyDir };
}

/** What the seal covers, as canonical JSON. */
function sealedText(pod: V1Pod, namespace: string, record: InjectionRecord): string {
  const spec = pod.spec;
  const ours = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].filter((c) => RESERVED_CONTAINER_NAMES.includes(c.name));
  return canonicalJson({
    namespace,
    serviceAccount: spec?.serviceAccountName ?? "default",
    record: { ...record, seal: undefined },
    containers: ours.map(containerProjection),
    volumes: (spec?.volumes ?? []).filter((v) => RESERVED_VOLUME_NAMES.includes(v.name)).map(volumeProjection),
  });
}

/** The seal of `pod` (as injected) in `namespace` with `record`: base64url HMAC-SHA256. */
export function injectionSeal(key: Buffer, pod: V1Pod, namespace: string, record: InjectionRecord): string {
  return createHmac("sha256", key).update(sealedText(pod, namespace, record)).digest("base64url");
}

/** Whether the record's seal matches the pod as it is now. */
export function sealHolds(key: Buffer, pod: V1Pod, namespace: string, record: InjectionRecord): boolean {
  if (record.seal === undefined) return false;
  const expected = Buffer.from(injectionSeal(key, pod, namespace, record), "base64url");
  const actual = Buffer.from(record.seal, "base64url");
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/**
 * Checks an injection annotation against the pod as it is now: parsed, holding what it records, and
 * under a matching seal. `record` is absent when the annotation is not a record at all.
 */
export function checkInjection(pod: V1Pod, annotation: string, namespace: string, key: Buffer): { record?: InjectionRecord; problems: string[] } {
  const record = parseRecord(annotation);
  if (typeof record === "string") return { problems: [record] };
  const problems = recordProblems(pod, record);
  if (problems.length === 0 && !sealHolds(key, pod, namespace, record)) problems.push(UNSEALED);
  return { record, problems };
}
