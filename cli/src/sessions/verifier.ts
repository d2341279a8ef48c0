// Verification of one stored session against the evidence contract, chunk by
// chunk so a big session never has to fit in memory at once: the manifest's
// signature; its chunk list (names in order, contiguous seqs, each chunk's
// prev the previous chunk's head, the last head the manifest's head); each
// chunk's sha256; every record's hash chain (sidecar's verifyChain, started
// where the manifest says the chunk starts); and that a complete session ends
// with its session-end, the one its manifest says it ended with. Evidence is
// valid only when it is whole: a manifest that is not final fails unless a
// live session was asked for, and a chunk in the store that the manifest does
// not list is a sign of records cut off (an earlier manifest put back).
// Problems are collected, not thrown, so one run names everything that is
// wrong and where.
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { GENESIS_HASH, parseSpoolText, verifyChain, type EvidenceRecord, type EvidenceType } from "@portcullis/common/evidence/record";
import { errorText } from "../errors.js";
import { sessionDir, type SessionLocation } from "./locate.js";
import { chunkName } from "@portcullis/common/evidence/layout";
import type { SessionEnding } from "@portcullis/common/evidence/manifest";
import { sessionEnding } from "@portcullis/common/evidence/chunks";
import type { EvidenceManifest, ManifestChunk, SignatureCheck } from "./manifest.js";

export interface VerifyOptions {
  /** A manifest that is not final is verified as far as it goes instead of failing (a session still recording). */
  acceptLive: boolean;
}

const CHUNK_OBJECT = /^[0-9]{6,}\.jsonl\.gz$/;

export interface FetchedChunk {
  chunk: ManifestChunk;
  /** Undefined when the store has no such object. */
  body: Buffer | undefined;
}

export interface VerifyReport {
  ok: boolean;
  /** Records read and checked (all of the session's when nothing is missing). */
  recordsChecked: number;
  head: string;
  /** The manifest is final: the session ended and its session-end is uploaded. */
  complete: boolean;
  /** How the session ended, as the final manifest says. */
  end?: SessionEnding;
  signature: SignatureCheck;
  problems: string[];
}

/** The most a chunk may hold uncompressed: the uploader cuts chunks at about 1 MiB (a single longer record goes alone). */
const MAX_CHUNK_TEXT = 64 * 1_048_576;

/** Lines of one chunk that are not records: the first few are named, the rest counted. */
const LINE_PROBLEMS_SHOWN = 5;

function recordRange(chunk: ManifestChunk): string {
  return chunk.firstSeq === chunk.lastSeq ? `record ${chunk.firstSeq}` : `records ${chunk.firstSeq}-${chunk.lastSeq}`;
}

function locationProblem(location: SessionLocation, manifest: EvidenceManifest): string | undefined {
  const stated = { namespace: manifest.namespace, pod: manifest.pod, session: manifest.session };
  return sessionDir(stated) === sessionDir(location) ? undefined : `the manifest describes ${sessionDir(stated)} but is stored under ${sessionDir(location)}`;
}

function chunkListProblems(manifest: EvidenceManifest): string[] {
  const problems: string[] = [];
  manifest.chunks.forEach((chunk, index) => {
    const before = manifest.chunks[index - 1];
    const start = before === undefined ? { seq: 1, prev: GENESIS_HASH, what: "the session's first record" } : { seq: before.lastSeq + 1, prev: before.head, what: `the end of ${before.name}` };
    if (chunk.name !== chunkName(index + 1)) problems.push(`the manifest lists ${chunk.name} where ${chunkName(index + 1)} belongs`);
    if (chunk.firstSeq !== start.seq) problems.push(`chunk ${chunk.name} starts at record ${chunk.firstSeq}, but ${start.what} is followed by record ${start.seq}`);
    else if (chunk.prev !== start.prev) problems.push(`chunk ${chunk.name} does not continue the chain from ${start.what} (its prev is not that head)`);
  });
  return problems;
}

