// The CLI reads what the real uploader writes: a session recorded by the
// sidecar's spool and uploaded by its EvidenceUploader into a filesystem
// store, in several chunks, is listed, replayed and verified with the
// uploader's public key.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { EvidenceSpool } from "@portcullis/sidecar/evidence/spool";
import { FilesystemStore } from "@portcullis/sidecar/evidence/store/filesystem-store";
import { EvidenceUploader } from "@portcullis/sidecar/evidence/uploader";
import { capturedIo } from "@portcullis/cli/captured-io";
import { run } from "@portcullis/cli/run";
import { newSigningKey, recordSession, writeStoreFile } from "@portcullis/cli/sessions/test-fixtures";

let work: string;
let records: EvidenceRecord[];
let storeFile: string;
let keyFile: string;
const key = newSigningKey();
const quiet = { info: (): void => undefined, warn: (): void => undefined, error: (): void => undefined };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-cli-uploaded-"));
  const spoolDir = join(work, "spool");
  records = await recordSession(spoolDir);
  const spool = await EvidenceSpool.open({ dir: spoolDir, maxBytes: 1 << 20 });
  try {
    const target = { store: new FilesystemStore(join(work, "store")), prefix: "evidence", signingKey: key.privateKey };
    // Small chunks, so the session spans several.
    const uploader = new EvidenceUploader({ spool, storeFor: () => target, intervalMs: 1_000, log: quiet, chunkBytes: 1_200 });
    const result = await uploader.pass();
    if (result.removed.length !== 1 || result.chunks < 3) throw new Error(`the uploader did not upload the session in several chunks: ${JSON.stringify(result)}`);
  } finally {
    await spool.close();
  }
  storeFile = await writeStoreFile(join(work, "store.yaml"), join(work, "store"), "evidence");
  keyFile = join(work, "uploader.pem");
  await writeFile(keyFile, key.publicKeyPem);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = capturedIo();
  const code = await run(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe("a session the uploader stored", () => {
  it("is listed", async () => {
    const result = await cli(["sessions", "list", "--store-file", storeFile, "-o", "json"]);
    expect(JSON.parse(result.stdout)).toEqual({
      sessions: [{ session: records[0]?.session, namespace: "agents", pod: "report-bot-0", resource: "orders-db", started: "2026-11-25T10:00:00.000Z", records: records.length, complete: true, updatedAt: expect.any(String) }],
    });
  });

  it("verifies against the uploader's key", async () => {
    const result = await cli(["sessions", "verify", records[0]?.session ?? "", "--store-file", storeFile, "--public-key", keyFile]);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(new RegExp(`^verified: ${records.length} records, ended client-terminated at \\S+, head ${records.at(-1)?.hash ?? ""}, signed by sha256:[0-9a-f]{64}\\n$`));
  });

  it("replays every record", async () => {
    const result = await cli(["sessions", "replay", records[0]?.session ?? "", "--store-file", storeFile, "--public-key", keyFile, "-o", "json"]);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { records: EvidenceRecord[] }).records).toEqual(records);
  });
});
