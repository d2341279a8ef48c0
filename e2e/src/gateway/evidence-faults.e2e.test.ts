// Evidence survives what goes wrong around the gateway: the real gateway
// process killed with SIGKILL in the middle of a session (its successor seals
// and uploads the session from the spool), and a spool that fills while the
// S3 store is down (new sessions are refused, with a clear error, until the
// store is back and the spool drains). Checked with the portcullis CLI.
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { stringify } from "yaml";
import { portcullis } from "../cli/portcullis-cli.js";
import { freePort } from "../controlplane/processes.js";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { startS3, type RunningS3 } from "../s3/server.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const BUCKET = "evidence";
let server: RunningPostgres;
let s3: RunningS3;
let dir: string;
let storeFile: string;
let manifests: object[];
let listener: number;
const gateways: SidecarProcess[] = [];

/** Starts a gateway on the listener port, stopping any earlier one (the port is the same). */
async function gateway(spoolDir: string, extraArgs: string[] = []): Promise<SidecarProcess> {
  for (const earlier of gateways) await earlier.stop();
  const started = await startSidecar({ manifests, spoolDir, extraArgs });
  gateways.push(started);
  return started;
}

const connect = async (): Promise<pg.Client> => {
  const client = new pg.Client({ host: "127.0.0.1", port: listener, user: "agent", database: "app" });
  await client.connect();
  return client;
};

async function storedSessions(): Promise<Array<{ session: string; records: number; complete: boolean }>> {
  const listed = await portcullis(["sessions", "list", "--store-file", storeFile, "-o", "json"]);
  if (listed.code !== 0) throw new Error(listed.stderr);
  return (JSON.parse(listed.stdout) as { sessions: Array<{ session: string; records: number; complete: boolean }> }).sessions;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-evidence-faults-"));
  [server, s3] = await Promise.all([startPostgres({ tls: false }), startS3()]);
  await s3.createBucket(BUCKET);
  listener = await freePort();
  const store = { type: "s3", bucket: BUCKET, endpoint: s3.endpoint, region: s3.region, pathStyle: "true" };
  storeFile = join(dir, "store.yaml");
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicKey = createPublicKey(signingKey).export({ type: "spki", format: "pem" }).toString();
  await writeFile(storeFile, stringify({ ...store, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, publicKey }));
  manifests = [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { username: server.users.scram.username, password: server.users.scram.password } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "evidence-credentials" }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, signingKey } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "evidence-store" }, data: { ...store, credentialsSecret: "evidence-credentials" } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "orders-db" },
      spec: { protocol: "postgres", endpoint: { host: "127.0.0.1", port: server.port, tls: { mode: "disable" } }, listener: { port: listener }, credentials: { secretRef: { name: "db" } } },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "reads" },
      spec: { subjects: { serviceAccounts: ["bot"] }, resources: ["orders-db"], rules: [{ name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" }], recording: { storeRef: { name: "evidence-store" } } },
    },
  ];
}, 60_000);

afterAll(async () => {
  for (const started of gateways) await started.stop();
  await s3?.stop();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("evidence when things fail", () => {
  it("uploads a session whose gateway was killed with SIGKILL once a new gateway starts on the same spool", async () => {
    const spoolDir = join(dir, "spool-killed");
    const first = await gateway(spoolDir);
    const client = await connect();
    client.on("error", () => undefined);
    for (let i = 0; i < 5; i++) await client.query("SELECT $1::int AS n", [i]);
    // The uploader sends an open session's records every 2 s: before the kill it may be in the store, but never complete.
    const before = new Set((await storedSessions()).filter((entry) => entry.complete).map((entry) => entry.session));
    await first.stop("SIGKILL");
    const orphaned = (await readdir(spoolDir)).filter((name) => /^[0-9A-Z]{26}\.jsonl$/.test(name));
    expect(orphaned).toHaveLength(1);
    const session = orphaned[0]?.replace(".jsonl", "") ?? "";
    expect(before.has(session)).toBe(false);

    await gateway(spoolDir);
    const stored = await waitFor("the killed session in the store", async () => (await storedSessions()).find((entry) => entry.session === session && entry.complete));
    // session-start, five statements with their results, and the session-end the new gateway sealed it with.
    expect(stored.records).toBe(12);
    const verified = await portcullis(["sessions", "verify", session, "--store-file", storeFile]);
    expect(verified.code).toBe(0);
    const replay = await portcullis(["sessions", "replay", session, "--store-file", storeFile]);
    expect(replay.stdout).toContain("gateway-restarted");
  });

  it("refuses new sessions while the spool is full and the store is down, and recovers when it is back", async () => {
    const spoolDir = join(dir, "spool-full");
    await gateway(spoolDir, ["--spool-max-bytes", "2048"]);
    await s3.kill();
    const first = await connect();
    for (let i = 0; i < 5; i++) await first.query("SELECT $1::int AS n", [i]);
    await first.end();
    const refused = await connect().then(
      async (client) => {
        await client.end();
        return undefined;
      },
      (error: unknown) => error as { code: string; message: string },
    );
    expect(refused?.code).toBe("53400");
    expect(refused?.message).toMatch(/spool .* holds \d+ bytes of evidence not yet uploaded \(limit 2048\), so new sessions are refused/);

    await s3.restart();
    await waitFor("the spool to drain", async () => ((await readdir(spoolDir)).some((name) => name.endsWith(".jsonl")) ? undefined : true), 40_000);
    const again = await connect();
    expect((await again.query<{ n: number }>("SELECT 1 AS n")).rows).toEqual([{ n: 1 }]);
    await again.end();
  }, 90_000);
});
