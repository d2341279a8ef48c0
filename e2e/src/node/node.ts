// A real node for a test control plane: containerd, runc and the CNI plugins
// from Debian, the kubelet and kube-proxy, and the controllers and scheduler
// that turn Deployments into running pods. Images are imported from the OCI
// archives `make images` builds, never pulled. One node per machine (the
// kubelet's and kube-proxy's ports are fixed), in a fixed directory, so a run
// that was killed is cleaned up by the next one.
//
// The network rule comes first: before anything starts, the pod and service
// ranges get unreachable routes, so no packet for them can follow the default
// route off the machine (the bridge's route to its own /24 is more specific;
// kube-proxy turns service addresses into pod addresses before routing).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import type { ControlPlane } from "../controlplane/controlplane.js";
import { renderKubeconfig } from "../controlplane/kubeconfig.js";
import { isAlive, spawnDetached, terminate } from "../controlplane/processes.js";
import type { ToolPaths } from "../controlplane/tools.js";
import { runCommand } from "../processes/child-process.js";
import { waitUntil } from "../processes/wait.js";
import { kubectl } from "../jest/environment.js";
import { cniConfDir, cniConfig, containerdConfig, containerdSocket, kubeletConfig, kubeProxyConfig, type NodeLayout } from "./config.js";
import { loadRecord, recordHost, restoreHost, saveRecord } from "./host-state.js";

/** The node's fixed home: one node per machine. */
export const NODE_DIR = "/tmp/portcullis-node";
const RECORD = "/tmp/portcullis-node.host-state.json";
export const NODE_NAME = "portcullis-node";
/** The node's address, added to lo: not loopback (the API server reaches the kubelet there), never routed off the machine. */
export const NODE_IP = "10.89.255.1";
export const POD_RANGE = "10.88.0.0/16";
export const POD_CIDR = "10.88.0.0/24";
/** The API server's --service-cluster-ip-range (controlplane.ts). */
export const SERVICE_RANGE = "10.0.0.0/24";
const BRIDGE = "pcnode0";
const READY_TIMEOUT_MS = 120_000;
const OTHER_NODE_WAIT_MS = 15 * 60_000;

const HOST_PROGRAMS: Record<string, string> = {
  containerd: "/usr/bin/containerd",
  "containerd-shim-runc-v2": "/usr/bin/containerd-shim-runc-v2",
  ctr: "/usr/bin/ctr",
  runc: "/usr/sbin/runc",
  "CNI bridge plugin": "/usr/lib/cni/bridge",
  iptables: "/usr/sbin/iptables",
};

export interface NodeOptions {
  controlPlane: ControlPlane;
  tools: ToolPaths;
  /** OCI archives to import into containerd (the pause image among them). */
  images: string[];
  /** containerd's sandbox_image: a reference among the imported images. */
  sandboxImage: string;
}

interface Pids {
  containerd?: number;
  kubeProxy?: number;
  controllerManager?: number;
  scheduler?: number;
  kubelet?: number;
}

export class TestNode {
  private readonly pids: Pids = {};

  private constructor(
    readonly layout: NodeLayout,
    private readonly options: NodeOptions,
  ) {}

  get logs(): string {
    return join(this.layout.dir, "logs");
  }

  /**
   * Claims the machine for a node: waits for another run's node, puts back what a killed one left, records
   * the host, and makes the unreachable routes and the node's address (so a control plane can advertise it
   * before the node starts). On failure what it changed is put back.
   */
  static async prepareHost(): Promise<void> {
    checkPrerequisites();
    await waitForOtherNode();
    await cleanUpLeftovers();
    mkdirSync(join(NODE_DIR, "logs"), { recursive: true });
    const own = { unreachableRoutes: [POD_RANGE, SERVICE_RANGE], loopbackAddresses: [`${NODE_IP}/32`], bridge: BRIDGE };
    saveRecord(RECORD, recordHost(NODE_DIR, own));
    try {
      for (const cidr of own.unreachableRoutes) await ip(["route", "add", "unreachable", cidr]);
      await ip(["addr", "add", `${NODE_IP}/32`, "dev", "lo"]);
    } catch (error) {
      await cleanUpLeftovers();
      throw error;
    }
  }

