// `portcullis approvals` against a real API server with the operator and its
// admission webhook: ApprovalRequests created by the operator's identity,
// listed and decided by real users with client certificates (and the
// requester with its service-account token). The webhook decides who may
// decide; the CLI must show its refusals as one line and exit 1.
import { stringify } from "yaml";
import { OperatorFixture } from "../operator/fixture.js";
import { portcullis } from "./portcullis-cli.js";

const NS = "agents";
let fixture: OperatorFixture;
let alice: string;
let bob: string;

const manifests = (objects: object[]): string => objects.map((o) => stringify(o)).join("---\n");

const setup = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
  { apiVersion: "v1", kind: "Namespace", metadata: { name: "ops" } },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "report-bot", namespace: NS } },
];

const approvalRequest = (name: string, namespace: string, summary: string): object => ({
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "ApprovalRequest",
  metadata: { name, namespace },
  spec: {
    requester: { username: `system:serviceaccount:${NS}:report-bot` },
    pod: { name: "report-bot-0", uid: "uid-1" },
    resource: "orders-db",
    policy: "no-destructive-changes",
    rule: "writes",
    summary,
    details: `${summary}\n-- issued by the nightly refund job`,
    fingerprint: `sha256:${"a".repeat(64)}`,
    reviewers: { groups: ["dba"] },
    expiresAt: new Date(Date.now() + 600_000).toISOString(),
  },
});

interface StoredStatus {
  phase?: string;
  reason?: string;
  decidedBy?: { username: string; groups?: string[] };
  decidedAt?: string;
}

async function statusOf(name: string): Promise<StoredStatus> {
  return JSON.parse(await fixture.kubectlOk(["get", "apr", name, "-n", NS, "-o", "jsonpath={.status}"])) as StoredStatus;
}

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  await fixture.startOperator("op-cli");
  // The agent gets the role too, so its self-approval reaches the webhook, which must refuse it.
  await fixture.grantReviewerRole([
    { kind: "Group", name: "dba" },
    { kind: "User", name: "bob" },
    { kind: "ServiceAccount", name: "report-bot", namespace: NS },
  ]);
  await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests(setup) });
  const requests = [
    approvalRequest("refund-1", NS, "DELETE FROM orders WHERE id = $1"),
    approvalRequest("refund-2", NS, "UPDATE orders SET status = $1 WHERE id = $2"),
    approvalRequest("restart-1", "ops", "DELETE FROM jobs"),
  ];
  await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests(requests), kubeconfig: fixture.operatorKubeconfig });
  for (const [name, namespace] of [["refund-1", NS], ["refund-2", NS], ["restart-1", "ops"]] as const) {
    await fixture.waitFor(["get", "apr", name, "-n", namespace], "{.status.phase}", "Pending");
  }
  alice = await fixture.controlPlane.kubeconfigFor("alice", ["dba"]);
  bob = await fixture.controlPlane.kubeconfigFor("bob");
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

