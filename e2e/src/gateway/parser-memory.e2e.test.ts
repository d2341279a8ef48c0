// The parser's WebAssembly memory grows with the largest statement it parses
// and never shrinks; the gateway replaces the parser after large statements,
// so its memory comes back. Measured on the real gateway process, from /proc.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import pg from "pg";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { databaseManifests } from "./database-manifests.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

let server: RunningPostgres;
let gateway: SidecarProcess;

const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
/** How far above its memory before the large statements the gateway may stay once they are done. */
const BOUND_MIB = 40;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await startPostgres({ tls: false });
  gateway = await startSidecar({
    manifests: [
      ...(await databaseManifests(server, "app-db")),
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "reads" },
        spec: { subjects: { serviceAccounts: ["agent"] }, resources: ["app-db"], rules: [{ name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" }] },
      },
    ],
  });
});

afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
});

it("gives back the memory large statements took: RSS after 20 statements of 55 KiB returns within 40 MiB of before", async () => {
  const pid = gateway.child.pid as number;
  const client = new pg.Client({ host: "127.0.0.1", port: gateway.ports["app-db"], user: "agent", password: "unused", database: server.database });
  await client.connect();
  try {
    await client.query("SELECT 1");
    await sleep(1000);
    const before = rssMiB(pid);
    let peak = before;
    for (let round = 0; round < 20; round++) {
      // About 55 KiB, a different text each time (no cache): an array of 7,000 constants.
      const items = Array.from({ length: 7000 }, (_, index) => String(index * 20 + round)).join(", ");
      const result = await client.query(`SELECT cardinality(ARRAY[${items}]) AS n`);
      expect(result.rows).toEqual([{ n: 7000 }]);
      peak = Math.max(peak, rssMiB(pid));
    }
    // V8 gives its own heap back after some seconds of quiet; the parser's WebAssembly memory only goes with
    // the instance that grew it.
    let after = rssMiB(pid);
    for (let waited = 0; waited < 30 && after >= before + BOUND_MIB; waited++) {
      await sleep(1000);
      after = rssMiB(pid);
    }
    console.log(`gateway RSS: ${before.toFixed(0)} MiB before, ${peak.toFixed(0)} MiB at the peak, ${after.toFixed(0)} MiB after`);
    expect(after).toBeLessThan(before + BOUND_MIB);
  } finally {
    await client.end();
  }
}, 90_000);