  /** Starts the node (preparing the host first unless this process did) and waits until it is Ready; on failure everything it changed is put back. */
  static async start(options: NodeOptions): Promise<TestNode> {
    if (loadRecord(RECORD)?.ownerPid !== process.pid) await TestNode.prepareHost();
    const layout: NodeLayout = { dir: NODE_DIR, name: NODE_NAME, nodeIp: NODE_IP, podCidr: POD_CIDR, bridge: BRIDGE, sandboxImage: options.sandboxImage, apiServer: options.controlPlane.state.server };
    const node = new TestNode(layout, options);
    try {
      await node.startRuntime();
      await node.startKubernetes();
      await node.waitReady();
      return node;
    } catch (error) {
      const logs = node.logTails();
      await node.stop();
      throw new Error(`the test node did not start: ${(error as Error).message}\n${logs}`, { cause: error });
    }
  }

  private async startRuntime(): Promise<void> {
    const { dir } = this.layout;
    for (const sub of ["run", "containerd", "cni/conf", "cni/ipam", "kubelet", "pki", "pod-logs"]) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, "containerd.toml"), containerdConfig(this.layout));
    writeFileSync(join(cniConfDir(this.layout), "10-portcullis.conflist"), cniConfig(this.layout));
    this.pids.containerd = spawnDetached(HOST_PROGRAMS.containerd as string, join(this.logs, "containerd.log"), ["--config", join(dir, "containerd.toml")]);
    await waitFor("containerd's socket", () => existsSync(containerdSocket(this.layout)), 30_000, () => !this.alive("containerd") && "containerd");
    for (const archive of this.options.images) {
      const result = await runCommand(HOST_PROGRAMS.ctr as string, ["--address", containerdSocket(this.layout), "-n", "k8s.io", "images", "import", archive], { env: process.env });
      if (result.code !== 0) throw new Error(`ctr images import ${archive} failed: ${result.stderr}`);
    }
  }

  private async startKubernetes(): Promise<void> {
    const { controlPlane, tools } = this.options;
    const { dir } = this.layout;
    const admin = controlPlane.state.adminKubeconfig;
    const bootstrap = await kubectl(["apply", "-f", "-"], { kubeconfig: admin, stdin: nodeRbac() });
    if (bootstrap.code !== 0) throw new Error(`node RBAC: ${bootstrap.stderr}`);
    const kubeconfigFor = async (file: string, user: string, groups: string[]): Promise<string> => {
      const path = join(dir, "pki", file);
      writeFileSync(path, renderKubeconfig(controlPlane.state.server, controlPlane.caPem, user, await controlPlane.issueClientCertificate(user, groups)), { mode: 0o600 });
      return path;
    };
    const kubeletKubeconfig = await kubeconfigFor("kubelet.kubeconfig", `system:node:${NODE_NAME}`, ["system:nodes"]);
    const proxyKubeconfig = await kubeconfigFor("kube-proxy.kubeconfig", "system:kube-proxy", []);
    writeFileSync(join(dir, "kubelet.yaml"), kubeletConfig(this.layout, controlPlane.caCertPath));
    writeFileSync(join(dir, "kube-proxy.yaml"), kubeProxyConfig(this.layout, proxyKubeconfig));
    // kube-proxy first: from the moment pods can run, service addresses must be rewritten on this machine.
    this.pids.kubeProxy = spawnDetached(tools.kubeProxy, join(this.logs, "kube-proxy.log"), [`--config=${join(dir, "kube-proxy.yaml")}`, "--v=1"]);
    this.pids.controllerManager = spawnDetached(tools.kubeControllerManager, join(this.logs, "kube-controller-manager.log"), [
      `--kubeconfig=${admin}`,
      `--service-account-private-key-file=${controlPlane.serviceAccountKeyPath}`,
      `--root-ca-file=${controlPlane.caCertPath}`,
      "--use-service-account-credentials=false",
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
      "--v=1",
    ]);
    this.pids.scheduler = spawnDetached(tools.kubeScheduler, join(this.logs, "kube-scheduler.log"), [`--kubeconfig=${admin}`, "--leader-elect=false", "--bind-address=127.0.0.1", "--secure-port=0", "--v=1"]);
    this.pids.kubelet = spawnDetached(tools.kubelet, join(this.logs, "kubelet.log"), [
      `--config=${join(dir, "kubelet.yaml")}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--root-dir=${join(dir, "kubelet")}`,
      `--cert-dir=${join(dir, "pki")}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${NODE_IP}`,
      "--v=1",
    ]);
  }

  private async waitReady(): Promise<void> {
    const admin = this.options.controlPlane.state.adminKubeconfig;
    await waitFor(
      `node ${NODE_NAME} Ready`,
      async () => {
        const result = await kubectl(["get", "node", NODE_NAME, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}"], { kubeconfig: admin });
        return result.code === 0 && result.stdout.trim() === "True";
      },
      READY_TIMEOUT_MS,
      () => (Object.keys(this.pids) as (keyof Pids)[]).find((name) => !this.alive(name)),
    );
  }

  private alive(name: keyof Pids): boolean {
    const pid = this.pids[name];
    return pid !== undefined && isAlive(pid);
  }

  /** Stops everything the node started and puts the host back; throws when something could not be undone. */
  async stop(): Promise<void> {
    for (const name of ["kubelet", "scheduler", "controllerManager", "kubeProxy", "containerd"] as const) {
      const pid = this.pids[name];
      if (pid !== undefined) await terminate(pid, 5_000);
    }
    await cleanUpLeftovers();
  }

  private logTails(): string {
    if (!existsSync(this.logs)) return "";
    return readdirSync(this.logs)
      .map((name) => `--- last lines of ${name} ---\n${tail(join(this.logs, name))}`)
      .join("\n");
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "";
  }
}

