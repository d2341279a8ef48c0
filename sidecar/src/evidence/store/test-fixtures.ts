// For the store and uploader tests (unit and e2e): common's evidence fixtures,
// and a reader that checks an uploaded session the way the evidence contract
// says a verifier does, listing every problem it finds.
import { createHash, type KeyObject } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { GENESIS_HASH, parseSpoolText, verifyChain, type EvidenceRecord } from "@portcullis/common/evidence/record";
export { linesOf, recordChain, START_DATA } from "@portcullis/common/evidence/test-fixtures";
import { MANIFEST_NAME } from "@portcullis/common/evidence/layout";
import { parseManifest, verifyManifestSignature, type EvidenceManifest, type ManifestChunk } from "@portcullis/common/evidence/manifest";
import type { EvidenceStore } from "./store.js";

export interface StoredSession {
  manifest: EvidenceManifest | undefined;
  /** The records of every chunk, in chunk order. */
  records: EvidenceRecord[];
  /** What does not verify; empty when the session verifies. */
  problems: string[];
}

async function chunkRecords(store: EvidenceStore, keyPrefix: string, chunk: ManifestChunk, problems: string[]): Promise<EvidenceRecord[]> {
  const body = await store.get(keyPrefix + chunk.name);
  if (body === undefined) {
    problems.push(`${chunk.name} is missing`);
    return [];
  }
  if (createHash("sha256").update(body).digest("hex") !== chunk.sha256) problems.push(`${chunk.name}: sha256 does not match the manifest`);
  const parsed = parseSpoolText(gunzipSync(body).toString("utf8"));
  for (const problem of parsed.problems) problems.push(`${chunk.name} line ${problem.line}: ${problem.problem}`);
  if (parsed.partialLastLine !== null) problems.push(`${chunk.name} ends in a partial line`);
  const verdict = verifyChain(parsed.records, { seq: chunk.firstSeq, prev: chunk.prev, session: parsed.records[0]?.session ?? "" });
  if (!verdict.ok) problems.push(`${chunk.name} seq ${verdict.seq}: ${verdict.problem}`);
  else if (verdict.head !== chunk.head || parsed.records.at(-1)?.seq !== chunk.lastSeq) problems.push(`${chunk.name} does not end at the manifest's lastSeq and head`);
  return parsed.records;
}

/** Where a chunk list breaks: chunk n+1 must start after chunk n's lastSeq, naming its head as prev; the first starts the chain. */
function continuityProblems(chunks: readonly ManifestChunk[]): string[] {
  return chunks.flatMap((chunk, index) => {
    const previous = chunks[index - 1];
    const expected = previous === undefined ? { seq: 1, prev: GENESIS_HASH } : { seq: previous.lastSeq + 1, prev: previous.head };
    return chunk.firstSeq === expected.seq && chunk.prev === expected.prev ? [] : [`${chunk.name} does not continue the chain where ${previous?.name ?? "the genesis value"} left it`];
  });
}

function summaryProblems(manifest: EvidenceManifest, records: readonly EvidenceRecord[]): string[] {
  const last = manifest.chunks.at(-1);
  const problems: string[] = [];
  if (manifest.head !== (last?.head ?? GENESIS_HASH) || manifest.records !== (last?.lastSeq ?? 0)) problems.push("the manifest's head or records do not match its last chunk");
  if (manifest.complete && records.at(-1)?.type !== "session-end") problems.push("the manifest says complete, but the last record is no session-end");
  return problems;
}

/** Reads back a session from the store and checks it as `portcullis sessions verify` does. */
export async function readStoredSession(store: EvidenceStore, keyPrefix: string, publicKey?: KeyObject): Promise<StoredSession> {
  const text = await store.get(keyPrefix + MANIFEST_NAME);
  const manifest = text === undefined ? "there is no manifest" : parseManifest(text.toString("utf8"));
  if (typeof manifest === "string") return { manifest: undefined, records: [], problems: [manifest] };
  const problems = verifyManifestSignature(manifest, publicKey) ? [] : ["the manifest's signature does not verify"];
  problems.push(...continuityProblems(manifest.chunks));
  const records: EvidenceRecord[] = [];
  for (const chunk of manifest.chunks) records.push(...(await chunkRecords(store, keyPrefix, chunk, problems)));
  problems.push(...summaryProblems(manifest, records));
  return { manifest, records, problems };
}
