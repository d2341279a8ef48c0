// `make bench`: the PostgreSQL gateway against PostgreSQL itself and against
// pgbouncer (Debian's, session pooling, SCRAM like the server), in one run.
// Four targets — direct, pgbouncer, the gateway with an allow rule, the
// gateway with the full example policy (rules, column masking and detectors
// over results, evidence recorded to a store) — each measured with pgbench
// -S at -c8 in simple and prepared mode, the default TPC-B-like script (the
// write mix) at -c8, and -S at -c1 for latency; BENCH_ROUNDS interleaved
// rounds (each measurement runs every target, the order rotating between
// rounds) of BENCH_SECONDS per run, after an uncounted warm-up. It reads the
// CPU time the gateways and pgbouncer spend per statement from /proc, each
// gateway's resident memory idle and after the load, and prints the means,
// the ratios to pgbouncer and the targets met or missed. Before measuring it
// checks on each gateway that a DROP is denied and that masked values are
// masked (full policy) or clear (allow rule); a failed check or a missing
// component exits 1, a missed target does not. A bare Node.js relay
// (node-relay.ts) is measured beside them: the floor of any proxy on Node.js.
// Where a gateway misses a CPU, throughput or latency target, a twin of it is
// profiled (`--cpu-prof`) under its costliest load for BENCH_PROFILE_SECONDS, and
// the bench prints where its time goes and each part's next lever; each
// gateway's memory is split into V8's heap, what lies outside it, and the
// rest. BENCH_PROFILE_DIR=DIR keeps the profiles. Not part of `make test`.
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { databaseManifests } from "../gateway/database-manifests.js";
import { filesystemStoreManifests } from "../gateway/filesystem-evidence.js";
import { SIDECAR_MAIN, startSidecar, type SidecarProcess } from "../gateway/sidecar-process.js";
import { PGBOUNCER, startPgbouncer } from "../postgres/pgbouncer.js";
import { categoryShares, type CategoryShare, type CpuProfile, POSTGRES_GATEWAY_CATEGORIES } from "./cpu-profile.js";
import { locatePostgresBinaries } from "../postgres/binaries.js";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import {
  LOADS,
  cpuMicrosPerStatement,
  cpuTicks,
  evaluateTargets,
  figuresTable,
  mean,
  memoryLines,
  memoryParts,
  memoryPartsLine,
  parsePgbench,
  profileTable,
  residentMiB,
  rotate,
  targetsTable,
  type BenchFigures,
  type GatewayFigures,
  type Load,
  type MemoryParts,
  type PgbenchRun,
  type TargetFigures,
  type TargetLine,
} from "./bench-report.js";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const PROFILE_SECONDS = Number(process.env.BENCH_PROFILE_SECONDS ?? 5);
const CLIENTS = 8;
const SCALE = 10;
/** BEGIN, UPDATE, SELECT, UPDATE, UPDATE, INSERT, END: pgbench's builtin tpcb-like script (`pgbench --show-script=tpcb-like`). */
const WRITE_MIX_STATEMENTS = 7;
/** Before the idle reading and after the load: time for start-up work, timers and collections to settle. */
const SETTLE_MS = 3000;
/** What each gateway is held to (the limits both share are in bench-report.ts): CPU µs per statement, throughput as a share of pgbouncer's. */
const LIMITS = { allow: { cpuUs: 40, tpsRatio: 1.0 }, full: { cpuUs: 60, tpsRatio: 0.8 } } as const;
/** Seconds of each -c8 load through each target before the rounds, not counted: JIT, caches and pools warm up. */
const WARMUP_SECONDS = 1;
/** direct, pgbouncer, the Node.js relay, the two gateways. */
const TARGETS = 5;
/** What the masking pre-checks look for: a column the full policy masks, and a value its detectors find. */
const MASKED_FILLER = "bench-filler-secret";
const DETECTED_EMAIL = "ada@example.com";

