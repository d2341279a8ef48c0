import type { IApprovalRequest } from "@portcullis/crds";
import { admitApprovalRequest, type AdmissionUserInfo, type ApprovalAdmission, type ApprovalAdmissionRequest } from "./approval.js";

const OPERATOR = "system:serviceaccount:portcullis-system:portcullis-operator";
const REQUESTER = "system:serviceaccount:agents:bot";
const NOW = new Date("2030-01-01T00:10:00.123Z");
const STAMP = "2030-01-01T00:10:00Z";

type Status = NonNullable<IApprovalRequest["status"]>;

function approvalRequest(status?: Status, expiresAt = "2030-01-01T00:15:00Z"): IApprovalRequest {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "ApprovalRequest",
    metadata: { name: "x", namespace: "agents" },
    spec: {
      requester: { username: REQUESTER, uid: "requester-uid", groups: ["system:serviceaccounts", "dba"] },
      pod: { name: "bot-5d8f7c-x2k4q", uid: "pod-uid" },
      resource: "orders-db",
      policy: "no-destructive-changes",
      rule: "writes-need-approval",
      summary: "DELETE FROM orders WHERE id = $1",
      fingerprint: `sha256:${"0".repeat(64)}`,
      reviewers: { users: ["alice"], groups: ["dba"] },
      expiresAt,
    },
    ...(status ? { status } : {}),
  };
}

const alice: AdmissionUserInfo = { username: "alice", uid: "alice-uid", groups: ["system:authenticated"] };
const carol: AdmissionUserInfo = { username: "carol", groups: ["dba", "system:authenticated"] };
const bob: AdmissionUserInfo = { username: "bob", uid: "bob-uid", groups: ["developers"] };
const requester: AdmissionUserInfo = { username: REQUESTER, uid: "requester-uid", groups: ["system:serviceaccounts", "dba"] };
const podToken: AdmissionUserInfo = {
  username: "system:serviceaccount:agents:other",
  groups: ["dba"],
  extra: { "authentication.kubernetes.io/pod-uid": ["pod-uid"] },
};
const operator: AdmissionUserInfo = { username: OPERATOR };

const pending: Status = { phase: "Pending" };

function statusUpdate(userInfo: AdmissionUserInfo, before: Status | undefined, after: Status | undefined, expiresAt?: string): ApprovalAdmissionRequest {
  return {
    operation: "UPDATE",
    subResource: "status",
    userInfo,
    oldObject: approvalRequest(before, expiresAt),
    object: approvalRequest(after, expiresAt),
  };
}

function admit(request: ApprovalAdmissionRequest): ApprovalAdmission {
  return admitApprovalRequest(request, { operatorUsername: OPERATOR, now: NOW });
}

function stamped(user: AdmissionUserInfo): ApprovalAdmission {
  const decidedBy: Record<string, unknown> = { username: user.username };
  if (user.uid) decidedBy.uid = user.uid;
  if (user.groups) decidedBy.groups = user.groups;
  return {
    allowed: true,
    patch: [
      { op: "add", path: "/status/decidedBy", value: decidedBy },
      { op: "add", path: "/status/decidedAt", value: STAMP },
    ],
  };
}

function refused(code: 403 | 422, message: string): ApprovalAdmission {
  return { allowed: false, code, message: expect.stringContaining(message) as unknown as string };
}

