// Starts the controllers for one term of leadership and wires them to the
// caches; everything stops when the term's signal aborts, so a deposed
// leader writes nothing more.
import type { CoreV1Api, CustomObjectsApi, KubernetesObject } from "@kubernetes/client-node";
import type { IAccessPolicy, IApprovalRequest, IResource } from "@portcullis/crds";
import { onAnyChange, type Caches } from "../caches.js";
import type { CertificateManager } from "../certs/manager.js";
import type { Informer } from "../kube/informer.js";
import type { Logger } from "../log.js";
import type { OperatorMetrics } from "../metrics.js";
import { validateAccessPolicy } from "@portcullis/common/policy/validate";
import { ApprovalController } from "./approval-controller.js";
import { CaBundleController } from "./ca-bundle-controller.js";
import { policyVerdict, resourceVerdict, type ReferenceCaches } from "./conditions.js";
import { EventRecorder } from "./events.js";
import { StatusController } from "./status-controller.js";

export interface ControllerDeps {
  caches: Caches;
  core: CoreV1Api;
  customObjects: CustomObjectsApi;
  certificates: CertificateManager;
  identity: string;
  approvalRetentionSeconds: number;
  metrics: OperatorMetrics;
  log: Logger;
}

export function runControllers(deps: ControllerDeps, signal: AbortSignal): void {
  const { caches, customObjects, metrics, log } = deps;
  const references: ReferenceCaches = { secrets: caches.secrets, configMaps: caches.configMaps, resources: caches.resources };
  const resources = new StatusController<IResource>({
    name: "resources", plural: "resources", cache: caches.resources, customObjects, metrics, log,
    verdict: (resource) => resourceVerdict(resource, references),
  });
  const policies = new StatusController<IAccessPolicy>({
    name: "accesspolicies", plural: "accesspolicies", cache: caches.policies, customObjects, metrics, log,
    verdict: (policy) => {
      const { errors } = validateAccessPolicy(policy, { resources: caches.resources.list(policy.metadata?.namespace) });
      return policyVerdict(policy, references, errors.map((e) => `${e.field}: ${e.message}`));
    },
  });
  const events = new EventRecorder(deps.core, deps.identity, log);
  const approvals = new ApprovalController({ cache: caches.approvals, customObjects, events, retentionSeconds: deps.approvalRetentionSeconds, metrics, log });
  const caBundles = new CaBundleController(deps.core, caches.policies, caches.configMaps, log);

  const enqueueNamespace = (namespace: string): void => {
    resources.enqueueAll(namespace);
    policies.enqueueAll(namespace);
  };
  const removers = [
    onAnyChange([caches.resources, caches.policies, caches.secrets, caches.configMaps] as Informer<KubernetesObject>[], enqueueNamespace),
    onAnyChange([caches.policies, caches.configMaps] as Informer<KubernetesObject>[], (namespace) => caBundles.queue.add(namespace)),
    caches.approvals.on("add", (request) => approvals.queue.add(`${request.metadata?.namespace}/${request.metadata?.name}`)),
    caches.approvals.on("update", (request: IApprovalRequest, old: IApprovalRequest) => {
      approvals.queue.add(`${request.metadata?.namespace}/${request.metadata?.name}`);
      return approvals.observeTransition(old, request);
    }),
  ];
  const onCertificates = (): void => caBundles.setBundle(deps.certificates.material?.bundle.join("") ?? "");
  deps.certificates.on("changed", onCertificates);

  resources.enqueueAll();
  policies.enqueueAll();
  approvals.enqueueAll();
  onCertificates();
  log.info("controllers started");

  signal.addEventListener("abort", () => {
    for (const remove of removers) remove();
    deps.certificates.off("changed", onCertificates);
    for (const queue of [resources.queue, policies.queue, approvals.queue, caBundles.queue]) queue.stop();
    log.info("controllers stopped");
  }, { once: true });
}
