// Moves evidence from the spool to the object store named by the session's
// policy, and removes it from the spool once it is stored.
//
// Each pass lists the spool and, per session, uploads the complete lines not
// yet uploaded as the next chunk (at most ~1 MiB each), then rewrites the
// signed manifest, then records the progress in DIR/<session>.upload.json.
// A session that is complete and fully uploaded goes in its pod's ledger
// (session-ledger.ts), then is removed from the spool.
//
// Nothing is lost or duplicated: a chunk that failed to upload is retried
// with the same name and the same bytes (kept in memory until the manifest
// lists it); after a restart the manifest in the store decides where to
// resume, and a chunk stored without a manifest listing it is simply written
// again. When the store fails, that session waits with exponential, jittered
// backoff while its records stay in the spool (which refuses new sessions
// when full: fail closed).
//
// Sessions whose policy records nowhere (storeFor returns undefined) are
// removed from the spool when they end, with a log line: nobody asked for
// that evidence, and keeping it would fill the spool and refuse every new
// session. When storeFor throws (settings not loaded yet, or unusable), the
// session is kept and retried like a store failure.
import { open, readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { GENESIS_HASH, parseRecordLine, type SessionStartData } from "@portcullis/common/evidence/record";
import type { EvidenceSpool, SpoolSession } from "./spool.js";
import { DEFAULT_CHUNK_BYTES, buildChunk, completeLinesLength, type BuiltChunk } from "@portcullis/common/evidence/chunks";
import { CHUNK_CONTENT_TYPE, MANIFEST_CONTENT_TYPE, MANIFEST_NAME, sessionKeyPrefix } from "@portcullis/common/evidence/layout";
import { parseManifest, publicKeyPem, signManifest, type ManifestChunk, type SessionEnding } from "@portcullis/common/evidence/manifest";
import type { StoreTarget } from "./store/store.js";
import { offsetAfterRecord, readUploadState, reconcileUpload, removeUploadState, writeUploadState } from "./store/upload-state.js";
import { SessionLedgers } from "./session-ledger.js";

export interface UploaderLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

/**
 * Where a session's evidence goes, from its session-start record: a target,
 * or undefined when its policy records nowhere. Throw when it cannot be told
 * yet (configuration not loaded, store settings unusable): the session stays
 * in the spool and is asked about again with backoff.
 */
export type StoreFor = (start: SessionStartData, session: string) => StoreTarget | undefined | Promise<StoreTarget | undefined>;

export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
}

export interface UploaderOptions {
  spool: Pick<EvidenceSpool, "dir" | "listSessions" | "remove">;
  storeFor: StoreFor;
  /** Time between passes when nothing pokes the uploader. */
  intervalMs: number;
  log: UploaderLog;
  clock?: () => Date;
  /** Uncompressed bytes per chunk at most (a longer single line is a chunk of its own); default 1 MiB. */
  chunkBytes?: number;
  /** Per-session retry delays after store failures; default 1 s doubling to 60 s. */
  backoff?: BackoffSettings;
  /** Jitter source in [0, 1); Math.random by default. */
  random?: () => number;
}

export interface PassResult {
  /** Sessions with evidence still to upload, or complete and not yet removed. */
  pending: string[];
  /** Sessions whose upload failed in this pass (they wait with backoff). */
  failed: string[];
  /** Sessions removed from the spool in this pass. */
  removed: string[];
  chunks: number;
}

export interface FlushResult {
  /** True when every complete line in the spool is uploaded and every complete session removed. */
  done: boolean;
  /** Sessions left in the spool with something still to do. */
  pending: string[];
}

const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1_000, maxMs: 60_000 };
/** A session-start record is a few hundred bytes; read that much to find its end. */
const FIRST_LINE_WINDOW = 16 * 1024;
/** While flushing against a down store, how long to wait between passes. */
const FLUSH_RETRY_MS = 250;

