// Binds the pure admission logic (inject/, validate/) to the operator's
// caches: each handler turns an AdmissionRequest into an AdmissionResult.
import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import type { IAccessPolicy, IApprovalRequest, IResource } from "@portcullis/crds";
import type { Cache } from "../controllers/conditions.js";
import type { AdmissionHandler, AdmissionResult } from "./admission-server.js";
import { NAMESPACE_INJECTION_LABEL } from "./inject/opt-in.js";
import { renderSidecarPatch } from "./inject/patch.js";
import { injectedPodUpdateProblems } from "./inject/pod-updates.js";
import type { InjectionSettings } from "./inject/settings.js";
import { admitApprovalRequest } from "./validate/approval.js";
import { formatAdmissionDenial, validateAccessPolicy, validateResource } from "@portcullis/common/policy/validate";

export interface AdmissionCaches {
  namespaces: Cache<V1Namespace>;
  policies: Cache<IAccessPolicy>;
  resources: Cache<IResource>;
}

/**
 * Pods CREATE. `namespaceOptedIn`: the API server called the webhook whose namespaceSelector requires the
 * opt-in label, so the namespace is opted in even when the operator's namespace cache has not seen the
 * label yet (a pod in a namespace labelled a moment ago must not start without its gateway).
 */
export function podInjectionHandler(caches: AdmissionCaches, settings: InjectionSettings, sealKey: Buffer, namespaceOptedIn = false): AdmissionHandler {
  return (request) => {
    if (request.operation !== "CREATE") return { allowed: true };
    const pod = request.object as V1Pod;
    const namespace = request.namespace ?? pod.metadata?.namespace ?? "default";
    const cached = caches.namespaces.get("", namespace)?.metadata?.labels;
    const outcome = renderSidecarPatch(pod, {
      policies: caches.policies.list(namespace),
      resources: caches.resources.list(namespace),
      settings,
      namespaceLabels: namespaceOptedIn ? { ...cached, [NAMESPACE_INJECTION_LABEL]: "enabled" } : cached,
      namespace,
      sealKey,
    });
    if (outcome.kind === "refusal") return { allowed: false, code: 403, message: outcome.message, warnings: outcome.warnings };
    return { allowed: true, patch: outcome.patch, warnings: outcome.warnings };
  };
}

function fromValidation(kind: string, name: string, result: { errors: { field: string; message: string }[]; warnings: string[] }): AdmissionResult {
  if (result.errors.length > 0) return { allowed: false, code: 422, message: formatAdmissionDenial(kind, name, result.errors), warnings: result.warnings };
  return { allowed: true, warnings: result.warnings };
}

export function accessPolicyHandler(caches: AdmissionCaches): AdmissionHandler {
  return (request) => {
    const policy = request.object as IAccessPolicy;
    const resources = caches.resources.list(request.namespace);
    return fromValidation("AccessPolicy", policy.metadata?.name ?? "", validateAccessPolicy(policy, { resources }));
  };
}

export function resourceHandler(caches: AdmissionCaches): AdmissionHandler {
  return (request) => {
    const resource = request.object as IResource;
    const resources = caches.resources.list(request.namespace);
    return fromValidation("Resource", resource.metadata?.name ?? "", validateResource(resource, { resources }));
  };
}

export function approvalRequestHandler(operatorUsername: string, now: () => Date = () => new Date()): AdmissionHandler {
  return (request) => {
    if (request.operation === "CONNECT") return { allowed: true };
    return admitApprovalRequest(
      {
        operation: request.operation,
        ...(request.subResource ? { subResource: request.subResource } : {}),
        userInfo: request.userInfo,
        ...(request.object ? { object: request.object as IApprovalRequest } : {}),
        ...(request.oldObject ? { oldObject: request.oldObject as IApprovalRequest } : {}),
      },
      { operatorUsername, now: now() },
    );
  };
}

/** Pods UPDATE and pods/ephemeralcontainers: what would undo an injected pod's protection is refused (inject/pod-updates.ts). */
export function injectedPodUpdateHandler(sealKey: Buffer): AdmissionHandler {
  return (request) => {
    if (request.operation !== "UPDATE" || !request.oldObject || !request.object) return { allowed: true };
    const pod = request.object as V1Pod;
    const problems = injectedPodUpdateProblems(request.oldObject, pod, request.namespace ?? pod.metadata?.namespace ?? "default", sealKey);
    if (problems.length === 0) return { allowed: true };
    return { allowed: false, code: 403, message: `Portcullis protects pod "${pod.metadata?.name ?? ""}": ${problems.join("; ")}` };
  };
}
