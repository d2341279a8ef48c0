// `portcullis sessions audit` on a filesystem store holding three sessions of
// one pod, stored and put in the pod's ledger the way the uploader does, then
// tampered with the ways an attacker with write access to the store could:
// each way must be named, with exit 1.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { cp, mkdtemp, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { ledgerEntryName } from "@portcullis/common/evidence/ledger";
import { SessionLedgers, type EndedSession } from "@portcullis/sidecar/evidence/session-ledger";
import { FilesystemStore } from "@portcullis/sidecar/evidence/store/filesystem-store";
import type { StoreTarget } from "@portcullis/sidecar/evidence/store/store";
import { capturedIo } from "../captured-io.js";
import { run } from "../run.js";
import { newSigningKey, recordSession, storeSession, writeStoreFile, type StoredSession } from "./test-fixtures.js";

const uploader = newSigningKey();
const forger = newSigningKey();
const PREFIX = "evidence/prod";
let work: string;
let template: string;
const sessions: Array<{ records: EvidenceRecord[]; stored: StoredSession }> = [];
let cases = 0;

/** What the uploader puts in the ledger for a stored session. */
function ended(records: readonly EvidenceRecord[], stored: StoredSession): EndedSession {
  const last = records.at(-1) as EvidenceRecord;
  return { ...stored.location, records: last.seq, head: last.hash, end: { reason: "client-terminated", time: last.time } };
}

const ledgerTarget = (path: string, signer = uploader): StoreTarget => ({ store: new FilesystemStore(path), prefix: PREFIX, signingKey: signer.privateKey });

