import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ApprovalRequest, REFERENCE_DIR } from "@portcullis/crds";
import { parse } from "yaml";
import type { ApprovalAsk, ApprovalContext } from "./approval-service.js";
import { approvalRequestBody } from "./kubeconfig-approvals.js";

const ask: ApprovalAsk = {
  resource: "orders-db",
  policy: "no-destructive-changes",
  rule: "writes-need-approval",
  summary: "UPDATE orders SET status = $1 WHERE id = $2 (writes orders)",
  details: "UPDATE orders SET status = 'refunded' WHERE id = 4711",
  fingerprint: "sha256:7f548ce874caf911101fe7da67ef40480763f377c930cf6f5c524108f8b54f4a",
  sessionID: "01JD7Z8K4Q2M3N4P5R6S7T8V9W",
};

const context: ApprovalContext = {
  identity: { username: "standalone:dev", uid: "", groups: ["devs"], namespace: "agents", serviceAccount: "", podName: "laptop", podUid: "5f0c7a4e-2b1d-4c3e-8f9a-0a1b2c3d4e5f" },
  rule: { name: "writes-need-approval", action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "15m", grantScope: "once" } },
};

describe("approvalRequestBody", () => {
  const body = approvalRequestBody(ask, context, new Date("2030-01-01T00:00:00.123Z"));

  it("is the ApprovalRequest the operator would create: requester and pod from the identity, reviewers and expiry from the rule", () => {
    expect(body).toEqual({
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "ApprovalRequest",
      metadata: { generateName: "laptop-", namespace: "agents", labels: { "portcullis.dev/pod-uid": context.identity.podUid, "portcullis.dev/resource": "orders-db" } },
      spec: {
        requester: { username: "standalone:dev", groups: ["devs"] },
        pod: { name: "laptop", uid: context.identity.podUid },
        ...ask,
        reviewers: { groups: ["dba"] },
        grantScope: "once",
        expiresAt: "2030-01-01T00:15:00Z",
      },
    });
  });

  it("carries the same spec as the documented example and satisfies the CRD schema", () => {
    const example = parse(readFileSync(join(REFERENCE_DIR, "approvalrequest.yaml"), "utf8")) as { spec: Record<string, unknown> };
    // Who asked, from which pod and until when differ by nature; everything else comes from the ask and the rule.
    const shared = (spec: object): object => Object.fromEntries(Object.entries(spec).filter(([key]) => !["requester", "pod", "expiresAt"].includes(key)));
    expect(shared(body.spec)).toEqual(shared(example.spec));
    expect(() => new ApprovalRequest({ ...body, metadata: { ...body.metadata, name: "laptop-abcde" } }).validate()).not.toThrow();
  });

  it("carries a window grant's window", () => {
    const windowed = approvalRequestBody(ask, { ...context, rule: { ...context.rule, approval: { ...context.rule.approval, grantScope: "window", grantWindow: "1h" } } }, new Date(0));
    expect([windowed.spec.grantScope, windowed.spec.grantWindow]).toEqual(["window", "1h"]);
  });
});
