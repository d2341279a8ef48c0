// Admission for ApprovalRequests: who may create them, who may decide them, and
// the stamp that records who decided. The decider's identity comes only from
// the API server's userInfo, never from the request body, so a reviewer cannot
// decide in someone else's name and an agent cannot approve its own request.
// The CRD's CEL rules also make spec immutable and decisions final; the checks
// here repeat them with messages that name who tried and why.
import type { JsonPatchOperation } from "../json-patch.js";
import type { IApprovalRequest } from "@portcullis/crds";

export interface AdmissionUserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  /** Extra attributes; a service-account token bound to a pod carries its pod name and UID here. */
  extra?: Record<string, string[]>;
}

export interface ApprovalAdmissionRequest {
  operation: "CREATE" | "UPDATE" | "DELETE";
  subResource?: string;
  userInfo: AdmissionUserInfo;
  /** The object after the change; absent on DELETE. */
  object?: IApprovalRequest;
  /** The object before the change; absent on CREATE. */
  oldObject?: IApprovalRequest;
}

export interface ApprovalAdmissionSettings {
  /** The operator's own user name, e.g. system:serviceaccount:portcullis-system:portcullis-operator. */
  operatorUsername: string;
  now: Date;
}

/** RFC 6902; "add" also replaces an existing member. */
export type { JsonPatchOperation };

export type ApprovalAdmission =
  | { allowed: true; patch?: JsonPatchOperation[] }
  | { allowed: false; code: 403 | 422; message: string };

type Status = NonNullable<IApprovalRequest["status"]>;
type Phase = NonNullable<Status["phase"]>;
type Decider = NonNullable<Status["decidedBy"]>;

const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";
/** The CRD's maxItems for status.decidedBy.groups; more would fail schema validation after the patch. */
const MAX_RECORDED_GROUPS = 64;

const ALLOW: ApprovalAdmission = { allowed: true };

export function admitApprovalRequest(request: ApprovalAdmissionRequest, settings: ApprovalAdmissionSettings): ApprovalAdmission {
  switch (request.operation) {
    case "CREATE":
      return admitCreate(request, settings);
    case "UPDATE":
      if (request.subResource === "status") return admitStatusUpdate(request, settings);
      if (request.subResource) return refuse(422, `the ${request.subResource} subresource of ApprovalRequests is not supported`);
      return admitSpecUpdate(request);
    case "DELETE":
      // Retention cleanup and users tidying up; a deleted request is no approval.
      return ALLOW;
    default:
      return refuse(422, `operation ${String(request.operation)} is not supported on ApprovalRequests`);
  }
}

function admitCreate(request: ApprovalAdmissionRequest, settings: ApprovalAdmissionSettings): ApprovalAdmission {
  if (request.userInfo.username === settings.operatorUsername) return ALLOW;
  return refuse(
    403,
    `ApprovalRequests are created by the Portcullis operator on an agent's behalf; user "${request.userInfo.username}" cannot create ${describe(request.object)}`,
  );
}

function admitSpecUpdate(request: ApprovalAdmissionRequest): ApprovalAdmission {
  const { object, oldObject } = request;
  if (!object || !oldObject) return refuse(422, "the admission request carries no object and old object to compare");
  if (deepEqual(object.spec, oldObject.spec)) return ALLOW;
  return refuse(
    422,
    `spec is immutable: ${describe(oldObject)} describes one request as it was made; user "${request.userInfo.username}" cannot change it (labels, annotations and finalizers may change)`,
  );
}

function admitStatusUpdate(request: ApprovalAdmissionRequest, settings: ApprovalAdmissionSettings): ApprovalAdmission {
  const { object, oldObject } = request;
  if (!object || !oldObject) return refuse(422, "the admission request carries no object and old object to compare");
  const before = oldObject.status ?? {};
  const after = object.status ?? {};
  // A write that changes nothing (e.g. a re-applied status) decides nothing.
  if (deepEqual(before, after)) return ALLOW;
  const transition: Transition = {
    ref: describe(oldObject),
    spec: oldObject.spec,
    before,
    after,
    from: before.phase ?? "Pending",
    to: after.phase ?? "Pending",
  };
  if (request.userInfo.username === settings.operatorUsername) return admitOperatorStatus(transition, settings);
  return admitDecision(transition, request.userInfo, settings.now);
}

interface Transition {
  ref: string;
  spec: IApprovalRequest["spec"];
  before: Status;
  after: Status;
  from: Phase;
  to: Phase;
}

