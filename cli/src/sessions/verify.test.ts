// `portcullis sessions verify` on a filesystem store holding a session the
// sidecar's spool recorded, stored as the uploader stores it, then tampered
// with the ways an attacker with write access to the bucket could.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey } from "node:crypto";
import { mkdtemp, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { capturedIo } from "../captured-io.js";
import { run } from "../run.js";
import { keyFingerprint } from "./manifest.js";
import { signManifest } from "@portcullis/common/evidence/manifest";
import { newSigningKey, recordSession, resealRecords, storeSession, writeStoreFile, type StoredSession } from "./test-fixtures.js";

let work: string;
let records: EvidenceRecord[];
const uploader = newSigningKey();
const forger = newSigningKey();
let uploaderKeyFile: string;
let cases = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-cli-verify-"));
  records = await recordSession(join(work, "spool"));
  uploaderKeyFile = join(work, "uploader.pub.pem");
  await writeFile(uploaderKeyFile, uploader.publicKeyPem);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/**
 * A store of its own for each case, holding the session in chunks of 3, 4 and the rest (3 chunks); its store file
 * names the uploader's public key, as an auditor's would.
 */
async function freshStore(stored: readonly EvidenceRecord[] = records, privateKey = uploader.privateKey, complete = true): Promise<{ storeFile: string; session: StoredSession }> {
  cases += 1;
  const path = join(work, `store-${cases}`);
  const session = await storeSession(stored, { path, prefix: "evidence/prod", chunkSizes: [3, 4], privateKey, complete });
  return { storeFile: await writeStoreFile(join(work, `store-${cases}.yaml`), path, "evidence/prod", uploader.publicKeyPem), session };
}

/** The manifest the uploader signed when only `count` records were uploaded (chunks of 3 and 4), as JSON. */
async function earlierManifest(count: number): Promise<string> {
  const { session } = await freshStore(records.slice(0, count), uploader.privateKey, false);
  return readFile(join(session.dir, "manifest.json"), "utf8");
}

async function verify(storeFile: string, session: StoredSession, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = capturedIo();
  const code = await run(["sessions", "verify", session.location.session, "--store-file", storeFile, ...extra], captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

const fingerprint = (pem: string): string => keyFingerprint(createPublicKey(pem));

async function rewriteChunk(dir: string, name: string, edit: (lines: string[]) => string[]): Promise<void> {
  const lines = gunzipSync(await readFile(join(dir, name))).toString("utf8").split("\n").slice(0, -1);
  await writeFile(join(dir, name), gzipSync(`${edit(lines).join("\n")}\n`));
}

describe("sessions verify", () => {
  it("verifies an intact session, naming how it ended, the head and the key", async () => {
    const { storeFile, session } = await freshStore();
    const last = records[records.length - 1];
    const expected = `verified: ${records.length} records, ended client-terminated at ${last?.time}, head ${last?.hash}, signed by ${fingerprint(uploader.publicKeyPem)}\n`;
    expect(await verify(storeFile, session, ["--public-key", uploaderKeyFile])).toEqual({ code: 0, stdout: expected, stderr: "" });
    // The store file's publicKey is the default key.
    expect(await verify(storeFile, session)).toEqual({ code: 0, stdout: expected, stderr: "" });
  });

  it("gives no verdict without a key it can trust: the key a manifest carries proves nothing", async () => {
    const { session } = await freshStore();
    const bare = await writeStoreFile(join(work, `store-${cases}-bare.yaml`), join(work, `store-${cases}`), "evidence/prod");
    const result = await verify(bare, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(`error: cannot check who signed session ${session.location.session}'s manifest, so it is not verified: give the uploader's public key with --public-key FILE`);
  });

  it("fails a session whose manifest is not final, unless a live session is asked for", async () => {
    const { storeFile, session } = await freshStore(records.slice(0, 7), uploader.privateKey, false);
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "problem: the manifest is not final: it lists 7 records and no session-end (a session still recording, or a manifest from before the session ended put back); --allow-incomplete verifies a live session as far as it goes\n",
    );
    const live = await verify(storeFile, session, ["--allow-incomplete"]);
    expect(live).toEqual({
      code: 0,
      stdout: `verified as far as it goes: 7 records of a session that has not ended (--allow-incomplete), head ${records[6]?.hash}, signed by ${fingerprint(uploader.publicKeyPem)}\n`,
      stderr: "",
    });
  });

  it("detects a rollback: an earlier signed manifest put back, the later chunk left in the store", async () => {
    const { storeFile, session } = await freshStore();
    await writeFile(join(session.dir, "manifest.json"), await earlierManifest(7));
    for (const extra of [[], ["--allow-incomplete"]]) {
      const result = await verify(storeFile, session, extra);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("problem: the store holds chunk 000003.jsonl.gz, which the manifest does not list: records were cut off the session (a manifest from before they were uploaded put back?)\n");
    }
  });

  it("detects a rollback with the later chunk deleted too: the manifest is not final", async () => {
    const { storeFile, session } = await freshStore();
    await writeFile(join(session.dir, "manifest.json"), await earlierManifest(7));
    await unlink(join(session.dir, "000003.jsonl.gz"));
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout.split("\n").filter((line) => line.startsWith("problem: "))).toEqual([expect.stringMatching(/^problem: the manifest is not final: it lists 7 records/)]);
  });

  it("detects one edited record: the chunk's sha256 and the record's hash", async () => {
    const { storeFile, session } = await freshStore();
    await rewriteChunk(session.dir, "000002.jsonl.gz", (lines) => lines.map((line) => line.replace("$1 = '1'", "$1 = '2'")));
    const result = await verify(storeFile, session, ["--public-key", uploaderKeyFile]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^problem: chunk 000002\.jsonl\.gz: its sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64} \(the object was changed or replaced\)$/m);
    expect(result.stdout).toContain("problem: chunk 000002.jsonl.gz: record 4: hash does not match the record's content (the record was edited)\n");
    expect(result.stdout).toMatch(/not verified: session \w+ has 2 problems\n$/);
  });

  it("detects a deleted chunk", async () => {
    const { storeFile, session } = await freshStore();
    await unlink(join(session.dir, "000002.jsonl.gz"));
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("problem: chunk 000002.jsonl.gz (records 4-7) is missing from the store\n");
  });

  it("detects two chunks swapped", async () => {
    const { storeFile, session } = await freshStore();
    await rename(join(session.dir, "000001.jsonl.gz"), join(session.dir, "swap"));
    await rename(join(session.dir, "000002.jsonl.gz"), join(session.dir, "000001.jsonl.gz"));
    await rename(join(session.dir, "swap"), join(session.dir, "000002.jsonl.gz"));
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    const problems = result.stdout.split("\n").filter((line) => line.startsWith("problem: "));
    expect(problems).toEqual([
      expect.stringMatching(/^problem: chunk 000001\.jsonl\.gz: its sha256 is/),
      "problem: chunk 000001.jsonl.gz: holds records 4-7, the manifest says records 1-3 (a chunk from elsewhere?)",
      expect.stringMatching(/^problem: chunk 000002\.jsonl\.gz: its sha256 is/),
      "problem: chunk 000002.jsonl.gz: holds records 1-3, the manifest says records 4-7 (a chunk from elsewhere?)",
    ]);
  });

  it("detects a record removed from inside a chunk and the manifest re-signed with another key", async () => {
    // The forger re-gzips the chunk and writes a manifest whose sha256 and seqs match it, signed with their own key.
    const { storeFile, session } = await freshStore(records.filter((record) => record.seq !== 5), forger.privateKey);
    const withKey = await verify(storeFile, session, ["--public-key", uploaderKeyFile]);
    expect(withKey.code).toBe(1);
    expect(withKey.stdout).toContain(
      `problem: the manifest's signature does not verify with the public key in ${uploaderKeyFile} (${fingerprint(uploader.publicKeyPem)}); the manifest names another key, ${fingerprint(forger.publicKeyPem)}, which did sign it\n`,
    );
    expect(withKey.stdout).toContain("problem: chunk 000002.jsonl.gz: record 5: record 5 missing (deleted?)\n");
  });

  it("detects a rewritten chain re-signed with another key by the signature alone, naming the key that signed it", async () => {
    const { storeFile, session } = await freshStore(resealRecords(records.filter((record) => record.seq !== 5)), forger.privateKey);
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout.split("\n").filter((line) => line.startsWith("problem: "))).toEqual([
      `problem: the manifest's signature does not verify with the public key in ${storeFile}'s publicKey (${fingerprint(uploader.publicKeyPem)}); the manifest names another key, ${fingerprint(forger.publicKeyPem)}, which did sign it`,
    ]);
  });

  it("detects a manifest changed after signing", async () => {
    const { storeFile, session } = await freshStore();
    await writeFile(join(session.dir, "manifest.json"), JSON.stringify({ ...session.manifest, resource: "billing-db" }));
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`problem: the manifest's signature does not verify with the public key in ${storeFile}'s publicKey (${fingerprint(uploader.publicKeyPem)})\n`);
  });

  it("detects records cut off the end with a re-signed manifest that says complete", async () => {
    const { storeFile, session } = await freshStore(records.slice(0, -1), forger.privateKey);
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("problem: the manifest says the session is complete, but its last record is a result, not a session-end (records cut off the end?)\n");
  });

  it("detects chunks reordered in a re-signed manifest", async () => {
    const { storeFile, session } = await freshStore();
    const [first, second, third] = session.manifest.chunks;
    if (first === undefined || second === undefined || third === undefined) throw new Error("the fixture has three chunks");
    await writeFile(join(session.dir, "manifest.json"), JSON.stringify(signManifest({ ...session.manifest, chunks: [first, third, second] }, forger.privateKey)));
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("problem: the manifest lists 000003.jsonl.gz where 000002.jsonl.gz belongs\n");
    expect(result.stdout).toContain("problem: chunk 000003.jsonl.gz starts at record 8, but the end of 000001.jsonl.gz is followed by record 4\n");
  });

  it("refuses a chunk built to exhaust the reader: a decompression bomb, a record nested past any stack", async () => {
    const { storeFile, session } = await freshStore();
    await writeFile(join(session.dir, "000002.jsonl.gz"), gzipSync(Buffer.alloc(70 * 1_048_576)));
    const deep = `{"v":1,"session":"${session.location.session}","seq":8,"time":"2026-11-25T10:00:00.000Z","type":"result","data":{"x":${"[".repeat(200_000)}${"]".repeat(200_000)}},"prev":"${records[6]?.hash}","hash":"${records[7]?.hash}"}`;
    await writeFile(join(session.dir, "000003.jsonl.gz"), gzipSync(`${deep}\n`));
    const result = await verify(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe("");
    expect(result.stdout).toMatch(/^problem: chunk 000002\.jsonl\.gz: cannot be decompressed within 64 MiB \(/m);
    expect(result.stdout).toMatch(/^problem: chunk 000003\.jsonl\.gz: /m);
  });

  it("refuses a store file whose publicKey is not its signingKey's", async () => {
    const { session } = await freshStore();
    const file = join(work, `store-${cases}-two-keys.yaml`);
    await writeFile(file, `${await readFile(join(work, `store-${cases}.yaml`), "utf8")}signingKey: |\n${forger.privateKey.export({ type: "pkcs8", format: "pem" }).toString().trimEnd().replace(/^/gm, "  ")}\n`);
    const result = await verify(file, session);
    expect(result).toMatchObject({ code: 1, stdout: "", stderr: `error: ${file}: publicKey is not the public half of signingKey; name one key\n` });
  });

  it("reports a manifest that is not one, without a stack", async () => {
    const { storeFile, session } = await freshStore();
    await writeFile(join(session.dir, "manifest.json"), JSON.stringify({ ...session.manifest, chunks: [{ name: "../../x" }] }));
    const result = await verify(storeFile, session);
    expect(result).toEqual({ code: 1, stdout: "", stderr: `error: session agents/report-bot-0/${session.location.session} in ${join(work, `store-${cases}`)}/evidence/prod: chunks[0].name is missing or malformed\n` });
  });

  it("reports a session that is not there", async () => {
    const { storeFile } = await freshStore();
    const captured = capturedIo();
    expect(await run(["sessions", "verify", "01JD3Q0000000000000000000A", "--store-file", storeFile], captured.io)).toBe(1);
    expect(captured.stderr()).toBe(`error: no session 01JD3Q0000000000000000000A in ${join(work, `store-${cases}`)}/evidence/prod\n`);
  });

  it("prints a JSON report with -o json", async () => {
    const { storeFile, session } = await freshStore();
    await unlink(join(session.dir, "000003.jsonl.gz"));
    const result = await verify(storeFile, session, ["-o", "json"]);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, complete: true, records: 11, recordsChecked: 7, key: { fingerprint: fingerprint(uploader.publicKeyPem) }, problems: ["chunk 000003.jsonl.gz (records 8-11) is missing from the store"] });
  });
});