function manifestProblems(location: SessionLocation, manifest: EvidenceManifest): string[] {
  const last = manifest.chunks.at(-1);
  const problems = [locationProblem(location, manifest)];
  if (last === undefined) {
    problems.push("the manifest lists no chunks");
  } else {
    problems.push(
      ...chunkListProblems(manifest),
      last.head === manifest.head ? undefined : `the manifest's head is not the head of its last chunk ${last.name}`,
      last.lastSeq === manifest.records ? undefined : `the manifest counts ${manifest.records} records, but its chunks hold ${last.lastSeq}`,
    );
  }
  return problems.filter((problem): problem is string => problem !== undefined);
}

function identityOf(record: EvidenceRecord): Record<string, unknown> {
  const identity = record.data.identity;
  return identity !== null && typeof identity === "object" ? (identity as Record<string, unknown>) : {};
}

export class SessionVerifier {
  private readonly problems: string[] = [];
  private records = 0;
  private chunksChecked = 0;
  private lastType: EvidenceType | undefined;
  private endRecord: EvidenceRecord | undefined;

  constructor(
    location: SessionLocation,
    private readonly manifest: EvidenceManifest,
    private readonly signature: SignatureCheck,
    private readonly options: VerifyOptions,
  ) {
    if (!signature.ok) this.problems.push(signature.problem);
    this.problems.push(...manifestProblems(location, manifest));
  }

  /** Checks the next chunk; returns the records it holds, as far as they could be read, for a replay to show. */
  check(fetched: FetchedChunk): EvidenceRecord[] {
    this.chunksChecked += 1;
    const { chunk, body } = fetched;
    this.lastType = undefined;
    if (body === undefined) {
      this.problems.push(`chunk ${chunk.name} (${recordRange(chunk)}) is missing from the store`);
      return [];
    }
    const sha256 = createHash("sha256").update(body).digest("hex");
    if (sha256 !== chunk.sha256) this.problems.push(`chunk ${chunk.name}: its sha256 is ${sha256}, the manifest says ${chunk.sha256} (the object was changed or replaced)`);
    let text: string;
    try {
      // A chunk the uploader wrote holds about a megabyte; a bomb built to exhaust the reader's memory is refused.
      text = gunzipSync(body, { maxOutputLength: MAX_CHUNK_TEXT }).toString("utf8");
    } catch (error) {
      this.problems.push(`chunk ${chunk.name}: cannot be decompressed within ${MAX_CHUNK_TEXT / 1_048_576} MiB (${errorText(error)})`);
      return [];
    }
    try {
      return this.checkText(chunk, text);
    } catch (error) {
      // A record built to break the reader (nested beyond any stack) is named, and the other chunks are still checked.
      this.problems.push(`chunk ${chunk.name}: cannot be checked (${errorText(error)})`);
      return [];
    }
  }

  private checkText(chunk: ManifestChunk, text: string): EvidenceRecord[] {
    const parsed = parseSpoolText(text);
    for (const { line, problem } of parsed.problems.slice(0, LINE_PROBLEMS_SHOWN)) this.problems.push(`chunk ${chunk.name}, line ${line}: ${problem}`);
    if (parsed.problems.length > LINE_PROBLEMS_SHOWN) this.problems.push(`chunk ${chunk.name}: ${parsed.problems.length - LINE_PROBLEMS_SHOWN} more lines are not records`);
    if (parsed.partialLastLine !== null) this.problems.push(`chunk ${chunk.name}: ends in an incomplete line (line ${parsed.partialLastLine.line})`);
    this.checkRecords(chunk, parsed.records);
    return parsed.records;
  }