/** Stores the sessions and their ledger entries as the uploader would (chunks of 3 and 4 records, then the rest). */
async function storeAll(path: string, records: ReadonlyArray<readonly EvidenceRecord[]>, signer = uploader): Promise<StoredSession[]> {
  const ledgers = new SessionLedgers(() => undefined);
  const stored: StoredSession[] = [];
  for (const session of records) {
    const one = await storeSession(session, { path, prefix: PREFIX, chunkSizes: [3, 4], privateKey: signer.privateKey });
    await ledgers.append(ledgerTarget(path, signer), ended(session, one));
    stored.push(one);
  }
  return stored;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-cli-audit-"));
  template = join(work, "template");
  for (const [index, start] of ["2026-11-25T10:00:00.000Z", "2026-11-25T11:00:00.000Z", "2026-11-25T12:00:00.000Z"].entries()) {
    sessions.push({ records: await recordSession(join(work, `spool-${index}`), { start: new Date(start) }), stored: undefined as unknown as StoredSession });
  }
  const stored = await storeAll(template, sessions.map((session) => session.records));
  stored.forEach((one, index) => ((sessions[index] as { stored: StoredSession }).stored = one));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A copy of the intact store for one case, and a store file naming the uploader's key. */
async function freshStore(): Promise<{ path: string; storeFile: string }> {
  cases += 1;
  const path = join(work, `store-${cases}`);
  await cp(template, path, { recursive: true });
  return { path, storeFile: await writeStoreFile(join(work, `store-${cases}.yaml`), path, PREFIX, uploader.publicKeyPem) };
}

async function audit(storeFile: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = capturedIo();
  const code = await run(["sessions", "audit", "--store-file", storeFile, "-n", "agents", ...extra], captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

const problems = (stdout: string): string[] => stdout.split("\n").filter((line) => line.trimStart().startsWith("problem: ")).map((line) => line.trim());
const id = (index: number): string => sessions[index]?.stored.location.session ?? "";
const sessionPath = (path: string, index: number): string => join(path, PREFIX, "agents/report-bot-0", id(index));
const ledgerPath = (path: string, seq: number): string => join(path, PREFIX, "agents/report-bot-0/ledger", ledgerEntryName(seq));

describe("sessions audit", () => {
  it("verifies every session of the namespace and the pod's ledger", async () => {
    const { storeFile } = await freshStore();
    const result = await audit(storeFile);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n")[0]).toBe("pod agents/report-bot-0: 3 sessions, ledger of 3 entries");
    expect(result.stdout).toContain(`  verified agents/report-bot-0/${id(1)}: 11 records\n`);
    expect(result.stdout).toMatch(/audited: 3 sessions of 1 pod, signed by sha256:[0-9a-f]{64}\n$/);
  });

  const tampers: Array<[string, (path: string) => Promise<void>, RegExp[]]> = [
    [
      "a session deleted whole",
      (path) => rm(sessionPath(path, 1), { recursive: true }),
      [/^problem: session \w+ is in the ledger \(ended client-terminated at \S+ with 11 records, head sha256:[0-9a-f]{64}\) but not in the store \(deleted\?\)$/],
    ],
    [
      "a manifest put back from before the session ended, the later chunk deleted",
      async (path) => {
        const earlier = await storeSession((sessions[1] as { records: EvidenceRecord[] }).records.slice(0, 7), { path: join(path, "..", `earlier-${cases}`), prefix: PREFIX, chunkSizes: [3, 4], privateKey: uploader.privateKey, complete: false });
        await writeFile(join(sessionPath(path, 1), "manifest.json"), await readFile(join(earlier.dir, "manifest.json")));
        await unlink(join(sessionPath(path, 1), "000003.jsonl.gz"));
      },
      [/^problem: session \w+: the ledger says the session ended client-terminated at \S+ with 11 records, head \S+, but its manifest is not final and lists 7 records \(a manifest from before it ended put back\?\)$/],
    ],
    [
      "the ledger cut back by its last entry",
      (path) => unlink(ledgerPath(path, 3)),
      [/^problem: session \w+: the session ended \(client-terminated at \S+\) but its pod's ledger does not list it \(the ledger was cut back or replaced/],
    ],
    [
      "an entry removed from the middle of the ledger",
      (path) => unlink(ledgerPath(path, 2)),
      [
        /^problem: the ledger of agents\/report-bot-0, entry 000003\.json: it is entry 3 where entry 2 belongs \(entries removed or reordered\?\)$/,
        /^problem: session \w+: the session ended \(client-terminated at \S+\) but its pod's ledger does not list it/,
      ],
    ],
    [
      "an object written over the ledger's last entry, which the gateway continued after",
      async (path) => {
        await writeFile(ledgerPath(path, 3), "junk");
        const last = sessions[2] as { records: EvidenceRecord[]; stored: StoredSession };
        await new SessionLedgers(() => undefined).append(ledgerTarget(path), ended(last.records, last.stored));
      },
      [/^problem: the ledger of agents\/report-bot-0, entry 000003\.json: it is not JSON$/],
    ],
    [
      "an entry renamed to the last name an entry can have",
      (path) => rename(ledgerPath(path, 3), ledgerPath(path, 999_999_999_999_999)),
      [/^problem: the ledger of agents\/report-bot-0, entry 999999999999999\.json: it holds entry 3 \(renamed\?\)$/],
    ],
    [
      "an object in the ledger's folder not named as an entry",
      (path) => writeFile(join(path, PREFIX, "agents/report-bot-0/ledger/0000000000000000001.json"), "{}"),
      [/^problem: the ledger of agents\/report-bot-0 holds 0000000000000000001\.json, which is not named as a ledger entry$/],
    ],
    [
      "a session and its ledger entry deleted, the ledger re-signed by another key",
      async (path) => {
        await rm(join(path, PREFIX), { recursive: true });
        await storeAll(path, [0, 2].map((index) => (sessions[index] as { records: EvidenceRecord[] }).records), forger);
      },
      [
        /^problem: the ledger of agents\/report-bot-0, entry 000001\.json: its signature does not verify with the trusted key \(it names another key, sha256:[0-9a-f]{64}\)$/,
        /^problem: the ledger of agents\/report-bot-0, entry 000002\.json: its signature does not verify with the trusted key/,
        /^problem: session \w+: the manifest's signature does not verify with the public key in /,
        /^problem: session \w+: the manifest's signature does not verify with the public key in /,
      ],
    ],
  ];
  it.each(tampers)("names %s, and fails", async (_name, tamper, expected) => {
    const { path, storeFile } = await freshStore();
    await tamper(path);
    const result = await audit(storeFile);
    expect(result.code).toBe(1);
    expect(problems(result.stdout)).toEqual(expected.map((pattern) => expect.stringMatching(pattern)));
    expect(result.stdout).toMatch(/not verified: \d+ problems? in \d+ sessions of 1 pod\n$/);
  });

  it("audits a time range: sessions started in it, and the ledger's entries for them", async () => {
    const { path, storeFile } = await freshStore();
    await rm(sessionPath(path, 0), { recursive: true });
    const later = await audit(storeFile, ["--since", "2026-11-25T10:30:00Z"]);
    expect(later.code).toBe(0);
    expect(later.stdout).toContain("pod agents/report-bot-0: 2 sessions, ledger of 3 entries");
    const all = await audit(storeFile);
    expect(problems(all.stdout)).toEqual([expect.stringMatching(new RegExp(`^problem: session ${id(0)} is in the ledger`))]);
  });

  it("notes a session left unended long ago, without failing", async () => {
    const { path, storeFile } = await freshStore();
    const records = await recordSession(join(work, `spool-unended-${cases}`), { start: new Date("2026-11-23T09:00:00.000Z") });
    const unended = await storeSession(records.slice(0, -1), { path, prefix: PREFIX, chunkSizes: [3, 4], privateKey: uploader.privateKey, complete: false });
    const notes = (stdout: string): string[] => stdout.split("\n").filter((line) => line.trimStart().startsWith("note: ")).map((line) => line.trim());
    const result = await audit(storeFile);
    expect(result.code).toBe(0);
    expect(notes(result.stdout)).toEqual([
      expect.stringMatching(new RegExp(`^note: session ${unended.location.session}: it has not ended, and its manifest was last written 2d ago \\(2026-11-23T09:\\S+\\): its pod may have stopped before its gateway ended it`)),
    ]);
    expect(notes((await audit(storeFile, ["--unended-before", "3d"])).stdout)).toEqual([]);
    expect((await audit(storeFile, ["--unended-before", "soon"])).stderr).toMatch(/--unended-before takes a duration \(30m, 1h, 2d\) or an RFC 3339 time, not "soon"/);
  });

  it("gives no verdict without a key it can trust", async () => {
    const { path } = await freshStore();
    const bare = await writeStoreFile(join(work, `store-${cases}-bare.yaml`), path, PREFIX);
    const result = await audit(bare);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("error: cannot check who signed the sessions' manifests and ledgers, so it is not verified");
  });
});