/** A place pgbench connects to; the gateways and pgbouncer also name the process whose CPU they spend. */
interface Target {
  name: string;
  port: number;
  pid?: number;
  /** The gateway's spool: a run ends once the evidence of its sessions is out of it. */
  spoolDir?: string;
}

interface Measurement {
  key: Load | "latency";
  describe: string;
  args: string[];
  clients: number;
  statementsPerTransaction: number;
}

const MEASUREMENTS: Measurement[] = [
  { key: "simple", describe: `-S -M simple -c${CLIENTS}`, args: ["-S", "-M", "simple"], clients: CLIENTS, statementsPerTransaction: 1 },
  { key: "prepared", describe: `-S -M prepared -c${CLIENTS}`, args: ["-S", "-M", "prepared"], clients: CLIENTS, statementsPerTransaction: 1 },
  { key: "write", describe: `tpcb-like -M simple -c${CLIENTS}`, args: ["-M", "simple"], clients: CLIENTS, statementsPerTransaction: WRITE_MIX_STATEMENTS },
  { key: "latency", describe: "-S -M simple -c1", args: ["-S", "-M", "simple"], clients: 1, statementsPerTransaction: 1 },
];

interface Sample {
  run: PgbenchRun;
  /** CPU clock ticks the target's process spent, when it has one. */
  ticks?: number;
  statements: number;
  /** How long the gateway's spool took to drain after pgbench ended. */
  drainMs?: number;
}

/** A component the bench needs is missing: the message says how to install it. */
class MissingComponent extends Error {
  override readonly name = "MissingComponent";
}

/** A pre-check failed: the gateways do not enforce what they would be measured enforcing. */
class PrecheckFailure extends Error {
  override readonly name = "PrecheckFailure";
}

/** The gateways this process started, for the watchdog: unlike postgres and pgbouncer they have no parent-death signal. */
const gatewayProcesses: ChildProcess[] = [];

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

function processTicks(pid: number): number {
  return cpuTicks(readFileSync(`/proc/${pid}/stat`, "utf8"));
}

function processMiB(pid: number): number {
  return residentMiB(readFileSync(`/proc/${pid}/status`, "utf8"));
}

function checkComponents(): string {
  try {
    locatePostgresBinaries();
  } catch (error) {
    throw new MissingComponent((error as Error).message);
  }
  if (!existsSync(PGBOUNCER)) throw new MissingComponent(`${PGBOUNCER} is missing: run \`make bench-deps\` (apt-get install pgbouncer)`);
  if (!existsSync(SIDECAR_MAIN)) throw new MissingComponent(`${SIDECAR_MAIN} is missing: run \`make build\``);
  return execFileSync(PGBOUNCER, ["--version"], { encoding: "utf8" }).split("\n")[0] ?? "pgbouncer";
}

async function pgbench(pg: RunningPostgres, target: Target, measurement: Measurement, seconds = SECONDS): Promise<PgbenchRun> {
  const args = ["-n", ...measurement.args, "-c", String(measurement.clients), "-j", String(Math.min(measurement.clients, 2)), "-T", String(seconds)];
  try {
    const { stdout } = await run(join(pg.binDir, "pgbench"), [...args, "-h", "127.0.0.1", "-p", String(target.port), "-U", pg.users.scram.username, pg.database], {
      env: pg.clientEnv(pg.users.scram),
      maxBuffer: 16 * 1024 * 1024,
      timeout: (seconds + 60) * 1000,
      killSignal: "SIGKILL",
    });
    return parsePgbench(stdout);
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`pgbench ${measurement.describe} through ${target.name} failed: ${failed.message}\n${failed.stderr ?? ""}${failed.stdout ?? ""}`, { cause: error });
  }
}

/** What pgbench does before a TPC-B run unless told -n: vacuum the small tables and empty the history, so no target inherits another's bloat. */
async function resetWriteTables(pg: RunningPostgres): Promise<void> {
  const result = await pg.psql(["-c", "VACUUM pgbench_branches", "-c", "VACUUM pgbench_tellers", "-c", "TRUNCATE pgbench_history"]);
  if (result.code !== 0) throw new Error(`resetting the write-mix tables failed: ${result.stderr}`);
}

