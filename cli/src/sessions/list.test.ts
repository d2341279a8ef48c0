// `portcullis sessions list` over a filesystem store with sessions of two
// pods, two Resources and three start times, and one unreadable manifest.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { capturedIo } from "../captured-io.js";
import { run } from "../run.js";
import { sessionStartTime } from "./list.js";
import { newSigningKey, recordSession, storeSession, writeStoreFile } from "./test-fixtures.js";

let work: string;
let storeFile: string;
const ids: Record<string, string> = {};
const NOW = new Date("2026-11-25T12:00:00.000Z");

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-cli-list-"));
  const { privateKey } = newSigningKey();
  const sessions = [
    { name: "old", start: new Date("2026-11-24T09:00:00.000Z"), pod: "report-bot-0", resource: "orders-db" },
    { name: "recent", start: new Date("2026-11-25T11:30:00.000Z"), pod: "report-bot-0", resource: "orders-db" },
    { name: "billing", start: new Date("2026-11-25T11:45:00.000Z"), pod: "report-bot-1", resource: "billing-db" },
  ];
  for (const { name, ...options } of sessions) {
    const records = await recordSession(join(work, `spool-${name}`), options);
    const stored = await storeSession(name === "recent" ? records.slice(0, 4) : records, { path: join(work, "store"), chunkSizes: [5], privateKey, complete: name !== "recent" });
    ids[name] = stored.location.session;
  }
  await mkdir(join(work, "store", "agents", "report-bot-1", "BROKEN"), { recursive: true });
  await writeFile(join(work, "store", "agents", "report-bot-1", "BROKEN", "manifest.json"), "{");
  storeFile = await writeStoreFile(join(work, "store.yaml"), join(work, "store"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function list(extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = capturedIo({ now: NOW });
  const code = await run(["sessions", "list", "--store-file", storeFile, ...extra], captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe("sessions list", () => {
  it("lists every session oldest first, and skips an unreadable manifest with a warning", async () => {
    const result = await list([]);
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")).toEqual([
      "SESSION                      NAMESPACE   POD            RESOURCE     STARTED                RECORDS   COMPLETE",
      `${ids.old}   agents      report-bot-0   orders-db    2026-11-24T09:00:00Z   11        yes`,
      `${ids.recent}   agents      report-bot-0   orders-db    2026-11-25T11:30:00Z   4         no`,
      `${ids.billing}   agents      report-bot-1   billing-db   2026-11-25T11:45:00Z   11        yes`,
      "",
    ]);
    expect(result.stderr).toBe("warning: skipping agents/report-bot-1/BROKEN/manifest.json: the manifest is not JSON\n");
  });

  it.each([
    [["--pod", "report-bot-1"], ["billing"]],
    [["--namespace", "agents", "--pod", "report-bot-0"], ["old", "recent"]],
    [["--namespace", "elsewhere"], []],
    [["--resource", "orders-db"], ["old", "recent"]],
    [["--since", "1h"], ["recent", "billing"]],
    [["--since", "2026-11-25T11:40:00Z"], ["billing"]],
    [["--until", "2026-11-25T11:40:00Z"], ["old", "recent"]],
    [["--since", "2d", "--until", "1h", "--resource", "orders-db"], ["old"]],
  ])("filters with %j", async (filters, expected) => {
    const result = await list([...filters, "-o", "json"]);
    expect(result.code).toBe(0);
    const { sessions } = JSON.parse(result.stdout) as { sessions: Array<{ session: string }> };
    expect(sessions.map((summary) => summary.session)).toEqual(expected.map((name) => ids[name]));
  });

  it("says on stderr when nothing matches", async () => {
    const result = await list(["--resource", "nothing"]);
    expect(result).toEqual({ code: 0, stdout: "", stderr: `warning: skipping agents/report-bot-1/BROKEN/manifest.json: the manifest is not JSON\nNo sessions found in ${join(work, "store")}.\n` });
  });
});

describe("sessionStartTime", () => {
  it("reads the time from a gateway session ID, and nothing from other names", () => {
    expect(sessionStartTime(ids.billing ?? "")?.toISOString()).toBe("2026-11-25T11:45:00.000Z");
    expect(sessionStartTime("my-session")).toBeUndefined();
  });
});
