// Pods that really run: a node (containerd, kubelet, kube-proxy) joins a test
// control plane. First a run is killed with its node up, and the next one
// must put the host back as it was. Then the operator injects its gateway
// into an agent Deployment made from the demo image, and inside the agent
// container psql talks to the database's real address — intercepted by the
// iptables rules the injected init container installed, decided by the
// gateway sidecar from the built image, which holds the credential the agent
// never sees. (One file: one node per machine at a time.)
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { stringify } from "yaml";
import { reapOrphanedControlPlanes } from "../controlplane/controlplane.js";
import { locateTools } from "../controlplane/tools.js";
import { OperatorFixture } from "../operator/fixture.js";
import { waitForExit } from "../processes/child-process.js";
import { seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";
import { iptablesRules } from "./host-state.js";
import { imageArchives, imageNamed as image } from "./images.js";
import { cleanUpLeftovers, NODE_DIR, NODE_IP, POD_CIDR, POD_RANGE, TestNode } from "./node.js";

const NS = "agents";
const NODE_CLI = fileURLToPath(new URL("../../dist/node/cli.js", import.meta.url));
let fixture: OperatorFixture;
let node: TestNode;
let server: RunningPostgres;
let agentPod: string;

const sh = (command: string, args: string[]): string => execFileSync(command, args, { encoding: "utf8" });

/** What a node changes on the host, as comparable text. */
function hostSnapshot(): Record<string, unknown> {
  return {
    routes: sh("ip", ["route", "show", "table", "all"]).split("\n").filter((line) => !line.includes(" linkdown")).sort(),
    links: sh("ip", ["-br", "link"]).split("\n").map((line) => line.split(/\s+/)[0]).sort(),
    loopback: sh("ip", ["-br", "addr", "show", "lo"]),
    iptables: iptablesRules(sh("iptables-save", [])),
    ip6tables: iptablesRules(sh("ip6tables-save", [])),
    sysctls: ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward"].map((key) => readFileSync(`/proc/sys/${key}`, "utf8").trim()),
    dirs: ["/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/netns", NODE_DIR].filter((dir) => existsSync(dir)),
    cgroups: readdirSync("/sys/fs/cgroup").filter((controller) => existsSync(`/sys/fs/cgroup/${controller}/kubepods`)),
  };
}

/** Processes whose command line names the node's directory: containerd, its shims, the kubelet. */
function nodeProcesses(): string[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\u0000", " ");
        return command.includes(NODE_DIR) ? [command.split(" ")[0] ?? ""] : [];
      } catch {
        return [];
      }
    });
}

describe("a run killed with its node up", () => {
  it("leaves the host for the next run to put back exactly as it was", async () => {
    const before = hostSnapshot();
    const child = spawn(process.execPath, [NODE_CLI, "up"], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    const deadline = Date.now() + 240_000;
    while (!output.includes("node ready") && Date.now() < deadline && child.exitCode === null) await sleep(250);
    expect(output).toContain("node ready");
    expect(sh("ip", ["route", "show", "type", "unreachable"])).toContain(POD_RANGE);
    child.kill("SIGKILL");
    await waitForExit(child, 10_000);
    // Nothing stopped the node: its processes run on without their starter.
    expect(nodeProcesses()).toEqual(expect.arrayContaining([expect.stringContaining("kubelet")]));
    await cleanUpLeftovers();
    await reapOrphanedControlPlanes();
    expect(nodeProcesses()).toEqual([]);
    expect(hostSnapshot()).toEqual(before);
  }, 300_000);
});

const apply = (objects: object[]): Promise<string> => fixture.kubectlOk(["apply", "-f", "-"], { stdin: objects.map((o) => stringify(o)).join("---\n") });

function manifests(pg: RunningPostgres): object[] {
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
        endpoint: { host: NODE_IP, port: pg.port, tls: { mode: "verify-full", serverName: pg.serverName, caBundleRef: { kind: "Secret", name: "orders-db-ca", key: "ca.crt" } } },
        listener: { port: 15432 },
        transparent: true,
        credentials: { secretRef: { name: "orders-db-credentials" } },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "report-bot", namespace: NS },
      spec: {
        subjects: { serviceAccounts: ["report-bot"] },
        resources: ["orders-db"],
        rules: [
          { name: "no-drops", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "agents never drop tables" },
          { name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" },
        ],
        masking: [{ name: "contact", columns: ["customers.email"], strategy: "redact" }],
        defaultAction: "deny",
      },
    },
  ];
}

const agentDeployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "report-bot", namespace: NS },
  spec: {
    replicas: 1,
    selector: { matchLabels: { app: "report-bot" } },
    template: {
      metadata: { labels: { app: "report-bot" } },
      spec: {
        serviceAccountName: "report-bot",
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: "agent",
            image: image("portcullis-demo-agent"),
            imagePullPolicy: "Never",
            securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
          },
        ],
      },
    },
  },
};

async function waitForRunningPod(): Promise<string> {
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    const list = JSON.parse(await fixture.kubectlOk(["get", "pods", "-n", NS, "-l", "app=report-bot", "-o", "json"])) as { items: Array<{ metadata: { name: string }; status: { phase?: string; containerStatuses?: Array<{ ready: boolean }> } }> };
    const running = list.items.find((pod) => pod.status.phase === "Running" && (pod.status.containerStatuses ?? []).every((status) => status.ready));
    if (running) return running.metadata.name;
    last = JSON.stringify(list.items.map((pod) => pod.status));
    await sleep(500);
  }
  const events = await fixture.kubectl(["get", "events", "-n", NS, "--sort-by=.lastTimestamp"]);
  throw new Error(`the agent pod did not become Running and ready within 120 s; last status ${last}\nevents:\n${events.stdout}`);
}

/** psql inside the agent container, to the database's real address: the pod's iptables rules send it to the gateway. */
function psqlInAgent(sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return fixture.kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", `host=${NODE_IP} port=${server.port} user=report-bot dbname=app sslmode=disable`, "-c", sql]);
}

describe("an injected agent pod on a real node", () => {
  beforeAll(async () => {
    const archives = imageArchives();
    fixture = await OperatorFixture.start();
    node = await TestNode.start({ controlPlane: fixture.controlPlane, tools: locateTools(), images: archives, sandboxImage: image("portcullis-pause") });
    server = await startPostgres({ podNetwork: { address: NODE_IP, clients: POD_CIDR } });
    await seedSampleData(server);
    await fixture.startOperator("operator-1", [`--sidecar-image=${image("portcullis-sidecar")}`, `--init-image=${image("portcullis-init")}`], true, NODE_IP);
    await apply(manifests(server));
    await fixture.waitFor(["get", "accesspolicy", "report-bot", "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True", 60_000);
    await apply([agentDeployment]);
    agentPod = await waitForRunningPod();
  }, 400_000);

  afterAll(async () => {
    await node?.stop();
    await server?.stop();
    await fixture?.stop();
  }, 120_000);

  it("runs the gateway as a native sidecar after the iptables init container, from the built images", async () => {
    const spec = JSON.parse(await fixture.kubectlOk(["get", "pod", agentPod, "-n", NS, "-o", "jsonpath={.spec}"])) as { initContainers: Array<{ name: string; image: string; restartPolicy?: string }> };
    expect(spec.initContainers.map((container) => [container.name, container.image, container.restartPolicy ?? ""])).toEqual([
      ["portcullis-init", image("portcullis-init"), ""],
      ["portcullis-gateway", image("portcullis-sidecar"), "Always"],
    ]);
  });

  it("answers a SELECT through the transparent gateway, with the masked column masked", async () => {
    const reply = await psqlInAgent("SELECT count(*) FROM customers");
    expect(reply.stderr).toBe("");
    expect(Number(reply.stdout.trim())).toBeGreaterThan(0);
    const emails = await psqlInAgent("SELECT email FROM customers LIMIT 3");
    expect(emails.stdout.trim().split("\n")).toEqual(["***", "***", "***"]);
  });

  it("denies a DROP with the policy's message", async () => {
    const reply = await psqlInAgent("DROP TABLE customers");
    expect(reply.code).not.toBe(0);
    expect(reply.stderr).toContain("agents never drop tables");
    expect((await server.psql(["-At", "-c", "SELECT count(*) > 0 FROM customers"])).stdout.trim()).toBe("t");
  });

  it("leaves no credential where the agent can read it", async () => {
    const env = await fixture.kubectlOk(["exec", "-n", NS, agentPod, "-c", "agent", "--", "env"]);
    expect(env).not.toContain(server.users.scram.password);
    const secret = await fixture.kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "ls", "/var/run/secrets/portcullis"]);
    expect(secret.code).not.toBe(0);
  });
});