  private checkRecords(chunk: ManifestChunk, records: readonly EvidenceRecord[]): void {
    const first = records[0];
    const last = records[records.length - 1];
    if (first === undefined || last === undefined) {
      this.problems.push(`chunk ${chunk.name}: holds no records, the manifest says ${recordRange(chunk)}`);
      return;
    }
    this.records += records.length;
    if (this.endRecord !== undefined) this.problems.push(`chunk ${chunk.name}: record ${first.seq} comes after the session-end (record ${this.endRecord.seq})`);
    // A chunk that starts elsewhere (swapped, or from another session) is named as such; its own chain is still checked.
    const misplaced = first.seq !== chunk.firstSeq;
    if (misplaced) this.problems.push(`chunk ${chunk.name}: holds records ${first.seq}-${last.seq}, the manifest says ${recordRange(chunk)} (a chunk from elsewhere?)`);
    const start = misplaced ? { seq: first.seq, prev: first.prev } : { seq: chunk.firstSeq, prev: chunk.prev };
    const verdict = verifyChain(records, { ...start, session: this.manifest.session });
    if (!verdict.ok) this.problems.push(`chunk ${chunk.name}: record ${verdict.seq}: ${verdict.problem}`);
    else if (!misplaced) this.checkChunkEnd(chunk, first, last, verdict.head);
    if (first.seq === 1 && first.type === "session-start") this.checkIdentity(first);
    this.endRecord ??= records.find((record) => record.type === "session-end");
    this.lastType = last.type;
  }

  /** A chunk whose records chain correctly must also end where the manifest says. */
  private checkChunkEnd(chunk: ManifestChunk, first: EvidenceRecord, last: EvidenceRecord, head: string): void {
    if (last.seq !== chunk.lastSeq) this.problems.push(`chunk ${chunk.name}: holds records ${first.seq}-${last.seq}, the manifest says ${recordRange(chunk)}`);
    else if (head !== chunk.head) this.problems.push(`chunk ${chunk.name}: its last record's hash is not the head the manifest records for it`);
  }

  /** The path the session is stored under must be the identity the gateway recorded. */
  private checkIdentity(start: EvidenceRecord): void {
    const { namespace, pod } = identityOf(start);
    if (namespace !== this.manifest.namespace || pod !== this.manifest.pod) {
      this.problems.push(`record 1: the session-start's identity is pod ${String(namespace)}/${String(pod)}, the manifest says ${this.manifest.namespace}/${this.manifest.pod}`);
    }
  }

  /** The names of the objects the store holds in the session's folder: a chunk the manifest does not list is named. */
  checkStoredObjects(names: readonly string[]): void {
    const listed = new Set(this.manifest.chunks.map((chunk) => chunk.name));
    const unlisted = names.filter((name) => CHUNK_OBJECT.test(name) && !listed.has(name)).sort();
    if (unlisted.length === 0) return;
    const what = unlisted.length === 1 ? `chunk ${unlisted[0]}, which the manifest does not list` : `chunks ${unlisted.join(", ")}, which the manifest does not list`;
    this.problems.push(`the store holds ${what}: records were cut off the session (a manifest from before they were uploaded put back?)`);
  }

  finish(): VerifyReport {
    const { manifest } = this;
    if (this.chunksChecked !== manifest.chunks.length) this.problems.push(`${this.chunksChecked} of the manifest's ${manifest.chunks.length} chunks were checked`);
    // Only said when the last chunk could be read; a missing one is already named.
    if (manifest.complete && this.lastType !== undefined && this.lastType !== "session-end") {
      this.problems.push(`the manifest says the session is complete, but its last record is a ${this.lastType}, not a session-end (records cut off the end?)`);
    }
    this.checkEnding();
    return {
      ok: this.problems.length === 0,
      recordsChecked: this.records,
      head: manifest.head,
      complete: manifest.complete,
      ...(manifest.end ? { end: manifest.end } : {}),
      signature: this.signature,
      problems: [...this.problems],
    };
  }

  /** A final manifest's ending must be its session-end's; a manifest that is not final is valid only when a live session was asked for. */
  private checkEnding(): void {
    const { manifest, endRecord } = this;
    if (!manifest.complete) {
      if (!this.options.acceptLive) {
        this.problems.push(
          `the manifest is not final: it lists ${manifest.records} records and no session-end (a session still recording, or a manifest from before the session ended put back); --allow-incomplete verifies a live session as far as it goes`,
        );
      }
      return;
    }
    if (manifest.end === undefined || endRecord === undefined) return;
    const recorded = sessionEnding(endRecord);
    if (recorded.reason !== manifest.end.reason || recorded.time !== manifest.end.time) {
      this.problems.push(`the manifest says the session ended (${manifest.end.reason}) at ${manifest.end.time}, its session-end record says (${recorded.reason}) at ${recorded.time}`);
    }
  }
}