/** The delay before the n-th consecutive retry (n ≥ 1): doubling from initialMs up to maxMs, then scaled into [50 %, 100 %) so retries spread out. */
export function backoffDelay(failures: number, settings: BackoffSettings, random: () => number): number {
  const exponential = Math.min(settings.maxMs, settings.initialMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(exponential * (0.5 + random() / 2));
}

/** What the session-start record says about where the session's objects go. */
interface StartFacts {
  data: SessionStartData;
  namespace: string;
  pod: string;
  resource: string;
}

interface PendingChunk {
  built: BuiltChunk;
  /** The chunk object is stored; only the manifest is missing. */
  stored: boolean;
}

/** A session whose destination is known and reconciled with the store. */
interface SessionPlan {
  session: string;
  /** undefined: its policy records nowhere. */
  target: StoreTarget | undefined;
  facts: StartFacts;
  keyPrefix: string;
  destination: string;
  publicKey: string;
  chunks: ManifestChunk[];
  offset: number;
  complete: boolean;
  /** How the session ended, once its final manifest is stored. */
  end?: SessionEnding;
  pending?: PendingChunk;
}

interface SessionUpload {
  failures: number;
  retryAt: number;
  plan?: SessionPlan;
}

type StepOutcome = "idle" | "pending" | "removed" | "failed" | "waiting";

interface PassOptions {
  ignoreBackoff: boolean;
  deadline?: number;
}

function stringField(value: unknown, name: string): string | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const field = (value as Record<string, unknown>)[name];
  return typeof field === "string" ? field : undefined;
}

/** The session-start's routing facts; throws when the first line is not a session-start that names them. */
function startFacts(line: string, session: string): StartFacts {
  const record = parseRecordLine(line.replace(/\n$/, ""));
  if (typeof record === "string" || record.type !== "session-start" || record.session !== session) {
    const what = typeof record === "string" ? record : `a ${record.type} record of session ${record.session}`;
    throw new Error(`the first line of session ${session} is not its session-start (${what}), so its store cannot be known; it stays in the spool`);
  }
  const namespace = stringField(record.data.identity, "namespace");
  const pod = stringField(record.data.identity, "pod");
  const resource = stringField(record.data.resource, "name");
  if (namespace === undefined || pod === undefined || resource === undefined) {
    throw new Error(`the session-start of session ${session} names no identity namespace, pod or resource, so its store cannot be known; it stays in the spool`);
  }
  return { data: record.data as unknown as SessionStartData, namespace, pod, resource };
}

/**
 * Complete lines from `offset` on: at most maxBytes of them, or one longer
 * line; empty when no complete line follows. Reads `window` bytes first
 * (what is known to be there), more only for a line longer than that.
 */
async function readCompleteLines(file: string, offset: number, maxBytes: number, window: number): Promise<Buffer> {
  const handle = await open(file, "r");
  try {
    for (let size = Math.max(1, Math.min(window, maxBytes)); ; size *= 2) {
      const buffer = Buffer.alloc(size);
      const { bytesRead } = await handle.read(buffer, 0, size, offset);
      const data = buffer.subarray(0, bytesRead);
      const length = completeLinesLength(data, maxBytes);
      // No newline in a full buffer means a line longer than the buffer: read more of it.
      if (length > 0 || bytesRead < size) return data.subarray(0, length);
    }
  } finally {
    await handle.close();
  }
}

const isMissingFile = (error: unknown): boolean => (error as NodeJS.ErrnoException).code === "ENOENT";
const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

