// Standalone mode without a cluster: there is nowhere to put an
// ApprovalRequest and nobody to decide it, so every operation that needs an
// approval is refused, with a message that says how to get approvals.
import type { ApprovalOutcome, ApprovalService, ApprovalTicket } from "./approval-service.js";

export const NO_APPROVALS_MESSAGE = "approvals need a cluster: run the gateway under the Portcullis operator, or standalone with --kubeconfig";

export class NoApprovals implements ApprovalService {
  readonly kind = "none";

  request(): Promise<ApprovalTicket> {
    return Promise.reject(new Error(NO_APPROVALS_MESSAGE));
  }

  awaitDecision(): Promise<ApprovalOutcome> {
    return Promise.reject(new Error(NO_APPROVALS_MESSAGE));
  }
}
