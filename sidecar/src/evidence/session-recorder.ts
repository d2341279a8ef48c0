// Appends one session's evidence to its spool file, on the gateway's hot path
// (one record before a statement is forwarded, one after its result).
//
// Durability: an append resolves once its line is written to the file, i.e.
// handed to the kernel. That survives the gateway being SIGKILLed or crashing,
// which is what the spool must survive; it does not survive the node losing
// power. There is no fsync per record because it would add a disk flush
// (milliseconds on network storage) to every statement; end() fsyncs once
// before marking the session complete.
//
// Ordering: records are sealed (seq, prev, hash) and written, synchronously,
// in the order append() is called, so callers need not await one append
// before the next (the promise only reports the outcome). A write error fails
// that append and every later one: the chain cannot continue past a record
// that may be missing, and the gateway answers by ending the session (fail
// closed).
import { writeSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { rename } from "node:fs/promises";
import {
  EVIDENCE_VERSION,
  GENESIS_HASH,
  emptyCounts,
  sealRecordLine,
  tallyRecord,
  type EvidenceDataByType,
  type EvidenceRecord,
  type EvidenceType,
  type SessionStartData,
} from "@portcullis/common/evidence/record";
import { writeAllSync } from "./spool-files.js";

export class EvidenceWriteError extends Error {
  constructor(session: string, cause: unknown) {
    super(`evidence for session ${session} could not be written (${cause instanceof Error ? cause.message : String(cause)}); the session must end`, { cause });
    this.name = "EvidenceWriteError";
  }
}

/** Record types a caller appends; session-start and session-end are written by the spool and end(). */
export type AppendableType = "request" | "result" | "message" | "approval";

export interface SessionEndInput {
  reason: string;
  error?: string;
}

export interface RecorderOptions {
  session: string;
  handle: FileHandle;
  /** The open-session file, and the name it gets once complete. */
  file: string;
  closedFile: string;
  clock: () => Date;
  /** Appends bytes (fs.writeSync's shape); by default to the handle's descriptor. */
  writeSync?: (data: Buffer, offset: number, length: number) => number;
  /** A line reached the file. */
  onWritten: (bytes: number) => void;
  /** The recorder will write no more (ended, or failed and closed). */
  onFinished: (session: string) => void;
}

export class SessionRecorder {
  readonly session: string;
  /** Resolves once the session-start record is written. */
  readonly started: Promise<EvidenceRecord>;
  private readonly startTime: Date;
  private readonly counts = emptyCounts();
  private failure: EvidenceWriteError | undefined;
  private sealedSeq = 0;
  private sealedHead = GENESIS_HASH;
  private writtenHead = GENESIS_HASH;
  private ending: Promise<EvidenceRecord> | undefined;

  constructor(
    private readonly options: RecorderOptions,
    start: SessionStartData,
  ) {
    this.session = options.session;
    this.startTime = options.clock();
    this.started = this.enqueue("session-start", start, this.startTime);
  }

  /** The hash of the last record written: the chain head so far. */
  get lastHash(): string {
    return this.writtenHead;
  }

  /** The session has ended (or is ending): appends are refused. */
  get ended(): boolean {
    return this.ending !== undefined;
  }

  append<T extends AppendableType>(type: T, data: EvidenceDataByType[T]): Promise<EvidenceRecord> {
    try {
      return Promise.resolve(this.appendSync(type, data));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new EvidenceWriteError(this.session, error));
    }
  }

  /** append, for a caller that goes on at once: the record as written, or the error append would reject with, thrown. */
  appendSync<T extends AppendableType>(type: T, data: EvidenceDataByType[T]): EvidenceRecord {
    if (this.ending !== undefined) throw new Error(`session ${this.session} has ended; no more evidence can be recorded for it`);
    return this.seal(type, data, this.options.clock());
  }

  /**
   * Writes the session-end (with totals over the session's records), fsyncs
   * and renames the file to mark the session complete. Called again, it
   * returns the first call's result: a session ends once.
   */
  end(input: SessionEndInput): Promise<EvidenceRecord> {
    this.ending ??= this.finish(input);
    return this.ending;
  }

  private async finish(input: SessionEndInput): Promise<EvidenceRecord> {
    const { handle } = this.options;
    let closed = false;
    try {
      const now = this.options.clock();
      const data = { ...input, counts: { ...this.counts }, durationMs: now.getTime() - this.startTime.getTime() };
      const record = await this.enqueue("session-end", data, now);
      await handle.sync();
      closed = true;
      await handle.close();
      await rename(this.options.file, this.options.closedFile);
      return record;
    } catch (error) {
      throw error instanceof EvidenceWriteError ? error : new EvidenceWriteError(this.session, error);
    } finally {
      if (!closed) await handle.close().catch(() => undefined);
      this.options.onFinished(this.session);
    }
  }

  private enqueue<T extends EvidenceType>(type: T, data: EvidenceDataByType[T], now: Date): Promise<EvidenceRecord> {
    try {
      return Promise.resolve(this.seal(type, data, now));
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new EvidenceWriteError(this.session, error));
    }
  }

  /** Seals the record as the chain's next and writes it. */
  private seal<T extends EvidenceType>(type: T, data: EvidenceDataByType[T], now: Date): EvidenceRecord {
    if (this.failure !== undefined) throw this.failure;
    let record: EvidenceRecord;
    let line: string;
    try {
      ({ record, line } = sealRecordLine({ v: EVIDENCE_VERSION, session: this.session, seq: this.sealedSeq + 1, time: now.toISOString(), type, data, prev: this.sealedHead }));
    } catch (error) {
      // Nothing was written and no seq was used: only this append fails.
      throw new TypeError(`a ${type} record for session ${this.session} cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    this.sealedSeq = record.seq;
    this.sealedHead = record.hash;
    tallyRecord(this.counts, type, record.data);
    return this.write(record, line);
  }

  private write(record: EvidenceRecord, text: string): EvidenceRecord {
    if (this.failure !== undefined) throw this.failure;
    const line = Buffer.from(text, "utf8");
    try {
      // Synchronous on purpose: appending a line to the page cache takes microseconds, while a
      // round trip through libuv's thread pool costs ~70 µs, and every statement waits for its record.
      writeAllSync(this.options.writeSync ?? ((data, offset, length) => writeSync(this.options.handle.fd, data, offset, length)), line);
    } catch (error) {
      this.failure = new EvidenceWriteError(this.session, error);
      throw this.failure;
    }
    this.writtenHead = record.hash;
    this.options.onWritten(line.length);
    return record;
  }
}
