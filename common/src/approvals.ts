// ApprovalRequests on a sidecar's behalf. What is asked comes from the
// sidecar; who asks comes from its verified token; who may decide, for how
// long and what a grant covers come from the AccessPolicy rule — never from
// the request body, so an agent cannot pick its own reviewers or timeout.
import type { V1Pod } from "@kubernetes/client-node";
import type { IAccessPolicy, IApprovalRequest } from "@portcullis/crds";
import type { SidecarIdentity } from "./config/bundle.js";
import { policySelectsPod } from "./config/select.js";
import { parseDuration } from "./durations.js";

export const APPROVAL_GROUP = "portcullis.dev";
export const APPROVAL_VERSION = "v1alpha1";
export const APPROVAL_PLURAL = "approvalrequests";
export const POD_UID_LABEL = "portcullis.dev/pod-uid";
export const RESOURCE_LABEL = "portcullis.dev/resource";

export interface ApprovalAsk {
  resource: string;
  policy: string;
  rule: string;
  summary: string;
  details?: string;
  fingerprint: string;
  sessionID?: string;
}

/** A refusal the broker answers with its status code and message. */
export class BrokerRequestError extends Error {
  constructor(
    readonly status: 400 | 403 | 404 | 405 | 413,
    message: string,
  ) {
    super(message);
    this.name = "BrokerRequestError";
  }
}

const FIELD_LIMITS: Record<keyof ApprovalAsk, { required: boolean; max: number }> = {
  resource: { required: true, max: 253 },
  policy: { required: true, max: 253 },
  rule: { required: true, max: 63 },
  summary: { required: true, max: 512 },
  details: { required: false, max: 65_536 },
  fingerprint: { required: true, max: 71 },
  sessionID: { required: false, max: 128 },
};
const FINGERPRINT = /^sha256:[0-9a-f]{64}$/;

/** Checks the body of POST /v1/approvals; unknown fields are refused so nobody believes they set, say, the requester. */
export function parseApprovalAsk(body: unknown): ApprovalAsk {
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new BrokerRequestError(400, "the body must be a JSON object");
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => !(key in FIELD_LIMITS));
  if (unknown.length) {
    throw new BrokerRequestError(400, `unknown field(s) ${unknown.join(", ")}: the requester, pod, reviewers and timeout come from the token and the AccessPolicy, not from the request`);
  }
  const ask: Record<string, string> = {};
  for (const [field, limit] of Object.entries(FIELD_LIMITS)) {
    const value = fields[field];
    if (value === undefined && !limit.required) continue;
    if (typeof value !== "string" || value.length === 0) throw new BrokerRequestError(400, `${field} must be a non-empty string`);
    if (value.length > limit.max) throw new BrokerRequestError(400, `${field} is longer than ${limit.max} characters`);
    ask[field] = value;
  }
  if (!FINGERPRINT.test(ask.fingerprint ?? "")) throw new BrokerRequestError(400, "fingerprint must be sha256: followed by 64 lowercase hex digits");
  return ask as unknown as ApprovalAsk;
}

type Rule = NonNullable<IAccessPolicy["spec"]["rules"]>[number];

/** The rule that must govern this ask, or why the pod may not ask under it. */
export function approvalRuleFor(ask: ApprovalAsk, pod: V1Pod, policies: readonly IAccessPolicy[]): Rule & { approval: NonNullable<Rule["approval"]> } {
  const policy = policies.find((candidate) => candidate.metadata?.name === ask.policy);
  const podRef = `${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`;
  if (!policy) throw new BrokerRequestError(404, `AccessPolicy "${ask.policy}" does not exist in namespace "${pod.metadata?.namespace ?? ""}"`);
  if (!policySelectsPod(policy, pod)) throw new BrokerRequestError(403, `AccessPolicy "${ask.policy}" does not select pod ${podRef}`);
  if (!policy.spec.resources.includes(ask.resource)) throw new BrokerRequestError(403, `AccessPolicy "${ask.policy}" does not govern Resource "${ask.resource}"`);
  const rule = policy.spec.rules?.find((candidate) => candidate.name === ask.rule);
  if (!rule) throw new BrokerRequestError(404, `AccessPolicy "${ask.policy}" has no rule "${ask.rule}"`);
  if (rule.action !== "requireApproval" || !rule.approval) {
    throw new BrokerRequestError(403, `rule "${ask.rule}" of AccessPolicy "${ask.policy}" has action ${rule.action}, not requireApproval`);
  }
  return { ...rule, approval: rule.approval };
}

