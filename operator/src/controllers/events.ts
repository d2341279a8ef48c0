// Kubernetes Events about Portcullis objects, so `kubectl describe` and
// `kubectl get events` tell the story of an approval.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Logger } from "../log.js";

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export class EventRecorder {
  constructor(
    private readonly core: CoreV1Api,
    private readonly instance: string,
    private readonly log: Logger,
  ) {}

  /** Records an Event; a failure is logged, never thrown: Events are best-effort by design. */
  async record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const namespace = target.metadata?.namespace ?? "default";
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace,
        body: {
          metadata: { generateName: `${target.metadata?.name ?? "portcullis"}.`, namespace },
          involvedObject: {
            apiVersion: target.apiVersion,
            kind: target.kind,
            name: target.metadata?.name,
            namespace,
            uid: target.metadata?.uid,
            resourceVersion: target.metadata?.resourceVersion,
          },
          type,
          reason,
          message,
          count: 1,
          firstTimestamp: now,
          lastTimestamp: now,
          source: { component: "portcullis-operator", host: this.instance },
          reportingComponent: "portcullis.dev/operator",
          reportingInstance: this.instance,
        },
      });
    } catch (error) {
      this.log.warn("could not record event", { reason, object: `${namespace}/${target.metadata?.name}`, error: (error as Error).message });
    }
  }
}
