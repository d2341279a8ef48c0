// The HTTP gateway under the operator: an http Resource and its policy on a
// real API server, a pod injected (the agent container gets
// PORTCULLIS_BILLING_API_URL), the gateway started with the environment the
// injected spec gives it, and curl through it — a read with the brokered
// token, a refund held until a reviewer approves it with kubectl, and one the
// reviewer denies.
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { stringify } from "yaml";
import { freePort } from "../controlplane/processes.js";
import { API_HOST, startApi, type RunningApi } from "../http/upstream.js";
import { pendingApproval as pendingApprovalIn } from "../operator/cluster-waits.js";
import { OperatorFixture } from "../operator/fixture.js";
import type { OperatorProcess } from "../operator/process.js";
import { injectedEnv, startInjectedGateway } from "./injected-gateway.js";
import type { SidecarProcess } from "./sidecar-process.js";
import { curl, type CurlResult } from "../http/curl.js";

const NS = "billing-agents";
const TOKEN = "brokered-api-token-81d2";

let fixture: OperatorFixture;
let operator: OperatorProcess;
let api: RunningApi;
let gateway: SidecarProcess;
let dir: string;
let listenerPort: number;
let agentUrl: string;

function setup(): object[] {
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "portcullis.dev/injection": "enabled" } } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "billing-bot", namespace: NS } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "billing-api-token", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { token: TOKEN } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "billing-api-ca", namespace: NS }, data: { "ca.crt": api.caPem } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "evidence-store", namespace: NS }, data: { type: "filesystem", path: join(dir, "store"), credentialsSecret: "evidence-signing" } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "evidence-signing", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { signingKey } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "billing-api", namespace: NS },
      spec: {
        protocol: "http",
        endpoint: { host: "127.0.0.1", port: api.port, tls: { mode: "verify-full", serverName: API_HOST, caBundleRef: { kind: "ConfigMap", name: "billing-api-ca", key: "ca.crt" } } },
        listener: { port: listenerPort },
        credentials: { secretRef: { name: "billing-api-token" } },
        http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "billing-bot", namespace: NS },
      spec: {
        subjects: { serviceAccounts: ["billing-bot"] },
        resources: ["billing-api"],
        rules: [
          { name: "reads", match: { http: { methods: ["GET"], paths: ["/v1/customers/*"] } }, action: "allow" },
          {
            name: "refunds",
            match: { http: { methods: ["POST"], paths: ["/v1/refunds"] } },
            action: "requireApproval",
            approval: { reviewers: { groups: ["billing-leads"] }, timeout: "1m", grantScope: "window", grantWindow: "1h" },
          },
        ],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
  ];
}

const agentPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "billing-agent", namespace: NS },
  spec: { serviceAccountName: "billing-bot", containers: [{ name: "agent", image: "agent:1" }] },
};

const apply = (objects: object[]): Promise<string> => fixture.kubectlOk(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n") });


const refund = (amount: number): Promise<CurlResult> =>
  curl(["-X", "POST", "-H", "content-type: application/json", "--data", JSON.stringify({ amount }), `${agentUrl}/v1/refunds`]);

async function decide(name: string, phase: "Approved" | "Denied", reason: string): Promise<void> {
  const lead = await fixture.controlPlane.kubeconfigFor("carol", ["billing-leads"]);
  await fixture.kubectlOk(["patch", "approvalrequest", name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase, reason } })], { kubeconfig: lead });
}

beforeAll(async () => {
  [fixture, api] = await Promise.all([OperatorFixture.start(), startApi()]);
  operator = await fixture.startOperator("operator-http");
  listenerPort = await freePort();
  dir = await mkdtemp(join(tmpdir(), "portcullis-http-operator-"));
  await fixture.grantReviewerRole([{ kind: "Group", name: "billing-leads" }]);
  await apply(setup());
  await fixture.waitFor(["get", "accesspolicy", "billing-bot", "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
  await apply([agentPod]);
  const pod = { fixture, namespace: NS, name: agentPod.metadata.name, serviceAccount: "billing-bot" };
  gateway = await startInjectedGateway(pod, operator, dir);
  agentUrl = (await injectedEnv(pod, "agent")).PORTCULLIS_BILLING_API_URL ?? "";
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  await fixture?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the HTTP gateway under the operator", () => {
  it("gives the agent container the gateway's URL, and serves it with the brokered token", async () => {
    expect(agentUrl).toBe(`http://127.0.0.1:${listenerPort}`);
    const seen = api.received.length;
    const { body } = await curl(["-H", "Authorization: Bearer stolen", `${agentUrl}/v1/customers/7`]);
    expect(JSON.parse(body)).toMatchObject({ id: 7 });
    expect(api.received[seen]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("holds a refund until a reviewer approves it with kubectl, showing the reviewer the body; the grant covers that exact request only", async () => {
    const seen = api.received.length;
    const running = refund(20);
    const approval = await pendingApprovalIn((args) => fixture.kubectl(args), NS);
    expect(approval.spec).toMatchObject({
      requester: { username: `system:serviceaccount:${NS}:billing-bot` },
      resource: "billing-api",
      policy: "billing-bot",
      rule: "refunds",
      summary: "POST /v1/refunds",
      details: expect.stringContaining('{"amount":20}') as unknown,
    });
    expect(api.received.length).toBe(seen);
    await decide(approval.name, "Approved", "customer called");
    const result = await running;
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({ method: "POST", body: '{"amount":20}', authorization: `Bearer ${TOKEN}` });
    // The window grant lets the same method, target and body through at once, with no new ApprovalRequest.
    const before = (await fixture.kubectlOk(["get", "approvalrequests", "-n", NS, "-o", "name"])).trim().split("\n").length;
    expect((await refund(20)).status).toBe(200);
    expect((await fixture.kubectlOk(["get", "approvalrequests", "-n", NS, "-o", "name"])).trim().split("\n").length).toBe(before);
  });

  it("answers 403 naming the ApprovalRequest when the reviewer denies", async () => {
    const running = refund(30);
    const approval = await pendingApprovalIn((args) => fixture.kubectl(args), NS);
    await decide(approval.name, "Denied", "not this one");
    const result = await running;
    expect(result.status).toBe(403);
    expect(JSON.parse(result.body)).toMatchObject({
      error: "approval denied",
      policy: "billing-bot",
      rule: "refunds",
      approvalRequest: approval.name,
      message: expect.stringContaining("was denied by carol: not this one") as unknown,
    });
  });
});
