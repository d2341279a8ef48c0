// Changes to a pod after it was injected. Pod specs are mostly immutable, but
// container images, annotations and ephemeral containers (kubectl debug) can
// change later, and each could undo the protection: a different gateway image,
// a removed injection record, a debug container that targets the gateway
// (sharing its memory and files) or mounts its token or spool. The validating
// webhook refuses these for pods whose injection seal holds; the broker checks
// the same things (authenticate.ts), for pods changed while the webhook was
// not there.
import type { V1Pod } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION } from "@portcullis/common/injection-names";
import { ephemeralContainerRefusals } from "./refusals.js";
import { checkInjection } from "./seal.js";

/** Why the update of a Portcullis-injected pod must be refused; empty when it may go ahead or the pod is not one. */
export function injectedPodUpdateProblems(oldPod: V1Pod, newPod: V1Pod, namespace: string, sealKey: Buffer): string[] {
  const annotation = oldPod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (annotation === undefined) return [];
  // A pod whose seal never held gets nothing from the broker; there is nothing to protect.
  if (checkInjection(oldPod, annotation, namespace, sealKey).problems.length > 0) return [];
  const problems: string[] = [];
  if (newPod.metadata?.annotations?.[INJECTED_ANNOTATION] !== annotation) {
    problems.push(`annotation ${INJECTED_ANNOTATION} of an injected pod cannot be changed or removed`);
  } else if (checkInjection(newPod, annotation, namespace, sealKey).problems.length > 0) {
    problems.push("the containers and volumes Portcullis injected cannot be changed (for example the gateway's image); recreate the pod to change them");
  }
  // Ephemeral containers cannot be removed; only those the update adds are judged.
  const existing = new Set((oldPod.spec?.ephemeralContainers ?? []).map((container) => container.name));
  return [...problems, ...ephemeralContainerRefusals(newPod, (name) => !existing.has(name))];
}
