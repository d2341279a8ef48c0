// Writes the Ready condition of Resources and AccessPolicies (leader only).
// It writes only when the condition changed, so resyncs cost reads, not writes.
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from "@kubernetes/client-node";
import type { Logger } from "../log.js";
import type { OperatorMetrics } from "../metrics.js";
import { readyCondition, type Cache, type Condition, type Verdict } from "./conditions.js";
import { WorkQueue, splitKey } from "./queue.js";

interface StatusObject {
  metadata?: { name?: string; namespace?: string; generation?: number };
  status?: { conditions?: Condition[]; observedGeneration?: number };
}

export interface StatusControllerOptions<T extends StatusObject> {
  name: string;
  plural: string;
  cache: Cache<T>;
  verdict: (object: T) => Verdict;
  customObjects: CustomObjectsApi;
  metrics: OperatorMetrics;
  log: Logger;
}

function alreadyStored(object: StatusObject, condition: Condition): boolean {
  const before = object.status?.conditions?.find((c) => c.type === "Ready");
  if (!before || object.status?.observedGeneration !== condition.observedGeneration) return false;
  return (["status", "reason", "message", "observedGeneration"] as const).every((field) => before[field] === condition[field]);
}

export class StatusController<T extends StatusObject> {
  readonly queue: WorkQueue;

  constructor(private readonly options: StatusControllerOptions<T>) {
    this.queue = new WorkQueue(options.name, (key) => this.reconcile(key), options.log);
  }

  /** Enqueues every object, or those of one namespace (when something they reference changed). */
  enqueueAll(namespace?: string): void {
    for (const object of this.options.cache.list(namespace)) this.queue.add(`${object.metadata?.namespace}/${object.metadata?.name}`);
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    const object = this.options.cache.get(namespace, name);
    if (!object) return;
    const generation = object.metadata?.generation;
    const condition = readyCondition(this.options.verdict(object), generation, object.status?.conditions, new Date());
    if (alreadyStored(object, condition)) return;
    const others = (object.status?.conditions ?? []).filter((c) => c.type !== "Ready");
    try {
      await this.options.customObjects.patchNamespacedCustomObjectStatus(
        {
          group: "portcullis.dev",
          version: "v1alpha1",
          namespace,
          plural: this.options.plural,
          name,
          body: { status: { observedGeneration: generation, conditions: [...others, condition] } },
        },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      this.options.metrics.reconciles.inc({ controller: this.options.name, result: "success" });
    } catch (error) {
      this.options.metrics.reconciles.inc({ controller: this.options.name, result: "error" });
      throw error;
    }
  }
}