export class EvidenceUploader {
  private readonly sessions = new Map<string, SessionUpload>();
  private readonly ledgers = new SessionLedgers((message) => this.options.log.warn(message));
  private readonly clock: () => Date;
  private readonly chunkBytes: number;
  private readonly backoff: BackoffSettings;
  private readonly random: () => number;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: UploaderOptions) {
    this.clock = options.clock ?? ((): Date => new Date());
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
    if (!(this.chunkBytes > 0) || !(options.intervalMs > 0)) throw new RangeError("the uploader needs a positive chunk size and interval");
  }

  /** Starts periodic passes (the first one right away). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(0);
  }

  /** Asks for a pass soon, e.g. when a session ended. */
  poke(): void {
    if (this.started && !this.stopped) this.schedule(0);
  }

  /** One pass now, after any pass already running. */
  pass(): Promise<PassResult> {
    return this.enqueue({ ignoreBackoff: false });
  }

  /**
   * For shutdown (SIGTERM): passes without backoff until everything that can
   * be uploaded is, or the deadline comes. End the spool's sessions first
   * (spool.close()), so their last records are complete. Returns by the
   * deadline even when a request is still in flight.
   */
  async flush(deadline: Date): Promise<FlushResult> {
    const end = deadline.getTime();
    for (;;) {
      const remaining = end - this.clock().getTime();
      if (remaining <= 0 || this.stopped) return { done: false, pending: await this.spooled() };
      const result = await this.withinDeadline(this.enqueue({ ignoreBackoff: true, deadline: end }), remaining);
      if (result === undefined) return { done: false, pending: await this.spooled() };
      if (result.pending.length === 0) return { done: true, pending: [] };
      if (result.failed.length > 0) await sleep(Math.min(FLUSH_RETRY_MS, Math.max(0, end - this.clock().getTime())));
    }
  }

  /** Stops the passes; resolves when the pass in progress (if any) has finished its current step. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.enqueue({ ignoreBackoff: false })
        .catch((error: unknown) => this.options.log.error("evidence upload pass failed", { error: messageOf(error) }))
        .finally(() => {
          if (!this.stopped && this.timer === undefined) this.schedule(this.options.intervalMs);
        });
    }, delayMs);
    // The gateway's listeners keep the process alive; a pending upload pass alone should not.
    this.timer.unref();
  }

  private enqueue(options: PassOptions): Promise<PassResult> {
    const result = this.queue.then(() => this.runPass(options));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async withinDeadline<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
    const timeout = new AbortController();
    try {
      return await Promise.race([work, sleep(ms, undefined, { signal: timeout.signal }).then(() => undefined)]);
    } finally {
      timeout.abort();
    }
  }

  /** Sessions still in the spool (for a flush that ran out of time). */
  private async spooled(): Promise<string[]> {
    return (await this.options.spool.listSessions()).map((entry) => entry.session);
  }

  private async runPass(options: PassOptions): Promise<PassResult> {
    const result: PassResult = { pending: [], failed: [], removed: [], chunks: 0 };
    const entries = await this.options.spool.listSessions();
    const listed = new Set(entries.map((entry) => entry.session));
    for (const session of this.sessions.keys()) if (!listed.has(session)) this.sessions.delete(session);
    for (const entry of entries) {
      const outOfTime = options.deadline !== undefined && this.clock().getTime() >= options.deadline;
      const outcome = this.stopped || outOfTime ? "pending" : await this.step(entry, options, result);
      if (outcome === "removed") result.removed.push(entry.session);
      if (outcome === "failed") result.failed.push(entry.session);
      if (outcome === "failed" || outcome === "pending" || outcome === "waiting") result.pending.push(entry.session);
    }
    return result;
  }

  private async step(entry: SpoolSession, options: PassOptions, result: PassResult): Promise<StepOutcome> {
    const upload = this.sessions.get(entry.session) ?? { failures: 0, retryAt: 0 };
    this.sessions.set(entry.session, upload);
    if (!options.ignoreBackoff && upload.retryAt > this.clock().getTime()) return "waiting";
    try {
      upload.plan ??= await this.plan(entry);
      if (upload.plan === undefined) return "idle";
      const outcome = await this.advance(upload.plan, entry, result, options);
      this.succeeded(entry.session, upload);
      return outcome;
    } catch (error) {
      // Renamed from <session>.jsonl to .closed.jsonl since the listing: the next pass finds it.
      if (isMissingFile(error)) return "pending";
      this.failed(entry.session, upload, error);
      return "failed";
    }
  }

  private succeeded(session: string, upload: SessionUpload): void {
    if (upload.failures > 0) this.options.log.info("evidence upload resumed", { session, afterFailures: upload.failures });
    upload.failures = 0;
    upload.retryAt = 0;
  }

  private failed(session: string, upload: SessionUpload, error: unknown): void {
    upload.failures += 1;
    const delay = backoffDelay(upload.failures, this.backoff, this.random);
    upload.retryAt = this.clock().getTime() + delay;
    this.options.log.warn("evidence upload failed; the records stay in the spool and the upload is retried", {
      session,
      error: messageOf(error),
      failures: upload.failures,
      retryInMs: delay,
    });
  }

  /** Where the session goes and where its upload resumes; undefined while not even its session-start is complete. */
  private async plan(entry: SpoolSession): Promise<SessionPlan | undefined> {
    const first = await readCompleteLines(entry.file, 0, 1, FIRST_LINE_WINDOW);
    if (first.length === 0) return undefined;
    const facts = startFacts(first.toString("utf8"), entry.session);
    const target = await this.options.storeFor(facts.data, entry.session);
    const base = { session: entry.session, target, facts, chunks: [], offset: 0, complete: false };
    if (target === undefined) return { ...base, keyPrefix: "", destination: "", publicKey: "" };
    const keyPrefix = sessionKeyPrefix({ prefix: target.prefix, namespace: facts.namespace, pod: facts.pod, session: entry.session });
    const destination = `${target.store.location}/${keyPrefix}`;
    const publicKey = publicKeyPem(target.signingKey);
    const state = await readUploadState(this.options.spool.dir, entry.session);
    const stored = await target.store.get(keyPrefix + MANIFEST_NAME);
    const manifest = stored && parseManifest(stored.toString("utf8"));
    const resume = reconcileUpload({ session: entry.session, destination, publicKey, state, manifest });
    if (resume.note !== undefined) this.options.log.warn(`evidence upload of session ${entry.session}: ${resume.note}`, { session: entry.session, destination });
    const offset = resume.offset ?? (await this.locate(entry, resume.chunks));
    const end = resume.complete && typeof manifest === "object" ? manifest.end : undefined;
    return { ...base, keyPrefix, destination, publicKey, chunks: resume.chunks, complete: resume.complete, offset, ...(end ? { end } : {}) };
  }

  /** The spool offset after the last record the store's manifest lists. */
  private async locate(entry: SpoolSession, chunks: readonly ManifestChunk[]): Promise<number> {
    const last = chunks.at(-1);
    if (last === undefined) return 0;
    const offset = offsetAfterRecord(await readFile(entry.file), last.lastSeq, last.head);
    if (typeof offset === "string") throw new Error(`the evidence store and the spool disagree about session ${entry.session}: ${offset}; nothing more is uploaded for it until this is resolved`);
    return offset;
  }

  /** Uploads what the session has, and removes it once complete and uploaded. */
  private async advance(plan: SessionPlan, entry: SpoolSession, result: PassResult, options: PassOptions): Promise<StepOutcome> {
    if (plan.target === undefined) return this.discardUnrecorded(plan, entry);
    let exhausted = false;
    while (!exhausted && !this.stopped && (options.deadline === undefined || this.clock().getTime() < options.deadline)) {
      exhausted = !(await this.uploadNextChunk(plan, plan.target, entry));
      if (!exhausted) result.chunks += 1;
    }
    if (!exhausted) return "pending";
    if (!entry.closed) return "idle";
    // A complete session's file ends in a complete line (recovery cuts off a partial one), so this cannot happen; if it does, nothing is removed.
    if (plan.offset !== entry.bytes) throw new Error(`the complete spool file of session ${entry.session} has ${entry.bytes - plan.offset} bytes after its last complete line`);
    await this.recordInLedger(plan, plan.target);
    await removeUploadState(this.options.spool.dir, entry.session);
    await this.options.spool.remove(entry.session);
    this.sessions.delete(entry.session);
    return "removed";
  }

  /** An ended session goes in its pod's ledger before it leaves the spool. */
  private async recordInLedger(plan: SessionPlan, target: StoreTarget): Promise<void> {
    const last = plan.chunks.at(-1);
    // A session whose final manifest an earlier gateway wrote without its ending is not in a ledger.
    if (!plan.complete || plan.end === undefined || last === undefined) return;
    await this.ledgers.append(target, { namespace: plan.facts.namespace, pod: plan.facts.pod, session: plan.session, records: last.lastSeq, head: last.head, end: plan.end });
  }

  private async discardUnrecorded(plan: SessionPlan, entry: SpoolSession): Promise<StepOutcome> {
    if (!entry.closed) return "idle";
    await this.options.spool.remove(entry.session);
    this.sessions.delete(entry.session);
    this.options.log.info("evidence discarded: no policy of this session configures recording (spec.recording)", {
      session: entry.session,
      resource: plan.facts.resource,
      policies: plan.facts.data.policies,
    });
    return "removed";
  }

  /** Uploads one chunk and the manifest that lists it; false when there was nothing to upload. */
  private async uploadNextChunk(plan: SessionPlan, target: StoreTarget, entry: SpoolSession): Promise<boolean> {
    plan.pending ??= await this.nextChunk(plan, entry);
    const pending = plan.pending;
    if (pending === undefined) return false;
    const { entry: chunk, body } = pending.built;
    if (!pending.stored) {
      await target.store.put(plan.keyPrefix + chunk.name, body, CHUNK_CONTENT_TYPE);
      pending.stored = true;
    }
    const chunks = [...plan.chunks, chunk];
    const complete = pending.built.lines.lastType === "session-end";
    const manifest = signManifest(
      {
        version: 1,
        session: plan.session,
        namespace: plan.facts.namespace,
        pod: plan.facts.pod,
        resource: plan.facts.resource,
        chunks,
        head: chunk.head,
        records: chunk.lastSeq,
        complete,
        ...(pending.built.lines.end ? { end: pending.built.lines.end } : {}),
        updatedAt: this.clock().toISOString(),
      },
      target.signingKey,
    );
    await target.store.put(plan.keyPrefix + MANIFEST_NAME, Buffer.from(JSON.stringify(manifest, null, 2)), MANIFEST_CONTENT_TYPE);
    plan.chunks = chunks;
    plan.complete = complete;
    if (pending.built.lines.end) plan.end = pending.built.lines.end;
    plan.offset += pending.built.lineBytes;
    plan.pending = undefined;
    await writeUploadState(this.options.spool.dir, { version: 1, session: plan.session, destination: plan.destination, chunks, offset: plan.offset, complete });
    return true;
  }

  /** The next chunk from the spool file, or undefined when no complete line follows what is uploaded. */
  private async nextChunk(plan: SessionPlan, entry: SpoolSession): Promise<PendingChunk | undefined> {
    // Nothing was added since the listing: no need to read (what arrives later, the next pass takes).
    if (plan.offset >= entry.bytes) return undefined;
    const lines = await readCompleteLines(entry.file, plan.offset, this.chunkBytes, entry.bytes - plan.offset);
    if (lines.length === 0) return undefined;
    const last = plan.chunks.at(-1);
    const built = await buildChunk(plan.chunks.length + 1, lines, { seq: (last?.lastSeq ?? 0) + 1, prev: last?.head ?? GENESIS_HASH, session: plan.session });
    const problem = built.lines.problem;
    if (problem !== undefined) {
      this.options.log.error("the evidence in the spool does not verify; it is uploaded as it is, so verification shows where", {
        session: plan.session,
        chunk: built.entry.name,
        seq: problem.seq,
        problem: problem.problem,
      });
    }
    return { built, stored: false };
  }
}
