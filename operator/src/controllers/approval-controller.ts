// Drives ApprovalRequests through time (leader only): a new request is marked
// Pending, one nobody decided by expiresAt becomes Expired (the sidecar then
// denies the operation), and decided requests are deleted after the retention
// period. Decisions themselves are made by reviewers and checked by the
// admission webhook; this controller only records them as Events.
import { PatchStrategy, setHeaderOptions, type CustomObjectsApi } from "@kubernetes/client-node";
import type { IApprovalRequest } from "@portcullis/crds";
import type { Logger } from "../log.js";
import type { OperatorMetrics } from "../metrics.js";
import type { Cache } from "./conditions.js";
import type { EventRecorder } from "./events.js";
import { WorkQueue, keyOf, splitKey } from "./queue.js";

const API = { group: "portcullis.dev", version: "v1alpha1", plural: "approvalrequests" } as const;
const PHASES = ["Pending", "Approved", "Denied", "Expired"] as const;

export interface ApprovalControllerOptions {
  cache: Cache<IApprovalRequest>;
  customObjects: CustomObjectsApi;
  events: EventRecorder;
  retentionSeconds: number;
  metrics: OperatorMetrics;
  log: Logger;
  now?: () => Date;
}

export type ApprovalAction =
  | { kind: "none" }
  | { kind: "mark-pending" }
  | { kind: "expire" }
  | { kind: "delete" }
  | { kind: "wait"; untilMs: number };

/** What the controller does with a request at a time (pure). */
export function approvalAction(request: IApprovalRequest, now: Date, retentionSeconds: number): ApprovalAction {
  const phase = request.status?.phase;
  if (!phase) return { kind: "mark-pending" };
  if (phase === "Pending") {
    const expires = Date.parse(request.spec.expiresAt);
    return expires <= now.getTime() ? { kind: "expire" } : { kind: "wait", untilMs: expires };
  }
  const decidedAt = Date.parse(request.status?.decidedAt ?? request.metadata?.creationTimestamp?.toString() ?? "");
  if (Number.isNaN(decidedAt)) return { kind: "none" };
  const deleteAt = decidedAt + retentionSeconds * 1000;
  return deleteAt <= now.getTime() ? { kind: "delete" } : { kind: "wait", untilMs: deleteAt };
}

export class ApprovalController {
  readonly queue: WorkQueue;

  constructor(private readonly options: ApprovalControllerOptions) {
    this.queue = new WorkQueue("approvals", (key) => this.reconcile(key), options.log);
  }

  enqueueAll(): void {
    for (const request of this.options.cache.list()) this.queue.add(keyOf(request.metadata?.namespace, request.metadata?.name));
    this.updatePhaseGauge();
  }

  /** Called for informer updates: a decision by a reviewer becomes an Event. */
  async observeTransition(before: IApprovalRequest | undefined, after: IApprovalRequest): Promise<void> {
    const from = before?.status?.phase ?? "Pending";
    const to = after.status?.phase;
    this.updatePhaseGauge();
    if (from !== "Pending" || (to !== "Approved" && to !== "Denied")) return;
    const who = after.status?.decidedBy?.username ?? "unknown";
    const why = after.status?.reason ? `: ${after.status.reason}` : "";
    await this.options.events.record(after, to === "Approved" ? "Normal" : "Warning", to, `${to.toLowerCase()} by ${who}${why} (${after.spec.summary})`);
  }

  private updatePhaseGauge(): void {
    const requests = this.options.cache.list();
    for (const phase of PHASES) {
      this.options.metrics.approvals.set({ phase }, requests.filter((r) => (r.status?.phase ?? "Pending") === phase).length);
    }
  }

  private async patchStatus(namespace: string, name: string, status: Record<string, unknown>): Promise<void> {
    await this.options.customObjects.patchNamespacedCustomObjectStatus(
      { ...API, namespace, name, body: { status } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace, name] = splitKey(key);
    const request = this.options.cache.get(namespace, name);
    if (!request) return;
    const now = (this.options.now ?? (() => new Date()))();
    const action = approvalAction(request, now, this.options.retentionSeconds);
    try {
      switch (action.kind) {
        case "mark-pending":
          await this.patchStatus(namespace, name, { phase: "Pending" });
          break;
        case "expire":
          await this.patchStatus(namespace, name, { phase: "Expired", decidedAt: now.toISOString(), reason: "no reviewer decided before expiresAt" });
          await this.options.events.record(request, "Warning", "Expired", `nobody decided before ${request.spec.expiresAt}; the request is denied (${request.spec.summary})`);
          break;
        case "delete":
          await this.options.customObjects.deleteNamespacedCustomObject({ ...API, namespace, name });
          this.options.log.info("deleted decided ApprovalRequest after retention", { approval: key });
          break;
        case "wait":
          this.queue.addAfter(key, action.untilMs - now.getTime() + 50);
          return;
        case "none":
          return;
      }
      this.options.metrics.reconciles.inc({ controller: "approvals", result: "success" });
    } catch (error) {
      this.options.metrics.reconciles.inc({ controller: "approvals", result: "error" });
      throw error;
    }
  }
}
