import { afterAll, describe, expect, it } from "@jest/globals";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { chunkName } from "@portcullis/common/evidence/layout";
import { publicKeyPem, signManifest, type EvidenceManifest, type ManifestChunk } from "@portcullis/common/evidence/manifest";
import { linesOf, recordChain } from "./test-fixtures.js";
import { offsetAfterRecord, readUploadState, reconcileUpload, removeUploadState, uploadStatePath, writeUploadState, type ReconcileInput, type UploadState } from "./upload-state.js";

const SESSION = "01JD0000000000000000000000";
const DESTINATION = "s3://evidence/agents/bot-0/01JD0000000000000000000000/";
const { privateKey } = generateKeyPairSync("ed25519");
const PUBLIC_KEY = publicKeyPem(privateKey);
const hash = (c: string): string => `sha256:${c.repeat(64)}`;

function chunks(count: number): ManifestChunk[] {
  return Array.from({ length: count }, (_, i) => ({
    name: chunkName(i + 1),
    firstSeq: i * 10 + 1,
    lastSeq: i * 10 + 10,
    prev: i === 0 ? hash("0") : hash(String(i)),
    head: hash(String(i + 1)),
    sha256: String(i + 1).repeat(64),
    bytes: 100,
  }));
}

/** A manifest over the chunks, signed by this uploader's key after the overrides are applied. */
function manifest(list: ManifestChunk[], overrides: Partial<EvidenceManifest> = {}): EvidenceManifest {
  const last = list.at(-1);
  const unsigned = { version: 1 as const, session: SESSION, namespace: "agents", pod: "bot-0", resource: "orders-db", chunks: list, head: last?.head ?? hash("0"), records: last?.lastSeq ?? 0, complete: false, updatedAt: "2026-11-25T10:00:00.000Z" };
  return signManifest({ ...unsigned, ...overrides }, privateKey);
}

function state(list: ManifestChunk[], offset: number, destination = DESTINATION): UploadState {
  return { version: 1, session: SESSION, destination, chunks: list, offset, complete: false };
}

const input = (overrides: Partial<ReconcileInput>): ReconcileInput => ({ session: SESSION, destination: DESTINATION, publicKey: PUBLIC_KEY, state: undefined, manifest: undefined, ...overrides });

describe("reconcileUpload", () => {
  it("starts a session nobody uploaded from the beginning", () => {
    expect(reconcileUpload(input({}))).toEqual({ chunks: [], complete: false, offset: 0 });
  });

  it("resumes at the state's offset when state and manifest end at the same chunk", () => {
    expect(reconcileUpload(input({ state: state(chunks(2), 4096), manifest: manifest(chunks(2)) }))).toEqual({ chunks: chunks(2), complete: false, offset: 4096 });
  });

  it("follows the manifest when the state lags it (stopped after the manifest, before the state was written)", () => {
    expect(reconcileUpload(input({ state: state(chunks(1), 2048), manifest: manifest(chunks(2)) }))).toEqual({ chunks: chunks(2), complete: false, offset: undefined });
  });

  it("follows the manifest when there is no state (the spool directory's state file was lost)", () => {
    expect(reconcileUpload(input({ manifest: manifest(chunks(3), { complete: true }) }))).toMatchObject({ chunks: chunks(3), complete: true, offset: undefined });
  });

  it("follows the manifest, saying so, when the state is ahead of it", () => {
    const resumed = reconcileUpload(input({ state: state(chunks(3), 9000), manifest: manifest(chunks(2)) }));
    expect(resumed).toMatchObject({ chunks: chunks(2), offset: undefined });
    expect(resumed.note).toContain("lists 2 chunks where 3 were uploaded before");
  });

  it("ignores a state made for another destination", () => {
    expect(reconcileUpload(input({ state: state(chunks(2), 4096, "file:///elsewhere/"), manifest: manifest(chunks(2)) }))).toMatchObject({ offset: undefined });
    expect(reconcileUpload(input({ state: state(chunks(2), 4096, "file:///elsewhere/") }))).toEqual({ chunks: [], complete: false, offset: 0 });
  });

  it("starts again, saying so, when the store lost the manifest of chunks it had", () => {
    const resumed = reconcileUpload(input({ state: state(chunks(2), 4096) }));
    expect(resumed).toMatchObject({ chunks: [], offset: 0 });
    expect(resumed.note).toContain("the store has no manifest for this session although 2 chunks were uploaded before");
  });

  const unusable: Array<[string, ReconcileInput["manifest"], string]> = [
    ["unreadable", "the manifest is not JSON", "cannot be read (the manifest is not JSON)"],
    ["another session's", manifest(chunks(1), { session: "01JDOTHER00000000000000000" }), "it belongs to session 01JDOTHER00000000000000000"],
    ["signed by another key", signManifest({ ...manifest(chunks(1)) }, generateKeyPairSync("ed25519").privateKey), "it is not signed with this store's signing key"],
    ["tampered with", { ...manifest(chunks(1)), records: 99 }, "it is not signed with this store's signing key"],
    ["with chunks out of order", manifest([...chunks(2)].reverse()), "chunk 1 is named 000002.jsonl.gz"],
    ["with a gap between chunks", manifest(chunks(2).map((chunk, i) => (i === 1 ? { ...chunk, firstSeq: 12 } : chunk))), "chunk 000002.jsonl.gz does not continue 000001.jsonl.gz"],
  ];
  it.each(unusable)("uploads again from the start over a manifest that is %s", (_name, stored, note) => {
    const resumed = reconcileUpload(input({ state: state(chunks(1), 2048), manifest: stored }));
    expect(resumed).toMatchObject({ chunks: [], complete: false, offset: 0 });
    expect(resumed.note).toContain(note);
  });
});

