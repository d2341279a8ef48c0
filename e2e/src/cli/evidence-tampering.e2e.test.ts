// What an attacker who can write to the evidence store (but does not hold the
// signing key) can do to it, as a table, on both stores: a filesystem store
// and a real S3 server (versitygw). Three sessions of one pod are recorded
// through the real spool and uploaded by the real uploader, which also keeps
// the pod's ledger; each case starts from that store, tampers with it, and
// `portcullis sessions verify` or `sessions audit` must exit non-zero with a
// message that says what was changed.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { stringify } from "yaml";
import type { RecordingSettings } from "@portcullis/common/config/bundle";
import { parseLedgerEntry, sealLedgerEntry } from "@portcullis/common/evidence/ledger";
import { parseManifest, signManifest, type EvidenceManifest } from "@portcullis/common/evidence/manifest";
import { evidenceFixture, recordingFor, startData, statement, type EvidenceFixture } from "../evidence/fixture.js";
import { startS3, type RunningS3 } from "../s3/server.js";
import { portcullis } from "./portcullis-cli.js";

const BUCKET = "tampering";
const PREFIX = "evidence/prod";
const POD = "agents/bot-0";

/** Read and write access to the store's objects, by key below the bucket or directory. */
interface StoreAccess {
  read(key: string): Promise<Buffer>;
  write(key: string, body: Buffer): Promise<void>;
  remove(key: string): Promise<void>;
  list(): Promise<string[]>;
}

function filesystemAccess(root: string): StoreAccess {
  return {
    read: (key) => readFile(join(root, key)),
    async write(key, body) {
      await mkdir(dirname(join(root, key)), { recursive: true });
      await writeFile(join(root, key), body);
    },
    remove: (key) => unlink(join(root, key)),
    async list() {
      const entries = await readdir(root, { recursive: true, withFileTypes: true });
      return entries.filter((entry) => entry.isFile()).map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join("/"));
    },
  };
}

function s3Access(s3: RunningS3): StoreAccess {
  return {
    async read(key) {
      const object = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return Buffer.from((await object.Body?.transformToByteArray()) ?? []);
    },
    async write(key, body) {
      await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
    async remove(key) {
      await s3.client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    },
    async list() {
      const listed = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET }));
      return (listed.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
    },
  };
}

interface Recorded {
  sessions: string[];
  /** The manifest of the second session as the uploader stored it before the session ended. */
  earlierManifest: Buffer;
}

/** Three sessions of pod agents/bot-0, the second uploaded once while still open; about five chunks each. */
async function recordSessions(fixture: EvidenceFixture, access: StoreAccess): Promise<Recorded> {
  const uploader = fixture.uploader({ chunkBytes: 1_500 });
  const sessions: string[] = [];
  let earlierManifest: Buffer | undefined;
  const removed: string[] = [];
  for (let index = 0; index < 3; index++) {
    const recorder = await fixture.spool.startSession({ data: startData("agents", "bot-0") });
    sessions.push(recorder.session);
    for (let i = 1; i <= 8; i++) await recorder.append("request", statement(i));
    if (index === 1) {
      removed.push(...(await uploader.pass()).removed);
      earlierManifest = await access.read(`${PREFIX}/${POD}/${recorder.session}/manifest.json`);
    }
    for (let i = 9; i <= 16; i++) await recorder.append("request", statement(i));
    await recorder.end({ reason: "client-terminated" });
  }
  removed.push(...(await uploader.pass()).removed);
  if (removed.length !== 3 || earlierManifest === undefined) throw new Error(`the uploader did not upload the three sessions: ${removed.join(", ")}`);
  return { sessions, earlierManifest };
}

interface Tamper {
  name: string;
  /** Changes the store; `id(n)` is the n-th session's folder key. */
  apply(access: StoreAccess, recorded: Recorded, folder: (n: number) => string): Promise<void>;
  command: "verify" | "audit";
  /** What the command must say (each on a "problem:" line). */
  says: RegExp[];
}

const forger = generateKeyPairSync("ed25519").privateKey;

async function manifestOf(access: StoreAccess, folder: string): Promise<EvidenceManifest> {
  const manifest = parseManifest((await access.read(`${folder}/manifest.json`)).toString("utf8"));
  if (typeof manifest === "string") throw new Error(manifest);
  return manifest;
}

/** Keeps the first `keep` chunks, deletes the rest, and writes a manifest for them signed with the forger's key. */
async function cutAndResign(access: StoreAccess, folder: string, keep: number, complete: boolean): Promise<void> {
  const manifest = await manifestOf(access, folder);
  for (const chunk of manifest.chunks.slice(keep)) await access.remove(`${folder}/${chunk.name}`);
  const chunks = manifest.chunks.slice(0, keep);
  const last = chunks.at(-1);
  if (last === undefined) throw new Error("nothing to keep");
  const forged = signManifest({ ...manifest, end: undefined, chunks, head: last.head, records: last.lastSeq, complete }, forger);
  await access.write(`${folder}/manifest.json`, Buffer.from(JSON.stringify(forged)));
}

