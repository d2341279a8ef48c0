// The evidence uploader against a real S3 server (versitygw): sessions
// written through the real spool end up in the bucket in the contract's
// layout with a manifest that verifies; an outage of the store and a lost
// uploader lose and duplicate nothing; object lock retention is set on every
// object; a private CA is trusted only when the settings name it.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "@jest/globals";
import { readFile } from "node:fs/promises";
import { HeadObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { EvidenceStore, StoreTarget } from "@portcullis/sidecar/evidence/store/store";
import { readStoredSession } from "@portcullis/sidecar/evidence/store/test-fixtures";
import { parseSpoolText } from "@portcullis/common/evidence/record";
import { startS3, type RunningS3 } from "../s3/server.js";
import { evidenceFixture, recordingFor, seqs, startData, statement, type EvidenceFixture } from "./fixture.js";

const DAY_MS = 24 * 60 * 60 * 1000;
let s3: RunningS3;
let bucketCount = 0;
const fixtures: EvidenceFixture[] = [];

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  await s3.stop();
});
afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.close();
});

async function newBucket(objectLock = false): Promise<string> {
  bucketCount += 1;
  const name = `evidence-${bucketCount}`;
  await s3.createBucket(name, { objectLock });
  return name;
}

async function fixtureFor(store: Record<string, string> = {}, objectLock = false): Promise<EvidenceFixture & { bucket: string }> {
  const bucket = await newBucket(objectLock);
  const fixture = await evidenceFixture(recordingFor(s3, bucket, store));
  fixtures.push(fixture);
  return { ...fixture, bucket };
}

