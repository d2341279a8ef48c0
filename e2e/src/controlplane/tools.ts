// Locates, and on request builds, the binaries the e2e tests run: the control
// plane (kube-apiserver, kube-controller-manager, kube-scheduler), the node
// (kubelet, kube-proxy) and kubectl from k8s.io/kubernetes, etcd from
// go.etcd.io/etcd/server, helm from helm.sh/helm/v3, and the S3-compatible
// server the evidence tests upload to (versitygw, from
// github.com/versity/versitygw). Versions come
// from the go.mod files under e2e/tools; binaries go to a cache outside the
// repository, one folder per version, so a warm machine reuses them and a
// version bump rebuilds.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const E2E_DIR = fileURLToPath(new URL("../../", import.meta.url));

export interface ToolPaths {
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kubelet: string;
  kubeProxy: string;
  kubectl: string;
  helm: string;
  etcd: string;
  /** versitygw: an S3-compatible server with a posix (plain directory) backend. */
  versitygw: string;
}

interface GoTool {
  /** Module directory under e2e/tools. */
  moduleDir: string;
  /** The module whose version names the cache folder. */
  versionOf: string;
  cacheName: string;
  binaries: { name: keyof ToolPaths; file: string; pkg: string }[];
}

const GO_TOOLS: GoTool[] = [
  {
    moduleDir: "tools/kube",
    versionOf: "k8s.io/kubernetes",
    cacheName: "kubernetes",
    binaries: [
      { name: "kubeApiserver", file: "kube-apiserver", pkg: "k8s.io/kubernetes/cmd/kube-apiserver" },
      { name: "kubeControllerManager", file: "kube-controller-manager", pkg: "k8s.io/kubernetes/cmd/kube-controller-manager" },
      { name: "kubeScheduler", file: "kube-scheduler", pkg: "k8s.io/kubernetes/cmd/kube-scheduler" },
      { name: "kubelet", file: "kubelet", pkg: "k8s.io/kubernetes/cmd/kubelet" },
      { name: "kubeProxy", file: "kube-proxy", pkg: "k8s.io/kubernetes/cmd/kube-proxy" },
      { name: "kubectl", file: "kubectl", pkg: "k8s.io/kubernetes/cmd/kubectl" },
    ],
  },
  {
    moduleDir: "tools/helm",
    versionOf: "helm.sh/helm/v3",
    cacheName: "helm",
    binaries: [{ name: "helm", file: "helm", pkg: "helm.sh/helm/v3/cmd/helm" }],
  },
  {
    moduleDir: "tools/etcd",
    versionOf: "go.etcd.io/etcd/server/v3",
    cacheName: "etcd",
    binaries: [{ name: "etcd", file: "etcd", pkg: "./cmd/etcd" }],
  },
  {
    moduleDir: "tools/s3",
    versionOf: "github.com/versity/versitygw",
    cacheName: "versitygw",
    binaries: [{ name: "versitygw", file: "versitygw", pkg: "github.com/versity/versitygw/cmd/versitygw" }],
  },
];

/** The version go.mod requires for a module, e.g. v1.36.3. */
export function requiredVersion(goModText: string, module: string): string {
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(goModText);
  if (!match?.[1]) throw new Error(`go.mod does not require ${module}`);
  return match[1];
}

export function toolsCacheDir(): string {
  return process.env.PORTCULLIS_TOOLS_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "portcullis", "tools");
}

function goModOf(tool: GoTool): string {
  return readFileSync(join(E2E_DIR, tool.moduleDir, "go.mod"), "utf8");
}

function binaryDir(tool: GoTool): string {
  return join(toolsCacheDir(), `${tool.cacheName}-${requiredVersion(goModOf(tool), tool.versionOf)}`);
}

function planned(): { tool: GoTool; name: keyof ToolPaths; path: string; pkg: string }[] {
  return GO_TOOLS.flatMap((tool) =>
    tool.binaries.map((b) => ({ tool, name: b.name, path: join(binaryDir(tool), b.file), pkg: b.pkg })),
  );
}

/** Paths of the binaries; throws, naming the missing ones and how to build them, when any is absent. */
export function locateTools(): ToolPaths {
  const binaries = planned();
  const missing = binaries.filter((b) => !existsSync(b.path)).map((b) => b.path);
  if (missing.length > 0) {
    throw new Error(
      `control-plane binaries are missing: ${missing.join(", ")}. ` +
        "Build them with `make tools` (needs Go and the Go module proxy).",
    );
  }
  return Object.fromEntries(binaries.map((b) => [b.name, b.path])) as unknown as ToolPaths;
}

/** Builds every missing binary with `go build`; each lands atomically, so an interrupted build leaves nothing half-written. */
export function buildTools(log: (line: string) => void = console.log): ToolPaths {
  const missing = planned().filter((binary) => !existsSync(binary.path));
  if (missing.length) log(`building ${missing.length} binaries with Go into the tool cache; the first time takes about 12 minutes on two cores, later runs reuse them`);
  const started = Date.now();
  for (const [index, binary] of missing.entries()) {
    const moduleDir = join(E2E_DIR, binary.tool.moduleDir);
    mkdirSync(join(binary.path, ".."), { recursive: true });
    const partial = `${binary.path}.partial-${process.pid}`;
    const step = Date.now();
    log(`[${index + 1}/${missing.length}] building ${binary.name} from ${binary.pkg}…`);
    execFileSync("go", ["build", "-buildvcs=false", "-o", partial, binary.pkg], { cwd: moduleDir, stdio: "inherit" });
    renameSync(partial, binary.path);
    log(`[${index + 1}/${missing.length}] ${binary.name} built in ${Math.round((Date.now() - step) / 1000)} s (${Math.round((Date.now() - started) / 1000)} s so far): ${binary.path}`);
  }
  return locateTools();
}
