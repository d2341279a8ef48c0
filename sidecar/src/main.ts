#!/usr/bin/env node
// portcullis-sidecar: the gateway process. Under the operator it reads its
// configuration from the broker (PORTCULLIS_BROKER_URL and the projected
// token the injector mounts) and follows changes; standalone it reads a local
// manifests file (--manifests). Bad flags or configuration stop it at start
// with a message naming what is wrong, never a stack trace.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { BrokerApprovals } from "./approvals/broker-approvals.js";
import type { ApprovalService } from "./approvals/approval-service.js";
import { GrantCache } from "./approvals/grants.js";
import { NoApprovals } from "./approvals/no-approvals.js";
import { BrokerClient, brokerSettingsFromEnv } from "./config/broker-client.js";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { bundleProblems, ConfigError, defaultStandaloneIdentity, loadManifestsFile } from "./config/manifests.js";
import type { SessionStartData } from "@portcullis/common/evidence/record";
import { EvidenceSpool } from "./evidence/spool.js";
import type { StoreTarget } from "./evidence/store/store.js";
import { StoreTargets } from "./evidence/store/targets.js";
import { EvidenceUploader } from "./evidence/uploader.js";
import { Gateway } from "./runtime/gateway.js";
import { ProtocolRegistry } from "./runtime/registry.js";
import { BufferBudget } from "./runtime/byte-budget.js";
import { PodCertificates } from "./runtime/pod-certificates.js";
import { postgresGateway } from "./protocols/postgres/gateway.js";
import { httpGateway } from "./protocols/http/gateway.js";
import { kubernetesGateway } from "./protocols/kubernetes/gateway.js";
import { mcpGateway } from "./protocols/mcp/gateway.js";
import { writeAgentFiles } from "./protocols/kubernetes/agent-files.js";
import { startHealthServer } from "./observability/health-server.js";
import { createLogger, LOG_LEVELS, type Logger } from "./observability/logger.js";
import { createGatewayMetrics, spoolMetricsObserver } from "./observability/metrics.js";
import { initClassifier } from "./protocols/postgres/sql/classify.js";
import { errorMessage } from "./config/error-message.js";

const USAGE = `Usage: portcullis-sidecar [--manifests FILE] [options]

Under the Portcullis operator the gateway needs no flags: it reads
PORTCULLIS_BROKER_URL, PORTCULLIS_TOKEN_FILE, PORTCULLIS_BROKER_CA_FILE,
PORTCULLIS_SPOOL_DIR and PORTCULLIS_METRICS_PORT, which the injector sets.

  --manifests FILE        standalone: Resource, AccessPolicy, Secret and ConfigMap
                          manifests in one YAML file; every AccessPolicy applies
  --kubeconfig FILE       standalone: create ApprovalRequests in this cluster
                          (without it, statements that need approval are denied)
  --namespace NAME        standalone: the namespace sessions are recorded under
                          and ApprovalRequests are created in (default: default)
  --spool-dir DIR         evidence spool (default $PORTCULLIS_SPOOL_DIR or ./portcullis-spool)
  --spool-max-bytes N     refuse new sessions when the spool holds N bytes (default 268435456)
  --max-buffered-bytes N  bodies all sessions may hold in memory at once, to decide on, hold
                          for a reviewer or mask them; past it a request gets 503 (default 67108864)
  --listen-host ADDR      address of the listeners (default 127.0.0.1)
  --metrics-port N        /healthz, /readyz, /metrics (default $PORTCULLIS_METRICS_PORT or 9090; 0 = any)
  --metrics-host ADDR     address of that server (default $PORTCULLIS_METRICS_HOST or 0.0.0.0,
                          which the kubelet's probes reach; 127.0.0.1 keeps it on the machine)
  --tls-cert FILE         offer TLS to clients with this certificate (PEM) ...
  --tls-key FILE          ... and key
  --trust-dir DIR         write the pod CA's certificate (pod-ca.crt, and with the system's
                          CAs ca-bundle.crt) here for the app containers to trust; the CA
                          signs the certificates transparent HTTPS Resources present
                          (default $PORTCULLIS_TRUST_DIR; without it nothing is written)
  --shutdown-grace N      seconds to upload the spool on SIGTERM (default 20; keep it
                          under the pod's terminationGracePeriodSeconds)
  --log-level LEVEL       ${LOG_LEVELS.join(", ")} (default info)
  --help
`;

class UsageError extends Error {}

const UPLOAD_INTERVAL_MS = 2_000;

