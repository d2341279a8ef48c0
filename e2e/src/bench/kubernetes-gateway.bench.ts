// The Kubernetes API gateway against the API server itself, in one run:
// `kubectl get pods` (a whole kubectl invocation: discovery from its cache,
// a Table list), and client-node listing 1,000 ConfigMaps (passed through)
// and 1,000 Secrets (every value masked), each direct and through the
// gateway. Interleaved rounds; prints the median latency and the ratio to
// direct. Before measuring it checks that the gateway still masks a Secret
// value and denies a delete. Run with `make bench-kubernetes`; reported, not
// asserted, and not part of `make test`.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { ControlPlane } from "../controlplane/controlplane.js";
import { freePort } from "../controlplane/processes.js";
import { locateTools } from "../controlplane/tools.js";
import { startSidecar } from "../gateway/sidecar-process.js";
import { runCommand } from "../processes/child-process.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const KUBECTL_RUNS = Number(process.env.BENCH_KUBECTL_RUNS ?? 10);
const LIST_RUNS = Number(process.env.BENCH_LIST_RUNS ?? 20);
const OBJECTS = 1_000;
const NS = "bench";

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function timed(runs: number, once: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    await once();
    times.push(performance.now() - started);
  }
  return times;
}

function gatewayManifests(apiPort: number, caPem: string, token: string, listenerPort: number): object[] {
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "api-token" }, stringData: { token } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "api-ca" }, data: { "ca.crt": caPem } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "cluster-api" },
      spec: {
        protocol: "kubernetes",
        endpoint: { host: "127.0.0.1", port: apiPort, tls: { caBundleRef: { kind: "ConfigMap", name: "api-ca", key: "ca.crt" } } },
        listener: { port: listenerPort },
        credentials: { secretRef: { name: "api-token" } },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "bench" },
      spec: {
        subjects: { serviceAccounts: ["bench"] },
        resources: ["cluster-api"],
        rules: [
          { name: "discovery", match: { kubernetes: { verbs: ["get"], paths: ["/api", "/api/*", "/apis", "/apis/**", "/version", "/openapi/**"] } }, action: "allow" },
          { name: "reads", match: { kubernetes: { verbs: ["get", "list", "watch"] } }, action: "allow" },
        ],
        defaultAction: "deny",
      },
    },
  ];
}

function objects(kind: "ConfigMap" | "Secret"): string {
  const items = Array.from({ length: OBJECTS }, (_, i) => ({
    apiVersion: "v1",
    kind,
    metadata: { name: `${kind.toLowerCase()}-${String(i).padStart(4, "0")}`, namespace: NS, labels: { bench: "yes" } },
    ...(kind === "Secret" ? { stringData: { password: `secret-${i}`, user: `user-${i}` } } : { data: { setting: `value-${i}`, mode: "blue" } }),
  }));
  // JSON, not YAML: kubectl reads YAML 1.1, where values like "yes" are not strings.
  return JSON.stringify({ apiVersion: "v1", kind: "List", items });
}

async function main(): Promise<void> {
  const tools = locateTools();
  const controlPlane = await ControlPlane.start({ tools });
  const dir = await mkdtemp(join(tmpdir(), "portcullis-bench-kubernetes-"));
  const admin = controlPlane.state.adminKubeconfig;
  const kubectl = async (kubeconfig: string, args: string[], stdin?: string): Promise<string> => {
    const result = await runCommand(tools.kubectl, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, "cache", String(kubeconfig.length))}`, ...args], { env: process.env, ...(stdin === undefined ? {} : { stdin }) });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  };
  let gateway: Awaited<ReturnType<typeof startSidecar>> | undefined;
  try {
    await kubectl(admin, ["create", "namespace", NS]);
    await kubectl(admin, ["create", "serviceaccount", "gateway", "-n", NS]);
    await kubectl(admin, ["create", "clusterrolebinding", "bench-gateway", "--clusterrole=cluster-admin", `--serviceaccount=${NS}:gateway`]);
    await kubectl(admin, ["apply", "--server-side", "-f", "-"], objects("ConfigMap"));
    await kubectl(admin, ["apply", "--server-side", "-f", "-"], objects("Secret"));
    const token = (await kubectl(admin, ["create", "token", "gateway", "-n", NS, "--duration=1h"])).trim();
    const trustDir = join(dir, "trust");
    await mkdir(trustDir);
    const listenerPort = await freePort();
    gateway = await startSidecar({
      manifests: gatewayManifests(Number(new URL(controlPlane.state.server).port), controlPlane.caPem, token, listenerPort),
      env: { PORTCULLIS_TRUST_DIR: trustDir, ...(process.env.BENCH_PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } : {}) },
    });
    const viaGateway = join(trustDir, "kubeconfig");
    const api = (kubeconfig: string): CoreV1Api => {
      const config = new KubeConfig();
      config.loadFromFile(kubeconfig);
      return config.makeApiClient(CoreV1Api);
    };
    const clients = { direct: api(admin), gateway: api(viaGateway) };
    // Still what it is meant to be: values masked, a delete denied.
    const secret = await clients.gateway.readNamespacedSecret({ name: "secret-0000", namespace: NS });
    if (Buffer.from(secret.data?.password ?? "", "base64").toString() !== "portcullis:masked") throw new Error("the gateway did not mask a Secret value");
    const denied = await clients.gateway.deleteNamespacedConfigMap({ name: "configmap-0000", namespace: NS }).then(() => false, () => true);
    if (!denied) throw new Error("the gateway did not deny a delete");
    // Warm both kubectl discovery caches.
    await kubectl(admin, ["get", "pods", "-n", NS]);
    await kubectl(viaGateway, ["get", "pods", "-n", NS]);

    const cases: Array<[string, "direct" | "gateway", () => Promise<void>, number]> = [];
    for (const target of ["direct", "gateway"] as const) {
      const kubeconfig = target === "direct" ? admin : viaGateway;
      cases.push([`kubectl get pods`, target, async () => void (await kubectl(kubeconfig, ["get", "pods", "-n", NS])), KUBECTL_RUNS]);
      cases.push([`list ${OBJECTS} ConfigMaps (client-node)`, target, async () => void (await clients[target].listNamespacedConfigMap({ namespace: NS })), LIST_RUNS]);
      cases.push([`list ${OBJECTS} Secrets, masked (client-node)`, target, async () => void (await clients[target].listNamespacedSecret({ namespace: NS })), LIST_RUNS]);
    }
    const times = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, target, once, runs] of cases) {
        const key = `${name}|${target}`;
        times.set(key, [...(times.get(key) ?? []), ...(await timed(runs, once))]);
      }
    }
    console.log(`median of ${ROUNDS} interleaved rounds (${KUBECTL_RUNS} kubectl runs, ${LIST_RUNS} lists each per round)\n`);
    console.log("| request | direct | through the gateway | x direct |\n|---|---|---|---|");
    for (const name of [...new Set(cases.map(([caseName]) => caseName))]) {
      const direct = median(times.get(`${name}|direct`) ?? []);
      const through = median(times.get(`${name}|gateway`) ?? []);
      console.log(`| ${name} | ${direct.toFixed(1)} ms | ${through.toFixed(1)} ms | ${(through / direct).toFixed(2)} |`);
    }
  } finally {
    await gateway?.stop();
    await controlPlane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
