// The gateway under the operator, end to end: a namespace opted in, a pod
// injected, the gateway started with the environment the injected spec gives
// it (the broker URL, token and CA paths pointed at local copies), psql through
// it — a denied statement, an approval a reviewer grants with the portcullis
// CLI, a denial and an expiry decided with kubectl — policy edits reaching it,
// and the session's evidence in a real S3 server, replayed and verified with
// the CLI, until one edited object makes verification fail.
import { spawn } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { sha256Digest } from "@portcullis/common/digest";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { stringify } from "yaml";
import { portcullis } from "../cli/portcullis-cli.js";
import { freePort } from "../controlplane/processes.js";
import { pendingApproval as pendingApprovalIn } from "../operator/cluster-waits.js";
import { OperatorFixture } from "../operator/fixture.js";
import { OPERATOR_NAMESPACE } from "../operator/install.js";
import type { OperatorProcess } from "../operator/process.js";
import { seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";
import { startS3, type RunningS3 } from "../s3/server.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const NS = "agents";
const BUCKET = "evidence";

let fixture: OperatorFixture;
let operator: OperatorProcess;
let server: RunningPostgres;
let gateway: SidecarProcess;
let dir: string;
let listenerPort: number;
let s3: RunningS3;
let signingKey: string;

const policy = (readAction: "allow" | "deny"): object => ({
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "AccessPolicy",
  metadata: { name: "orders-writes-need-approval", namespace: NS },
  spec: {
    subjects: { podSelector: { matchLabels: { app: "report-bot" } }, serviceAccounts: ["report-bot"] },
    resources: ["orders-db"],
    rules: [
      { name: "no-drops", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "agents never drop tables" },
      { name: "reads", match: { sql: { commands: ["SELECT"] } }, action: readAction },
      { name: "writes", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "10s" } },
    ],
    recording: { storeRef: { name: "evidence-store" } },
    defaultAction: "deny",
  },
});

function setup(pg: RunningPostgres, s3: RunningS3, signingKey: string): object[] {
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "portcullis.dev/injection": "enabled" } } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "report-bot", namespace: NS } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-credentials", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { username: pg.users.scram.username, password: pg.users.scram.password } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-ca", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { "ca.crt": pg.caPem } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "evidence-store", namespace: NS },
      data: { type: "s3", bucket: BUCKET, endpoint: s3.endpoint, region: s3.region, pathStyle: "true", prefix: "sessions", credentialsSecret: "evidence-credentials" },
    },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "evidence-credentials", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, signingKey } },
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
  ];
}

const agentPod = { apiVersion: "v1", kind: "Pod", metadata: { name: "agent-1", namespace: NS, labels: { app: "report-bot" } }, spec: { serviceAccountName: "report-bot", containers: [{ name: "agent", image: "agent:1" }] } };

