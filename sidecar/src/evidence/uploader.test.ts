// The uploader over a real spool and a real filesystem store in temporary
// directories; failures are injected by a store wrapper, time by a manual
// clock. (The same flows against a real S3 server are in e2e/src/evidence.)
import { afterEach, describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import type { RequestData, SessionStartData } from "@portcullis/common/evidence/record";
import { postgresRequest } from "@portcullis/common/evidence/test-fixtures";
import { EvidenceSpool } from "./spool.js";
import { closedSessionPath } from "./spool-files.js";
import { FilesystemStore } from "./store/filesystem-store.js";
import { parseManifest, signManifest } from "@portcullis/common/evidence/manifest";
import type { EvidenceStore, StoreTarget } from "./store/store.js";
import { START_DATA, linesOf, readStoredSession, recordChain } from "./store/test-fixtures.js";
import { uploadStatePath } from "./store/upload-state.js";
import { EvidenceUploader, backoffDelay, type UploaderLog, type UploaderOptions } from "./uploader.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");

/** A store that fails the operations the test asks it to, and remembers every put and every failure. */
class FlakyStore implements EvidenceStore {
  readonly puts: Array<{ key: string; body: Buffer }> = [];
  failures = 0;
  failing: ((operation: "put" | "get", key: string) => boolean) | undefined;

  constructor(private readonly inner: EvidenceStore) {}

  get location(): string {
    return this.inner.location;
  }
  async put(key: string, body: Uint8Array, contentType: string): Promise<void> {
    this.puts.push({ key, body: Buffer.from(body) });
    if (this.failing?.("put", key)) {
      this.failures += 1;
      throw new Error(`injected failure writing ${key}`);
    }
    await this.inner.put(key, body, contentType);
  }
  get(key: string): Promise<Buffer | undefined> {
    if (this.failing?.("get", key)) {
      this.failures += 1;
      return Promise.reject(new Error(`injected failure reading ${key}`));
    }
    return this.inner.get(key);
  }
  list(prefix: string): Promise<string[]> {
    return this.inner.list(prefix);
  }
  close(): void {
    this.inner.close();
  }
}

interface LogLine {
  level: "info" | "warn" | "error";
  message: string;
  meta: Record<string, unknown> | undefined;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(name: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `portcullis-uploader-${name}-`));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Harness {
  spool: EvidenceSpool;
  store: FlakyStore;
  target: StoreTarget;
  logs: LogLine[];
  clock: { now: number };
  uploader(options?: Partial<UploaderOptions>): EvidenceUploader;
}

async function harness(): Promise<Harness> {
  const spool = await EvidenceSpool.open({ dir: await tempDir("spool"), maxBytes: 1 << 24 });
  cleanups.push(() => spool.close());
  const store = new FlakyStore(new FilesystemStore(await tempDir("store")));
  const target: StoreTarget = { store, prefix: "evidence", signingKey: privateKey };
  const logs: LogLine[] = [];
  const record =
    (level: LogLine["level"]) =>
    (message: string, meta?: Record<string, unknown>): void => {
      logs.push({ level, message, meta });
    };
  const log: UploaderLog = { info: record("info"), warn: record("warn"), error: record("error") };
  const clock = { now: Date.parse("2026-11-25T10:00:00.000Z") };
  return {
    spool,
    store,
    target,
    logs,
    clock,
    uploader: (options = {}) =>
      new EvidenceUploader({ spool, storeFor: () => target, intervalMs: 1_000, log, clock: () => new Date(clock.now), random: () => 0.5, ...options }),
  };
}

const PREFIX = (session: string): string => `evidence/agents/bot-0/${session}/`;

function statement(i: number): RequestData {
  return postgresRequest(`SELECT ${i}, '${"x".repeat(200)}'`, { action: "allow" }, { summary: "SELECT", fingerprint: "f", tables: [] });
}

async function writeSession(spool: EvidenceSpool, statements: number, end = true, data: SessionStartData = START_DATA): Promise<string> {
  const recorder = await spool.startSession({ data });
  for (let i = 1; i <= statements; i += 1) await recorder.append("request", statement(i));
  if (end) await recorder.end({ reason: "client-terminated" });
  return recorder.session;
}

