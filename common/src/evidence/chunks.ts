// Cutting a session's spool file into chunks: consecutive complete lines (a
// line is only complete once its "\n" is written), at most about a megabyte
// uncompressed, gzipped. The chunk's manifest entry is derived from the lines
// themselves, so a chunk retried after a failure is the same bytes under the
// same name.
//
// Lines that are not valid records (a spool file that recovery left corrupt)
// are uploaded as they are: corruption is evidence too, and verification then
// names the seq where the chain breaks. Their manifest entry is positional:
// the n-th line of the chunk counts as seq firstSeq+n-1.
import { sha256Digest } from "../digest.js";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { parseRecordLine, verifyChain, type ChainStart, type EvidenceRecord, type EvidenceType } from "./record.js";
import { chunkName } from "./layout.js";
import type { ManifestChunk, SessionEnding } from "./manifest.js";

export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const NEWLINE = 0x0a;
const gzipAsync = promisify(gzip);

/**
 * How many leading bytes of `buffer` are complete lines totalling at most
 * maxBytes — or the first line alone when it is longer than that. 0 when
 * there is no complete line.
 */
export function completeLinesLength(buffer: Buffer, maxBytes: number): number {
  const limit = Math.min(buffer.length, maxBytes);
  const lastWithin = limit > 0 ? buffer.lastIndexOf(NEWLINE, limit - 1) : -1;
  if (lastWithin >= 0) return lastWithin + 1;
  const first = buffer.indexOf(NEWLINE);
  return first >= 0 ? first + 1 : 0;
}

/** Where a chunk starts: the seq of its first line and the hash that line must name as prev. */
export interface ChunkStart extends ChainStart {
  session: string;
}

export interface ChunkLines {
  firstSeq: number;
  lastSeq: number;
  prev: string;
  head: string;
  /** The type of the last line's record; undefined when that line is not a record. */
  lastType: EvidenceType | undefined;
  /** When the last line is the session-end: how the session ended. */
  end?: SessionEnding;
  /** Where the chain breaks inside these lines; undefined when they continue it correctly. */
  problem?: { seq: number; problem: string };
}

/**
 * The hash a line stands for: its record's hash, or for a line that is no record the SHA-256 of its bytes (which no
 * prev will match); and for a session-end, how the session ended.
 */
export function lineHead(line: string): { head: string; type: EvidenceType | undefined; end?: SessionEnding } {
  const record = parseRecordLine(line);
  if (typeof record === "string") return { head: sha256Digest(line), type: undefined };
  return { head: record.hash, type: record.type, ...(record.type === "session-end" ? { end: sessionEnding(record) } : {}) };
}

/** How the session whose session-end this is ended. */
export function sessionEnding(record: EvidenceRecord): SessionEnding {
  return { reason: typeof record.data.reason === "string" ? record.data.reason : "unknown", time: record.time };
}

/** The manifest facts of complete lines (text ending in "\n") that continue the chain at `start`. */
export function describeLines(text: string, start: ChunkStart): ChunkLines {
  const lines = text.split("\n").slice(0, -1);
  if (lines.length === 0) throw new RangeError("a chunk needs at least one complete line");
  const last = lineHead(lines[lines.length - 1] ?? "");
  const described: ChunkLines = { firstSeq: start.seq, lastSeq: start.seq + lines.length - 1, prev: start.prev, head: last.head, lastType: last.type, ...(last.end ? { end: last.end } : {}) };
  const records: EvidenceRecord[] = [];
  for (const [index, line] of lines.entries()) {
    const record = parseRecordLine(line);
    if (typeof record === "string") return { ...described, problem: { seq: start.seq + index, problem: record } };
    records.push(record);
  }
  const verdict = verifyChain(records, start);
  return verdict.ok ? described : { ...described, problem: { seq: verdict.seq, problem: verdict.problem } };
}

export interface BuiltChunk {
  entry: ManifestChunk;
  body: Buffer;
  lines: ChunkLines;
  /** Uncompressed bytes, i.e. how far the chunk moves the spool file offset. */
  lineBytes: number;
}

/** The `number`-th chunk (1-based) of a session, holding `lines` (complete lines). */
export async function buildChunk(number: number, lines: Buffer, start: ChunkStart): Promise<BuiltChunk> {
  const described = describeLines(lines.toString("utf8"), start);
  const body = await gzipAsync(lines);
  const entry: ManifestChunk = {
    name: chunkName(number),
    firstSeq: described.firstSeq,
    lastSeq: described.lastSeq,
    prev: described.prev,
    head: described.head,
    sha256: createHash("sha256").update(body).digest("hex"),
    bytes: body.length,
  };
  return { entry, body, lines: described, lineBytes: lines.length };
}