const apply = (objects: object[]): Promise<string> => fixture.kubectlOk(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n") });

interface PsqlRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts psql through the gateway (one session, each statement a -c); resolves when it exits. */
function psqlThroughGateway(...statements: string[]): Promise<PsqlRun> {
  return new Promise((resolve) => {
    const child = spawn("psql", ["-X", "-v", "VERBOSITY=verbose", "-At", `host=127.0.0.1 port=${listenerPort} user=agent dbname=app`, ...statements.flatMap((sql) => ["-c", sql])]);
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

const pendingApproval = (): Promise<{ name: string; spec: Record<string, unknown> }> => pendingApprovalIn((args) => fixture.kubectl(args), NS);

/** A reviewer in the dba group decides with the real kubectl, as the README tells reviewers to. */
async function decide(name: string, phase: "Approved" | "Denied", reason: string): Promise<void> {
  const alice = await fixture.controlPlane.kubeconfigFor("alice", ["dba"]);
  await fixture.kubectlOk(["patch", "approvalrequest", name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase, reason } })], { kubeconfig: alice });
}

/** The gateway container's environment as the injector wrote it into the stored pod. */
async function injectedGatewayEnv(pod: string): Promise<Record<string, string>> {
  const spec = JSON.parse(await fixture.kubectlOk(["get", "pod", pod, "-n", NS, "-o", "jsonpath={.spec}"])) as { initContainers?: InjectedContainer[]; containers: InjectedContainer[] };
  const gateway = [...(spec.initContainers ?? []), ...spec.containers].find((container) => container.name === "portcullis-gateway");
  if (!gateway) throw new Error(`pod ${pod} has no portcullis-gateway container`);
  return Object.fromEntries((gateway.env ?? []).filter((variable) => variable.value !== undefined).map((variable) => [variable.name, variable.value as string]));
}

interface InjectedContainer {
  name: string;
  env?: Array<{ name: string; value?: string }>;
}

beforeAll(async () => {
  [fixture, server, s3] = await Promise.all([OperatorFixture.start(), startPostgres(), startS3()]);
  await seedSampleData(server);
  await s3.createBucket(BUCKET);
  operator = await fixture.startOperator("operator-1");
  listenerPort = await freePort();
  await fixture.grantReviewerRole([{ kind: "Group", name: "dba" }]);
  signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  await apply(setup(server, s3, signingKey));
  // As a platform engineer would: the pod comes once the operator reports its policy Ready (it injects from what it has seen).
  await fixture.waitFor(["get", "accesspolicy", "orders-writes-need-approval", "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
  await apply([agentPod]);
  const uid = await fixture.kubectlOk(["get", "pod", "agent-1", "-n", NS, "-o", "jsonpath={.metadata.uid}"]);
  const token = (await fixture.kubectlOk(["create", "token", "report-bot", "-n", NS, "--audience=portcullis", "--bound-object-kind=Pod", "--bound-object-name=agent-1", `--bound-object-uid=${uid}`])).trim();
  const ca = Buffer.from(await fixture.kubectlOk(["get", "secret", "portcullis-operator-tls", "-n", OPERATOR_NAMESPACE, "-o", "jsonpath={.data.ca-bundle\\.crt}"]), "base64").toString();
  dir = await mkdtemp(join(tmpdir(), "portcullis-operator-mode-"));
  await writeFile(join(dir, "token"), token);
  await writeFile(join(dir, "ca.crt"), ca);
  // What the kubelet would give the container, with the cluster-internal broker address and the
  // mounted files replaced by their local equivalents (there is no kubelet here).
  const injected = await injectedGatewayEnv("agent-1");
  expect(injected.PORTCULLIS_BROKER_URL).toMatch(/^https:\/\//);
  gateway = await startSidecar({
    env: {
      ...injected,
      PORTCULLIS_BROKER_URL: `https://127.0.0.1:${operator.ports.broker}`,
      PORTCULLIS_TOKEN_FILE: join(dir, "token"),
      PORTCULLIS_BROKER_CA_FILE: join(dir, "ca.crt"),
    },
  });
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await fixture?.stop();
  await server?.stop();
  await s3?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the gateway under the operator", () => {
  it("serves the Resource the broker gives it, with the brokered credential", async () => {
    const result = await psqlThroughGateway("SELECT count(*) FROM orders");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("50");
  });

  it("denies a DROP, then holds a write until a reviewer approves it with the portcullis CLI", async () => {
    const running = psqlThroughGateway("DROP TABLE orders", "UPDATE orders SET status = 'refunded' WHERE id = 1");
    const approval = await pendingApproval();
    expect(approval.spec).toMatchObject({
      requester: { username: `system:serviceaccount:${NS}:report-bot` },
      pod: { name: "agent-1" },
      resource: "orders-db",
      policy: "orders-writes-need-approval",
      rule: "writes",
      details: "UPDATE orders SET status = 'refunded' WHERE id = 1",
    });
    const alice = await fixture.controlPlane.kubeconfigFor("alice", ["dba"]);
    const approved = await portcullis(["approvals", "approve", approval.name, "-n", NS, "--reason", "refund agreed", "--kubeconfig", alice]);
    expect(approved.stderr).toBe("");
    expect(approved.stdout).toContain("UPDATE orders SET status = 'refunded' WHERE id = 1");
    expect(approved.stdout).toContain(`Approved ${NS}/${approval.name} by alice`);
    const result = await running;
    expect(result.stderr).toContain('ERROR:  42501: portcullis: denied by AccessPolicy "orders-writes-need-approval" rule "no-drops": agents never drop tables');
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

  it("uploads the session to S3, where the CLI replays and verifies it, until one object is edited", async () => {
    const store = ["--store-configmap", "evidence-store", "-n", NS, "--kubeconfig", fixture.controlPlane.state.adminKubeconfig];
    let found: { session: string; transcript: string } | undefined;
    for (let attempt = 0; attempt < 40 && !found; attempt++) {
      const listed = await portcullis(["sessions", "list", ...store, "-o", "json"]);
      expect(listed.stderr).toBe("");
      const { sessions } = JSON.parse(listed.stdout) as { sessions: Array<{ session: string; complete: boolean; pod: string }> };
      for (const candidate of sessions.filter((entry) => entry.complete && entry.pod === "agent-1")) {
        const replay = await portcullis(["sessions", "replay", candidate.session, ...store]);
        if (replay.stdout.includes("status = 'refunded'")) found = { session: candidate.session, transcript: replay.stdout };
      }
      if (!found) await sleep(500);
    }
    if (!found) throw new Error("the approved session never reached the store");
    const { session, transcript } = found;
    expect(transcript).toContain(`system:serviceaccount:${NS}:report-bot`);
    expect(transcript).toContain("decision   deny (orders-writes-need-approval/no-drops)");
    expect(transcript).toContain("decision   requireApproval (orders-writes-need-approval/writes)");
    expect(transcript).toMatch(/Approved +\S+ by alice: refund agreed/);
    expect(transcript).toContain("UPDATE 1");

    // The key verify trusts by default is the one the cluster hands the gateways: the credentials Secret's signingKey.
    const verified = await portcullis(["sessions", "verify", session, ...store]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^verified: \d+ records, ended client-terminated at \S+, head sha256:[0-9a-f]{64}, signed by (\S+)\n$/);
    expect(verified.stdout).toContain(`signed by ${sha256Digest(createPublicKey(signingKey).export({ type: "spki", format: "der" }))}`);

    // An auditor's worst case: someone rewrites history in the bucket.
    const key = `sessions/${NS}/agent-1/${session}/000001.jsonl.gz`;
    const original = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const text = gunzipSync(Buffer.from(await (original.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())).toString("utf8");
    expect(text).toContain("refunded");
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(text.replace("refunded", "cancelled")) }));
    const tampered = await portcullis(["sessions", "verify", session, ...store]);
    expect(tampered.code).toBe(1);
    expect(tampered.stdout + tampered.stderr).toContain("000001.jsonl.gz");
  });

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
