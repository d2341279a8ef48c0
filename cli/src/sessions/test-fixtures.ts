// Test helpers: a real session recorded with the sidecar's EvidenceSpool (on
// a fixed clock, so the records are the same every run), and the objects the
// uploader would store for it in a filesystem store — gzip chunks and a
// manifest signed with an Ed25519 key, made by the uploader's own functions —
// laid out as the evidence contract says. Tests tamper with what this writes
// and expect verify to notice.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { EVIDENCE_VERSION, GENESIS_HASH, parseSpoolText, recordLine, sealRecord, type EvidenceRecord, type RequestData, type SessionStartData } from "@portcullis/common/evidence/record";
import { postgresRequest } from "@portcullis/common/evidence/test-fixtures";
import { newSessionId } from "@portcullis/common/evidence/session-id";
import { EvidenceSpool } from "@portcullis/sidecar/evidence/spool";
import { closedSessionPath } from "@portcullis/sidecar/evidence/spool-files";
import { buildChunk } from "@portcullis/common/evidence/chunks";
import { MANIFEST_NAME } from "@portcullis/common/evidence/layout";
import { signManifest, type EvidenceManifest, type ManifestChunk, type SessionEnding } from "@portcullis/common/evidence/manifest";
import { sessionDir, type SessionLocation } from "./locate.js";

export const SESSION_START_TIME = new Date("2026-11-25T10:00:00.000Z");

export const START: SessionStartData = {
  identity: { username: "system:serviceaccount:agents:report-bot", groups: ["system:serviceaccounts", "system:serviceaccounts:agents"], serviceAccount: "report-bot", namespace: "agents", pod: "report-bot-0", claims: {} },
  resource: { name: "orders-db", namespace: "agents", protocol: "postgres" },
  client: { address: "10.0.0.7", port: 51234, database: "orders", user: "report_bot", application: "psql" },
  policies: ["no-destructive-changes"],
};

function statement(text: string, summary: string, decision: RequestData["decision"], approval?: string, parameters?: string[]): RequestData {
  return postgresRequest(text, decision, { summary, fingerprint: `sha256:${"c".repeat(64)}`, ...(approval ? { approval } : {}), ...(parameters ? { parameters } : {}) });
}

/** A clock that moves 250 ms each time it is read. */
function steppingClock(start: Date): () => Date {
  let ticks = 0;
  return () => new Date(start.getTime() + 250 * ticks++);
}

export interface RecordOptions {
  start?: Date;
  pod?: string;
  resource?: string;
}

/** Records a session with the sidecar's spool: a masked SELECT, an approved DELETE, a denied DROP (with terminal escapes in it), an error. */
export async function recordSession(spoolDir: string, options: RecordOptions = {}): Promise<EvidenceRecord[]> {
  const start = options.start ?? SESSION_START_TIME;
  const spool = await EvidenceSpool.open({ dir: spoolDir, maxBytes: 1 << 20, clock: steppingClock(start) });
  const session = newSessionId(start, new Uint8Array(10).fill(7));
  const data: SessionStartData = {
    ...START,
    identity: { ...START.identity, pod: options.pod ?? START.identity.pod },
    resource: { ...START.resource, name: options.resource ?? START.resource.name },
  };
  try {
    const recorder = await spool.startSession({ session, data });
    const select = await recorder.append("request", statement("SELECT id, email\n  FROM orders\n WHERE id = 1", "SELECT orders", { action: "allow", policy: "no-destructive-changes", rule: "reads" }));
    await recorder.append("result", { request: select.seq, masked: { "orders.email": 1 }, durationMs: 3, postgres: { rowsReturned: 1, commandTags: ["SELECT 1"] } });
    const remove = await recorder.append("request", statement("DELETE FROM orders WHERE id = $1", "DELETE orders", { action: "requireApproval", policy: "no-destructive-changes", rule: "writes" }, "report-bot-0-x7k2p", ["$1 = '1'"]));
    await recorder.append("approval", { name: "report-bot-0-x7k2p", phase: "Pending", request: remove.seq });
    await recorder.append("approval", { name: "report-bot-0-x7k2p", phase: "Approved", request: remove.seq, decidedBy: "alice", reason: "refund agreed" });
    await recorder.append("result", { request: remove.seq, masked: {}, durationMs: 5, postgres: { rowsReturned: 0, commandTags: ["DELETE 1"] } });
    await recorder.append("request", statement("DROP TABLE orders; -- \u001b[2J\u202eoops", "DROP orders", { action: "deny", policy: "no-destructive-changes", rule: "no-drop", reason: "DROP is never allowed" }));
    const broken = await recorder.append("request", statement("SELECT * FROM missing", "SELECT missing", { action: "allow" }));
    await recorder.append("result", { request: broken.seq, masked: {}, error: { code: "42P01", message: 'relation "missing" does not exist' }, durationMs: 1, postgres: { rowsReturned: 0, commandTags: [] } });
    await recorder.end({ reason: "client-terminated" });
  } finally {
    await spool.close();
  }
  const parsed = parseSpoolText(await readFile(closedSessionPath(spoolDir, session), "utf8"));
  if (parsed.problems.length > 0 || parsed.partialLastLine !== null) throw new Error("the spool wrote a session that does not parse");
  return parsed.records;
}

