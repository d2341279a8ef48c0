// The gateway under the operator: it authenticates to the real broker with a
// pod-bound projected token, gets its Resources, credentials and policies from
// there, follows policy edits, and holds writes for human approvals that real
// reviewers decide with kubectl — approved, denied and expired.
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { stringify } from "yaml";
import { freePort } from "../controlplane/processes.js";
import { OperatorFixture } from "../operator/fixture.js";
import { OPERATOR_NAMESPACE } from "../operator/install.js";
import type { OperatorProcess } from "../operator/process.js";
import { seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const NS = "agents";

let fixture: OperatorFixture;
let operator: OperatorProcess;
let server: RunningPostgres;
let gateway: SidecarProcess;
let dir: string;
let listenerPort: number;

const policy = (readAction: "allow" | "deny"): object => ({
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "AccessPolicy",
  metadata: { name: "orders-writes-need-approval", namespace: NS },
  spec: {
    subjects: { podSelector: { matchLabels: { app: "report-bot" } }, serviceAccounts: ["report-bot"] },
    resources: ["orders-db"],
    rules: [
      { name: "reads", match: { sql: { commands: ["SELECT"] } }, action: readAction },
      { name: "writes", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "10s" } },
    ],
    defaultAction: "deny",
  },
});

function setup(pg: RunningPostgres): object[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "portcullis.dev/injection": "enabled" } } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "report-bot", namespace: NS } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-credentials", namespace: NS }, stringData: { username: pg.users.scram.username, password: pg.users.scram.password } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-ca", namespace: NS }, stringData: { "ca.crt": pg.caPem } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "orders-db", namespace: NS },
      spec: {
        protocol: "postgres",
        endpoint: { host: "127.0.0.1", port: pg.port, tls: { mode: "verify-full", serverName: pg.serverName, caBundleRef: { kind: "Secret", name: "orders-db-ca", key: "ca.crt" } } },
        listener: { port: listenerPort },
        credentials: { secretRef: { name: "orders-db-credentials" } },
      },
    },
    policy("allow"),
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "portcullis-reviewers" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "portcullis-reviewer" },
      subjects: [{ kind: "Group", name: "dba", apiGroup: "rbac.authorization.k8s.io" }],
    },
    { apiVersion: "v1", kind: "Pod", metadata: { name: "agent-1", namespace: NS, labels: { app: "report-bot" } }, spec: { serviceAccountName: "report-bot", containers: [{ name: "agent", image: "agent:1" }] } },
  ];
}