describe("admitApprovalRequest: status decisions", () => {
  it.each<[string, ApprovalAdmissionRequest, ApprovalAdmission]>([
    ["a reviewer listed by user approves", statusUpdate(alice, pending, { phase: "Approved", reason: "ok" }), stamped(alice)],
    ["a reviewer in a listed group denies", statusUpdate(carol, pending, { phase: "Denied", reason: "no" }), stamped(carol)],
    ["a reviewer decides a request without a status yet", statusUpdate(alice, undefined, { phase: "Approved" }), stamped(alice)],
    [
      "a non-reviewer tries to approve",
      statusUpdate(bob, pending, { phase: "Approved" }),
      refused(403, 'user "bob" is not a reviewer of ApprovalRequest agents/x (reviewers: users [alice], groups [dba])'),
    ],
    [
      "the requester, although in the reviewers' group, tries to approve",
      statusUpdate(requester, pending, { phase: "Approved" }),
      refused(403, `ApprovalRequest agents/x: "${REQUESTER}" requested this approval and cannot decide it`),
    ],
    [
      "another identity with a token bound to the requesting pod tries to approve",
      statusUpdate(podToken, pending, { phase: "Approved" }),
      refused(403, '"system:serviceaccount:agents:other" requested this approval and cannot decide it'),
    ],
    [
      "a reviewer changes an already approved request",
      statusUpdate(
        alice,
        { phase: "Approved", decidedBy: { username: "carol" }, decidedAt: "2030-01-01T00:05:00Z" },
        { phase: "Denied", decidedBy: { username: "carol" }, decidedAt: "2030-01-01T00:05:00Z" },
      ),
      refused(422, 'ApprovalRequest agents/x is already Approved by "carol" at 2030-01-01T00:05:00Z; a decision is final'),
    ],
    [
      "a reviewer sets Pending again with a new reason",
      statusUpdate(alice, pending, { phase: "Pending", reason: "thinking" }),
      refused(422, 'user "alice" changed the status of ApprovalRequest agents/x without deciding: set status.phase to Approved or Denied'),
    ],
    [
      "a reviewer sets Expired",
      statusUpdate(alice, pending, { phase: "Expired" }),
      refused(422, "the operator expires requests nobody decided in time"),
    ],
    [
      "a reviewer decides after expiresAt",
      statusUpdate(alice, pending, { phase: "Approved" }, "2030-01-01T00:09:59Z"),
      refused(422, 'ApprovalRequest agents/x expired at 2030-01-01T00:09:59Z and can no longer be approved by "alice"'),
    ],
    [
      "a reviewer decides a request with an unreadable expiresAt",
      statusUpdate(alice, pending, { phase: "Approved" }, "soon"),
      refused(422, 'invalid spec.expiresAt "soon"'),
    ],
    [
      "a non-reviewer changes only the reason",
      statusUpdate(bob, pending, { phase: "Pending", reason: "please" }),
      refused(403, 'user "bob" is not a reviewer'),
    ],
    ["anyone writes the status unchanged", statusUpdate(bob, pending, { phase: "Pending" }), { allowed: true }],
    ["the operator initialises the status as Pending", statusUpdate(operator, undefined, pending), { allowed: true }],
    [
      "the operator expires a request whose time ran out",
      statusUpdate(operator, pending, { phase: "Expired", reason: "nobody decided" }, "2030-01-01T00:10:00Z"),
      { allowed: true, patch: [{ op: "add", path: "/status/decidedAt", value: STAMP }] },
    ],
    [
      "the operator expires a request with a decidedBy in the body",
      statusUpdate(operator, pending, { phase: "Expired", decidedBy: { username: "alice" } }, "2030-01-01T00:00:00Z"),
      {
        allowed: true,
        patch: [
          { op: "add", path: "/status/decidedAt", value: STAMP },
          { op: "remove", path: "/status/decidedBy" },
        ],
      },
    ],
    [
      "the operator expires a request too early",
      statusUpdate(operator, pending, { phase: "Expired" }),
      refused(422, "ApprovalRequest agents/x expires at 2030-01-01T00:15:00Z; it cannot be marked Expired before then (now 2030-01-01T00:10:00Z)"),
    ],
    [
      "the operator tries to approve",
      statusUpdate(operator, pending, { phase: "Approved" }),
      refused(403, `the operator ("${OPERATOR}") cannot set ApprovalRequest agents/x to Approved: only a listed reviewer decides`),
    ],
    [
      "the operator tries to reopen a denied request",
      statusUpdate(operator, { phase: "Denied", decidedAt: "2030-01-01T00:05:00Z" }, pending),
      refused(422, "is already Denied at 2030-01-01T00:05:00Z; a decision is final"),
    ],
  ])("%s", (_case, request, expected) => {
    expect(admit(request)).toEqual(expected);
  });

  it("overwrites a forged decidedBy and decidedAt with the caller's userInfo", () => {
    const forged = statusUpdate(carol, pending, {
      phase: "Approved",
      decidedBy: { username: "alice", uid: "alice-uid", groups: ["dba"] },
      decidedAt: "2020-01-01T00:00:00Z",
    });
    expect(admit(forged)).toEqual({
      allowed: true,
      patch: [
        { op: "add", path: "/status/decidedBy", value: { username: "carol", groups: ["dba", "system:authenticated"] } },
        { op: "add", path: "/status/decidedAt", value: STAMP },
      ],
    });
  });

  it("gives the same answer when called again on the patched object (reinvocation, validating phase)", () => {
    const request = statusUpdate(alice, pending, { phase: "Approved" });
    const first = admit(request);
    expect(first.allowed).toBe(true);
    const patched = statusUpdate(alice, pending, {
      phase: "Approved",
      decidedBy: { username: "alice", uid: "alice-uid", groups: ["system:authenticated"] },
      decidedAt: STAMP,
    });
    expect(admit(patched)).toEqual(first);
  });

  it("records at most 64 groups, as the schema allows", () => {
    const many: AdmissionUserInfo = { username: "alice", groups: Array.from({ length: 70 }, (_, i) => `g${i}`) };
    const result = admit(statusUpdate(many, pending, { phase: "Approved" }));
    expect(result.allowed && (result.patch?.[0]?.value as { groups: string[] }).groups).toHaveLength(64);
  });
});