async function bucketKeys(bucket: string): Promise<string[]> {
  const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (listed.Contents ?? []).map((object) => object.Key ?? "").sort();
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A store that hands every call to `inner` until `stall` says a put is where the process "dies": that put and everything after it never settle. */
class DyingStore implements EvidenceStore {
  died = false;
  constructor(
    private readonly inner: EvidenceStore,
    private readonly stall: (key: string, stored: () => Promise<void>) => Promise<void> | undefined,
  ) {}
  get location(): string {
    return this.inner.location;
  }
  put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    if (this.died) return new Promise(() => undefined);
    const stalled = this.stall(key, () => this.inner.put(key, body, contentType));
    if (stalled === undefined) return this.inner.put(key, body, contentType);
    this.died = true;
    return stalled.then(() => new Promise(() => undefined));
  }
  get(key: string): Promise<Buffer | undefined> {
    return this.died ? new Promise(() => undefined) : this.inner.get(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  close(): void {
    // The real store is closed by the fixture.
  }
}

describe("the evidence uploader with a real S3 server", () => {
  it("uploads sessions written through the spool in the contract's layout, with manifests that verify", async () => {
    const fixture = await fixtureFor({ prefix: "clusters/e2e" });
    const first = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
    for (let i = 1; i <= 40; i += 1) await first.append("request", statement(i));
    await first.end({ reason: "client-terminated" });
    const second = await fixture.spool.startSession({ data: startData("team-b", "agent-7") });
    await second.append("request", statement(1));
    await second.end({ reason: "client-disconnected" });

    const result = await fixture.uploader({ chunkBytes: 4_096 }).pass();
    expect(result).toMatchObject({ pending: [], failed: [], removed: [first.session, second.session] });

    const firstPrefix = `clusters/e2e/agents/bot-0/${first.session}/`;
    const secondPrefix = `clusters/e2e/team-b/agent-7/${second.session}/`;
    const stored = await readStoredSession(fixture.target.store, firstPrefix, fixture.publicKey);
    expect(stored.problems).toEqual([]);
    const chunkNames = stored.manifest?.chunks.map((chunk) => chunk.name) ?? [];
    expect(chunkNames.length).toBeGreaterThan(3);
    expect(chunkNames).toEqual(seqs(chunkNames.length).map((n) => `${String(n).padStart(6, "0")}.jsonl.gz`));
    expect(await bucketKeys(fixture.bucket)).toEqual(
      [
        ...chunkNames.map((name) => firstPrefix + name),
        `${firstPrefix}manifest.json`,
        `${secondPrefix}000001.jsonl.gz`,
        `${secondPrefix}manifest.json`,
        // Each pod's ledger of its ended sessions.
        "clusters/e2e/agents/bot-0/ledger/000001.json",
        "clusters/e2e/team-b/agent-7/ledger/000001.json",
      ].sort(),
    );
    expect(stored.records.map((record) => record.seq)).toEqual(seqs(42));
    expect(stored.manifest).toMatchObject({ version: 1, session: first.session, namespace: "agents", pod: "bot-0", resource: "orders-db", records: 42, complete: true });
    expect((await readStoredSession(fixture.target.store, secondPrefix, fixture.publicKey)).problems).toEqual([]);

    const manifestHead = await s3.client.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: `${firstPrefix}manifest.json` }));
    const chunkHead = await s3.client.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: `${firstPrefix}000001.jsonl.gz` }));
    expect([manifestHead.ContentType, chunkHead.ContentType]).toEqual(["application/json", "application/gzip"]);
    expect(await fixture.spool.listSessions()).toEqual([]);
  });

  it("keeps writing to the spool while the store is down and uploads everything, once, when it is back", async () => {
    const fixture = await fixtureFor();
    const uploader = fixture.uploader({ intervalMs: 100 });
    uploader.start();
    const recorder = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
    const prefix = `agents/bot-0/${recorder.session}/`;
    let written = 1;
    const writeSome = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i += 1) {
        written += 1;
        await recorder.append("request", statement(written));
      }
      uploader.poke();
    };
    const uploadedRecords = async (): Promise<number> => (await readStoredSession(fixture.target.store, prefix)).manifest?.records ?? 0;

    await writeSome(5);
    await waitFor("the first records are uploaded", async () => (await uploadedRecords()) === written);

    await s3.kill();
    for (let round = 0; round < 5; round += 1) {
      await writeSome(4);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitFor("an upload failed", () => Promise.resolve(fixture.logs.some((line) => line.level === "warn" && String(line.meta?.error).includes("ECONNREFUSED"))));
    const spooled = parseSpoolText(await readFile((await fixture.spool.listSessions())[0]?.file ?? "", "utf8"));
    expect(spooled.records.map((record) => record.seq)).toEqual(seqs(written));

    await s3.restart();
    await writeSome(3);
    await recorder.end({ reason: "client-terminated" });
    uploader.poke();
    expect(await uploader.flush(new Date(Date.now() + 20_000))).toEqual({ done: true, pending: [] });
    await uploader.stop();

    const stored = await readStoredSession(fixture.target.store, prefix, fixture.publicKey);
    expect(stored.problems).toEqual([]);
    const uploaded = stored.records.map((record) => record.seq);
    expect(new Set(uploaded).size).toBe(uploaded.length);
    expect(uploaded).toEqual(seqs(written + 1));
    expect(stored.manifest?.complete).toBe(true);
  });

  // The chunks in the end: a chunk no manifest listed is written again with what the spool holds by then.
  const crashes: Array<[string, (key: string) => boolean, string[]]> = [
    ["after the chunk, before its manifest", (key) => key.endsWith("/000002.jsonl.gz"), ["000001.jsonl.gz", "000002.jsonl.gz"]],
    ["after the manifest, before the state file", (key) => key.endsWith("/manifest.json"), ["000001.jsonl.gz", "000002.jsonl.gz", "000003.jsonl.gz"]],
  ];
  it.each(crashes)("resumes without duplicates when the uploader dies %s", async (_when, diesAfter, chunks) => {
    const fixture = await fixtureFor();
    const recorder = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
    const prefix = `agents/bot-0/${recorder.session}/`;
    await recorder.append("request", statement(1));
    expect(await fixture.uploader().pass()).toMatchObject({ chunks: 1 });
    await recorder.append("request", statement(2));

    // Uploader A stores chunk 2 (and, in the second case, the manifest listing it), then "dies": nothing it does afterwards happens.
    let stored = false;
    let chunkTwoStored = false;
    const dying = new DyingStore(fixture.target.store, (key, store) => {
      if (key.endsWith("/000002.jsonl.gz")) chunkTwoStored = true;
      if (!chunkTwoStored || !diesAfter(key)) return undefined;
      return store().then(() => {
        stored = true;
      });
    });
    const dyingTarget: StoreTarget = { ...fixture.target, store: dying };
    void fixture.uploader({ storeFor: () => dyingTarget }).pass();
    await waitFor("uploader A stored what it stores before dying", () => Promise.resolve(stored));
    expect(await bucketKeys(fixture.bucket)).toContain(`${prefix}000002.jsonl.gz`);

    // Uploader B, over the same spool directory, as the restarted gateway would run it.
    await recorder.append("request", statement(3));
    await recorder.end({ reason: "client-terminated" });
    expect(await fixture.uploader().pass()).toMatchObject({ removed: [recorder.session], failed: [] });

    const result = await readStoredSession(fixture.target.store, prefix, fixture.publicKey);
    expect(result.problems).toEqual([]);
    expect(result.records.map((record) => record.seq)).toEqual(seqs(5));
    expect(result.manifest?.chunks.map((chunk) => chunk.name)).toEqual(chunks);
  });

  it("writes every object, the ledger's too, with the configured object lock retention", async () => {
    const fixture = await fixtureFor({ objectLockMode: "GOVERNANCE", objectLockRetentionDays: "2" }, true);
    const recorder = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
    const uploader = fixture.uploader();
    await recorder.append("request", statement(1));
    await uploader.pass();
    await recorder.end({ reason: "client-terminated" });
    const before = Date.now();
    // The second pass rewrites the locked manifest: versioning keeps the first one as an older version.
    expect(await uploader.pass()).toMatchObject({ removed: [recorder.session], failed: [] });

    const prefix = `agents/bot-0/${recorder.session}/`;
    expect((await readStoredSession(fixture.target.store, prefix, fixture.publicKey)).problems).toEqual([]);
    // The pod's ledger entry for the session is locked like its chunks.
    for (const key of ["000001.jsonl.gz", "000002.jsonl.gz", "manifest.json"].map((name) => prefix + name).concat("agents/bot-0/ledger/000001.json")) {
      const head = await s3.client.send(new HeadObjectCommand({ Bucket: fixture.bucket, Key: key }));
      expect(head.ObjectLockMode).toBe("GOVERNANCE");
      const retainUntil = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
      expect(Math.abs(retainUntil - (before + 2 * DAY_MS))).toBeLessThan(60_000);
    }
  });
});

describe("the evidence uploader with an S3 server on a private CA", () => {
  let tlsS3: RunningS3;
  beforeAll(async () => {
    tlsS3 = await startS3({ tls: true });
  });
  afterAll(async () => {
    await tlsS3.stop();
  });

  it("uploads when the settings carry the CA, and keeps the evidence when they do not", async () => {
    await tlsS3.createBucket("evidence");
    const trusting = await evidenceFixture(recordingFor(tlsS3, "evidence", { caBundle: tlsS3.caPem ?? "" }));
    const distrusting = await evidenceFixture(recordingFor(tlsS3, "evidence"));
    fixtures.push(trusting, distrusting);

    for (const fixture of [trusting, distrusting]) {
      const recorder = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
      await recorder.end({ reason: "client-terminated" });
    }
    expect(await trusting.uploader().pass()).toMatchObject({ failed: [], pending: [] });
    const refused = await distrusting.uploader().pass();
    expect(refused.failed).toHaveLength(1);
    expect(String(distrusting.logs.at(-1)?.meta?.error)).toMatch(/self-signed certificate|unable to verify|certificate/);
    expect(await distrusting.spool.listSessions()).toHaveLength(1);
  });
});