/** The process that started the node on this machine, if one did and has not cleaned up. */
export function nodeOwner(): number | undefined {
  return loadRecord(RECORD)?.ownerPid;
}

/** One node per machine: another run's node (its starter still alive) is waited for. */
async function waitForOtherNode(): Promise<void> {
  const deadline = Date.now() + OTHER_NODE_WAIT_MS;
  for (let record = loadRecord(RECORD); record && record.ownerPid !== process.pid && isAlive(record.ownerPid); record = loadRecord(RECORD)) {
    if (Date.now() > deadline) throw new Error(`another test node (started by process ${record.ownerPid}) is still running after ${OTHER_NODE_WAIT_MS / 60_000} minutes; stop it (make dev-down) or wait`);
    await sleep(1_000);
  }
}

/** Puts the host back after an earlier node (this run's or a killed one's) and removes its directory. */
export async function cleanUpLeftovers(): Promise<void> {
  const record = loadRecord(RECORD);
  if (!record) return;
  const problems = restoreHost(record);
  // Processes killed a moment ago may still hold their mounts and cgroups for a while: retry once.
  if (problems.length > 0) {
    await sleep(1_000);
    const remaining = restoreHost(record);
    if (remaining.length > 0) throw new Error(`could not put the host back after the test node: ${remaining.join("; ")} (record kept in ${RECORD})`);
  }
  rmSync(NODE_DIR, { recursive: true, force: true });
  rmSync(RECORD, { force: true });
}

function checkPrerequisites(): void {
  if (process.getuid?.() !== 0) throw new Error("the test node needs root (it runs containerd, the kubelet and iptables)");
  const missing = Object.entries(HOST_PROGRAMS).filter(([, path]) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`the test node needs ${missing.map(([name, path]) => `${name} (${path})`).join(", ")}: install them with \`make system-deps\` (Debian: containerd, runc, containernetworking-plugins, iptables)`);
  }
}

async function ip(args: string[]): Promise<void> {
  const result = await runCommand("ip", args, { env: process.env });
  if (result.code !== 0) throw new Error(`ip ${args.join(" ")}: ${result.stderr.trim()}`);
}

/** Waits for `ready`, failing at once when `died` names a node process that exited. */
function waitFor(what: string, ready: () => boolean | Promise<boolean>, timeoutMs: number, died: () => unknown): Promise<void> {
  return waitUntil(what, async () => {
    if (await ready()) return true;
    const dead = died();
    if (dead) throw new Error(`${typeof dead === "string" ? dead : "a node process"} exited while waiting for ${what}`);
    return false;
  }, timeoutMs);
}

/** Without a bootstrap controller: the kubelet's group may act as a node, kube-proxy as a proxier. */
function nodeRbac(): string {
  const binding = (name: string, role: string, subject: object): object => ({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", ...subject }],
  });
  return [binding("portcullis-test-nodes", "system:node", { kind: "Group", name: "system:nodes" }), binding("portcullis-test-kube-proxy", "system:node-proxier", { kind: "User", name: "system:kube-proxy" })]
    .map((object) => stringify(object))
    .join("---\n");
}