const apply = (objects: object[]): Promise<string> => fixture.kubectlOk(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n") });

interface PsqlRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts psql through the gateway; resolves when it exits. */
function psqlThroughGateway(sql: string): Promise<PsqlRun> {
  return new Promise((resolve) => {
    const child = spawn("psql", ["-X", "-v", "VERBOSITY=verbose", "-At", `host=127.0.0.1 port=${listenerPort} user=agent dbname=app`, "-c", sql]);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

async function pendingApproval(): Promise<{ name: string; spec: Record<string, unknown> }> {
  for (let i = 0; i < 80; i++) {
    const list = JSON.parse(await fixture.kubectlOk(["get", "approvalrequests", "-n", NS, "-o", "json"])) as { items: Array<{ metadata: { name: string }; spec: Record<string, unknown>; status?: { phase?: string } }> };
    const pending = list.items.find((item) => (item.status?.phase ?? "Pending") === "Pending");
    if (pending) return { name: pending.metadata.name, spec: pending.spec };
    await sleep(250);
  }
  throw new Error("no Pending ApprovalRequest appeared");
}

/** A reviewer in the dba group decides with the real kubectl, as the README tells reviewers to. */
async function decide(name: string, phase: "Approved" | "Denied", reason: string): Promise<void> {
  const alice = await fixture.controlPlane.kubeconfigFor("alice", ["dba"]);
  await fixture.kubectlOk(["patch", "approvalrequest", name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase, reason } })], { kubeconfig: alice });
}

beforeAll(async () => {
  [fixture, server] = await Promise.all([OperatorFixture.start(), startPostgres()]);
  await seedSampleData(server);
  operator = await fixture.startOperator("operator-1");
  listenerPort = await freePort();
  await fixture.kubectlOk(["apply", "-f", fileURLToPath(new URL("../../../operator/deploy/reviewer-role.yaml", import.meta.url))]);
  await apply(setup(server));
  const uid = await fixture.kubectlOk(["get", "pod", "agent-1", "-n", NS, "-o", "jsonpath={.metadata.uid}"]);
  const token = (await fixture.kubectlOk(["create", "token", "report-bot", "-n", NS, "--audience=portcullis", "--bound-object-kind=Pod", "--bound-object-name=agent-1", `--bound-object-uid=${uid}`])).trim();
  const ca = Buffer.from(await fixture.kubectlOk(["get", "secret", "portcullis-operator-tls", "-n", OPERATOR_NAMESPACE, "-o", "jsonpath={.data.ca-bundle\\.crt}"]), "base64").toString();
  dir = await mkdtemp(join(tmpdir(), "portcullis-operator-mode-"));
  await writeFile(join(dir, "token"), token);
  await writeFile(join(dir, "ca.crt"), ca);
  gateway = await startSidecar({
    env: { PORTCULLIS_BROKER_URL: `https://127.0.0.1:${operator.ports.broker}`, PORTCULLIS_TOKEN_FILE: join(dir, "token"), PORTCULLIS_BROKER_CA_FILE: join(dir, "ca.crt") },
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await fixture?.stop();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the gateway under the operator", () => {
  it("serves the Resource the broker gives it, with the brokered credential", async () => {
    const result = await psqlThroughGateway("SELECT count(*) FROM orders");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("50");
  });

  it("holds a write until a reviewer approves it, telling the agent what it waits for", async () => {
    const running = psqlThroughGateway("UPDATE orders SET status = 'refunded' WHERE id = 1");
    const approval = await pendingApproval();
    expect(approval.spec).toMatchObject({
      requester: { username: `system:serviceaccount:${NS}:report-bot` },
      pod: { name: "agent-1" },
      resource: "orders-db",
      policy: "orders-writes-need-approval",
      rule: "writes",
      details: "UPDATE orders SET status = 'refunded' WHERE id = 1",
    });
    await decide(approval.name, "Approved", "refund agreed");
    const result = await running;
    expect(result.stderr).toContain(`NOTICE:  00000: portcullis: AccessPolicy "orders-writes-need-approval" rule "writes" requires approval; waiting for ApprovalRequest ${NS}/${approval.name}`);
    expect(result.stderr).toContain("kubectl patch approvalrequest");
    expect(result.stdout.trim()).toBe("UPDATE 1");
    expect((await server.psql(["-At", "-c", "SELECT status FROM orders WHERE id = 1"])).stdout.trim()).toBe("refunded");
  });

  it("refuses the write when the reviewer denies it", async () => {
    const running = psqlThroughGateway("UPDATE orders SET status = 'cancelled' WHERE id = 2");
    const approval = await pendingApproval();
    await decide(approval.name, "Denied", "not during the freeze");
    const result = await running;
    expect(result.stderr).toContain(`ERROR:  42501: portcullis: ApprovalRequest ${NS}/${approval.name} for AccessPolicy "orders-writes-need-approval" rule "writes" was denied by alice: not during the freeze`);
    expect((await server.psql(["-At", "-c", "SELECT status FROM orders WHERE id = 2"])).stdout.trim()).not.toBe("cancelled");
  });

  it("refuses the write when nobody decides before the timeout", async () => {
    const started = Date.now();
    const result = await psqlThroughGateway("UPDATE orders SET status = 'lost' WHERE id = 3");
    expect(result.stderr).toMatch(/ERROR: {2}42501: portcullis: ApprovalRequest agents\/\S+ for AccessPolicy "orders-writes-need-approval" rule "writes" expired without a decision/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(9_000);
    expect((await server.psql(["-At", "-c", "SELECT status FROM orders WHERE id = 3"])).stdout.trim()).not.toBe("lost");
  }, 40_000);

  it("applies a policy edit to new sessions within seconds", async () => {
    await apply([policy("deny")]);
    let result: PsqlRun = { code: null, stdout: "", stderr: "" };
    for (let i = 0; i < 40; i++) {
      result = await psqlThroughGateway("SELECT count(*) FROM orders");
      if (result.stderr.includes("42501")) break;
      await sleep(250);
    }
    expect(result.stderr).toContain('rule "reads"');
    await apply([policy("allow")]);
  });
});
