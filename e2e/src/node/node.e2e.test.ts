// Pods that really run: a node (containerd, kubelet, kube-proxy) joins a test
// control plane. First a run is killed with its node up, and the next one
// must put the host back as it was. Then Portcullis is installed with Helm
// from charts/ with the locally built images, as a platform team would: both
// operator replicas run as pods, `helm test` passes, and the operator injects
// its gateway into an agent Deployment made from the demo image. Inside the
// agent container psql talks to the database's real address — intercepted by
// the iptables rules the injected init container installed, decided by the
// gateway sidecar, which holds the credential the agent never sees; its MCP
// client, curl and kubectl are governed the same way. Last, a
// `helm upgrade` rolls the operator without failing a pod creation and `helm
// uninstall` leaves pod creation working. (One file: one node per machine.)
import { execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { stringify } from "yaml";
import { ControlPlane, reapOrphanedControlPlanes } from "../controlplane/controlplane.js";
import { locateTools } from "../controlplane/tools.js";
import { kubectl as kubectlAs, type CommandResult } from "../jest/environment.js";
import { installCliPlugin } from "../cli/portcullis-cli.js";
import { pendingApproval, waitForJsonPath } from "../operator/cluster-waits.js";
import { runCommand, waitForExit } from "../processes/child-process.js";
import { waitUntil } from "../processes/wait.js";
import { seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";
import { startS3, type RunningS3 } from "../s3/server.js";
import { startApi, type RunningApi } from "../http/upstream.js";
import { type RunningMcpServer, startMcpServer } from "../mcp/server.js";
import { iptablesRules } from "./host-state.js";
import { DEMO_AGENT, DEMO_API_HOST, DEMO_NAMESPACE as NS, DEMO_POLICY, DEMO_TOOLS_POLICY, demoAgentDeployment, demoManifests, EVIDENCE_STORE } from "./demo.js";
import { helm as helmAs, helmInstall, RELEASE, RELEASE_NAMESPACE as RELEASE_NS } from "./helm.js";
import { imageArchives, imageNamed as image } from "./images.js";
import { cleanUpLeftovers, NODE_DIR, NODE_IP, POD_CIDR, POD_RANGE, TestNode } from "./node.js";

const BUCKET = "evidence";
const NODE_CLI = fileURLToPath(new URL("../../dist/node/cli.js", import.meta.url));
let controlPlane: ControlPlane;
let node: TestNode | undefined;
let server: RunningPostgres;
let s3: RunningS3;
let api: RunningApi;
const API_TOKEN = "node-billing-token-2c4";
let mcpServer: RunningMcpServer;
const TOOLS_TOKEN = "node-tools-token-9e1";
let signingKey: string;
let agentPod: string;

const sh = (command: string, args: string[]): string => execFileSync(command, args, { encoding: "utf8" });
const kubectl = (args: string[], stdin?: string): Promise<CommandResult> => kubectlAs(args, { kubeconfig: controlPlane.state.adminKubeconfig, ...(stdin === undefined ? {} : { stdin }) });

async function kubectlOk(args: string[], stdin?: string): Promise<string> {
  const result = await kubectl(args, stdin);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

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

const apply = (objects: object[]): Promise<string> => kubectlOk(["apply", "-f", "-"], objects.map((o) => stringify(o)).join("---\n"));

const agentDeployment = demoAgentDeployment();

async function waitForRunningPod(): Promise<string> {
  const deadline = Date.now() + 120_000;
  let last = "";
  while (Date.now() < deadline) {
    const list = JSON.parse(await kubectlOk(["get", "pods", "-n", NS, "-l", `app=${DEMO_AGENT}`, "-o", "json"])) as { items: Array<{ metadata: { name: string }; status: { phase?: string; containerStatuses?: Array<{ ready: boolean }> } }> };
    const running = list.items.find((pod) => pod.status.phase === "Running" && (pod.status.containerStatuses ?? []).every((status) => status.ready));
    if (running) return running.metadata.name;
    last = JSON.stringify(list.items.map((pod) => pod.status));
    await sleep(500);
  }
  const events = await kubectl(["get", "events", "-n", NS, "--sort-by=.lastTimestamp"]);
  throw new Error(`the agent pod did not become Running and ready within 120 s; last status ${last}\nevents:\n${events.stdout}`);
}

/** psql inside the agent container, to the database's real address: the pod's iptables rules send it to the gateway. */
function psqlInAgent(sql: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", `host=${NODE_IP} port=${server.port} user=${DEMO_AGENT} dbname=app sslmode=disable`, "-c", sql]);
}

/** kubectl inside the agent container, without a kubeconfig: in-cluster, to the API server's service address, which the pod's iptables rules send to the gateway. */
function kubectlInAgent(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "kubectl", ...args]);
}

const STORE = ["--store-configmap", EVIDENCE_STORE, "-n", NS];

/** Transcripts of complete sessions, which no longer change: each is replayed once. */
const transcripts = new Map<string, string>();

/** The first complete session of the agent pod whose replay contains `text`, once it is in the store: its id and transcript. */
async function storedSession(what: string, text: string): Promise<{ session: string; transcript: string }> {
  const matching = (): { session: string; transcript: string } | undefined => {
    for (const [session, transcript] of transcripts) if (transcript.includes(text)) return { session, transcript };
    return undefined;
  };
  await waitFor(what, async () => {
    if (matching()) return true;
    const listed = await kubectlPortcullis(["sessions", "list", ...STORE, "-o", "json"]);
    const { sessions } = JSON.parse(listed.stdout || "{\"sessions\":[]}") as { sessions: Array<{ session: string; complete: boolean; pod: string }> };
    for (const candidate of sessions.filter((entry) => entry.complete && entry.pod === agentPod && !transcripts.has(entry.session))) {
      const replay = await kubectlPortcullis(["sessions", "replay", candidate.session, ...STORE]);
      if (replay.code === 0) transcripts.set(candidate.session, replay.stdout);
    }
    return matching() !== undefined;
  });
  return matching() as { session: string; transcript: string };
}

describe("Portcullis installed with Helm on a real node", () => {
  beforeAll(async () => {
    const archives = imageArchives();
    await TestNode.prepareHost();
    try {
      const tools = locateTools();
      controlPlane = await ControlPlane.start({ tools, ownerPid: process.pid, advertiseAddress: NODE_IP });
      node = await TestNode.start({ controlPlane, tools, images: archives, sandboxImage: image("portcullis-pause") });
      server = await startPostgres({ podNetwork: { address: NODE_IP, clients: POD_CIDR } });
      await seedSampleData(server);
      s3 = await startS3({ host: NODE_IP });
      await s3.createBucket(BUCKET);
      api = await startApi(NODE_IP);
      mcpServer = await startMcpServer(NODE_IP);
      signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    } catch (error) {
      await cleanUpLeftovers();
      throw error;
    }
  }, 400_000);

  afterAll(async () => {
    await node?.stop();
    await server?.stop();
    await s3?.stop();
    await api?.stop();
    await mcpServer?.stop();
    await controlPlane?.stop();
  }, 120_000);

  it("installs from charts/: both operator replicas Ready, one leader, helm test passes", async () => {
    const install = await helmInstall(controlPlane.state.adminKubeconfig, ["--set", "sidecar.resources.limits.memory=300Mi"]);
    expect(install.stderr.split("\n").filter((line) => line && !line.includes("symbolic link"))).toEqual([]);
    expect(install.stdout).toContain("STATUS: deployed");
    expect(await kubectlOk(["get", "deployment", "portcullis-operator", "-n", RELEASE_NS, "-o", "jsonpath={.status.readyReplicas}"])).toBe("2");
    const pods = (await kubectlOk(["get", "pods", "-n", RELEASE_NS, "-l", "app.kubernetes.io/component=operator", "-o", "jsonpath={.items[*].metadata.name}"])).split(" ");
    const leader = await kubectlOk(["get", "lease", "portcullis-operator", "-n", RELEASE_NS, "-o", "jsonpath={.spec.holderIdentity}"]);
    expect(pods).toContain(leader);
    const test = await helmAs(controlPlane.state.adminKubeconfig, ["test", RELEASE, "--namespace", RELEASE_NS, "--logs"]);
    // The test pod checked the webhooks and the broker over verified TLS, and /readyz.
    expect(test.stdout).toContain("Phase:          Succeeded");
  }, 300_000);

  it("injects an agent Deployment's pod: the native sidecar after the iptables init container, from the built images", async () => {
    await apply(demoManifests(server, "portcullis-admin", { s3, bucket: BUCKET, signingKey }, { port: api.port, caPem: api.caPem, token: API_TOKEN }, { port: mcpServer.port, token: TOOLS_TOKEN }));
    await waitForJsonPath((args) => kubectl(args), ["get", "accesspolicy", DEMO_POLICY, "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True", 60_000);
    await apply([agentDeployment]);
    agentPod = await waitForRunningPod();
    const spec = JSON.parse(await kubectlOk(["get", "pod", agentPod, "-n", NS, "-o", "jsonpath={.spec}"])) as {
      initContainers: Array<{ name: string; image: string; restartPolicy?: string; resources?: { limits?: Record<string, string> } }>;
    };
    expect(spec.initContainers.map((container) => [container.name, container.image, container.restartPolicy ?? ""])).toEqual([
      ["portcullis-init", image("portcullis-init"), ""],
      ["portcullis-gateway", image("portcullis-sidecar"), "Always"],
    ]);
    // The chart's sidecar values reach the injector.
    expect(spec.initContainers[1]?.resources?.limits?.memory).toBe("300Mi");
  }, 200_000);

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

  it("lets curl in the pod call the HTTPS API by its name through the transparent gateway, trusting the pod CA, and through the explicit URL", async () => {
    const seen = api.received.length;
    const url = `https://${DEMO_API_HOST}:${api.port}/v1/customers/7`;
    // CURL_CA_BUNDLE, set by the injector, makes curl trust the pod CA; the name resolves to the API's real address.
    const transparent = await kubectlOk(["exec", "-n", NS, agentPod, "-c", "agent", "--", "curl", "-sS", "--resolve", `${DEMO_API_HOST}:${api.port}:${NODE_IP}`, url]);
    expect(JSON.parse(transparent)).toMatchObject({ id: 7 });
    expect(api.received[seen]?.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
    const explicit = await kubectlOk(["exec", "-n", NS, agentPod, "-c", "agent", "--", "sh", "-c", 'curl -sS -X DELETE "$PORTCULLIS_BILLING_API_DIRECT_URL/v1/customers/7"']);
    expect(JSON.parse(explicit)).toMatchObject({ error: "denied", rule: "api-no-deletes" });
    expect(api.received.length).toBe(seen + 1);
  });

  it("lets the agent's MCP client in the pod list and call tools through its sidecar: a drop refused, a lookup masked, the server's token presented", async () => {
    const mcp = (args: string): Promise<{ code: number; stdout: string; stderr: string }> =>
      kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "sh", "-c", `mcp-client "$PORTCULLIS_SUPPORT_TOOLS_URL/mcp" ${args}`]);
    const listed = await mcp("list");
    expect(listed.stderr).toBe("");
    expect(JSON.parse(listed.stdout)).toEqual({ tools: ["lookup_customer", "weather"] });
    const dropped = await mcp("call drop_database '{\"name\":\"orders\"}'");
    expect(dropped.code).toBe(3);
    expect(JSON.parse(dropped.stdout)).toEqual({ error: expect.stringContaining(`denied by AccessPolicy "${DEMO_TOOLS_POLICY}" rule "no-drops": agents never drop databases`) as unknown });
    const looked = await mcp("call lookup_customer '{\"id\":7}'");
    expect(JSON.parse(looked.stdout)).toMatchObject({ structuredContent: { id: 7, email: "***" } });
    expect(mcpServer.calls.map((call) => call.tool)).toEqual(["lookup_customer"]);
    expect(new Set(mcpServer.authorizations)).toEqual(new Set([`Bearer ${TOOLS_TOKEN}`]));
  });

  it("lets kubectl in the pod, without a kubeconfig, read its namespace through the transparent gateway: Secret values masked, other namespaces denied", async () => {
    const pods = await kubectlInAgent(["get", "pods", "-n", NS, "-o", "name"]);
    expect(pods.stderr).toBe("");
    expect(pods.stdout).toContain(`pod/${agentPod}`);
    const secret = await kubectlInAgent(["get", "secret", "evidence-credentials", "-n", NS, "-o", "jsonpath={.data.secretAccessKey}"]);
    expect(secret.stdout).toBe(Buffer.from("portcullis:masked").toString("base64"));
    const elsewhere = await kubectlInAgent(["get", "pods", "-n", "kube-system"]);
    expect(elsewhere.code).not.toBe(0);
    expect(elsewhere.stderr).toContain(`Error from server (Forbidden): portcullis: denied by AccessPolicy "${DEMO_POLICY}" (default action)`);
    // What in-cluster clients read as the service account: the gateway's placeholder token and the pod's CA;
    // the agent container mounts no volume with a token for the API server.
    expect(await kubectlOk(["exec", "-n", NS, agentPod, "-c", "agent", "--", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token"])).toBe("portcullis-pod-identity");
    const spec = JSON.parse(await kubectlOk(["get", "pod", agentPod, "-n", NS, "-o", "jsonpath={.spec}"])) as {
      volumes: Array<{ name: string; projected?: { sources?: Array<{ serviceAccountToken?: { audience?: string } }> } }>;
      containers: Array<{ name: string; volumeMounts?: Array<{ name: string }> }>;
    };
    const tokenVolumes = spec.volumes.filter((volume) => volume.projected?.sources?.some((source) => source.serviceAccountToken && !source.serviceAccountToken.audience)).map((volume) => volume.name);
    const agentMounts = spec.containers.find((container) => container.name === "agent")?.volumeMounts?.map((mount) => mount.name) ?? [];
    expect(agentMounts.filter((name) => tokenVolumes.includes(name))).toEqual([]);
  });

  it("relays kubectl exec from the pod through the gateway, over WebSocket to the real kubelet", async () => {
    const exec = await kubectlInAgent(["exec", agentPod, "-c", "agent", "--", "bash", "-c", "echo hello-from-exec"]);
    expect(exec.stderr).toBe("");
    expect(exec.stdout).toBe("hello-from-exec\n");
  });

  it("relays kubectl port-forward from the pod through the gateway: the gateway's own health endpoint, forwarded", async () => {
    // kubectl in the pod forwards a local port to the pod's sidecar health port (15090); curl reads it through the tunnel.
    const script = `kubectl port-forward pod/${agentPod} 19090:15090 1>&2 & for i in {1..50}; do curl -sS http://127.0.0.1:19090/healthz 2>/dev/null && break; sleep 0.2; done; kill %1`;
    const forwarded = await kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "bash", "-c", script]);
    // kubectl's own lines ("Forwarding from …", "Handling connection …") are on stderr.
    expect({ stdout: forwarded.stdout, stderr: forwarded.stderr }).toEqual({ stdout: "ok\n", stderr: expect.stringContaining("Handling connection for 19090") as unknown });
  });

  it("lets kubectl cp run where exec is allowed: a tar stream through the gateway", async () => {
    // The agent's root filesystem is read-only: the copy lands in /dev/null; what matters is that it ran and is recorded.
    const copied = await kubectlInAgent(["cp", "-c", "agent", `${NS}/${agentPod}:/etc/passwd`, "/dev/null"]);
    expect(copied.stderr).toBe("");
    expect(copied.code).toBe(0);
  });

  it("relays kubectl exec over SPDY too (WebSocket streams turned off), recorded the same way", async () => {
    const exec = await kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "bash", "-c", `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false kubectl exec ${agentPod} -c agent -- bash -c 'echo hello-over-spdy'`]);
    expect(exec.stderr).toBe("");
    expect(exec.stdout).toBe("hello-over-spdy\n");
  });

  it("leaves no credential where the agent can read it: not in its environment or files, not through its service account", async () => {
    const env = await kubectlOk(["exec", "-n", NS, agentPod, "-c", "agent", "--", "env"]);
    expect(env).not.toContain(server.users.scram.password);
    expect(env).not.toContain(API_TOKEN);
    const files = await kubectl(["exec", "-n", NS, agentPod, "-c", "agent", "--", "ls", "/var/run/secrets/portcullis"]);
    expect(files.code).not.toBe(0);
    const canRead = await kubectl(["auth", "can-i", "get", "secrets", "-n", NS, `--as=system:serviceaccount:${NS}:${DEMO_AGENT}`]);
    expect(canRead.stdout.trim()).toBe("no");
  });

  it("holds a write until a reviewer approves it with kubectl portcullis, while the leading operator pod is deleted; no webhook call fails", async () => {
    const write = psqlInAgent("UPDATE customers SET note = 'vip' WHERE id = 1");
    const { name: request } = await pendingApproval((args) => kubectl(args), NS);
    const leader = await kubectlOk(["get", "lease", "portcullis-operator", "-n", RELEASE_NS, "-o", "jsonpath={.spec.holderIdentity}"]);
    const failures: string[] = [];
    let creations = 0;
    let deleted = false;
    const deletion = kubectl(["delete", "pod", leader, "-n", RELEASE_NS, "--wait=true"]).then((result) => {
      deleted = true;
      return result;
    });
    while (!deleted || creations < 3) {
      const created = await kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], stringify(probePod(creations++)));
      if (created.code !== 0) failures.push(created.stderr);
    }
    expect((await deletion).code).toBe(0);
    await waitFor("another operator replica to lead", async () => {
      const holder = await kubectlOk(["get", "lease", "portcullis-operator", "-n", RELEASE_NS, "-o", "jsonpath={.spec.holderIdentity}"]);
      return holder !== "" && holder !== leader;
    });
    const approved = await kubectlPortcullis(["approvals", "approve", request, "-n", NS, "--reason", "reviewed the change"]);
    expect(approved.stdout).toContain(`Approved ${NS}/${request} by portcullis-admin`);
    const reply = await write;
    expect(reply.stdout.trim()).toBe("UPDATE 1");
    expect(reply.stderr).toContain("requires approval; waiting for ApprovalRequest");
    expect(failures).toEqual([]);
    expect((await server.psql(["-At", "-c", "SELECT note FROM customers WHERE id = 1"])).stdout.trim()).toBe("vip");
  }, 200_000);

  it("uploads the agent's sessions to S3, where kubectl portcullis finds the approved write and verifies the chain", async () => {
    const approved = await storedSession("the approved session in the store", "UPDATE customers SET note");
    expect(approved.transcript).toContain(`system:serviceaccount:${NS}:${DEMO_AGENT}`);
    expect(approved.transcript).toMatch(/Approved +\S+ by portcullis-admin: reviewed the change/);
    const verified = await kubectlPortcullis(["sessions", "verify", approved.session, ...STORE]);
    expect(verified.stderr).toBe("");
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^verified: \d+ records/);
  }, 120_000);

  it("records the exec through the gateway as a terminal session kubectl portcullis replays", async () => {
    const { transcript } = await storedSession("the exec session in the store", "hello-from-exec");
    expect(transcript).toContain(`exec pods/${agentPod} in ${NS}: bash -c echo hello-from-exec`);
    expect(transcript).toMatch(/stdout +"hello-from-exec\\n"/);
    expect(transcript).toMatch(/decision +allow \(report-bot\/k8s-exec\)/);
    // The stream's result: the upgrade's status, written before the session ended.
    expect(transcript).toMatch(/result of #2\n +returned +status 101/);
    const copy = await storedSession("the kubectl cp session in the store", ": tar cf - /etc/passwd");
    expect(copy.transcript).toMatch(/stdout +"etc\/passwd/);
    const spdy = await storedSession("the SPDY exec session in the store", "echo hello-over-spdy");
    expect(spdy.transcript).toMatch(/stdout +"hello-over-spdy\\n"/);
  }, 180_000);

  it("rolls the operator on helm upgrade without failing a pod creation", async () => {
    const failures: string[] = [];
    let creations = 0;
    const upgrade = helmInstall(controlPlane.state.adminKubeconfig, ["--set", "operator.logLevel=debug"], "upgrade");
    let done = false;
    void upgrade.then(() => (done = true));
    while (!done) {
      const created = await kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], stringify(probePod(creations++)));
      if (created.code !== 0) failures.push(created.stderr);
    }
    expect((await upgrade).stdout).toContain("STATUS: deployed");
    expect(failures).toEqual([]);
    expect(creations).toBeGreaterThan(3);
    const args = await kubectlOk(["get", "deployment", "portcullis-operator", "-n", RELEASE_NS, "-o", "jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"LOG_LEVEL\")].value}"]);
    expect(args).toBe("debug");
  }, 300_000);

  it("leaves pod creation working after helm uninstall, and keeps the CRDs", async () => {
    const uninstall = await helmAs(controlPlane.state.adminKubeconfig, ["uninstall", RELEASE, "--namespace", RELEASE_NS, "--wait", "--timeout", "120s"]);
    expect(uninstall.code).toBe(0);
    const webhooks = await kubectlOk(["get", "mutatingwebhookconfigurations,validatingwebhookconfigurations", "-o", "name"]);
    expect(webhooks).not.toContain("portcullis");
    const created = await kubectl(["create", "--dry-run=server", "-o", "name", "-f", "-"], stringify(probePod(0)));
    expect(created.stderr).toBe("");
    expect(created.stdout.trim()).toBe("pod/upgrade-probe-0");
    expect(await kubectlOk(["get", "crd", "accesspolicies.portcullis.dev", "-o", "name"])).toContain("accesspolicies.portcullis.dev");
  }, 200_000);
});

/** The CLI as a reviewer runs it: `kubectl portcullis`, the plugin found on PATH. */
function kubectlPortcullis(args: string[]): Promise<CommandResult> {
  const plugins = installCliPlugin(join(NODE_DIR, "bin"));
  return runCommand(locateTools().kubectl, ["portcullis", ...args], { env: { ...process.env, PATH: `${plugins}:${process.env.PATH ?? ""}`, KUBECONFIG: controlPlane.state.adminKubeconfig, HOME: "/nonexistent" } });
}

const waitFor = (what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> => waitUntil(what, check, timeoutMs);

/** A pod of the agent's kind in the opted-in namespace: creating it calls the injection webhook. */
function probePod(index: number): object {
  return { ...agentDeployment.spec.template, apiVersion: "v1", kind: "Pod", metadata: { name: `upgrade-probe-${index}`, namespace: NS, labels: { app: "probe" } } };
}