/** Waits until the gateway's spool holds no session (ended sessions are uploaded or dropped): that work is part of the run's cost. */
async function spoolDrained(spoolDir: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (readdirSync(spoolDir).some((name) => name.endsWith(".jsonl"))) {
    if (Date.now() > deadline) {
      console.log(`  (the spool ${spoolDir} still held sessions 60 s after the run)`);
      return;
    }
    await sleep(100);
  }
}

async function measure(pg: RunningPostgres, target: Target, measurement: Measurement): Promise<Sample> {
  if (measurement.key === "write") await resetWriteTables(pg);
  const before = target.pid === undefined ? 0 : processTicks(target.pid);
  const result = await pgbench(pg, target, measurement);
  const ended = Date.now();
  if (target.spoolDir !== undefined) await spoolDrained(target.spoolDir);
  const statements = result.transactions * measurement.statementsPerTransaction;
  const drained = target.spoolDir === undefined ? {} : { drainMs: Date.now() - ended };
  return { run: result, statements, ...drained, ...(target.pid === undefined ? {} : { ticks: processTicks(target.pid) - before }) };
}

/** The allow-rule gateway: one rule that lets pgbench's statements through, everything else denied by default. */
function allowPolicy(resource: string): object {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name: "bench-allow" },
    spec: {
      subjects: { serviceAccounts: ["bench"] },
      resources: [resource],
      rules: [{ name: "pgbench", match: { sql: { commands: ["SELECT", "INSERT", "UPDATE", "SET", "TRANSACTION"] } }, action: "allow" }],
    },
  };
}

/**
 * crds/examples/no-destructive-changes-policy.yaml adapted to pgbench's tables: destructive changes and unbounded
 * updates denied, reads allowed, writes to the pgbench tables allowed (instead of waiting for a reviewer), a column
 * masked whole, detectors scanning every text value of every result, and every session recorded to a store.
 */
function fullPolicy(resource: string): object {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name: "no-destructive-changes" },
    spec: {
      subjects: { serviceAccounts: ["bench"] },
      resources: [resource],
      rules: [
        { name: "block-drop-and-truncate", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "Destructive changes are made by the DBA team, not by agents." },
        { name: "block-unbounded-delete", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" },
        { name: "reads", match: { sql: { commands: ["SELECT", "SHOW", "EXPLAIN", "SET", "TRANSACTION"] } }, action: "allow" },
        { name: "pgbench-writes", match: { sql: { commands: ["INSERT", "UPDATE"], tables: ["pgbench_*"] } }, action: "allow" },
      ],
      masking: [
        { name: "contact", columns: ["email", "pgbench_accounts.filler"], strategy: "redact" },
        { name: "identifiers", detectors: ["email", "usSSN", "creditCard"], strategy: "partial", keepLast: 4 },
      ],
      recording: { storeRef: { name: "evidence-store" } },
      defaultAction: "deny",
    },
  };
}

interface StartedGateway {
  target: Target;
  sidecar: SidecarProcess;
  masks: boolean;
}

/** How to start one of the gateways again: its label, name, policy and extra manifests. */
interface GatewaySetup {
  label: string;
  name: string;
  policy: (resource: string) => object;
  extra: object[];
  masks: boolean;
}

async function startGateway(pg: RunningPostgres, setup: GatewaySetup, env?: NodeJS.ProcessEnv): Promise<StartedGateway> {
  const { label, name, policy, extra, masks } = setup;
  const resource = `bench-${label}`;
  const manifests = [...(await databaseManifests(pg, resource)), ...extra, policy(resource)];
  const sidecar = await startSidecar({ manifests, ...(env ? { env } : {}) });
  gatewayProcesses.push(sidecar.child);
  const pid = sidecar.child.pid ?? -1;
  // startSidecar spawns node itself, not a shell or wrapper: /proc/PID is the gateway's own accounting.
  if (readlinkSync(`/proc/${pid}/exe`) !== realpathSync(process.execPath)) throw new Error(`process ${pid} is not the gateway's node process`);
  return { target: { name, port: sidecar.ports[resource] as number, pid, spoolDir: sidecar.spoolDir }, sidecar, masks };
}

