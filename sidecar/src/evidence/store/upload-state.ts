// What the uploader remembers about a session between scans and across
// restarts: DIR/<session>.upload.json in the spool directory, beside the
// session's file (the spool's listing ignores it). It is written after the
// manifest that lists the same chunks is stored, so it can lag the store by at
// most one chunk and never lead it. On start the uploader reconciles it with
// the manifest in the store; the manifest wins, because it is what a verifier
// reads. The state only saves finding the spool offset again.
import { randomBytes } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { lineHead } from "@portcullis/common/evidence/chunks";
import { chunkName } from "@portcullis/common/evidence/layout";
import { verifyManifestSignature, type EvidenceManifest, type ManifestChunk } from "@portcullis/common/evidence/manifest";

const STATE_VERSION = 1;

export interface UploadState {
  version: typeof STATE_VERSION;
  session: string;
  /** The store location and key prefix the chunks went to: a state made for another destination does not apply. */
  destination: string;
  chunks: ManifestChunk[];
  /** Bytes of the spool file that are uploaded; always at a line boundary. */
  offset: number;
  complete: boolean;
}

export function uploadStatePath(dir: string, session: string): string {
  return path.join(dir, `${session}.upload.json`);
}

/** The session's state, or undefined when there is none or it cannot be read (the store's manifest then decides). */
export async function readUploadState(dir: string, session: string): Promise<UploadState | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(uploadStatePath(dir, session), "utf8"));
  } catch {
    return undefined;
  }
  const state = value as Partial<UploadState> | null;
  const valid =
    state !== null &&
    typeof state === "object" &&
    state.version === STATE_VERSION &&
    state.session === session &&
    typeof state.destination === "string" &&
    Array.isArray(state.chunks) &&
    typeof state.offset === "number" &&
    typeof state.complete === "boolean";
  return valid ? (state as UploadState) : undefined;
}

/** Replaces the state file atomically: a crash leaves the old state or the new one. */
export async function writeUploadState(dir: string, state: UploadState): Promise<void> {
  const file = uploadStatePath(dir, state.session);
  // A dot-file, so neither the spool's listing nor a reader of *.upload.json mistakes it for anything.
  const temporary = path.join(dir, `.${state.session}.upload.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temporary, JSON.stringify(state), { mode: 0o600 });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw error;
  }
}

export async function removeUploadState(dir: string, session: string): Promise<void> {
  await rm(uploadStatePath(dir, session), { force: true });
}

/** Where to continue a session's upload. offset undefined: find the end of record `records` in the spool file. */
export interface ResumePoint {
  chunks: ManifestChunk[];
  complete: boolean;
  offset: number | undefined;
  /** Something worth a log line: the store and the local state disagreed. */
  note?: string;
}

export interface ReconcileInput {
  session: string;
  destination: string;
  /** SPKI PEM of the key this uploader signs with. */
  publicKey: string;
  state: UploadState | undefined;
  /** The manifest in the store: parsed, a problem string when it could not be parsed, or undefined when there is none. */
  manifest: EvidenceManifest | string | undefined;
}

const sameChunk = (a: ManifestChunk | undefined, b: ManifestChunk | undefined): boolean =>
  a !== undefined && b !== undefined && a.name === b.name && a.sha256 === b.sha256 && a.lastSeq === b.lastSeq && a.head === b.head;

/** What is wrong with a manifest's chunk list as this uploader writes them (numbered from 1, contiguous); undefined when nothing. */
function chunkListProblem(chunks: readonly ManifestChunk[]): string | undefined {
  for (const [index, chunk] of chunks.entries()) {
    const previous = chunks[index - 1];
    if (chunk.name !== chunkName(index + 1)) return `chunk ${index + 1} is named ${chunk.name}`;
    if (previous !== undefined && (chunk.firstSeq !== previous.lastSeq + 1 || chunk.prev !== previous.head)) return `chunk ${chunk.name} does not continue ${previous.name}`;
  }
  return undefined;
}

function fromScratch(input: ReconcileInput, why: string | undefined): ResumePoint {
  const uploadedBefore = input.state?.destination === input.destination ? input.state.chunks.length : 0;
  const note = why ?? (uploadedBefore > 0 ? `the store has no manifest for this session although ${uploadedBefore} chunks were uploaded before; uploading it again from the start` : undefined);
  return { chunks: [], complete: false, offset: 0, ...(note !== undefined ? { note } : {}) };
}

/**
 * Decides where a session's upload resumes, from the local state and the
 * store's manifest. A manifest this uploader cannot have written (unreadable,
 * another session's, signed by another key, chunks out of order) is not built
 * upon: the session is uploaded again from the start, from the spool, which
 * still holds every record. Pure.
 */
export function reconcileUpload(input: ReconcileInput): ResumePoint {
  const { manifest } = input;
  if (manifest === undefined) return fromScratch(input, undefined);
  if (typeof manifest === "string") return fromScratch(input, `the manifest in the store cannot be read (${manifest}); uploading the session again from the start`);
  const problem = untrustedManifest(manifest, input);
  if (problem !== undefined) return fromScratch(input, `the manifest in the store is not usable (${problem}); uploading the session again from the start`);
  return resumeFrom(manifest, input.state?.destination === input.destination ? input.state : undefined);
}

/** Why this uploader cannot build on the manifest; undefined when it can. */
function untrustedManifest(manifest: EvidenceManifest, input: ReconcileInput): string | undefined {
  if (manifest.session !== input.session) return `it belongs to session ${manifest.session}`;
  if (manifest.publicKey !== input.publicKey || !verifyManifestSignature(manifest)) return "it is not signed with this store's signing key";
  return chunkListProblem(manifest.chunks);
}

/** Resuming after the manifest's last chunk; the local state gives the spool offset when it ends at the same chunk. */
function resumeFrom(manifest: EvidenceManifest, state: UploadState | undefined): ResumePoint {
  const { chunks } = manifest;
  const stateMatches = state !== undefined && state.chunks.length === chunks.length && sameChunk(state.chunks.at(-1), chunks.at(-1));
  const offset = chunks.length === 0 ? 0 : stateMatches ? state.offset : undefined;
  const resume: ResumePoint = { chunks, complete: manifest.complete, offset };
  if (state !== undefined && state.chunks.length > chunks.length) {
    resume.note = `the store's manifest lists ${chunks.length} chunks where ${state.chunks.length} were uploaded before; continuing from the store's`;
  }
  return resume;
}

/**
 * The byte offset just after record `records` in a spool file's content, when
 * that record's hash is `head`; otherwise what does not match. This is how a
 * resumed upload finds its place when the local state lags the manifest.
 */
export function offsetAfterRecord(content: Buffer, records: number, head: string): number | string {
  let offset = 0;
  for (let seq = 1; seq <= records; seq += 1) {
    const end = content.indexOf(0x0a, offset);
    if (end < 0) return `the spool file holds ${seq - 1} complete records, but the store's manifest lists ${records}`;
    if (seq === records) {
      if (lineHead(content.subarray(offset, end).toString("utf8")).head !== head) return `record ${records} in the spool file is not the one the store's manifest ends with`;
    }
    offset = end + 1;
  }
  return offset;
}