describe("admitApprovalRequest: create, update, delete", () => {
  it.each<[string, ApprovalAdmissionRequest, ApprovalAdmission]>([
    ["the operator creates", { operation: "CREATE", userInfo: operator, object: approvalRequest() }, { allowed: true }],
    [
      "a user creates",
      { operation: "CREATE", userInfo: bob, object: approvalRequest() },
      refused(403, `ApprovalRequests are created by the Portcullis operator on an agent's behalf; user "bob" cannot create ApprovalRequest agents/x`),
    ],
    [
      "an agent creates its own approval",
      { operation: "CREATE", userInfo: requester, object: approvalRequest(pending) },
      refused(403, "created by the Portcullis operator on an agent's behalf"),
    ],
    [
      "someone labels a request",
      {
        operation: "UPDATE",
        userInfo: bob,
        oldObject: approvalRequest(),
        object: { ...approvalRequest(), metadata: { name: "x", namespace: "agents", labels: { seen: "yes" }, finalizers: ["keep"] } },
      },
      { allowed: true },
    ],
    [
      "someone changes the spec",
      {
        operation: "UPDATE",
        userInfo: alice,
        oldObject: approvalRequest(),
        object: { ...approvalRequest(), spec: { ...approvalRequest().spec, summary: "SELECT 1" } },
      },
      refused(422, 'spec is immutable: ApprovalRequest agents/x describes one request as it was made; user "alice" cannot change it'),
    ],
    ["someone deletes a request", { operation: "DELETE", userInfo: bob, oldObject: approvalRequest(pending) }, { allowed: true }],
    [
      "an update of another subresource",
      { operation: "UPDATE", subResource: "scale", userInfo: alice, oldObject: approvalRequest(), object: approvalRequest() },
      refused(422, "the scale subresource of ApprovalRequests is not supported"),
    ],
    [
      "a status update without the old object",
      { operation: "UPDATE", subResource: "status", userInfo: alice, object: approvalRequest({ phase: "Approved" }) },
      refused(422, "no object and old object"),
    ],
  ])("%s", (_case, request, expected) => {
    expect(admit(request)).toEqual(expected);
  });
});
