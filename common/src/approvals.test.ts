import type { IApprovalRequest } from "@portcullis/crds";
import { BrokerRequestError, approvalGenerateName, approvalRuleFor, approvalView, buildApprovalRequest, parseApprovalAsk, type ApprovalAsk } from "./approvals.js";
import { parseDuration } from "./durations.js";
import { agentPod, approvalPolicy, identity, policy } from "./test-fixtures.js";

const FINGERPRINT = `sha256:${"a".repeat(64)}`;
const ask = (overrides: Partial<ApprovalAsk> = {}): ApprovalAsk => ({
  resource: "orders-db",
  policy: "no-destructive-changes",
  rule: "writes-need-approval",
  summary: "UPDATE orders SET status = $1 WHERE id = $2",
  fingerprint: FINGERPRINT,
  ...overrides,
});

function refusal(run: () => unknown): { status: number; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof BrokerRequestError) return { status: error.status, message: error.message };
    throw error;
  }
  throw new Error("expected a BrokerRequestError");
}

describe("parseApprovalAsk", () => {
  it("accepts the documented fields", () => {
    expect(parseApprovalAsk({ ...ask(), details: "UPDATE orders ...", sessionID: "01JD" })).toEqual({ ...ask(), details: "UPDATE orders ...", sessionID: "01JD" });
  });

  it("refuses fields that would let the agent speak for itself", () => {
    expect(refusal(() => parseApprovalAsk({ ...ask(), requester: { username: "alice" }, timeout: "24h" }))).toEqual({
      status: 400,
      message: "unknown field(s) requester, timeout: the requester, pod, reviewers and timeout come from the token and the AccessPolicy, not from the request",
    });
  });

  it("refuses missing, empty, overlong and malformed values", () => {
    expect(refusal(() => parseApprovalAsk({ ...ask(), summary: "" })).message).toBe("summary must be a non-empty string");
    expect(refusal(() => parseApprovalAsk({ policy: "p" })).message).toBe("resource must be a non-empty string");
    expect(refusal(() => parseApprovalAsk({ ...ask(), summary: "x".repeat(513) })).message).toBe("summary is longer than 512 characters");
    expect(refusal(() => parseApprovalAsk({ ...ask(), fingerprint: "md5:abc" })).message).toContain("fingerprint must be sha256:");
    expect(refusal(() => parseApprovalAsk([])).message).toBe("the body must be a JSON object");
  });
});

describe("parseDuration", () => {
  it("reads the CRD's duration format", () => {
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("10s500ms")).toBe(10_500);
    expect(() => parseDuration("15 minutes")).toThrow('"15 minutes" is not a duration');
  });
});

describe("approvalRuleFor", () => {
  const pod = agentPod();
  it("returns the requireApproval rule of a policy that selects the pod and governs the Resource", () => {
    expect(approvalRuleFor(ask(), pod, [approvalPolicy()]).approval.timeout).toBe("15m");
  });

  it("explains each refusal", () => {
    expect(refusal(() => approvalRuleFor(ask({ policy: "nope" }), pod, [approvalPolicy()]))).toEqual({ status: 404, message: 'AccessPolicy "nope" does not exist in namespace "agents"' });
    expect(refusal(() => approvalRuleFor(ask(), agentPod({ labels: { app: "crawler" } }), [approvalPolicy()]))).toEqual({
      status: 403,
      message: 'AccessPolicy "no-destructive-changes" does not select pod agents/report-bot-5d8f7c-x2k4q',
    });
    expect(refusal(() => approvalRuleFor(ask({ resource: "billing-api" }), pod, [approvalPolicy()]))).toEqual({
      status: 403,
      message: 'AccessPolicy "no-destructive-changes" does not govern Resource "billing-api"',
    });
    expect(refusal(() => approvalRuleFor(ask({ rule: "missing" }), pod, [approvalPolicy()]))).toEqual({ status: 404, message: 'AccessPolicy "no-destructive-changes" has no rule "missing"' });
    expect(refusal(() => approvalRuleFor(ask({ rule: "reads" }), pod, [approvalPolicy()]))).toEqual({
      status: 403,
      message: 'rule "reads" of AccessPolicy "no-destructive-changes" has action allow, not requireApproval',
    });
  });
});

