// Keeps a ConfigMap with the operator's CA bundle in every namespace that has
// AccessPolicies, so injected sidecars can verify the broker. The sidecar
// mounts it through a projected volume, and the kubelet refreshes mounted
// ConfigMaps, so a rotated CA reaches running pods without a restart.
import type { CoreV1Api, V1ConfigMap } from "@kubernetes/client-node";
import type { IAccessPolicy } from "@portcullis/crds";
import { isStatus } from "../kube/client.js";
import type { Logger } from "../log.js";
import type { Cache } from "./conditions.js";
import { WorkQueue } from "./queue.js";

export const CA_BUNDLE_CONFIGMAP = "portcullis-ca-bundle";

export class CaBundleController {
  readonly queue: WorkQueue;
  private bundlePem?: string;

  constructor(
    private readonly core: CoreV1Api,
    private readonly policies: Cache<IAccessPolicy>,
    private readonly configMaps: Cache<V1ConfigMap>,
    log: Logger,
  ) {
    this.queue = new WorkQueue("ca-bundle", (namespace) => this.reconcile(namespace), log);
  }

  setBundle(pem: string): void {
    this.bundlePem = pem;
    this.enqueueAll();
  }

  enqueueAll(): void {
    for (const namespace of new Set(this.policies.list().map((p) => p.metadata?.namespace ?? ""))) this.queue.add(namespace);
  }

  private async reconcile(namespace: string): Promise<void> {
    const pem = this.bundlePem;
    if (!pem || this.policies.list(namespace).length === 0) return;
    const existing = this.configMaps.get(namespace, CA_BUNDLE_CONFIGMAP);
    if (existing?.data?.["ca.crt"] === pem) return;
    const body: V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: CA_BUNDLE_CONFIGMAP, namespace, labels: { "app.kubernetes.io/managed-by": "portcullis-operator" } },
      data: { "ca.crt": pem },
    };
    try {
      if (existing) await this.core.replaceNamespacedConfigMap({ name: CA_BUNDLE_CONFIGMAP, namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } } });
      else await this.core.createNamespacedConfigMap({ namespace, body });
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
      this.queue.addAfter(namespace, 500); // raced with an informer update; try again with fresh data
    }
  }
}
