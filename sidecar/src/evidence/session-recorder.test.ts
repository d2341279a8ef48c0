// The recorder's failure handling, over a file handle that fails on demand
// (a full disk cannot be produced reliably in a test).
import { describe, expect, it } from "@jest/globals";
import type { FileHandle } from "node:fs/promises";
import { mkdtemp, open, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseSpoolText, verifyChain, type SessionStartData } from "@portcullis/common/evidence/record";
import { postgresRequest } from "@portcullis/common/evidence/test-fixtures";
import { EvidenceWriteError, SessionRecorder } from "./session-recorder.js";

const START: SessionStartData = {
  identity: { username: "system:serviceaccount:agents:bot", groups: [], serviceAccount: "bot", namespace: "agents", pod: "bot-0", claims: {} },
  resource: { name: "orders-db", namespace: "agents", protocol: "postgres" },
  client: { address: "127.0.0.1" },
  policies: ["read-only"],
};

/** Accepts `goodWrites` writes, then fails every write with ENOSPC. */
class FailingHandle {
  readonly lines: string[] = [];
  closed = false;
  constructor(private goodWrites: number) {}

  /** What the recorder calls to append (fs.writeSync's shape): bytes written, or a throw. */
  writeSync(data: Buffer, offset: number, length: number): number {
    if (this.goodWrites-- <= 0) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    this.lines.push(data.subarray(offset, offset + length).toString("utf8"));
    return length;
  }

  sync(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

/** Takes at most 7 bytes per write, as a write to a full pipe or a signal-interrupted write may. */
class ShortWriteHandle extends FailingHandle {
  override writeSync(data: Buffer, offset: number, length: number): number {
    return super.writeSync(data, offset, Math.min(length, 7));
  }
}

function recorder(handle: FailingHandle, finished: string[] = []): SessionRecorder {
  return new SessionRecorder(
    {
      session: "S1",
      handle: handle as unknown as FileHandle,
      writeSync: (data, offset, length) => handle.writeSync(data, offset, length),
      file: "/nonexistent/S1.jsonl",
      closedFile: "/nonexistent/S1.closed.jsonl",
      clock: () => new Date("2026-11-25T10:00:00.000Z"),
      onWritten: () => undefined,
      onFinished: (session) => finished.push(session),
    },
    START,
  );
}

const STATEMENT = postgresRequest("SELECT 1", { action: "allow" }, { summary: "SELECT", fingerprint: "f", tables: [] });

describe("SessionRecorder", () => {
  it("fails the append whose write fails and every append after it", async () => {
    const handle = new FailingHandle(2);
    const finished: string[] = [];
    const session = recorder(handle, finished);
    await expect(session.started).resolves.toMatchObject({ seq: 1 });
    // Called without awaiting, as the gateway may.
    const appends = [session.append("request", STATEMENT), session.append("request", STATEMENT), session.append("request", STATEMENT)];
    const outcomes = await Promise.allSettled(appends);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    const failure = (outcomes[1] as PromiseRejectedResult).reason as Error;
    expect(failure).toBeInstanceOf(EvidenceWriteError);
    expect(failure.message).toMatch(/evidence for session S1 could not be written \(ENOSPC.*\); the session must end/);
    expect((outcomes[2] as PromiseRejectedResult).reason).toBe(failure);
    await expect(session.append("request", STATEMENT)).rejects.toBe(failure);
    await expect(session.end({ reason: "evidence-write-failed" })).rejects.toBe(failure);
    expect(session.lastHash).toBe((JSON.parse(handle.lines[1] ?? "{}") as { hash?: string }).hash);
    expect(handle.closed).toBe(true);
    expect(finished).toEqual(["S1"]);
  });

  it("writes records in call order when appends are not awaited", async () => {
    const handle = new FailingHandle(1000);
    const session = recorder(handle);
    await Promise.all(Array.from({ length: 8 }, (_, i) => session.append("request", postgresRequest(`SELECT ${i}`))));
    const parsed = parseSpoolText(handle.lines.join(""));
    expect(parsed.records.map((record) => record.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(verifyChain(parsed.records)).toMatchObject({ ok: true });
  });

  it("fails only the append whose data JSON cannot hold, without using a seq", async () => {
    const handle = new FailingHandle(10);
    const session = recorder(handle);
    await expect(session.append("request", { ...STATEMENT, summary: 1n as unknown as string })).rejects.toThrow(/a request record for session S1 cannot be stored as JSON/);
    await expect(session.append("request", STATEMENT)).resolves.toMatchObject({ seq: 2 });
  });

  it("completes lines a write took only part of", async () => {
    const handle = new ShortWriteHandle(1000);
    const session = recorder(handle);
    await session.append("request", STATEMENT);
    const parsed = parseSpoolText(handle.lines.join(""));
    expect(parsed.partialLastLine).toBeNull();
    expect(verifyChain(parsed.records)).toMatchObject({ ok: true, count: 2 });
  });

  it("refuses appends once ending, and ends once", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "portcullis-recorder-"));
    try {
      const file = path.join(dir, "S1.jsonl");
      const session = new SessionRecorder(
        { session: "S1", handle: await open(file, "wx"), file, closedFile: path.join(dir, "S1.closed.jsonl"), clock: () => new Date(), onWritten: () => undefined, onFinished: () => undefined },
        START,
      );
      const first = session.end({ reason: "client-terminated" });
      expect(session.end({ reason: "other" })).toBe(first);
      await expect(session.append("request", STATEMENT)).rejects.toThrow("session S1 has ended");
      await expect(first).resolves.toMatchObject({ seq: 2, type: "session-end", data: { reason: "client-terminated" } });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