describe("buildApprovalRequest", () => {
  it("takes the requester from the identity and reviewers, scope and expiry from the rule", () => {
    const windowPolicy = policy("windowed", {
      resources: ["orders-db"],
      rules: [{ name: "w", action: "requireApproval", approval: { reviewers: { users: ["alice@example.com"] }, timeout: "1h", grantScope: "window", grantWindow: "30m" } }],
    });
    const rule = approvalRuleFor(ask({ policy: "windowed", rule: "w" }), agentPod(), [windowPolicy]);
    const request = buildApprovalRequest(ask({ policy: "windowed", rule: "w", sessionID: "s-1" }), identity(), rule, new Date("2030-01-01T00:00:00.123Z"));
    expect(request).toEqual({
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "ApprovalRequest",
      metadata: {
        generateName: "report-bot-5d8f7c-x2k4q-",
        namespace: "agents",
        labels: { "portcullis.dev/pod-uid": "5f0c7a4e-2b1d-4c3e-8f9a-0a1b2c3d4e5f", "portcullis.dev/resource": "orders-db" },
      },
      spec: {
        requester: {
          username: "system:serviceaccount:agents:report-bot",
          uid: "0b6d3f0e-8c1e-4f7a-9d59-1a2b3c4d5e6f",
          groups: ["system:serviceaccounts", "system:serviceaccounts:agents", "system:authenticated"],
        },
        pod: { name: "report-bot-5d8f7c-x2k4q", uid: "5f0c7a4e-2b1d-4c3e-8f9a-0a1b2c3d4e5f" },
        resource: "orders-db",
        policy: "windowed",
        rule: "w",
        summary: "UPDATE orders SET status = $1 WHERE id = $2",
        fingerprint: FINGERPRINT,
        sessionID: "s-1",
        reviewers: { users: ["alice@example.com"] },
        grantScope: "window",
        grantWindow: "30m",
        expiresAt: "2030-01-01T01:00:00Z",
      },
    });
  });

  it("keeps generated names short and valid", () => {
    expect(approvalGenerateName("a".repeat(39) + "-bcdef")).toBe(`${"a".repeat(39)}-`);
    expect(approvalGenerateName("")).toBe("approval-");
  });
});

describe("approvalView", () => {
  const request = (status?: IApprovalRequest["status"]): IApprovalRequest => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "ApprovalRequest",
    metadata: { name: "report-bot-x7k2p", namespace: "agents" },
    spec: {
      requester: { username: "u" },
      pod: { name: "p", uid: "u1" },
      resource: "orders-db",
      policy: "p",
      rule: "r",
      summary: "s",
      fingerprint: FINGERPRINT,
      reviewers: { groups: ["dba"] },
      expiresAt: "2030-01-01T00:15:00Z",
    },
    ...(status ? { status } : {}),
  });
  const before = new Date("2030-01-01T00:10:00Z");

  it("reports Pending until there is a status, and the decision once there is", () => {
    expect(approvalView(request(), before)).toMatchObject({ phase: "Pending", grantScope: "once", fingerprint: FINGERPRINT, expiresAt: "2030-01-01T00:15:00Z" });
    const decided = approvalView(request({ phase: "Denied", reason: "no", decidedBy: { username: "bob" }, decidedAt: "2030-01-01T00:05:00Z" }), before);
    expect(decided).toMatchObject({ phase: "Denied", reason: "no", decidedBy: { username: "bob" }, decidedAt: "2030-01-01T00:05:00Z" });
  });

  it("reports a Pending request past its expiry as Expired", () => {
    expect(approvalView(request({ phase: "Pending" }), new Date("2030-01-01T00:15:00Z"))).toMatchObject({
      phase: "Expired",
      reason: "nobody decided before 2030-01-01T00:15:00Z",
    });
  });
});