describe("portcullis approvals list", () => {
  it("shows the requests of a namespace as a table, for a reviewer", async () => {
    const result = await portcullis(["approvals", "list", "-n", NS, "--kubeconfig", alice]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const [header, ...rows] = result.stdout.trimEnd().split("\n");
    expect(header?.split(/\s{3,}/)).toEqual(["NAME", "REQUESTER", "RESOURCE", "SUMMARY", "PHASE", "EXPIRES", "AGE"]);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/^refund-1 +system:serviceaccount:agents:report-bot +orders-db +DELETE FROM orders WHERE id = \$1 +Pending +in (9|10)m +\d+s$/);
  });

  it("lists every namespace with -A, takes the kubeconfig from $KUBECONFIG, and filters by phase", async () => {
    const all = await portcullis(["approvals", "list", "-A", "-o", "json"], { KUBECONFIG: alice });
    expect(all.code).toBe(0);
    const names = (JSON.parse(all.stdout) as { items: Array<{ metadata: { namespace: string; name: string } }> }).items.map((item) => `${item.metadata.namespace}/${item.metadata.name}`);
    expect(names.sort()).toEqual(["agents/refund-1", "agents/refund-2", "ops/restart-1"]);
    const none = await portcullis(["approvals", "list", "-A", "--phase", "Denied"], { KUBECONFIG: alice });
    expect(none).toMatchObject({ code: 0, stdout: "", stderr: "No ApprovalRequests found in phase Denied.\n" });
  });

  it("shows the API server's refusal for a user without the reviewer role", async () => {
    const mallory = await fixture.controlPlane.kubeconfigFor("mallory");
    const result = await portcullis(["approvals", "list", "-n", NS, "--kubeconfig", mallory]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot list ApprovalRequests in namespace agents: .*"mallory" cannot list resource "approvalrequests"/);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("portcullis approvals approve/deny", () => {
  it("refuses a user who is not a listed reviewer, with the webhook's message, after showing the request", async () => {
    const result = await portcullis(["approvals", "approve", "refund-1", "-n", NS, "--kubeconfig", bob]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("ApprovalRequest agents/refund-1\n");
    expect(result.stdout).toContain("  Details:      DELETE FROM orders WHERE id = $1\n                -- issued by the nightly refund job\n");
    expect(result.stderr).toMatch(/^error: the API server refused to approve agents\/refund-1: admission webhook "approvalrequests\.portcullis\.dev" denied the request: user "bob" is not a reviewer of ApprovalRequest agents\/refund-1 \(reviewers: users \[\], groups \[dba\]\)\n$/);
    expect((await statusOf("refund-1")).phase).toBe("Pending");
  });

  it("refuses the requester, even with the reviewer role", async () => {
    const token = (await fixture.kubectlOk(["create", "token", "report-bot", "-n", NS])).trim();
    const requester = fixture.controlPlane.kubeconfigForToken("report-bot", token);
    const result = await portcullis(["approvals", "approve", "refund-1", "-n", NS, "--kubeconfig", requester]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`"system:serviceaccount:${NS}:report-bot" requested this approval and cannot decide it`);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
  });

  it("lets a reviewer in a listed group approve; the webhook stamps who decided", async () => {
    const result = await portcullis(["approvals", "approve", "refund-1", "-n", NS, "--reason", "refund agreed with finance", "--kubeconfig", alice]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const status = await statusOf("refund-1");
    expect(status).toMatchObject({ phase: "Approved", reason: "refund agreed with finance", decidedBy: { username: "alice" } });
    expect(status.decidedBy?.groups).toContain("dba");
    expect(result.stdout.trimEnd().split("\n").at(-1)).toBe(`Approved agents/refund-1 by alice at ${status.decidedAt ?? ""}`);
  });

  it("refuses a second decision: a decision is final", async () => {
    const result = await portcullis(["approvals", "deny", "refund-1", "-n", NS, "--kubeconfig", alice]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("  Decided by:   alice at ");
    expect(result.stderr).toMatch(/^error: the API server refused to deny agents\/refund-1: .*a decision is final\n$/);
    expect((await statusOf("refund-1")).phase).toBe("Approved");
  });

  it("denies another request, from $KUBECONFIG, printing the stored object with -o json", async () => {
    const result = await portcullis(["approvals", "deny", "refund-2", "--reason", "not during the freeze", "-o", "json"], { KUBECONFIG: alice });
    // The context has no namespace, so "default" would be used: the request is not there.
    expect(result).toMatchObject({ code: 1, stderr: "error: ApprovalRequest default/refund-2 not found\n" });
    const denied = await portcullis(["approvals", "deny", "refund-2", "-n", NS, "--reason", "not during the freeze", "-o", "json"], { KUBECONFIG: alice });
    expect(denied.code).toBe(0);
    const stored = JSON.parse(denied.stdout) as { status: StoredStatus };
    expect(stored.status).toMatchObject({ phase: "Denied", reason: "not during the freeze", decidedBy: { username: "alice" } });
    expect(await statusOf("refund-2")).toMatchObject({ phase: "Denied", decidedBy: { username: "alice" } });
  });
});
