// How the Kubernetes gateway tells the agent no: a metav1 Status, the body
// the API server itself answers errors with, so kubectl and client libraries
// print the message as it is ("Error from server (Forbidden): …").
import type { EncodedRefusal, Refusal } from "../http/responses.js";

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  413: "RequestEntityTooLarge",
  502: "InternalError",
  503: "ServiceUnavailable",
};

/** The Status for a refusal: reason from the status code, the message naming the policy, rule and ApprovalRequest. */
export function statusRefusal(refusal: Refusal): EncodedRefusal {
  const causes = [
    ...(refusal.policy ? [{ reason: "FieldValueForbidden", field: "portcullis.dev/policy", message: refusal.policy }] : []),
    ...(refusal.rule ? [{ reason: "FieldValueForbidden", field: "portcullis.dev/rule", message: refusal.rule }] : []),
    ...(refusal.approvalRequest ? [{ reason: "FieldValueForbidden", field: "portcullis.dev/approvalRequest", message: refusal.approvalRequest }] : []),
  ];
  const status = {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: refusal.message,
    reason: REASONS[refusal.status] ?? "InternalError",
    ...(causes.length ? { details: { causes } } : {}),
    code: refusal.status,
  };
  return { contentType: "application/json", body: `${JSON.stringify(status)}\n` };
}
