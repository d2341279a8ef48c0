// Measures the PostgreSQL gateway's hot path against a direct connection to
// the same server in the same run: pgbench select-only (-S) through each, in
// simple and prepared mode, and prints transactions per second and the ratio,
// and the latency a single client sees each way.
// Run with `make bench`; it is not part of `make test` (numbers are reported,
// not asserted).
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort } from "../controlplane/processes.js";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { startSidecar } from "../gateway/sidecar-process.js";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 8);
const MODES = (process.env.BENCH_MODES ?? "simple,prepared").split(",");

interface PgbenchResult {
  tps: number;
  latencyMs: number;
}

async function pgbench(pg: RunningPostgres, port: number, mode: string, clients: number): Promise<PgbenchResult> {
  const { stdout } = await run(
    "pgbench",
    ["-n", "-S", "-M", mode, "-c", String(clients), "-j", String(Math.min(clients, 2)), "-T", String(SECONDS), "-h", "127.0.0.1", "-p", String(port), "-U", pg.users.scram.username, pg.database],
    { env: { ...pg.clientEnv(pg.users.scram), PGSSLMODE: "disable" }, maxBuffer: 16 * 1024 * 1024 },
  );
  const tps = /tps = ([\d.]+)/.exec(stdout)?.[1];
  const latency = /latency average = ([\d.]+) ms/.exec(stdout)?.[1];
  if (!tps || !latency) throw new Error(`pgbench printed no tps or latency:\n${stdout}`);
  return { tps: Number(tps), latencyMs: Number(latency) };
}

/** Throughput with CLIENTS clients, and the latency one client sees, directly and through the gateway. */
async function compare(pg: RunningPostgres, gatewayPort: number, mode: string): Promise<void> {
  const direct = await pgbench(pg, pg.port, mode, CLIENTS);
  const through = await pgbench(pg, gatewayPort, mode, CLIENTS);
  const alone = await pgbench(pg, pg.port, mode, 1);
  const aloneThrough = await pgbench(pg, gatewayPort, mode, 1);
  const micros = (result: PgbenchResult): string => `${(result.latencyMs * 1000).toFixed(0).padStart(4)} µs`;
  console.log(
    `${mode.padEnd(9)} direct ${direct.tps.toFixed(0).padStart(7)} tps   gateway ${through.tps.toFixed(0).padStart(7)} tps   ratio ${(through.tps / direct.tps).toFixed(2)}` +
      `   | one client: direct ${micros(alone)}   gateway ${micros(aloneThrough)}   added ${((aloneThrough.latencyMs - alone.latencyMs) * 1000).toFixed(0)} µs`,
  );
}

async function main(): Promise<void> {
  const pg = await startPostgres({ tls: false });
  const listener = await freePort();
  try {
    await run("pgbench", ["-i", "-s", "10", "-q", "-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.superuser.username, pg.database], { env: pg.clientEnv() });
    await pg.psql(["-c", `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${pg.usersRole}`]);
    const gateway = await startSidecar({
      manifests: [
        { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { username: pg.users.scram.username, password: pg.users.scram.password } },
        { apiVersion: "portcullis.dev/v1alpha1", kind: "Resource", metadata: { name: "bench-db" }, spec: { protocol: "postgres", endpoint: { host: "127.0.0.1", port: pg.port, tls: { mode: "disable" } }, listener: { port: listener }, credentials: { secretRef: { name: "db" } } } },
        { apiVersion: "portcullis.dev/v1alpha1", kind: "AccessPolicy", metadata: { name: "reads" }, spec: { subjects: { serviceAccounts: ["bench"] }, resources: ["bench-db"], rules: [{ name: "reads", match: { sql: { commands: ["SELECT", "SET", "TRANSACTION"] } }, action: "allow" }] } },
      ],
      ...(process.env.BENCH_PROFILE_DIR ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } } : {}),
    });
    try {
      console.log(`pgbench -S -c${CLIENTS} -j2 -T${SECONDS} (and -c1 for latency), scale 10, loopback, no TLS`);
      for (const mode of MODES) await compare(pg, gateway.ports["bench-db"] as number, mode);
    } finally {
      await gateway.stop();
    }
  } finally {
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
