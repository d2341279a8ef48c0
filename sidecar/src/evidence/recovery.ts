// Seals the sessions a previous gateway process left open (it crashed or was
// SIGKILLed), so that every session in the spool ends up complete and
// uploadable. Runs once when the spool opens, while holding the writer lock,
// so no file it touches has a live writer.
//
// A half-written last line is cut off first: its append never resolved, so the
// statement it describes was never forwarded. The session then gets a
// session-end with reason "gateway-restarted" chained to its last record. A
// file whose chain does not verify is marked complete as it is, without a
// session-end: corruption is evidence too, and the uploader's verification
// reports it.
import { open, readFile, rename, rm, truncate } from "node:fs/promises";
import {
  EVIDENCE_VERSION,
  GENESIS_HASH,
  emptyCounts,
  parseSpoolText,
  recordLine,
  sealRecord,
  tallyRecord,
  verifyChain,
  type EvidenceRecord,
  type SessionEndData,
} from "@portcullis/common/evidence/record";
import { closedSessionPath, listSessionFiles, writeAll, type SpoolSession } from "./spool-files.js";

export const RESTART_REASON = "gateway-restarted";

export interface RecoveredSession {
  session: string;
  /** ended: a session-end was added; already-ended: only the rename was missing; removed-empty: no complete record; left-corrupt: see problem. */
  outcome: "ended" | "already-ended" | "removed-empty" | "left-corrupt";
  /** Bytes of an unfinished last line that were cut off. */
  discardedBytes: number;
  problem?: string;
}

function restartEnd(records: readonly EvidenceRecord[], now: Date, discardedBytes: number): SessionEndData {
  const counts = emptyCounts();
  for (const record of records) tallyRecord(counts, record.type, record.data);
  const started = Date.parse(records[0]?.time ?? now.toISOString());
  return {
    reason: RESTART_REASON,
    error: "the gateway stopped without ending the session (a crash or a kill); it was sealed when the gateway restarted",
    counts,
    durationMs: Math.max(0, now.getTime() - started),
    ...(discardedBytes > 0 ? { discardedBytes } : {}),
  };
}

async function appendDurably(file: string, record: EvidenceRecord): Promise<void> {
  const handle = await open(file, "a");
  try {
    await writeAll(handle, Buffer.from(recordLine(record), "utf8"));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Problems in the complete part of a file, or the records when they form a valid chain. */
function checkedRecords(text: string, session: string): EvidenceRecord[] | string {
  const parsed = parseSpoolText(text);
  const first = parsed.problems[0];
  if (first !== undefined) return `line ${first.line}: ${first.problem}`;
  const verdict = verifyChain(parsed.records, { seq: 1, prev: GENESIS_HASH, session });
  return verdict.ok ? parsed.records : `record ${verdict.seq}: ${verdict.problem}`;
}

async function recoverSession(dir: string, entry: SpoolSession, now: Date): Promise<RecoveredSession> {
  const content = await readFile(entry.file);
  const complete = content.lastIndexOf(0x0a) + 1;
  const discardedBytes = content.length - complete;
  const result = { session: entry.session, discardedBytes };
  if (complete === 0) {
    await rm(entry.file);
    return { ...result, outcome: "removed-empty" };
  }
  if (discardedBytes > 0) await truncate(entry.file, complete);
  const records = checkedRecords(content.subarray(0, complete).toString("utf8"), entry.session);
  const closedFile = closedSessionPath(dir, entry.session);
  if (typeof records === "string") {
    await rename(entry.file, closedFile);
    return { ...result, outcome: "left-corrupt", problem: records };
  }
  const last = records[records.length - 1];
  if (last?.type === "session-end") {
    await rename(entry.file, closedFile);
    return { ...result, outcome: "already-ended" };
  }
  const end = sealRecord({
    v: EVIDENCE_VERSION,
    session: entry.session,
    seq: (last?.seq ?? 0) + 1,
    time: now.toISOString(),
    type: "session-end",
    data: restartEnd(records, now, discardedBytes),
    prev: last?.hash ?? GENESIS_HASH,
  });
  await appendDurably(entry.file, end);
  await rename(entry.file, closedFile);
  return { ...result, outcome: "ended" };
}

/** Seals every open-session file in `dir`; the caller must hold the writer lock. */
export async function recoverSessions(dir: string, now: Date): Promise<RecoveredSession[]> {
  const recovered: RecoveredSession[] = [];
  for (const entry of await listSessionFiles(dir)) {
    if (!entry.closed) recovered.push(await recoverSession(dir, entry, now));
  }
  return recovered;
}