/** The Node.js floor (node-relay.ts) in front of PostgreSQL: its port and pid. */
async function startRelay(pg: RunningPostgres): Promise<{ target: Target; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [join(import.meta.dirname, "node-relay.js"), String(pg.port)], { stdio: ["ignore", "pipe", "inherit"] });
  gatewayProcesses.push(child);
  const [chunk] = (await Promise.race([once(child.stdout, "data"), once(child, "exit").then(() => [undefined])])) as [Buffer | undefined];
  const port = Number(chunk?.toString().trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error(`the Node.js relay did not start (it printed ${JSON.stringify(chunk?.toString() ?? "nothing")})`);
  return {
    target: { name: "Node.js relay (floor)", port, pid: child.pid },
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
    },
  };
}

/** On one gateway: a DROP is denied by the gateway, and the masked column and detected value are masked (or, without masking, clear). */
async function precheck(pg: RunningPostgres, gateway: StartedGateway): Promise<string[]> {
  const { name, port } = gateway.target;
  const query = (sql: string): ReturnType<RunningPostgres["psql"]> => pg.psql(["-h", "127.0.0.1", "-p", String(port), "-At", "-c", sql], pg.users.scram);
  const problems: string[] = [];
  const drop = await query("DROP TABLE pgbench_history");
  if (drop.code === 0 || !drop.stderr.includes("portcullis: denied")) problems.push(`${name}: DROP TABLE was not denied by the gateway: ${(drop.stderr || drop.stdout).trim() || "it succeeded"}`);
  const values: Array<[string, string]> = [
    ["SELECT filler FROM pgbench_accounts WHERE aid = 1", MASKED_FILLER],
    [`SELECT '${DETECTED_EMAIL}'::text AS contact`, DETECTED_EMAIL],
  ];
  for (const [sql, secret] of values) {
    const result = await query(sql);
    if (result.code !== 0) problems.push(`${name}: ${sql} failed: ${result.stderr.trim()}`);
    else if (gateway.masks && result.stdout.includes(secret)) problems.push(`${name}: masked value visible: ${sql} returned ${result.stdout.trim()}`);
    else if (!gateway.masks && !result.stdout.includes(secret)) problems.push(`${name}: ${sql} returned ${result.stdout.trim()}, not ${secret}: the allow-rule gateway should not mask`);
  }
  return problems;
}

/** What the full-policy gateway put in its evidence store: gzipped chunks and their size. */
function storedEvidence(storeDir: string): string {
  const chunks = readdirSync(storeDir, { recursive: true, encoding: "utf8" }).filter((name) => name.endsWith(".jsonl.gz"));
  const bytes = chunks.reduce((sum, name) => sum + statSync(join(storeDir, name)).size, 0);
  return `${chunks.length} gzipped chunks, ${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** The warnings and errors a gateway logged, each message once with its count: a stall or a failed upload shows here. */
function loggedProblems(gateway: StartedGateway): string[] {
  const counts = new Map<string, number>();
  for (const line of gateway.sidecar.logs()) {
    if (line.level !== "warn" && line.level !== "error") continue;
    const text = `${String(line.level)}: ${String(line.message)}${line.error === undefined ? "" : ` (${JSON.stringify(line.error)})`}`;
    counts.set(text, (counts.get(text) ?? 0) + 1);
  }
  return [...counts].map(([text, count]) => `${gateway.target.name} logged ${count}× ${text}`);
}

/** The gateway's memory parts from its metrics endpoint. */
async function gatewayMemory(gateway: StartedGateway): Promise<MemoryParts> {
  const response = await fetch(`http://127.0.0.1:${gateway.sidecar.metricsPort}/metrics`);
  if (!response.ok) throw new Error(`${gateway.target.name}: GET /metrics answered ${response.status}`);
  return memoryParts(await response.text());
}

