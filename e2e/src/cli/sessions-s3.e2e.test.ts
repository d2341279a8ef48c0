// `portcullis sessions` on a real S3 server (versitygw, over TLS with a
// private CA): a session recorded through the real spool and uploaded by the
// real uploader is listed, replayed and verified — from a store file and from
// the ConfigMap and Secret in the cluster — and a chunk overwritten in the
// bucket is caught.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { stringify } from "yaml";
import { evidenceFixture, recordingFor, startData, statement, type EvidenceFixture } from "../evidence/fixture.js";
import { controlPlane, kubectlOk } from "../jest/environment.js";
import { startS3, type RunningS3 } from "../s3/server.js";
import { portcullis } from "./portcullis-cli.js";

const NS = "cli-s3";
const BUCKET = "evidence";
const STATEMENTS = 30;
let s3: RunningS3;
let fixture: EvidenceFixture;
let work: string;
let session: string;
let storeFile: string;
let keyFile: string;

/** The map without `keys`: a store file holds no signing key, and one test leaves the CA out. */
const omit = (map: Record<string, string>, ...keys: string[]): Record<string, string> => Object.fromEntries(Object.entries(map).filter(([key]) => !keys.includes(key)));

async function bucketText(key: string): Promise<Buffer> {
  const object = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
}

beforeAll(async () => {
  s3 = await startS3({ tls: true });
  await s3.createBucket(BUCKET);
  const recording = recordingFor(s3, BUCKET, { prefix: "prod/pg", caBundle: s3.caPem ?? "" });
  fixture = await evidenceFixture(recording);
  const recorder = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
  for (let i = 1; i <= STATEMENTS; i += 1) await recorder.append("request", statement(i));
  await recorder.end({ reason: "client-terminated" });
  session = recorder.session;
  const result = await fixture.uploader({ chunkBytes: 4_000 }).pass();
  if (result.removed.length !== 1) throw new Error(`the uploader did not upload the session: ${JSON.stringify(result)}`);

  work = await mkdtemp(join(tmpdir(), "portcullis-cli-s3-"));
  storeFile = join(work, "store.yaml");
  await writeFile(storeFile, stringify({ ...recording.store, ...omit(recording.credentials ?? {}, "signingKey") }));
  keyFile = join(work, "uploader.pem");
  await writeFile(keyFile, fixture.publicKey.export({ type: "spki", format: "pem" }).toString());

  await kubectlOk(["apply", "-f", "-"], {
    stdin: [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "evidence-store", namespace: NS }, data: recording.store },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "evidence-store", namespace: NS }, stringData: recording.credentials },
    ]
      .map((object) => stringify(object))
      .join("---\n"),
  });
});

afterAll(async () => {
  await fixture?.close();
  await s3?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe("portcullis sessions on S3", () => {
  it("lists the session from a store file", async () => {
    const result = await portcullis(["sessions", "list", "--store-file", storeFile]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout.trimEnd().split("\n")[1]).toMatch(new RegExp(`^${session} +agents +bot-0 +orders-db +\\S+Z +${STATEMENTS + 2} +yes$`));
  });

  it("lists it from the ConfigMap and its credentials Secret in the cluster", async () => {
    const result = await portcullis(["sessions", "list", "--store-configmap", "evidence-store", "--store-namespace", NS, "--pod", "bot-0", "-o", "json"], { KUBECONFIG: controlPlane().state.adminKubeconfig });
    expect(result.stderr).toBe("");
    expect((JSON.parse(result.stdout) as { sessions: Array<{ session: string }> }).sessions.map((s) => s.session)).toEqual([session]);
  });

  it("verifies it against the uploader's key", async () => {
    const result = await portcullis(["sessions", "verify", session, "--store-file", storeFile, "--public-key", keyFile]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^verified: ${STATEMENTS + 2} records, ended client-terminated at \\S+, head sha256:[0-9a-f]{64}, signed by sha256:[0-9a-f]{64}\\n$`));
  });

  it("replays it, with progress per chunk on request", async () => {
    const result = await portcullis(["sessions", "replay", session, "--store-file", storeFile, "--public-key", keyFile, "--progress"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`#${STATEMENTS + 1}  request (postgres)\n    SELECT id, total FROM orders WHERE id = ${STATEMENTS} `);
    expect(result.stdout).toContain("    reason     client-terminated after");
    const progress = result.stderr.trimEnd().split("\n");
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)).toMatch(new RegExp(`^downloading chunk ${progress.length}/${progress.length}: (\\S+ \\S+) of \\1$`));
  });

  it("refuses the endpoint's certificate when the store does not name its CA", async () => {
    const untrusting = join(work, "no-ca.yaml");
    const recording = recordingFor(s3, BUCKET, { prefix: "prod/pg" });
    await writeFile(untrusting, stringify(omit({ ...recording.store, ...recording.credentials }, "caBundle", "signingKey")));
    const result = await portcullis(["sessions", "list", "--store-file", untrusting]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot list s3:\/\/evidence\/prod\/pg\/: .*certificate.*\n$/);
  });

  it("catches a chunk overwritten in the bucket", async () => {
    const key = `prod/pg/agents/bot-0/${session}/000002.jsonl.gz`;
    const original = await bucketText(key);
    const edited = gunzipSync(original).toString("utf8").replace(/WHERE id = (\d+)/, "WHERE id = 9$1");
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: gzipSync(edited) }));
    try {
      const result = await portcullis(["sessions", "verify", session, "--store-file", storeFile, "--public-key", keyFile]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain("problem: chunk 000002.jsonl.gz: its sha256 is ");
      expect(result.stdout).toMatch(/problem: chunk 000002\.jsonl\.gz: record \d+: hash does not match the record's content \(the record was edited\)/);
    } finally {
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: original }));
    }
  });
});
