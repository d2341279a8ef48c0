// Which pods get a sidecar at all. Injection is opt-in, by namespace or by
// pod, so a cluster-wide webhook never surprises a workload; a pod can opt
// out even in an opted-in namespace. Opting out is safe: a pod without the
// sidecar has no way to obtain the brokered credentials.
import type { V1Pod } from "@kubernetes/client-node";

/** Namespace label; the value `enabled` opts in every pod of the namespace. */
export const NAMESPACE_INJECTION_LABEL = "portcullis.dev/injection";
/** Pod label; `true` opts the pod in, `false` opts it out and wins over the namespace label. */
export const POD_INJECT_LABEL = "portcullis.dev/inject";

export interface InjectionDecision {
  inject: boolean;
  /** Why, naming the label that decided; for logs and admission warnings. */
  reason: string;
}

export function injectionDecision(
  pod: V1Pod,
  namespaceLabels: Record<string, string> | undefined,
): InjectionDecision {
  const podValue = pod.metadata?.labels?.[POD_INJECT_LABEL];
  if (podValue === "false") return { inject: false, reason: `pod label ${POD_INJECT_LABEL}=false opts the pod out` };
  if (podValue === "true") return { inject: true, reason: `pod label ${POD_INJECT_LABEL}=true opts the pod in` };
  if (namespaceLabels?.[NAMESPACE_INJECTION_LABEL] === "enabled") {
    return { inject: true, reason: `namespace label ${NAMESPACE_INJECTION_LABEL}=enabled opts the pod in` };
  }
  const ignored = podValue === undefined ? "" : ` (pod label ${POD_INJECT_LABEL}="${podValue}" is neither true nor false, so it is ignored)`;
  return {
    inject: false,
    reason: `neither namespace label ${NAMESPACE_INJECTION_LABEL}=enabled nor pod label ${POD_INJECT_LABEL}=true is set${ignored}`,
  };
}