export function newSigningKey(): { privateKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

/** The same records with seq, prev and hash made consistent again: what a forger who rewrites the whole chain produces. */
export function resealRecords(records: readonly EvidenceRecord[]): EvidenceRecord[] {
  const sealed: EvidenceRecord[] = [];
  for (const [index, record] of records.entries()) {
    sealed.push(sealRecord({ v: EVIDENCE_VERSION, session: record.session, seq: index + 1, time: record.time, type: record.type, data: record.data, prev: sealed[index - 1]?.hash ?? GENESIS_HASH }));
  }
  return sealed;
}

export interface StoredSession {
  location: SessionLocation;
  /** The directory holding the session's chunks and manifest. */
  dir: string;
  manifest: EvidenceManifest;
}

export interface StoreOptions {
  /** The filesystem store's path and prefix. */
  path: string;
  prefix?: string;
  /** How many records go in each chunk, in order; the last chunk takes the rest. */
  chunkSizes: number[];
  privateKey: KeyObject;
  complete?: boolean;
}

function splitChunks(records: readonly EvidenceRecord[], sizes: readonly number[]): EvidenceRecord[][] {
  const chunks: EvidenceRecord[][] = [];
  let start = 0;
  for (const size of sizes) {
    chunks.push(records.slice(start, start + size));
    start += size;
  }
  if (start < records.length) chunks.push(records.slice(start));
  return chunks.filter((chunk) => chunk.length > 0);
}

/**
 * Writes what the uploader would store for `records` — built and signed with
 * the uploader's own chunk builder and signer — cut into chunks by record
 * count, so tests can say which records a chunk holds.
 */
export async function storeSession(records: readonly EvidenceRecord[], options: StoreOptions): Promise<StoredSession> {
  const first = records[0];
  if (first === undefined) throw new Error("a stored session needs records");
  const identity = first.data.identity as { namespace: string; pod: string };
  const resource = (first.data.resource as { name: string }).name;
  const location: SessionLocation = { namespace: identity.namespace, pod: identity.pod, session: first.session };
  const dir = join(options.path, ...(options.prefix ? options.prefix.split("/") : []), sessionDir(location));
  await mkdir(dir, { recursive: true });
  const chunks: ManifestChunk[] = [];
  let start = { seq: 1, prev: GENESIS_HASH, session: first.session };
  let end: SessionEnding | undefined;
  for (const [index, chunkRecords] of splitChunks(records, options.chunkSizes).entries()) {
    const built = await buildChunk(index + 1, Buffer.from(chunkRecords.map(recordLine).join("")), start);
    await writeFile(join(dir, built.entry.name), built.body);
    chunks.push(built.entry);
    start = { seq: built.entry.lastSeq + 1, prev: built.entry.head, session: first.session };
    end = built.lines.end;
  }
  const updatedAt = records[records.length - 1]?.time ?? first.time;
  const complete = options.complete ?? true;
  const manifest = signManifest(
    { version: 1, ...location, resource, chunks, head: start.prev, records: start.seq - 1, complete, ...(complete && end ? { end } : {}), updatedAt },
    options.privateKey,
  );
  await writeFile(join(dir, MANIFEST_NAME), JSON.stringify(manifest));
  return { location, dir, manifest };
}

/** A --store-file for the filesystem store at `path`; with the signing key's public half when given. */
export async function writeStoreFile(file: string, path: string, prefix?: string, publicKeyPem?: string): Promise<string> {
  const publicKey = publicKeyPem ? `publicKey: |\n${publicKeyPem.trimEnd().replace(/^/gm, "  ")}\n` : "";
  await writeFile(file, `type: filesystem\npath: ${path}\n${prefix ? `prefix: ${prefix}\n` : ""}${publicKey}`);
  return file;
}