interface Options {
  manifests?: string;
  kubeconfig?: string;
  namespace: string;
  spoolDir: string;
  spoolMaxBytes: number;
  maxBufferedBytes: number;
  listenHost: string;
  metricsPort: number;
  metricsHost: string;
  tls?: { cert: string; key: string };
  trustDir?: string;
  logLevel: string;
  shutdownGraceSeconds: number;
}

function integer(value: string, flag: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return Number(value);
}

const FLAGS = {
  manifests: { type: "string" },
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  "spool-dir": { type: "string" },
  "spool-max-bytes": { type: "string" },
  "max-buffered-bytes": { type: "string" },
  "listen-host": { type: "string" },
  "metrics-port": { type: "string" },
  "metrics-host": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "trust-dir": { type: "string" },
  "log-level": { type: "string" },
  "shutdown-grace": { type: "string" },
  help: { type: "boolean" },
} as const;

type Flags = ReturnType<typeof parseArgs<{ options: typeof FLAGS; strict: true }>>["values"];

function readFlags(argv: string[]): Flags {
  try {
    return parseArgs({ args: argv, strict: true, options: FLAGS }).values;
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
}

function checkFlags(flags: Flags): void {
  const logLevel = flags["log-level"];
  if (logLevel !== undefined && !LOG_LEVELS.includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  if (Boolean(flags["tls-cert"]) !== Boolean(flags["tls-key"])) throw new UsageError("--tls-cert and --tls-key go together");
  if (!flags.manifests && (flags.kubeconfig || flags.namespace)) throw new UsageError("--kubeconfig and --namespace are for standalone mode (--manifests)");
}

/** TLS towards the agent: --tls-cert's certificate, and where the pod CA's certificate is written. */
function agentTlsOptions(flags: Flags, env: NodeJS.ProcessEnv): Pick<Options, "tls" | "trustDir"> {
  const cert = flags["tls-cert"];
  const key = flags["tls-key"];
  const trustDir = flags["trust-dir"] ?? env.PORTCULLIS_TRUST_DIR;
  return { ...(cert && key ? { tls: { cert, key } } : {}), ...(trustDir ? { trustDir } : {}) };
}

function addressOptions(flags: Flags, env: NodeJS.ProcessEnv): Pick<Options, "listenHost" | "metricsPort" | "metricsHost"> {
  return {
    listenHost: flags["listen-host"] ?? "127.0.0.1",
    metricsPort: integer(flags["metrics-port"] ?? env.PORTCULLIS_METRICS_PORT ?? "9090", "--metrics-port", 0, 65535),
    metricsHost: flags["metrics-host"] ?? env.PORTCULLIS_METRICS_HOST ?? "0.0.0.0",
  };
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | "help" {
  const flags = readFlags(argv);
  if (flags.help) return "help";
  checkFlags(flags);
  const { manifests, kubeconfig } = flags;
  return {
    ...(manifests ? { manifests } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    namespace: flags.namespace ?? "default",
    spoolDir: flags["spool-dir"] ?? env.PORTCULLIS_SPOOL_DIR ?? "portcullis-spool",
    spoolMaxBytes: integer(flags["spool-max-bytes"] ?? "268435456", "--spool-max-bytes", 1, Number.MAX_SAFE_INTEGER),
    maxBufferedBytes: integer(flags["max-buffered-bytes"] ?? "67108864", "--max-buffered-bytes", 1, Number.MAX_SAFE_INTEGER),
    ...addressOptions(flags, env),
    ...agentTlsOptions(flags, env),
    logLevel: flags["log-level"] ?? "info",
    shutdownGraceSeconds: integer(flags["shutdown-grace"] ?? "20", "--shutdown-grace", 0, 3600),
  };
}

interface ConfigSource {
  approvals: ApprovalService;
  initial: ConfigBundle;
  /** Follows changes until stopped (operator mode); standalone has none. */
  follow?: (apply: (bundle: ConfigBundle) => void, signal: AbortSignal) => Promise<void>;
}

async function standaloneSource(options: Options): Promise<ConfigSource> {
  const path = options.manifests as string;
  const identity = { ...defaultStandaloneIdentity(), namespace: options.namespace };
  const bundle = await loadManifestsFile(path, identity);
  const problems = bundleProblems(bundle);
  if (problems.length) throw new ConfigError(problems.map((problem) => `${path}: ${problem}`));
  if (!options.kubeconfig) return { initial: bundle, approvals: new NoApprovals() };
  // @kubernetes/client-node holds about 60 MiB once loaded: only a gateway that creates ApprovalRequests itself loads it.
  const { KubeconfigApprovals } = await import("./approvals/kubeconfig-approvals.js");
  return { initial: bundle, approvals: KubeconfigApprovals.fromKubeconfig(options.kubeconfig) };
}

async function brokerSource(log: Logger): Promise<ConfigSource> {
  const client = new BrokerClient(brokerSettingsFromEnv());
  const initial = await client.fetchConfig();
  return {
    initial,
    approvals: new BrokerApprovals(client),
    follow: (apply, signal) =>
      client.watchConfig(apply, { signal, onError: (error) => log.warn("the configuration stream from the broker failed; reconnecting", { error: error.message }) }),
  };
}

/** Where a session's evidence goes: the store of the first of its policies that records. */
function storeRouter(current: () => ConfigBundle, targets: StoreTargets): (start: SessionStartData) => StoreTarget | undefined {
  return (start) => {
    const policy = current().policies.find((candidate) => start.policies.includes(candidate.name) && candidate.spec.recording);
    if (!policy) return undefined;
    if (policy.error) throw new Error(`AccessPolicy "${policy.name}" cannot be used: ${policy.error}`);
    if (!policy.recording) throw new Error(`AccessPolicy "${policy.name}" names a recording store the configuration does not carry`);
    return targets.targetFor(policy.recording, `AccessPolicy "${policy.name}"`);
  };
}

async function run(options: Options): Promise<void> {
  const log = createLogger(options.logLevel);
  const metrics = createGatewayMetrics();
  await initClassifier();
  const source = options.manifests ? await standaloneSource(options) : await brokerSource(log);
  const spool = await EvidenceSpool.open({ dir: options.spoolDir, maxBytes: options.spoolMaxBytes, observer: spoolMetricsObserver(metrics) });
  for (const recovered of spool.recovered) log.warn("sealed a session a previous gateway left open", { ...recovered });
  let bundle = source.initial;
  const targets = new StoreTargets();
  const uploader = new EvidenceUploader({ spool, storeFor: storeRouter(() => bundle, targets), intervalMs: UPLOAD_INTERVAL_MS, log });
  const tls = options.tls ? { cert: await readFile(options.tls.cert), key: await readFile(options.tls.key) } : undefined;
  const certificates = await PodCertificates.create(bundle.identity.podName, options.trustDir);
  const gateway = new Gateway({
    host: options.listenHost,
    registry: new ProtocolRegistry([postgresGateway, httpGateway, kubernetesGateway, mcpGateway()]),
    log,
    services: { spool, metrics, approvals: source.approvals, grants: new GrantCache(), certificates, buffers: new BufferBudget(options.maxBufferedBytes) },
    onSessionEnded: () => uploader.poke(),
    ...(tls ? { tls } : {}),
  });
  const applyBundle = async (next: ConfigBundle): Promise<void> => {
    try {
      await gateway.apply(next);
    } finally {
      if (options.trustDir !== undefined) await writeAgentFiles(options.trustDir, next, certificates.caPem);
    }
  };
  await applyBundle(bundle);
  uploader.start();
  const health = await startHealthServer({ port: options.metricsPort, host: options.metricsHost, metrics, ready: () => gateway.configured });
  log.info("gateway ready", { mode: options.manifests ? "standalone" : "operator", approvals: source.approvals.kind, listeners: gateway.ports(), metricsPort: health.port });
  const stopping = new AbortController();
  let applying = Promise.resolve();
  const follow = source.follow?.((next) => {
    applying = applying
      .then(async () => {
        bundle = next;
        await applyBundle(next);
      })
      .catch((error: unknown) => {
        log.error("applying a configuration change failed", { error: String(error) });
      });
  }, stopping.signal);
  follow?.catch((error: unknown) => log.error("following the broker stopped", { error: String(error) }));
  const stop = async (signal: string): Promise<void> => {
    log.info("stopping", { signal });
    stopping.abort();
    await gateway.stop();
    await spool.close();
    // Within the pod's grace period: upload what the spool holds; what is left stays for the next start.
    const flushed = await uploader.flush(new Date(Date.now() + options.shutdownGraceSeconds * 1000));
    if (!flushed.done) log.warn("evidence left in the spool for the next start", { sessions: flushed.pending });
    await uploader.stop();
    targets.close();
    await health.close();
    process.exit(0);
  };
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void stop(signal));
}

function main(): void {
  let options: Options | "help";
  try {
    options = parseOptions(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`portcullis-sidecar: ${errorMessage(error)}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === "help") {
    process.stdout.write(USAGE);
    return;
  }
  run(options).catch((error: unknown) => {
    const message = error instanceof ConfigError ? error.message : `cannot start: ${errorMessage(error)}`;
    process.stderr.write(`portcullis-sidecar: ${message}\n`);
    process.exit(1);
  });
}

main();