/**
 * A twin of the gateway `setup` describes, profiled by V8 (--cpu-prof) under `load` after a warm-up: the shares
 * of its busy time by category. The profile is written when it stops, to BENCH_PROFILE_DIR or a directory removed after.
 */
async function profileGateway(pg: RunningPostgres, setup: GatewaySetup, load: Measurement): Promise<CategoryShare[]> {
  const dir = PROFILE_DIR ?? (await mkdtemp(join(tmpdir(), "portcullis-bench-profile-")));
  const file = `postgres-gateway-${setup.label}-${Date.now()}.cpuprofile`;
  try {
    const twin = await startGateway(pg, setup, { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-name=${file}` });
    try {
      if (load.key === "write") await resetWriteTables(pg);
      await pgbench(pg, twin.target, load, WARMUP_SECONDS);
      await pgbench(pg, twin.target, load, PROFILE_SECONDS);
    } finally {
      await twin.sidecar.stop();
    }
    const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
    return categoryShares(profile, POSTGRES_GATEWAY_CATEGORIES).shares;
  } finally {
    if (PROFILE_DIR === undefined) await rm(dir, { recursive: true, force: true });
  }
}

function estimateSeconds(): number {
  // Each run: its duration plus about half a second of connecting and draining (measured); start-up about 20 s.
  const runs = ROUNDS * MEASUREMENTS.length * TARGETS;
  const warmups = TARGETS * LOADS.length;
  // Where targets are missed, each gateway's twin: started, warmed up and profiled.
  const profiles = 2 * (10 + WARMUP_SECONDS + PROFILE_SECONDS);
  return runs * (SECONDS + 0.5) + warmups * (WARMUP_SECONDS + 0.5) + 20 + 2 * SETTLE_MS / 1000 + profiles;
}

function summarize(name: string, samples: Map<string, Sample[]>): TargetFigures {
  const of = (key: string): Sample[] => samples.get(key) ?? [];
  const tps = Object.fromEntries(LOADS.map((load) => [load, mean(of(load).map((sample) => sample.run.tps))])) as Record<Load, number>;
  const latencyUs = mean(of("latency").map((sample) => sample.run.latencyMs * 1000));
  const measuredCpu = of("simple").some((sample) => sample.ticks !== undefined);
  // CPU over all rounds at once: ticks are 1/CLK_TCK s, so summing before dividing loses least.
  const cpuOf = (load: Load): number => {
    const all = of(load);
    const ticks = all.reduce((sum, sample) => sum + (sample.ticks ?? 0), 0);
    return cpuMicrosPerStatement(ticks, CLOCK_TICKS, all.reduce((sum, sample) => sum + sample.statements, 0));
  };
  return { name, tps, latencyUs, ...(measuredCpu ? { cpuUs: Object.fromEntries(LOADS.map((load) => [load, cpuOf(load)])) as Record<Load, number> } : {}) };
}

function progress(target: Target, measurement: Measurement, sample: Sample): string {
  const cpu = sample.ticks === undefined ? "" : `, ${cpuMicrosPerStatement(sample.ticks, CLOCK_TICKS, sample.statements).toFixed(1)} µs CPU/stmt`;
  const figure = measurement.key === "latency" ? `${(sample.run.latencyMs * 1000).toFixed(0)} µs` : `${sample.run.tps.toFixed(0)} tps`;
  // A slow drain means the gateway was still storing evidence after pgbench stopped.
  const drain = (sample.drainMs ?? 0) >= 1000 ? `, spool drained in ${(sample.drainMs as number / 1000).toFixed(1)} s` : "";
  return `${target.name} ${figure}${cpu}${drain}`;
}

/** Every measurement through every target, after a warm-up: BENCH_ROUNDS rounds, each in another order. Samples by target and load. */
async function measureAll(pg: RunningPostgres, targets: readonly Target[]): Promise<Map<string, Map<string, Sample[]>>> {
  for (const target of targets) {
    for (const measurement of MEASUREMENTS.filter((candidate) => candidate.clients === CLIENTS)) await pgbench(pg, target, measurement, WARMUP_SECONDS);
    if (target.spoolDir !== undefined) await spoolDrained(target.spoolDir);
  }
  const samples = new Map<string, Map<string, Sample[]>>(targets.map((target) => [target.name, new Map()]));
  for (let round = 0; round < ROUNDS; round += 1) {
    for (const measurement of MEASUREMENTS) {
      const line: string[] = [];
      for (const target of rotate(targets, round)) {
        const sample = await measure(pg, target, measurement);
        const byKey = samples.get(target.name) as Map<string, Sample[]>;
        byKey.set(measurement.key, [...(byKey.get(measurement.key) ?? []), sample]);
        line.push(progress(target, measurement, sample));
      }
      console.log(`round ${round + 1}/${ROUNDS} ${measurement.describe}: ${line.join("; ")}`);
    }
  }
  return samples;
}

/** For each gateway that missed a CPU, throughput or latency target: where a profiled twin's time goes, and the next levers. */
async function explainMisses(pg: RunningPostgres, setups: readonly GatewaySetup[], figures: BenchFigures, verdicts: readonly TargetLine[]): Promise<void> {
  for (const [index, setup] of setups.entries()) {
    const missed = verdicts.filter((line) => line.gateway === setup.name && !line.met && !line.target.startsWith("RSS"));
    if (missed.length === 0) continue;
    // Profiled under the load that cost it the most CPU per statement.
    const cpu = figures.gateways[index]?.cpuUs;
    const costliest = MEASUREMENTS.filter((measurement) => measurement.key !== "latency").reduce((worst, next) => ((cpu?.[next.key as Load] ?? 0) > (cpu?.[worst.key as Load] ?? 0) ? next : worst));
    // One client: V8's profiler samples wall time, so on CPUs busy with pgbench and PostgreSQL a write that wakes one of them
    // would count the time the gateway then waits for a CPU; with one client the others are mostly idle.
    const load = { ...costliest, clients: 1, describe: costliest.describe.replace(`-c${CLIENTS}`, "-c1") };
    const cpuUs = cpu?.[load.key as Load] ?? Number.NaN;
    console.log(`\n${setup.name} missed ${missed.length} CPU, throughput or latency target(s); a twin of it profiled under ${load.describe}, its costliest load, for ${PROFILE_SECONDS} s (shares of its busy time; µs per statement at the ${cpuUs.toFixed(0)} µs measured above):\n`);
    console.log(profileTable(await profileGateway(pg, setup, load), cpuUs));
  }
}

async function benchmark(pg: RunningPostgres, pgbouncerVersion: string): Promise<void> {
  const setup = await pg.psql(["-c", `GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO ${pg.usersRole}`, "-c", `UPDATE pgbench_accounts SET filler = '${MASKED_FILLER}' WHERE aid = 1`]);
  if (setup.code !== 0) throw new Error(`granting the pgbench tables failed: ${setup.stderr}`);
  const storeDir = await mkdtemp(join(tmpdir(), "portcullis-bench-store-"));
  const running: StartedGateway[] = [];
  const pgbouncer = await startPgbouncer(pg, pg.users.scram, CLIENTS * 2);
  const relay = await startRelay(pg);
  try {
    const setups: GatewaySetup[] = [
      { label: "allow", name: "gateway, allow rule", policy: allowPolicy, extra: [], masks: false },
      { label: "full", name: "gateway, full policy", policy: fullPolicy, extra: filesystemStoreManifests(storeDir), masks: true },
    ];
    for (const setup of setups) running.push(await startGateway(pg, setup));
    const [allow, full] = running as [StartedGateway, StartedGateway];
    await sleep(SETTLE_MS);
    const idle = new Map(running.map((gateway) => [gateway, processMiB(gateway.target.pid as number)]));
    const idleParts = await Promise.all(running.map((gateway) => gatewayMemory(gateway)));
    const problems = (await Promise.all(running.map((gateway) => precheck(pg, gateway)))).flat();
    if (problems.length) throw new PrecheckFailure(`pre-check failed, nothing measured:\n  ${problems.join("\n  ")}`);
    console.log("pre-checks passed: each gateway denies DROP; the full policy masks the column and the detected email, the allow rule shows both\n");

    const targets: Target[] = [{ name: "direct", port: pg.port }, { name: "pgbouncer", port: pgbouncer.port, pid: pgbouncer.pid }, relay.target, allow.target, full.target];
    const samples = await measureAll(pg, targets);
    await sleep(SETTLE_MS);
    const gatewayFigures = (gateway: StartedGateway, limits: GatewayFigures["limits"]): GatewayFigures => ({
      ...summarize(gateway.target.name, samples.get(gateway.target.name) as Map<string, Sample[]>),
      limits,
      memory: { idleMiB: idle.get(gateway) as number, afterMiB: processMiB(gateway.target.pid as number) },
    });
    const figures: BenchFigures = {
      direct: summarize("direct", samples.get("direct") as Map<string, Sample[]>),
      pgbouncer: summarize("pgbouncer", samples.get("pgbouncer") as Map<string, Sample[]>),
      floor: summarize(relay.target.name, samples.get(relay.target.name) as Map<string, Sample[]>),
      gateways: [gatewayFigures(allow, LIMITS.allow), gatewayFigures(full, LIMITS.full)],
    };
    console.log(`\nmeans of ${ROUNDS} interleaved round(s), ${SECONDS} s per run; pgbench scale ${SCALE}, loopback TCP, no TLS; ${pgbouncerVersion}, session pooling, SCRAM`);
    console.log(`tps: transactions per second (the write mix: ${WRITE_MIX_STATEMENTS} statements each); -c1: -S simple, one client; CPU: the process's user+system time per statement at -c${CLIENTS} (S simple / P prepared / W write mix)\n`);
    console.log(figuresTable(figures));
    const verdicts = evaluateTargets(figures);
    console.log(`\n${targetsTable(verdicts)}\n`);
    console.log(memoryLines(figures.gateways));
    const afterParts = await Promise.all(running.map((gateway) => gatewayMemory(gateway)));
    running.forEach((gateway, index) => {
      console.log(memoryPartsLine(gateway.target.name, "idle", idleParts[index] as MemoryParts));
      console.log(memoryPartsLine(gateway.target.name, "after load", afterParts[index] as MemoryParts));
    });
    console.log(`evidence the full-policy gateway stored: ${storedEvidence(storeDir)}`);
    for (const line of running.flatMap(loggedProblems)) console.log(line);
    await explainMisses(pg, setups, figures, verdicts);
  } finally {
    for (const gateway of running) await gateway.sidecar.stop();
    await pgbouncer.stop();
    await relay.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const pgbouncerVersion = checkComponents();
  const estimate = estimateSeconds();
  console.log(`make bench: direct, pgbouncer, the gateway with an allow rule and with the full example policy; ${ROUNDS} round(s) × ${MEASUREMENTS.length} measurements × ${TARGETS} targets × ${SECONDS} s: about ${Math.max(1, Math.round(estimate / 60))} min`);
  // Bounded whatever happens: a hung run ends the bench (postgres and pgbouncer go with it, by their parent-death signal).
  const watchdog = setTimeout(() => {
    console.error(`the bench did not finish within ${Math.round((2 * estimate + 180) / 60)} min; stopping`);
    for (const child of gatewayProcesses) child.kill("SIGKILL");
    process.exit(1);
  }, (2 * estimate + 180) * 1000);
  watchdog.unref();
  const pg = await startPostgres({ tls: false });
  try {
    await run(join(pg.binDir, "pgbench"), ["-i", "-s", String(SCALE), "-q", "-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.superuser.username, pg.database], { env: pg.clientEnv(), timeout: 300_000 });
    await benchmark(pg, pgbouncerVersion);
  } finally {
    await pg.stop();
  }
  clearTimeout(watchdog);
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof MissingComponent) console.error(`missing component: ${message}`);
  else console.error(message);
  process.exit(1);
});