/** The operator initialises requests as Pending and expires them; it never decides. */
function admitOperatorStatus(t: Transition, settings: ApprovalAdmissionSettings): ApprovalAdmission {
  if (t.from !== "Pending") return alreadyDecided(t);
  if (t.to === "Pending") return ALLOW;
  if (t.to !== "Expired") {
    return refuse(403, `the operator ("${settings.operatorUsername}") cannot set ${t.ref} to ${t.to}: only a listed reviewer decides`);
  }
  const expiresAt = Date.parse(t.spec.expiresAt);
  if (Number.isNaN(expiresAt)) return refuse(422, `${t.ref} has an invalid spec.expiresAt ${JSON.stringify(t.spec.expiresAt)}`);
  if (settings.now.getTime() < expiresAt) {
    return refuse(422, `${t.ref} expires at ${t.spec.expiresAt}; it cannot be marked Expired before then (now ${rfc3339(settings.now)})`);
  }
  // Nobody decided, so decidedBy stays empty; decidedAt records when the request lapsed.
  const patch: JsonPatchOperation[] = [{ op: "add", path: "/status/decidedAt", value: rfc3339(settings.now) }];
  if (t.after.decidedBy !== undefined) patch.push({ op: "remove", path: "/status/decidedBy" });
  return { allowed: true, patch };
}

function admitDecision(t: Transition, user: AdmissionUserInfo, now: Date): ApprovalAdmission {
  if (isRequester(user, t.spec)) {
    return refuse(403, `${t.ref}: "${user.username}" requested this approval and cannot decide it`);
  }
  if (!isReviewer(user, t.spec.reviewers)) {
    const users = t.spec.reviewers.users ?? [];
    const groups = t.spec.reviewers.groups ?? [];
    return refuse(403, `user "${user.username}" is not a reviewer of ${t.ref} (reviewers: users [${users.join(", ")}], groups [${groups.join(", ")}])`);
  }
  if (t.from !== "Pending") return alreadyDecided(t);
  if (t.to === "Expired") {
    return refuse(422, `user "${user.username}" cannot set ${t.ref} to Expired: the operator expires requests nobody decided in time; reviewers set Approved or Denied`);
  }
  if (t.to !== "Approved" && t.to !== "Denied") {
    return refuse(422, `user "${user.username}" changed the status of ${t.ref} without deciding: set status.phase to Approved or Denied`);
  }
  const expiresAt = Date.parse(t.spec.expiresAt);
  if (Number.isNaN(expiresAt)) return refuse(422, `${t.ref} has an invalid spec.expiresAt ${JSON.stringify(t.spec.expiresAt)}`);
  if (now.getTime() >= expiresAt) {
    return refuse(422, `${t.ref} expired at ${t.spec.expiresAt} and can no longer be ${t.to.toLowerCase()} by "${user.username}"`);
  }
  // Overwrite whatever the body says: the API server's userInfo is the only trustworthy record.
  return {
    allowed: true,
    patch: [
      { op: "add", path: "/status/decidedBy", value: deciderFrom(user) },
      { op: "add", path: "/status/decidedAt", value: rfc3339(now) },
    ],
  };
}

/** The agent itself, by user name, UID, or a token bound to the requesting pod. */
function isRequester(user: AdmissionUserInfo, spec: IApprovalRequest["spec"]): boolean {
  if (user.username === spec.requester.username) return true;
  if (user.uid && spec.requester.uid && user.uid === spec.requester.uid) return true;
  return (user.extra?.[POD_UID_EXTRA] ?? []).includes(spec.pod.uid);
}

function isReviewer(user: AdmissionUserInfo, reviewers: IApprovalRequest["spec"]["reviewers"]): boolean {
  if ((reviewers.users ?? []).includes(user.username)) return true;
  const groups = new Set(user.groups ?? []);
  return (reviewers.groups ?? []).some((group) => groups.has(group));
}

function deciderFrom(user: AdmissionUserInfo): Decider {
  const decider: Decider = { username: user.username };
  if (user.uid) decider.uid = user.uid;
  if (user.groups && user.groups.length > 0) decider.groups = user.groups.slice(0, MAX_RECORDED_GROUPS);
  return decider;
}

function alreadyDecided(t: Transition): ApprovalAdmission {
  const by = t.before.decidedBy ? ` by "${t.before.decidedBy.username}"` : "";
  const at = t.before.decidedAt ? ` at ${t.before.decidedAt}` : "";
  return refuse(422, `${t.ref} is already ${t.from}${by}${at}; a decision is final`);
}

function refuse(code: 403 | 422, message: string): ApprovalAdmission {
  return { allowed: false, code, message };
}

function describe(object: IApprovalRequest | undefined): string {
  const namespace = object?.metadata?.namespace;
  const name = object?.metadata?.name ?? object?.metadata?.generateName ?? "";
  return `ApprovalRequest ${namespace ? `${namespace}/` : ""}${name}`;
}

/** RFC 3339 in UTC with whole seconds, as Kubernetes writes times. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const keysB = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
