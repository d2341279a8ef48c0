// `make soak`: many concurrent PostgreSQL sessions through one gateway for a
// while, each sending a trickle of statements, with evidence recorded to a
// filesystem store — the shape of a fleet of agents that keep a connection
// open and speak now and then. It reports sessions opened and dropped,
// statements run and failed, and the gateway's RSS idle, at its peak, and
// after the sessions close. Bounded by SOAK_SESSIONS (1000) and
// SOAK_SECONDS (60); not part of `make test` (numbers are reported, the run
// fails only when a session is dropped or a statement fails).
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startPostgres } from "../postgres/server.js";
import { databaseManifests } from "../gateway/database-manifests.js";
import { filesystemStoreManifests } from "../gateway/filesystem-evidence.js";
import { startSidecar } from "../gateway/sidecar-process.js";

const SESSIONS = Number(process.env.SOAK_SESSIONS ?? 1000);
const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
/** Each session sends a statement every this many milliseconds, at a random phase. */
const TRICKLE_MS = Number(process.env.SOAK_TRICKLE_MS ?? 5000);
const CONNECT_CONCURRENCY = 50;
const ROWS = 1000;

/** Resident memory of a process in MiB, from /proc. */
function rssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((entry) => entry.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) / 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Tally {
  opened: number;
  dropped: number;
  statements: number;
  failed: number;
  errors: Map<string, number>;
}

function note(tally: Tally, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  tally.errors.set(message, (tally.errors.get(message) ?? 0) + 1);
}

async function main(): Promise<void> {
  const pg15 = await startPostgres({ tls: false, maxConnections: SESSIONS + 100 });
  const storeDir = await mkdtemp(join(tmpdir(), "portcullis-soak-"));
  try {
    await pg15.psql(["-c", `CREATE TABLE orders (id int PRIMARY KEY, total int); INSERT INTO orders SELECT n, n FROM generate_series(1, ${ROWS}) n; GRANT SELECT ON orders TO ${pg15.usersRole}`]);
    const gateway = await startSidecar({
      manifests: [
        ...(await databaseManifests(pg15, "soak-db")),
        ...filesystemStoreManifests(storeDir),
        {
          apiVersion: "portcullis.dev/v1alpha1",
          kind: "AccessPolicy",
          metadata: { name: "reads" },
          spec: {
            subjects: { serviceAccounts: ["agent"] },
            resources: ["soak-db"],
            rules: [{ name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" }],
            recording: { storeRef: { name: "evidence-store" } },
          },
        },
      ],
    });
    const pid = gateway.child.pid as number;
    const tally: Tally = { opened: 0, dropped: 0, statements: 0, failed: 0, errors: new Map() };
    try {
      await sleep(2000);
      const idle = rssMiB(pid);
      const config = { host: "127.0.0.1", port: gateway.ports["soak-db"], user: "agent", password: "unused", database: pg15.database };
      const clients: pg.Client[] = [];
      const started = Date.now();
      for (let first = 0; first < SESSIONS; first += CONNECT_CONCURRENCY) {
        await Promise.all(
          Array.from({ length: Math.min(CONNECT_CONCURRENCY, SESSIONS - first) }, async () => {
            const client = new pg.Client(config);
            client.on("error", (error) => {
              tally.dropped += 1;
              note(tally, error);
            });
            try {
              await client.connect();
              tally.opened += 1;
              clients.push(client);
            } catch (error) {
              tally.dropped += 1;
              note(tally, error);
            }
          }),
        );
      }
      const connectSeconds = (Date.now() - started) / 1000;
      let peak = rssMiB(pid);
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 1000);
      const until = Date.now() + SECONDS * 1000;
      await Promise.all(
        clients.map(async (client) => {
          await sleep(Math.random() * TRICKLE_MS);
          while (Date.now() < until) {
            try {
              // Each text differs by its literal, as agents' statements do.
              await client.query(`SELECT total FROM orders WHERE id = ${1 + Math.floor(Math.random() * ROWS)}`);
              tally.statements += 1;
            } catch (error) {
              tally.failed += 1;
              note(tally, error);
            }
            await sleep(TRICKLE_MS);
          }
        }),
      );
      clearInterval(sampler);
      const loaded = rssMiB(pid);
      await Promise.all(clients.map((client) => client.end().catch((error: unknown) => note(tally, error))));
      await sleep(5000);
      const after = rssMiB(pid);
      console.log(`${SESSIONS} sessions through one gateway for ${SECONDS} s, a statement every ${TRICKLE_MS / 1000} s each, evidence to a filesystem store`);
      console.log(`  sessions   opened ${tally.opened} in ${connectSeconds.toFixed(1)} s, dropped ${tally.dropped}`);
      console.log(`  statements run ${tally.statements} (${(tally.statements / SECONDS).toFixed(0)}/s), failed ${tally.failed}`);
      console.log(`  gateway RSS   idle ${idle.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, end of load ${loaded.toFixed(0)} MiB, 5 s after the sessions closed ${after.toFixed(0)} MiB`);
      for (const [message, count] of tally.errors) console.log(`  error ×${count}: ${message}`);
      if (tally.dropped > 0 || tally.failed > 0 || tally.opened < SESSIONS) process.exitCode = 1;
    } finally {
      await gateway.stop();
    }
  } finally {
    await pg15.stop();
    await rm(storeDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
