// Approvals in standalone mode with --kubeconfig: the gateway creates the
// ApprovalRequest itself, with the same builder the broker uses so the object
// is identical, in the identity's namespace, and polls it until a reviewer
// decides. This only works in a cluster without the operator's admission
// webhook, which lets no one but the operator create ApprovalRequests; the
// API server's refusal is passed on as it is.
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { IApprovalRequest } from "@portcullis/crds";
import { APPROVAL_GROUP, APPROVAL_PLURAL, APPROVAL_VERSION, approvalView, buildApprovalRequest } from "@portcullis/common/approvals";
import { statusObjectMessage } from "@portcullis/common/kube-status";
import { errorMessage } from "../config/error-message.js";
import type { ApprovalAsk, ApprovalContext, ApprovalOutcome, ApprovalRef, ApprovalService, ApprovalTicket } from "./approval-service.js";
import { waitForDecision } from "./decision-wait.js";

export type ApprovalObjectsApi = Pick<CustomObjectsApi, "createNamespacedCustomObject" | "getNamespacedCustomObject">;

export interface KubeconfigApprovalsOptions {
  now?: () => Date;
  random?: () => number;
  /** How often a Pending request is read again. */
  pollMs?: number;
}

const DEFAULT_POLL_MS = 2_000;

/** The ApprovalRequest the broker would create for the same ask, rule and identity. */
export function approvalRequestBody(ask: ApprovalAsk, context: ApprovalContext, now: Date): IApprovalRequest {
  return buildApprovalRequest(ask, context.identity, context.rule, now);
}

/** The API server's own message (its Status body), e.g. an admission webhook's refusal. */
function apiServerMessage(error: unknown): string {
  return statusObjectMessage((error as { body?: unknown } | null)?.body) ?? errorMessage(error);
}

/** No HTTP status (a network failure) or the API server's own failure; a 4xx will not change by asking again. */
function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code !== "number" || code >= 500;
}

export class KubeconfigApprovals implements ApprovalService {
  readonly kind = "kubeconfig";

  /** A client for the cluster of the kubeconfig at `path` (or the default kubeconfig: $KUBECONFIG, ~/.kube/config, in-cluster). */
  static fromKubeconfig(path?: string, options: KubeconfigApprovalsOptions = {}): KubeconfigApprovals {
    const config = new KubeConfig();
    if (path) config.loadFromFile(path);
    else config.loadFromDefault();
    return new KubeconfigApprovals(config.makeApiClient(CustomObjectsApi), options);
  }

  constructor(
    private readonly api: ApprovalObjectsApi,
    private readonly options: KubeconfigApprovalsOptions = {},
  ) {}

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  async request(ask: ApprovalAsk, context: ApprovalContext): Promise<ApprovalTicket> {
    const body = approvalRequestBody(ask, context, this.now());
    const namespace = context.identity.namespace;
    let created: IApprovalRequest;
    try {
      created = (await this.api.createNamespacedCustomObject({ group: APPROVAL_GROUP, version: APPROVAL_VERSION, namespace, plural: APPROVAL_PLURAL, body })) as IApprovalRequest;
    } catch (error) {
      throw new Error(`the API server refused the ApprovalRequest in namespace "${namespace}": ${apiServerMessage(error)}`, { cause: error });
    }
    const name = created.metadata?.name;
    if (!name) throw new Error("the API server created an ApprovalRequest without a name");
    return { name, namespace, expiresAt: new Date(body.spec.expiresAt) };
  }

  awaitDecision(ref: ApprovalRef, deadline: Date, signal?: AbortSignal): Promise<ApprovalOutcome> {
    const read = async (): Promise<ReturnType<typeof approvalView>> => {
      const request = (await this.api.getNamespacedCustomObject({ group: APPROVAL_GROUP, version: APPROVAL_VERSION, namespace: ref.namespace, plural: APPROVAL_PLURAL, name: ref.name })) as IApprovalRequest;
      return approvalView(request, this.now());
    };
    return waitForDecision({ read, isTransient, pauseMs: this.options.pollMs ?? DEFAULT_POLL_MS, ...this.options }, deadline, signal);
  }
}
