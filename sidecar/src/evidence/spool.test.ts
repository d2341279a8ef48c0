// The spool over real files in a temporary directory. A crash is simulated on
// disk: a copy of an open session's file (what a SIGKILLed gateway leaves),
// with half a line appended and the dead process's lock file beside it.
import { afterEach, describe, expect, it } from "@jest/globals";
import { spawnSync } from "node:child_process";
import { appendFile, copyFile, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { GENESIS_HASH, parseSpoolText, recordLine, verifyChain, type EvidenceRecord, type RequestData, type SessionStartData } from "@portcullis/common/evidence/record";
import { postgresRequest } from "@portcullis/common/evidence/test-fixtures";
import { SESSION_ID_PATTERN } from "@portcullis/common/evidence/session-id";
import { EvidenceSpool, SpoolFullError, type SpoolObserver } from "./spool.js";
import { SpoolLockedError } from "./writer-lock.js";

const START: SessionStartData = {
  identity: { username: "system:serviceaccount:agents:bot", groups: ["system:serviceaccounts"], serviceAccount: "bot", namespace: "agents", pod: "bot-0", claims: {} },
  resource: { name: "orders-db", namespace: "agents", protocol: "postgres" },
  client: { address: "127.0.0.1", port: 51234, database: "orders", user: "bot" },
  policies: ["read-only"],
};

function statement(text: string, action: RequestData["decision"]["action"] = "allow"): RequestData {
  return postgresRequest(text, { action, policy: "read-only", rule: "selects" }, { summary: "SELECT", fingerprint: "abc" });
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "portcullis-spool-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openSpool(dir: string, maxBytes = 1 << 20, observer?: SpoolObserver): Promise<EvidenceSpool> {
  const spool = await EvidenceSpool.open({ dir, maxBytes, observer });
  cleanups.push(() => spool.close());
  return spool;
}

async function recordsIn(file: string): Promise<EvidenceRecord[]> {
  const parsed = parseSpoolText(await readFile(file, "utf8"));
  expect(parsed.problems).toEqual([]);
  expect(parsed.partialLastLine).toBeNull();
  return parsed.records;
}

/** A PID no process has: a child that already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

describe("EvidenceSpool sessions", () => {
  it("writes a session and marks it complete by renaming on end", async () => {
    const dir = await tempDir();
    const spool = await openSpool(dir);
    const session = await spool.startSession({ data: START });
    expect(session.session).toMatch(SESSION_ID_PATTERN);
    const open = path.join(dir, `${session.session}.jsonl`);
    // An append resolves once its line is in the file.
    const denied = await session.append("request", statement("DELETE FROM orders", "deny"));
    const allowed = await session.append("request", statement("SELECT * FROM orders"));
    expect((await recordsIn(open)).map((r) => r.seq)).toEqual([1, 2, 3]);
    await session.append("result", { request: allowed.seq, masked: { "orders.email": 3 }, durationMs: 1.5, postgres: { rowsReturned: 3, commandTags: ["SELECT 3"] } });
    await session.append("result", { request: denied.seq, masked: {}, error: { code: "42501", message: "denied" }, durationMs: 0, postgres: { rowsReturned: 0, commandTags: [] } });
    expect(await spool.listSessions()).toEqual([{ session: session.session, file: open, closed: false, bytes: (await stat(open)).size }]);

    const end = await session.end({ reason: "client-terminated" });

    const closed = path.join(dir, `${session.session}.closed.jsonl`);
    expect(await spool.listSessions()).toEqual([{ session: session.session, file: closed, closed: true, bytes: (await stat(closed)).size }]);
    const records = await recordsIn(closed);
    expect(records.map((r) => r.type)).toEqual(["session-start", "request", "request", "result", "result", "session-end"]);
    expect(records[0]?.data).toEqual(START);
    expect(end.data).toMatchObject({ reason: "client-terminated", counts: { requests: 2, denied: 1, results: 2, errors: 1, approvals: 0 } });
    expect(verifyChain(records)).toEqual({ ok: true, head: end.hash, count: 6 });
    expect(session.lastHash).toBe(end.hash);
    expect(spool.usedBytes()).toBe((await stat(closed)).size);
  });

  it("keeps call order for appends that are not awaited", async () => {
    const spool = await openSpool(await tempDir());
    const session = await spool.startSession({ data: START });
    const appended = await Promise.all(Array.from({ length: 200 }, (_, i) => session.append("request", statement(`SELECT ${i}`))));
    expect(appended.map((r) => r.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 2));
    await session.end({ reason: "client-terminated" });
    const records = await recordsIn(path.join(spool.dir, `${session.session}.closed.jsonl`));
    expect(records.slice(1, -1).map((r) => (r.data.postgres as { text: string }).text)).toEqual(Array.from({ length: 200 }, (_, i) => `SELECT ${i}`));
    expect(verifyChain(records)).toMatchObject({ ok: true, count: 202 });
  });

  it("keeps the sessions of one spool apart, each with its own chain", async () => {
    const spool = await openSpool(await tempDir());
    const [a, b] = await Promise.all([spool.startSession({ data: START }), spool.startSession({ data: START })]);
    if (a === undefined || b === undefined) throw new Error("no sessions");
    await Promise.all([a.append("request", statement("SELECT 'a'")), b.append("request", statement("SELECT 'b'"))]);
    await Promise.all([a.end({ reason: "client-terminated" }), b.end({ reason: "client-terminated" })]);
    const sessions = await spool.listSessions();
    expect(sessions.map((s) => s.session)).toEqual([a.session, b.session].sort());
    for (const entry of sessions) expect(verifyChain(await recordsIn(entry.file))).toMatchObject({ ok: true, count: 3 });
  });

  it("refuses unusable and duplicate session names", async () => {
    const spool = await openSpool(await tempDir());
    await expect(spool.startSession({ session: "../escape", data: START })).rejects.toThrow('"../escape" cannot name a session');
    await expect(spool.startSession({ session: "a.closed", data: START })).rejects.toThrow("cannot name a session");
    const first = await spool.startSession({ session: "fixed-1", data: START });
    await expect(spool.startSession({ session: "fixed-1", data: START })).rejects.toThrow("already holds a session fixed-1");
    await first.end({ reason: "client-terminated" });
    await expect(spool.startSession({ session: "fixed-1", data: START })).rejects.toThrow("already holds a session fixed-1");
  });

  it("tells the observer about records and bytes", async () => {
    const seen = { records: 0, bytes: -1 };
    const observer: SpoolObserver = { recordWritten: () => (seen.records += 1), usedBytesChanged: (bytes) => (seen.bytes = bytes) };
    const spool = await openSpool(await tempDir(), 1 << 20, observer);
    expect(seen).toEqual({ records: 0, bytes: 0 });
    const session = await spool.startSession({ data: START });
    await session.append("request", statement("SELECT 1"));
    expect(seen).toEqual({ records: 2, bytes: spool.usedBytes() });
    await session.end({ reason: "client-terminated" });
    await spool.remove(session.session);
    expect(seen).toEqual({ records: 3, bytes: 0 });
  });
});

describe("EvidenceSpool limits and removal", () => {
  it("refuses new sessions when full, and accepts them again once uploads are removed", async () => {
    const dir = await tempDir();
    const spool = await openSpool(dir, 1);
    const first = await spool.startSession({ data: START });
    // Sessions already running continue past the limit.
    await first.append("request", statement("SELECT 1"));
    const used = spool.usedBytes();
    const refusal = spool.startSession({ data: START });
    await expect(refusal).rejects.toBeInstanceOf(SpoolFullError);
    await expect(refusal).rejects.toThrow(
      `the evidence spool at ${dir} holds ${used} bytes of evidence not yet uploaded (limit 1), so new sessions are refused until the evidence store accepts uploads`,
    );
    await first.end({ reason: "client-terminated" });
    await spool.remove(first.session);
    expect(spool.usedBytes()).toBe(0);
    expect(await spool.listSessions()).toEqual([]);
    await expect(spool.startSession({ data: START })).resolves.toBeDefined();
  });

  it("removes only complete sessions it holds", async () => {
    const spool = await openSpool(await tempDir());
    const open = await spool.startSession({ data: START });
    const done = await spool.startSession({ data: START });
    await done.end({ reason: "client-terminated" });
    const before = spool.usedBytes();
    const doneBytes = (await spool.listSessions()).find((s) => s.session === done.session)?.bytes ?? 0;
    await expect(spool.remove(open.session)).rejects.toThrow(`session ${open.session} is still being recorded`);
    await expect(spool.remove("NOPE")).rejects.toThrow("holds no complete session NOPE");
    await expect(spool.remove("../x")).rejects.toThrow("is not a session name");
    await spool.remove(done.session);
    expect(spool.usedBytes()).toBe(before - doneBytes);
    expect((await spool.listSessions()).map((s) => s.session)).toEqual([open.session]);
  });

  it("rejects a limit that is not a positive number of bytes", async () => {
    const dir = await tempDir();
    for (const maxBytes of [0, -1, 1.5, Number.NaN]) {
      await expect(EvidenceSpool.open({ dir, maxBytes })).rejects.toThrow("must be a positive number of bytes");
    }
  });
});

describe("EvidenceSpool ownership and shutdown", () => {
  it("creates its directory private to the gateway", async () => {
    const dir = path.join(await tempDir(), "nested", "spool");
    await openSpool(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it("refuses a directory another spool or live process writes", async () => {
    const dir = await tempDir();
    const spool = await openSpool(dir);
    const second = EvidenceSpool.open({ dir, maxBytes: 1 });
    await expect(second).rejects.toBeInstanceOf(SpoolLockedError);
    await expect(second).rejects.toThrow("in use by another spool of this process");
    await spool.close();
    await writeFile(path.join(dir, "writer.lock"), JSON.stringify({ pid: process.ppid }));
    await expect(EvidenceSpool.open({ dir, maxBytes: 1 })).rejects.toThrow(`in use by another gateway process (pid ${process.ppid})`);
  });

  it("ends open sessions on close and lets the directory be opened again", async () => {
    const dir = await tempDir();
    const spool = await openSpool(dir);
    const session = await spool.startSession({ data: START });
    await spool.close();
    const records = await recordsIn(path.join(dir, `${session.session}.closed.jsonl`));
    expect(records.at(-1)?.data.reason).toBe("gateway-stopped");
    await expect(spool.startSession({ data: START })).rejects.toThrow("is closed");
    const again = await openSpool(dir);
    expect(again.recovered).toEqual([]);
    expect(await readdir(dir)).toContain("writer.lock");
  });
});

describe("EvidenceSpool recovery after a crash", () => {
  /** The files a gateway leaves when killed: its open session files as they were, and its lock. */
  async function crashState(): Promise<{ dir: string; source: EvidenceSpool; crashed: string; ended: string; lone: string }> {
    const source = await openSpool(await tempDir());
    const dir = await tempDir();
    const crashed = await source.startSession({ data: START });
    await crashed.append("request", statement("UPDATE orders SET x = 1", "deny"));
    await crashed.append("request", statement("SELECT 1"));
    await copyFile(path.join(source.dir, `${crashed.session}.jsonl`), path.join(dir, `${crashed.session}.jsonl`));
    await appendFile(path.join(dir, `${crashed.session}.jsonl`), '{"v":1,"session":"half a li');
    // Killed after writing the session-end but before the rename.
    const ended = await source.startSession({ data: START });
    await ended.end({ reason: "client-terminated" });
    await copyFile(path.join(source.dir, `${ended.session}.closed.jsonl`), path.join(dir, `${ended.session}.jsonl`));
    // Killed while writing the session-start: nothing complete.
    const lone = "LONE";
    await writeFile(path.join(dir, `${lone}.jsonl`), '{"v":1,"seq');
    await writeFile(path.join(dir, "writer.lock"), JSON.stringify({ pid: deadPid() }));
    return { dir, source, crashed: crashed.session, ended: ended.session, lone };
  }

  it("seals every session the dead process left open", async () => {
    const { dir, crashed, ended, lone } = await crashState();
    const endedBefore = await readFile(path.join(dir, `${ended}.jsonl`), "utf8");
    const spool = await openSpool(dir);

    expect([...spool.recovered].sort((a, b) => a.session.localeCompare(b.session))).toEqual(
      [
        { session: crashed, outcome: "ended", discardedBytes: 27 },
        { session: ended, outcome: "already-ended", discardedBytes: 0 },
        { session: lone, outcome: "removed-empty", discardedBytes: 11 },
      ].sort((a, b) => a.session.localeCompare(b.session)),
    );
    const records = await recordsIn(path.join(dir, `${crashed}.closed.jsonl`));
    expect(records.map((r) => r.type)).toEqual(["session-start", "request", "request", "session-end"]);
    expect(records[3]?.data).toMatchObject({ reason: "gateway-restarted", discardedBytes: 27, counts: { requests: 2, denied: 1 } });
    expect(verifyChain(records)).toMatchObject({ ok: true, count: 4 });
    expect(await readFile(path.join(dir, `${ended}.closed.jsonl`), "utf8")).toBe(endedBefore);
    const sessions = await spool.listSessions();
    expect(sessions.every((s) => s.closed)).toBe(true);
    expect(sessions.map((s) => s.session).sort()).toEqual([crashed, ended].sort());
    expect(spool.usedBytes()).toBe(sessions.reduce((sum, s) => sum + s.bytes, 0));
  });

  it("takes over a lock with its own PID, which a restarted container reuses", async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, "writer.lock"), JSON.stringify({ pid: process.pid }));
    await expect(openSpool(dir)).resolves.toBeInstanceOf(EvidenceSpool);
  });

  it("marks a corrupt session complete as it is, without extending its chain", async () => {
    const { dir, source, crashed } = await crashState();
    const file = path.join(dir, `${crashed}.jsonl`);
    const lines = (await readFile(file, "utf8")).split("\n");
    const edited = JSON.parse(lines[1] ?? "{}") as EvidenceRecord;
    lines[1] = JSON.stringify({ ...edited, data: { ...edited.data, text: "SELECT 'harmless'" } });
    await writeFile(file, lines.join("\n"));
    await source.close();

    const spool = await openSpool(dir);
    expect(spool.recovered.find((r) => r.session === crashed)).toEqual({
      session: crashed,
      outcome: "left-corrupt",
      discardedBytes: 27,
      problem: "record 2: hash does not match the record's content (the record was edited)",
    });
    const parsed = parseSpoolText(await readFile(path.join(dir, `${crashed}.closed.jsonl`), "utf8"));
    expect(parsed.records.map((r) => r.type)).toEqual(["session-start", "request", "request"]);
  });

  it("does not accept a file named for one session holding another", async () => {
    const source = await openSpool(await tempDir());
    const dir = await tempDir();
    const session = await source.startSession({ data: START });
    await copyFile(path.join(source.dir, `${session.session}.jsonl`), path.join(dir, "OTHER.jsonl"));
    const spool = await openSpool(dir);
    expect(spool.recovered).toEqual([
      { session: "OTHER", outcome: "left-corrupt", discardedBytes: 0, problem: expect.stringContaining(`record of session ${session.session}`) },
    ]);
  });

  it("leaves complete sessions and foreign files alone", async () => {
    const dir = await tempDir();
    const complete = `${recordLine({ v: 1, session: "X", seq: 1, time: "2026-11-25T10:00:00.000Z", type: "session-start", data: {}, prev: GENESIS_HASH, hash: GENESIS_HASH })}`;
    await writeFile(path.join(dir, "X.closed.jsonl"), complete);
    await writeFile(path.join(dir, "notes.txt"), "not evidence");
    const spool = await openSpool(dir);
    expect(spool.recovered).toEqual([]);
    expect(await readFile(path.join(dir, "X.closed.jsonl"), "utf8")).toBe(complete);
    expect(spool.usedBytes()).toBe(Buffer.byteLength(complete));
  });
});

describe("EvidenceSpool's directory", () => {
  it("creates missing parents, and refuses at once a path it cannot make or that is not a directory", async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), "spool-dir-"));
    try {
      const nested = path.join(base, "a", "b", "spool");
      const spool = await EvidenceSpool.open({ dir: nested, maxBytes: 1024 });
      await spool.close();
      expect((await stat(nested)).isDirectory()).toBe(true);
      const file = path.join(base, "file");
      await writeFile(file, "x");
      await expect(EvidenceSpool.open({ dir: file, maxBytes: 1024 })).rejects.toThrow(/the evidence spool path .* is not a directory/);
      await expect(EvidenceSpool.open({ dir: "/proc/portcullis-spool/x", maxBytes: 1024 })).rejects.toThrow(/the evidence spool directory \/proc\/portcullis-spool cannot be created/);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