/** Puts back the manifest of the second session from before it ended, and deletes the chunks uploaded after it. */
async function rollBackAndDelete(access: StoreAccess, recorded: Recorded, folder: (n: number) => string): Promise<void> {
  const earlier = parseManifest(recorded.earlierManifest.toString("utf8")) as EvidenceManifest;
  const listed = new Set(earlier.chunks.map((chunk) => `${folder(1)}/${chunk.name}`));
  for (const key of await access.list()) if (key.startsWith(`${folder(1)}/`) && key.endsWith(".jsonl.gz") && !listed.has(key)) await access.remove(key);
  await access.write(`${folder(1)}/manifest.json`, recorded.earlierManifest);
}

const TAMPERS: Tamper[] = [
  {
    name: "a record edited inside a chunk",
    async apply(access, _recorded, folder) {
      const key = `${folder(1)}/000002.jsonl.gz`;
      const text = gunzipSync(await access.read(key)).toString("utf8");
      await access.write(key, gzipSync(text.replace("WHERE id = ", "WHERE id > ")));
    },
    command: "verify",
    says: [/chunk 000002\.jsonl\.gz: its sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64} \(the object was changed or replaced\)/, /chunk 000002\.jsonl\.gz: record \d+: hash does not match the record's content \(the record was edited\)/],
  },
  {
    name: "a chunk deleted",
    apply: (access, _recorded, folder) => access.remove(`${folder(1)}/000002.jsonl.gz`),
    command: "verify",
    says: [/chunk 000002\.jsonl\.gz \(records \d+-\d+\) is missing from the store/],
  },
  {
    name: "two chunks swapped",
    async apply(access, _recorded, folder) {
      const [first, second] = await Promise.all([access.read(`${folder(1)}/000001.jsonl.gz`), access.read(`${folder(1)}/000002.jsonl.gz`)]);
      await access.write(`${folder(1)}/000001.jsonl.gz`, second);
      await access.write(`${folder(1)}/000002.jsonl.gz`, first);
    },
    command: "verify",
    says: [/chunk 000001\.jsonl\.gz: holds records \d+-\d+, the manifest says records 1-\d+ \(a chunk from elsewhere\?\)/],
  },
  {
    name: "the manifest edited",
    async apply(access, _recorded, folder) {
      const manifest = await manifestOf(access, folder(1));
      await access.write(`${folder(1)}/manifest.json`, Buffer.from(JSON.stringify({ ...manifest, resource: "billing-db" })));
    },
    command: "verify",
    says: [/the manifest's signature does not verify with the public key in \S+'s publicKey/],
  },
  {
    name: "another session's manifest put in its place",
    async apply(access, _recorded, folder) {
      await access.write(`${folder(1)}/manifest.json`, await access.read(`${folder(2)}/manifest.json`));
    },
    command: "verify",
    says: [/the manifest describes agents\/bot-0\/\w+ but is stored under agents\/bot-0\/\w+/],
  },
  {
    name: "the last chunks cut and the manifest re-signed by someone else as final",
    apply: (access, _recorded, folder) => cutAndResign(access, folder(1), 2, true),
    command: "verify",
    says: [/the manifest's signature does not verify with the public key in .+ \(sha256:[0-9a-f]{64}\); the manifest names another key, sha256:[0-9a-f]{64}, which did sign it/, /the manifest says the session is complete, but its last record is a request, not a session-end \(records cut off the end\?\)/],
  },
  {
    name: "rolled back: a manifest from before the session ended put back, the later chunks left",
    apply: (access, recorded, folder) => access.write(`${folder(1)}/manifest.json`, recorded.earlierManifest),
    command: "verify",
    says: [/the store holds chunks? [0-9, .jsonlgz]+, which the manifest does not list: records were cut off the session/, /the manifest is not final: it lists \d+ records and no session-end/],
  },
  {
    name: "rolled back, the later chunks deleted",
    apply: rollBackAndDelete,
    command: "verify",
    says: [/the manifest is not final: it lists \d+ records and no session-end/],
  },
  {
    name: "rolled back, the later chunks deleted: the ledger still knows how it ended",
    apply: rollBackAndDelete,
    command: "audit",
    says: [/session \w+: the ledger says the session ended client-terminated at \S+ with \d+ records, head \S+, but its manifest is not final and lists \d+ records/],
  },
  {
    name: "a whole session deleted",
    async apply(access, _recorded, folder) {
      for (const key of await access.list()) if (key.startsWith(`${folder(1)}/`)) await access.remove(key);
    },
    command: "audit",
    says: [/session \w+ is in the ledger \(ended client-terminated at \S+ with \d+ records, head sha256:[0-9a-f]{64}\) but not in the store \(deleted\?\)/],
  },
  {
    name: "the ledger cut back by its last entry",
    apply: (access) => access.remove(`${PREFIX}/${POD}/ledger/000003.json`),
    command: "audit",
    says: [/session \w+: the session ended \(client-terminated at \S+\) but its pod's ledger does not list it/],
  },
  {
    name: "a session deleted with its ledger entry, the ledger rewritten and signed with another key",
    async apply(access, _recorded, folder) {
      for (const key of await access.list()) if (key.startsWith(`${folder(1)}/`)) await access.remove(key);
      const kept = [1, 3].map(async (seq) => parseLedgerEntry((await access.read(`${PREFIX}/${POD}/ledger/00000${seq}.json`)).toString("utf8")));
      const [first, third] = (await Promise.all(kept)) as Array<Exclude<ReturnType<typeof parseLedgerEntry>, string>>;
      if (!first || !third) throw new Error("the ledger has no entries 1 and 3");
      const one = sealLedgerEntry(first, forger);
      const two = sealLedgerEntry({ ...third, seq: 2, prev: one.hash }, forger);
      await access.write(`${PREFIX}/${POD}/ledger/000001.json`, Buffer.from(JSON.stringify(one)));
      await access.write(`${PREFIX}/${POD}/ledger/000002.json`, Buffer.from(JSON.stringify(two)));
      await access.remove(`${PREFIX}/${POD}/ledger/000003.json`);
    },
    command: "audit",
    says: [/the ledger of agents\/bot-0, entry 000001\.json: its signature does not verify with the trusted key \(it names another key, sha256:[0-9a-f]{64}\)/],
  },
];

interface StoreCase {
  kind: string;
  access: StoreAccess;
  recorded: Recorded;
  storeFile: string;
  /** Every object as recorded, to put back before each case. */
  snapshot: Map<string, Buffer>;
}

let work: string;
let s3: RunningS3;
const fixtures: EvidenceFixture[] = [];
const stores: StoreCase[] = [];

async function prepare(kind: string, recording: RecordingSettings, access: StoreAccess, storeData: Record<string, string>): Promise<void> {
  const fixture = await evidenceFixture(recording);
  fixtures.push(fixture);
  const recorded = await recordSessions(fixture, access);
  const snapshot = new Map<string, Buffer>();
  for (const key of await access.list()) snapshot.set(key, await access.read(key));
  const publicKey = fixture.publicKey.export({ type: "spki", format: "pem" }).toString();
  const storeFile = join(work, `${kind}-store.yaml`);
  await writeFile(storeFile, stringify({ ...storeData, publicKey }));
  stores.push({ kind, access, recorded, storeFile, snapshot });
}

async function restore(store: StoreCase): Promise<void> {
  for (const key of await store.access.list()) if (!store.snapshot.has(key)) await store.access.remove(key);
  for (const [key, body] of store.snapshot) await store.access.write(key, body);
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-tampering-"));
  s3 = await startS3();
  await s3.createBucket(BUCKET);
  const s3Recording = recordingFor(s3, BUCKET, { prefix: PREFIX });
  await prepare("s3", s3Recording, s3Access(s3), { ...s3Recording.store, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
  const root = join(work, "filesystem");
  const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const fsStore = { type: "filesystem", path: root, prefix: PREFIX, credentialsSecret: "evidence-store" };
  await prepare("filesystem", { store: fsStore, credentials: { signingKey } }, filesystemAccess(root), fsStore);
}, 120_000);

afterAll(async () => {
  for (const fixture of fixtures) await fixture.close();
  await s3?.stop();
  await rm(work, { recursive: true, force: true });
});

const storeKinds = ["filesystem", "s3"];

describe.each(storeKinds)("evidence on a %s store", (kind) => {
  const store = (): StoreCase => stores.find((candidate) => candidate.kind === kind) as StoreCase;
  const folder = (n: number): string => `${PREFIX}/${POD}/${store().recorded.sessions[n] ?? ""}`;
  const run = (command: "verify" | "audit", session: string): ReturnType<typeof portcullis> =>
    portcullis(command === "verify" ? ["sessions", "verify", session, "--store-file", store().storeFile] : ["sessions", "audit", "--store-file", store().storeFile, "-n", "agents"]);

  it("verifies every session and audits the pod when nothing was changed", async () => {
    await restore(store());
    for (const session of store().recorded.sessions) {
      const verified = await run("verify", session);
      expect(verified.stdout).toMatch(/^verified: \d+ records, ended client-terminated at /);
      expect(verified.code).toBe(0);
    }
    const audited = await run("audit", "");
    expect(audited.stdout).toMatch(/audited: 3 sessions of 1 pod, signed by sha256:[0-9a-f]{64}\n$/);
    expect(audited.code).toBe(0);
  });

  it.each(TAMPERS.map((tamper) => [tamper.name, tamper] as const))("catches %s", async (_name, tamper) => {
    await restore(store());
    await tamper.apply(store().access, store().recorded, folder);
    const result = await run(tamper.command, store().recorded.sessions[1] ?? "");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(1);
    const problems = result.stdout.split("\n").filter((line) => line.trimStart().startsWith("problem: "));
    for (const pattern of tamper.says) expect(problems).toContainEqual(expect.stringMatching(pattern));
  });
});