/** generateName keeps the pod's name readable and leaves room for the API server's random suffix. */
export function approvalGenerateName(podName: string): string {
  const prefix = podName.slice(0, 40).replace(/[^a-z0-9]+$/, "");
  return `${prefix || "approval"}-`;
}

const isLabelValue = (value: string): boolean => value.length <= 63 && /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value);

export function buildApprovalRequest(ask: ApprovalAsk, identity: SidecarIdentity, rule: ReturnType<typeof approvalRuleFor>, now: Date): IApprovalRequest {
  const { reviewers, timeout, grantScope, grantWindow } = rule.approval;
  const expiresAt = new Date(now.getTime() + parseDuration(timeout)).toISOString().replace(/\.\d{3}Z$/, "Z");
  const labels: Record<string, string> = { [POD_UID_LABEL]: identity.podUid };
  // Label values stop at 63 characters; a longer Resource name is still in spec.resource.
  if (isLabelValue(ask.resource)) labels[RESOURCE_LABEL] = ask.resource;
  return {
    apiVersion: `${APPROVAL_GROUP}/${APPROVAL_VERSION}`,
    kind: "ApprovalRequest",
    metadata: { generateName: approvalGenerateName(identity.podName), namespace: identity.namespace, labels },
    spec: {
      requester: { username: identity.username, ...(identity.uid ? { uid: identity.uid } : {}), groups: [...identity.groups] },
      pod: { name: identity.podName, uid: identity.podUid },
      resource: ask.resource,
      policy: ask.policy,
      rule: ask.rule,
      summary: ask.summary,
      ...(ask.details !== undefined ? { details: ask.details } : {}),
      fingerprint: ask.fingerprint,
      ...(ask.sessionID !== undefined ? { sessionID: ask.sessionID } : {}),
      reviewers: { ...(reviewers.users ? { users: [...reviewers.users] } : {}), ...(reviewers.groups ? { groups: [...reviewers.groups] } : {}) },
      grantScope: grantScope ?? "once",
      ...(grantWindow !== undefined ? { grantWindow } : {}),
      expiresAt,
    },
  };
}

export interface ApprovalView {
  name: string;
  namespace: string;
  phase: "Pending" | "Approved" | "Denied" | "Expired";
  decidedBy?: { username: string; uid?: string; groups?: string[] };
  decidedAt?: string;
  reason?: string;
  expiresAt: string;
  fingerprint: string;
  grantScope: "once" | "session" | "window";
  grantWindow?: string;
}

/**
 * What the sidecar learns about its request. A Pending request past its
 * expiresAt is reported Expired even before the reconciler marks it, so a
 * sidecar never waits on a request that can no longer be decided.
 */
function currentPhase(request: IApprovalRequest, now: Date): Pick<ApprovalView, "phase" | "reason"> {
  const phase = request.status?.phase ?? "Pending";
  if (phase === "Pending" && Date.parse(request.spec.expiresAt) <= now.getTime()) {
    return { phase: "Expired", reason: `nobody decided before ${request.spec.expiresAt}` };
  }
  return { phase, ...(request.status?.reason !== undefined ? { reason: request.status.reason } : {}) };
}

export function approvalView(request: IApprovalRequest, now: Date): ApprovalView {
  const { spec, status, metadata } = request;
  return {
    name: metadata?.name ?? "",
    namespace: metadata?.namespace ?? "",
    ...currentPhase(request, now),
    ...(status?.decidedBy ? { decidedBy: status.decidedBy } : {}),
    ...(status?.decidedAt ? { decidedAt: status.decidedAt } : {}),
    expiresAt: spec.expiresAt,
    fingerprint: spec.fingerprint,
    grantScope: spec.grantScope ?? "once",
    ...(spec.grantWindow !== undefined ? { grantWindow: spec.grantWindow } : {}),
  };
}