describe("EvidenceUploader", () => {
  it("uploads complete sessions as chunks of at most chunkBytes with a signed manifest, then removes them from the spool", async () => {
    const h = await harness();
    const first = await writeSession(h.spool, 20);
    const second = await writeSession(h.spool, 0, true, { ...START_DATA, identity: { ...START_DATA.identity, namespace: "team-b", pod: "agent-7" } });
    const result = await h.uploader({ chunkBytes: 2_000 }).pass();

    expect(result).toMatchObject({ pending: [], failed: [], removed: [first, second] });
    const firstKeys = await h.store.list(PREFIX(first));
    expect(firstKeys.length).toBeGreaterThan(2);
    expect(firstKeys).toEqual([...firstKeys.filter((key) => /\/\d{6}\.jsonl\.gz$/.test(key)), `${PREFIX(first)}manifest.json`]);
    expect(await h.store.list(`evidence/team-b/agent-7/${second}/`)).toEqual([`evidence/team-b/agent-7/${second}/000001.jsonl.gz`, `evidence/team-b/agent-7/${second}/manifest.json`]);

    const stored = await readStoredSession(h.store, PREFIX(first), publicKey);
    expect(stored.problems).toEqual([]);
    expect(stored.records.map((r) => r.seq)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(stored.manifest).toMatchObject({ session: first, namespace: "agents", pod: "bot-0", resource: "orders-db", complete: true, records: 22 });
    // A chunk holds whole lines, at most 2000 bytes of them.
    for (const chunk of stored.manifest?.chunks ?? []) {
      const lines = gunzipSync((await h.store.get(PREFIX(first) + chunk.name)) ?? Buffer.alloc(0));
      expect(lines.length).toBeLessThanOrEqual(2_000);
      expect(lines.toString().split("\n").length - 1).toBe(chunk.lastSeq - chunk.firstSeq + 1);
    }
    expect(await readdir(h.spool.dir)).toEqual(["writer.lock"]);
  });

  it("uploads an open session's new lines as they come and marks the manifest complete at its end", async () => {
    const h = await harness();
    const uploader = h.uploader();
    const recorder = await h.spool.startSession({ data: START_DATA });
    await recorder.append("request", statement(1));
    expect(await uploader.pass()).toMatchObject({ pending: [], chunks: 1 });
    expect(await uploader.pass()).toMatchObject({ pending: [], chunks: 0 });
    await recorder.append("request", statement(2));
    expect(await uploader.pass()).toMatchObject({ chunks: 1 });
    let stored = await readStoredSession(h.store, PREFIX(recorder.session), publicKey);
    expect(stored.problems).toEqual([]);
    expect(stored.manifest).toMatchObject({ complete: false, records: 3, chunks: [{ firstSeq: 1, lastSeq: 2 }, { firstSeq: 3, lastSeq: 3 }] });

    await recorder.end({ reason: "client-terminated" });
    expect(await uploader.pass()).toMatchObject({ removed: [recorder.session], chunks: 1 });
    stored = await readStoredSession(h.store, PREFIX(recorder.session), publicKey);
    expect(stored.problems).toEqual([]);
    expect(stored.manifest).toMatchObject({ complete: true, records: 4 });
    expect(stored.records.at(-1)?.type).toBe("session-end");
  });

  it("keeps the records in the spool while the store fails, backs off, and retries the same chunk with the same bytes", async () => {
    const h = await harness();
    const uploader = h.uploader({ backoff: { initialMs: 1_000, maxMs: 8_000 } });
    const session = await writeSession(h.spool, 3);
    h.store.failing = (operation, key) => operation === "put" && key.endsWith(".jsonl.gz");

    expect(await uploader.pass()).toMatchObject({ failed: [session], pending: [session] });
    expect(h.logs.at(-1)).toMatchObject({ level: "warn", meta: { session, failures: 1, retryInMs: 750 } });
    expect(String(h.logs.at(-1)?.meta?.error)).toContain("injected failure writing");
    // Within the backoff nothing is tried.
    expect(await uploader.pass()).toMatchObject({ failed: [], pending: [session] });
    expect(h.store.puts).toHaveLength(1);
    h.clock.now += 750;
    expect(await uploader.pass()).toMatchObject({ failed: [session] });
    expect(h.logs.at(-1)?.meta).toMatchObject({ failures: 2, retryInMs: 1_500 });
    expect(await readdir(h.spool.dir)).toContain(`${session}.closed.jsonl`);

    h.store.failing = undefined;
    h.clock.now += 1_500;
    expect(await uploader.pass()).toMatchObject({ removed: [session], failed: [] });
    const chunkPuts = h.store.puts.filter((put) => put.key.endsWith(".jsonl.gz"));
    expect(new Set(chunkPuts.map((put) => put.key))).toEqual(new Set([`${PREFIX(session)}000001.jsonl.gz`]));
    expect(chunkPuts.every((put) => put.body.equals(chunkPuts[0]?.body ?? Buffer.alloc(0)))).toBe(true);
    expect(h.logs.find((line) => line.message === "evidence upload resumed")?.meta).toEqual({ session, afterFailures: 2 });
    expect((await readStoredSession(h.store, PREFIX(session), publicKey)).problems).toEqual([]);
  });

  it("does not upload a stored chunk again when only the manifest failed", async () => {
    const h = await harness();
    const uploader = h.uploader();
    const session = await writeSession(h.spool, 2);
    h.store.failing = (operation, key) => operation === "put" && key.endsWith("manifest.json");
    expect(await uploader.pass()).toMatchObject({ failed: [session] });
    h.store.failing = undefined;
    h.clock.now += 60_000;
    expect(await uploader.pass()).toMatchObject({ removed: [session] });
    expect(h.store.puts.map((put) => put.key)).toEqual([...["000001.jsonl.gz", "manifest.json", "manifest.json"].map((name) => PREFIX(session) + name), "evidence/agents/bot-0/ledger/000001.json"]);
  });

  it("resumes after a restart that lost the state file, without duplicating or skipping records", async () => {
    const h = await harness();
    const recorder = await h.spool.startSession({ data: START_DATA });
    await recorder.append("request", statement(1));
    await h.uploader().pass();
    // The process died after the manifest was stored, before the state file was written.
    await rm(uploadStatePath(h.spool.dir, recorder.session));
    await recorder.append("request", statement(2));
    await recorder.end({ reason: "client-terminated" });

    expect(await h.uploader().pass()).toMatchObject({ removed: [recorder.session], chunks: 1 });
    const stored = await readStoredSession(h.store, PREFIX(recorder.session), publicKey);
    expect(stored.problems).toEqual([]);
    expect(stored.records.map((r) => r.seq)).toEqual([1, 2, 3, 4]);
    expect(stored.manifest?.chunks.map((c) => [c.name, c.firstSeq, c.lastSeq])).toEqual([
      ["000001.jsonl.gz", 1, 2],
      ["000002.jsonl.gz", 3, 4],
    ]);
  });

  it("writes a chunk again after a restart that happened between the chunk and its manifest", async () => {
    const h = await harness();
    const recorder = await h.spool.startSession({ data: START_DATA });
    await recorder.append("request", statement(1));
    await h.uploader().pass();
    await recorder.append("request", statement(2));
    h.store.failing = (operation, key) => operation === "put" && key.endsWith("manifest.json");
    await h.uploader().pass();
    expect(await h.store.list(PREFIX(recorder.session))).toContain(`${PREFIX(recorder.session)}000002.jsonl.gz`);
    h.store.failing = undefined;
    await recorder.append("request", statement(3));
    await recorder.end({ reason: "client-terminated" });

    expect(await h.uploader().pass()).toMatchObject({ removed: [recorder.session] });
    const stored = await readStoredSession(h.store, PREFIX(recorder.session), publicKey);
    expect(stored.problems).toEqual([]);
    expect(stored.records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(stored.manifest?.chunks.map((c) => [c.name, c.firstSeq, c.lastSeq])).toEqual([
      ["000001.jsonl.gz", 1, 2],
      ["000002.jsonl.gz", 3, 5],
    ]);
  });

  it("removes a complete session it finds already uploaded (stopped before removing it)", async () => {
    const h = await harness();
    const session = await writeSession(h.spool, 1);
    h.spool.remove = (): Promise<void> => Promise.reject(new Error("stopped"));
    await h.uploader().pass();
    await rm(uploadStatePath(h.spool.dir, session), { force: true });
    h.spool.remove = EvidenceSpool.prototype.remove.bind(h.spool);
    const puts = h.store.puts.length;
    expect(await h.uploader().pass()).toMatchObject({ removed: [session], chunks: 0 });
    expect(h.store.puts).toHaveLength(puts);
  });

  it("refuses to go on when the store's manifest does not match the spool", async () => {
    const h = await harness();
    const recorder = await h.spool.startSession({ data: START_DATA });
    await recorder.append("request", statement(1));
    await h.uploader().pass();
    await rm(uploadStatePath(h.spool.dir, recorder.session));
    // A manifest signed with the right key whose chunk ends in another record than the spool's record 2.
    const manifestKey = `${PREFIX(recorder.session)}manifest.json`;
    const stored = parseManifest((await h.store.get(manifestKey))?.toString() ?? "");
    if (typeof stored === "string") throw new Error(stored);
    const otherHead = recordChain(recorder.session, 1, false).at(-1)?.hash ?? "";
    const forged = signManifest({ ...stored, head: otherHead, chunks: stored.chunks.map((chunk) => ({ ...chunk, head: otherHead })) }, privateKey);
    await h.store.put(manifestKey, Buffer.from(JSON.stringify(forged)), "application/json");

    expect(await h.uploader().pass()).toMatchObject({ failed: [recorder.session] });
    expect(String(h.logs.at(-1)?.meta?.error)).toContain(
      `the evidence store and the spool disagree about session ${recorder.session}: record 2 in the spool file is not the one the store's manifest ends with`,
    );
  });

  it("discards a session whose policy records nowhere once it ends, and says so", async () => {
    const h = await harness();
    const uploader = h.uploader({ storeFor: () => undefined });
    const open = await h.spool.startSession({ data: START_DATA });
    const ended = await writeSession(h.spool, 1);
    expect(await uploader.pass()).toEqual({ pending: [], failed: [], removed: [ended], chunks: 0 });
    expect(h.logs).toHaveLength(1);
    expect(h.logs[0]).toMatchObject({ level: "info", meta: { session: ended, resource: "orders-db", policies: ["read-only"] } });
    expect(h.logs[0]?.message).toContain("no policy of this session configures recording");
    expect((await h.spool.listSessions()).map((s) => s.session)).toEqual([open.session]);
    expect(h.store.puts).toEqual([]);
  });

  it("keeps a session whose store cannot be told yet, and asks again after the backoff", async () => {
    const h = await harness();
    let configured = false;
    const uploader = h.uploader({
      storeFor: () => {
        if (!configured) throw new Error("the configuration is not loaded yet");
        return h.target;
      },
    });
    const session = await writeSession(h.spool, 1);
    expect(await uploader.pass()).toMatchObject({ failed: [session], pending: [session] });
    expect(h.logs.at(-1)?.meta?.error).toBe("the configuration is not loaded yet");
    configured = true;
    h.clock.now += 60_000;
    expect(await uploader.pass()).toMatchObject({ removed: [session] });
  });

  it("keeps a session whose first line is no session-start", async () => {
    const h = await harness();
    const session = "01JDBROKEN0000000000000000";
    await writeFile(closedSessionPath(h.spool.dir, session), "not a record\n");
    expect(await h.uploader().pass()).toMatchObject({ failed: [session] });
    expect(String(h.logs.at(-1)?.meta?.error)).toContain(`the first line of session ${session} is not its session-start (not JSON)`);
    expect(await readdir(h.spool.dir)).toContain(`${session}.closed.jsonl`);
  });

  it("uploads corrupt evidence as it is, logging where the chain breaks, so verification shows it", async () => {
    const h = await harness();
    const session = "01JDCORRUPT000000000000000";
    const records = recordChain(session, 3);
    const text = linesOf(records).replace("SELECT 2", "SELECT 22");
    await writeFile(closedSessionPath(h.spool.dir, session), text);
    expect(await h.uploader().pass()).toMatchObject({ removed: [session] });
    expect(h.logs.find((line) => line.level === "error")?.meta).toMatchObject({ session, chunk: "000001.jsonl.gz", seq: 3 });
    const stored = await readStoredSession(h.store, PREFIX(session), publicKey);
    expect(stored.problems).toEqual(["000001.jsonl.gz seq 3: hash does not match the record's content (the record was edited)"]);
  });

  it("flushes everything before the deadline, and returns by the deadline when the store is down", async () => {
    const h = await harness();
    const uploader = h.uploader({ clock: () => new Date() });
    const session = await writeSession(h.spool, 2);
    h.store.failing = () => true;
    const started = Date.now();
    expect(await uploader.flush(new Date(Date.now() + 600))).toEqual({ done: false, pending: [session] });
    expect(Date.now() - started).toBeLessThan(2_000);
    // Backoff does not apply while flushing: it kept trying until the deadline.
    expect(h.store.failures).toBeGreaterThan(1);
    h.store.failing = undefined;
    expect(await uploader.flush(new Date(Date.now() + 5_000))).toEqual({ done: true, pending: [] });
    expect(await h.spool.listSessions()).toEqual([]);
  });

  it("runs passes on its own once started, and sooner when poked", async () => {
    const h = await harness();
    const uploader = h.uploader({ intervalMs: 60_000, clock: () => new Date() });
    uploader.start();
    const session = await writeSession(h.spool, 1);
    uploader.poke();
    for (let i = 0; i < 100 && (await h.spool.listSessions()).length > 0; i += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    await uploader.stop();
    expect(await h.spool.listSessions()).toEqual([]);
    expect((await readStoredSession(h.store, PREFIX(session), publicKey)).problems).toEqual([]);
  });
});

describe("backoffDelay", () => {
  const settings = { initialMs: 1_000, maxMs: 60_000 };
  const cases: Array<[number, number, number]> = [
    [1, 0, 500],
    [1, 0.999, 1_000],
    [2, 0, 1_000],
    [3, 0.5, 3_000],
    [6, 0, 16_000],
    [7, 0, 30_000],
    [7, 0.999, 59_970],
    [500, 0.5, 45_000],
  ];
  it.each(cases)("after %d failures with random %d waits %d ms", (failures, random, expected) => {
    expect(backoffDelay(failures, settings, () => random)).toBe(expected);
  });
});
