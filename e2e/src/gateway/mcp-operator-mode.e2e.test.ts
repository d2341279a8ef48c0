// The MCP gateway under the operator: an mcp Resource and its policy on a
// real API server, a pod injected (the agent container gets
// PORTCULLIS_TOOLS_URL), the gateway started with the environment the
// injected spec gives it, and the official MCP SDK client through it — the
// tool list cut by the policy, a refund held until a reviewer approves it
// with kubectl (the reviewer reads the tool and its masked arguments), the
// grant bound to those exact arguments, and a call the reviewer denies.
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { stringify } from "yaml";
import { freePort } from "../controlplane/processes.js";
import { type RunningMcpServer, startMcpServer } from "../mcp/server.js";
import { pendingApproval as pendingApprovalIn } from "../operator/cluster-waits.js";
import { OperatorFixture } from "../operator/fixture.js";
import type { OperatorProcess } from "../operator/process.js";
import { injectedEnv, startInjectedGateway } from "./injected-gateway.js";
import type { SidecarProcess } from "./sidecar-process.js";

const NS = "tool-agents";
const TOKEN = "brokered-mcp-token-0a7e";

let fixture: OperatorFixture;
let operator: OperatorProcess;
let server: RunningMcpServer;
let gateway: SidecarProcess;
let dir: string;
let listenerPort: number;
let agentUrl: string;
let client: Client;

function setup(): object[] {
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "portcullis.dev/injection": "enabled" } } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "support-bot", namespace: NS } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "tools-token", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { token: TOKEN } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "evidence-store", namespace: NS }, data: { type: "filesystem", path: join(dir, "store"), credentialsSecret: "evidence-signing" } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "evidence-signing", namespace: NS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { signingKey } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "tools", namespace: NS },
      spec: {
        protocol: "mcp",
        endpoint: { host: "127.0.0.1", port: server.port, tls: { mode: "disable" } },
        listener: { port: listenerPort },
        credentials: { secretRef: { name: "tools-token" } },
        http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
        mcp: { unpinnedTools: "trustOnFirstUse" },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "support-bot", namespace: NS },
      spec: {
        subjects: { serviceAccounts: ["support-bot"] },
        resources: ["tools"],
        rules: [
          { name: "lifecycle", match: { mcp: { methods: ["initialize", "ping", "notifications/*", "tools/list"] } }, action: "allow" },
          { name: "reads", match: { mcp: { tools: ["lookup_customer"] } }, action: "allow" },
          {
            name: "refunds",
            match: { mcp: { tools: ["refund_order"] } },
            action: "requireApproval",
            approval: { reviewers: { groups: ["support-leads"] }, timeout: "1m", grantScope: "window", grantWindow: "1h" },
          },
        ],
        masking: [{ name: "emails", detectors: ["email"], strategy: "redact" }],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
  ];
}

const agentPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "support-agent", namespace: NS },
  spec: { serviceAccountName: "support-bot", containers: [{ name: "agent", image: "agent:1" }] },
};

const apply = (objects: object[]): Promise<string> => fixture.kubectlOk(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n") });
const approvalCount = async (): Promise<number> => (await fixture.kubectlOk(["get", "approvalrequests", "-n", NS, "-o", "name"])).trim().split("\n").filter(Boolean).length;

async function decide(name: string, phase: "Approved" | "Denied", reason: string): Promise<void> {
  const lead = await fixture.controlPlane.kubeconfigFor("dana", ["support-leads"]);
  await fixture.kubectlOk(["patch", "approvalrequest", name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase, reason } })], { kubeconfig: lead });
}

const refund = (order: string, amount: number, note = ""): ReturnType<Client["callTool"]> => client.callTool({ name: "refund_order", arguments: { order, amount, ...(note ? { note } : {}) } });

beforeAll(async () => {
  [fixture, server] = await Promise.all([OperatorFixture.start(), startMcpServer()]);
  operator = await fixture.startOperator("operator-mcp");
  listenerPort = await freePort();
  dir = await mkdtemp(join(tmpdir(), "portcullis-mcp-operator-"));
  await fixture.grantReviewerRole([{ kind: "Group", name: "support-leads" }]);
  await apply(setup());
  await fixture.waitFor(["get", "accesspolicy", "support-bot", "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
  await fixture.waitFor(["get", "resource", "tools", "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
  await apply([agentPod]);
  const pod = { fixture, namespace: NS, name: agentPod.metadata.name, serviceAccount: "support-bot" };
  gateway = await startInjectedGateway(pod, operator, dir);
  agentUrl = (await injectedEnv(pod, "agent")).PORTCULLIS_TOOLS_URL ?? "";
  client = new Client({ name: "support-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${agentUrl}/mcp`)));
}, 120_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await gateway?.stop();
  await fixture?.stop();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the MCP gateway under the operator", () => {
  it("gives the agent container the gateway's URL and lists only the tools the policy could allow", async () => {
    expect(agentUrl).toBe(`http://127.0.0.1:${listenerPort}`);
    expect((await client.listTools()).tools.map((tool) => tool.name).sort()).toEqual(["lookup_customer", "refund_order"]);
    expect(new Set(server.authorizations)).toEqual(new Set([`Bearer ${TOKEN}`]));
  });

  it("holds a refund until a reviewer approves it with kubectl, showing the tool and its masked arguments; the grant covers those exact arguments only", async () => {
    const before = server.calls.length;
    const running = refund("A-7", 20, "customer ada@example.com called");
    const approval = await pendingApprovalIn((args) => fixture.kubectl(args), NS);
    expect(approval.spec).toMatchObject({
      requester: { username: `system:serviceaccount:${NS}:support-bot` },
      resource: "tools",
      policy: "support-bot",
      rule: "refunds",
      summary: "tools/call refund_order",
      details: expect.stringContaining('{"order":"A-7","amount":20,"note":"customer *** called"}') as unknown,
    });
    expect(server.calls.length).toBe(before);
    await decide(approval.name, "Approved", "customer called");
    expect((await running).content).toEqual([{ type: "text", text: "refunded 20 on A-7" }]);
    // The window grant lets the same tool and arguments through at once, whatever the JSON-RPC id.
    const count = await approvalCount();
    expect((await refund("A-7", 20, "customer ada@example.com called")).content).toEqual([{ type: "text", text: "refunded 20 on A-7" }]);
    expect(await approvalCount()).toBe(count);
    // Other arguments are another request for a reviewer.
    const other = refund("A-7", 2000);
    const second = await pendingApprovalIn((args) => fixture.kubectl(args), NS);
    expect(second.name).not.toBe(approval.name);
    await decide(second.name, "Denied", "too much");
    await expect(other).rejects.toThrow(new RegExp(`ApprovalRequest ${NS}/${second.name} for AccessPolicy "support-bot" rule "refunds" was denied by dana: too much`));
    expect(server.calls.filter((call) => call.tool === "refund_order").map((call) => call.arguments.amount)).toEqual([20, 20]);
  });
});