describe("offsetAfterRecord", () => {
  const records = recordChain(SESSION, 4);
  const content = Buffer.from(`${linesOf(records)}{"partial`);
  const lengthOf = (count: number): number => Buffer.byteLength(linesOf(records.slice(0, count)));

  it("finds the end of the record the manifest ends with", () => {
    expect(offsetAfterRecord(content, 3, records[2]?.hash ?? "")).toBe(lengthOf(3));
    expect(offsetAfterRecord(content, 6, records[5]?.hash ?? "")).toBe(lengthOf(6));
  });

  it("refuses when the record there is another one", () => {
    expect(offsetAfterRecord(content, 3, records[3]?.hash ?? "")).toBe("record 3 in the spool file is not the one the store's manifest ends with");
  });

  it("refuses when the spool holds fewer records than the manifest", () => {
    expect(offsetAfterRecord(content, 8, hash("a"))).toBe("the spool file holds 6 complete records, but the store's manifest lists 8");
  });

  it("matches a line that is no record by the hash of its bytes, as the chunk described it", () => {
    const corrupt = Buffer.from(`${linesOf(records.slice(0, 1))}garbage\n`);
    expect(offsetAfterRecord(corrupt, 2, `sha256:${createHash("sha256").update("garbage").digest("hex")}`)).toBe(corrupt.length);
    expect(offsetAfterRecord(corrupt, 2, hash("a"))).toBe("record 2 in the spool file is not the one the store's manifest ends with");
  });
});

describe("the state file", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  const tempDir = async (): Promise<string> => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "portcullis-upload-state-"));
    dirs.push(dir);
    return dir;
  };

  it("is written beside the session and read back; no temporary file stays", async () => {
    const dir = await tempDir();
    await writeUploadState(dir, state(chunks(2), 4096));
    expect(await readUploadState(dir, SESSION)).toEqual(state(chunks(2), 4096));
    expect(await readdir(dir)).toEqual([`${SESSION}.upload.json`]);
    await removeUploadState(dir, SESSION);
    expect(await readUploadState(dir, SESSION)).toBeUndefined();
  });

  const unreadable: Array<[string, string]> = [
    ["not JSON", "{"],
    ["another version", JSON.stringify({ ...state([], 0), version: 2 })],
    ["another session's", JSON.stringify({ ...state([], 0), session: "01JDOTHER00000000000000000" })],
    ["without an offset", JSON.stringify({ ...state([], 0), offset: "12" })],
  ];
  it.each(unreadable)("counts as absent when it is %s", async (_name, text) => {
    const dir = await tempDir();
    await writeFile(uploadStatePath(dir, SESSION), text);
    expect(await readUploadState(dir, SESSION)).toBeUndefined();
  });
});
