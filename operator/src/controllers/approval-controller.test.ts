import type { IApprovalRequest } from "@portcullis/crds";
import { approvalAction } from "./approval-controller.js";

const request = (status: IApprovalRequest["status"] | undefined): IApprovalRequest => ({
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "ApprovalRequest",
  metadata: { name: "r", namespace: "agents" },
  spec: {
    requester: { username: "system:serviceaccount:agents:bot" },
    pod: { name: "bot", uid: "u" },
    resource: "db",
    policy: "p",
    rule: "r",
    summary: "DELETE",
    fingerprint: `sha256:${"0".repeat(64)}`,
    reviewers: { groups: ["dba"] },
    expiresAt: "2026-11-25T10:15:00Z",
  },
  ...(status ? { status } : {}),
});

describe("approvalAction", () => {
  const at = (iso: string): Date => new Date(iso);

  it("marks a new request Pending", () => {
    expect(approvalAction(request(undefined), at("2026-11-25T10:00:00Z"), 60)).toEqual({ kind: "mark-pending" });
  });

  it("waits for a pending request until it expires, then expires it", () => {
    expect(approvalAction(request({ phase: "Pending" }), at("2026-11-25T10:00:00Z"), 60)).toEqual({ kind: "wait", untilMs: Date.parse("2026-11-25T10:15:00Z") });
    expect(approvalAction(request({ phase: "Pending" }), at("2026-11-25T10:15:00Z"), 60)).toEqual({ kind: "expire" });
  });

  it("keeps a decided request for the retention period, then deletes it", () => {
    const decided = request({ phase: "Approved", decidedAt: "2026-11-25T10:05:00Z" });
    expect(approvalAction(decided, at("2026-11-25T10:05:30Z"), 60)).toEqual({ kind: "wait", untilMs: Date.parse("2026-11-25T10:06:00Z") });
    expect(approvalAction(decided, at("2026-11-25T10:06:00Z"), 60)).toEqual({ kind: "delete" });
  });
});
