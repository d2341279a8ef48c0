// The local evidence spool: every session's records are written here before
// the statements they describe are forwarded, and stay here until the
// uploader has stored them (the spool directory is an emptyDir, so it outlives
// a gateway restart). The spool is bounded: when the evidence not yet uploaded
// reaches maxBytes, new sessions are refused (fail closed) — sessions already
// running may finish, so leave headroom below the volume's size.
import { constants } from "node:fs";
import { dirname } from "node:path";
import { access, mkdir, open, rm, stat } from "node:fs/promises";
import { recoverSessions, type RecoveredSession } from "./recovery.js";
import type { SessionStartData } from "@portcullis/common/evidence/record";
import { newSessionId } from "@portcullis/common/evidence/session-id";
import { SessionRecorder } from "./session-recorder.js";
import { closedSessionPath, listSessionFiles, openSessionPath, type SpoolSession } from "./spool-files.js";
import { SESSION_NAME_PATTERN } from "@portcullis/common/evidence/session-id";
import { acquireWriterLock, type WriterLock } from "./writer-lock.js";

export { SpoolLockedError } from "./writer-lock.js";
export type { SpoolSession } from "./spool-files.js";
export type { RecoveredSession } from "./recovery.js";

export class SpoolFullError extends Error {
  constructor(dir: string, usedBytes: number, maxBytes: number) {
    super(
      `the evidence spool at ${dir} holds ${usedBytes} bytes of evidence not yet uploaded (limit ${maxBytes}), so new sessions are refused until the evidence store accepts uploads`,
    );
    this.name = "SpoolFullError";
  }
}

/** Told about spool activity, e.g. to keep metrics current. */
export interface SpoolObserver {
  recordWritten(): void;
  usedBytesChanged(bytes: number): void;
}

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  clock?: () => Date;
  observer?: SpoolObserver;
}

export interface StartSessionOptions {
  /** A name for the session; by default a new time-sortable session ID. */
  session?: string;
  data: SessionStartData;
}

/** The spool directory cannot be made or used; the message names the path and the reason. */
export class SpoolDirectoryError extends Error {
  override readonly name = "SpoolDirectoryError";
}

/**
 * Creates the directory and its missing parents (0700). Node's recursive mkdir never returns where a parent
 * exists but refuses children (a path under /proc), so parents are made one at a time and a refusal is final.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return checkDirectory(dir);
    const parent = dirname(dir);
    if (code !== "ENOENT" || parent === dir) throw new SpoolDirectoryError(`the evidence spool directory ${dir} cannot be created: ${(error as Error).message}`);
    await makeDirectory(parent);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (retry) {
      if ((retry as NodeJS.ErrnoException).code === "EEXIST") return checkDirectory(dir);
      throw new SpoolDirectoryError(`the evidence spool directory ${dir} cannot be created: ${(retry as Error).message}`);
    }
  }
}

async function checkDirectory(dir: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(dir);
  } catch (error) {
    throw new SpoolDirectoryError(`the evidence spool directory ${dir} cannot be used: ${(error as Error).message}`);
  }
  if (!info.isDirectory()) throw new SpoolDirectoryError(`the evidence spool path ${dir} is not a directory`);
  try {
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new SpoolDirectoryError(`the evidence spool directory ${dir} cannot be written: ${(error as Error).message}`);
  }
}

export class EvidenceSpool {
  private readonly live = new Map<string, SessionRecorder>();
  private closing: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly clock: () => Date,
    private readonly observer: SpoolObserver | undefined,
    private readonly lock: WriterLock,
    private used: number,
    /** What recovery did with the sessions a previous process left open. */
    readonly recovered: readonly RecoveredSession[],
  ) {
    observer?.usedBytesChanged(used);
  }

  /** Creates the directory (0700), takes the writer lock and seals sessions a previous process left open. */
  static async open(options: SpoolOptions): Promise<EvidenceSpool> {
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) throw new RangeError(`the evidence spool limit must be a positive number of bytes, got ${options.maxBytes}`);
    const clock = options.clock ?? ((): Date => new Date());
    await makeDirectory(options.dir);
    const lock = await acquireWriterLock(options.dir);
    try {
      const recovered = await recoverSessions(options.dir, clock());
      const used = (await listSessionFiles(options.dir)).reduce((sum, entry) => sum + entry.bytes, 0);
      return new EvidenceSpool(options.dir, options.maxBytes, clock, options.observer, lock, used, recovered);
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** Bytes of evidence in the spool: open sessions and complete ones not yet removed after upload. */
  usedBytes(): number {
    return this.used;
  }

  /** Opens a session and writes its session-start record; throws SpoolFullError when the spool is full. */
  async startSession(meta: StartSessionOptions): Promise<SessionRecorder> {
    this.admit();
    const session = meta.session ?? newSessionId(this.clock());
    await this.checkName(session);
    const file = openSessionPath(this.dir, session);
    const handle = await open(file, "wx", 0o600);
    if (this.closing !== undefined) {
      await handle.close();
      await rm(file, { force: true });
      throw this.closedError();
    }
    const recorder = new SessionRecorder(
      {
        session,
        handle,
        file,
        closedFile: closedSessionPath(this.dir, session),
        clock: this.clock,
        onWritten: (bytes) => this.written(bytes),
        onFinished: (name) => this.live.delete(name),
      },
      meta.data,
    );
    this.live.set(session, recorder);
    try {
      await recorder.started;
    } catch (error) {
      // Nothing of this session was acknowledged, so nothing is lost by removing it.
      // Its bytes were never counted (only completed writes are).
      await recorder.end({ reason: "evidence-write-failed" }).catch(() => undefined);
      await rm(file, { force: true });
      throw error;
    }
    return recorder;
  }

  /** Sessions in the spool, oldest first; `closed` ones are complete and ready to upload. */
  listSessions(): Promise<SpoolSession[]> {
    return listSessionFiles(this.dir);
  }

  /** Deletes a complete session after it was uploaded. */
  async remove(session: string): Promise<void> {
    if (this.live.has(session)) throw new Error(`session ${session} is still being recorded; only complete sessions can be removed`);
    if (!SESSION_NAME_PATTERN.test(session)) throw new Error(`"${session}" is not a session name`);
    const file = closedSessionPath(this.dir, session);
    try {
      await this.removeFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new Error(`the evidence spool at ${this.dir} holds no complete session ${session}`, { cause: error });
      throw error;
    }
  }

  /** Ends the sessions still open (reason "gateway-stopped" by default) and releases the directory. */
  close(reason = "gateway-stopped"): Promise<void> {
    this.closing ??= (async (): Promise<void> => {
      await Promise.allSettled([...this.live.values()].map((recorder) => recorder.end({ reason })));
      await this.lock.release();
    })();
    return this.closing;
  }

  private admit(): void {
    if (this.closing !== undefined) throw this.closedError();
    if (this.used >= this.maxBytes) throw new SpoolFullError(this.dir, this.used, this.maxBytes);
  }

  private closedError(): Error {
    return new Error(`the evidence spool at ${this.dir} is closed; the gateway is stopping`);
  }

  private async checkName(session: string): Promise<void> {
    if (!SESSION_NAME_PATTERN.test(session)) throw new Error(`"${session}" cannot name a session: use letters, digits, "-" and "_" (at most 128)`);
    const exists = await access(closedSessionPath(this.dir, session)).then(
      () => true,
      () => false,
    );
    if (exists || this.live.has(session)) throw new Error(`the evidence spool at ${this.dir} already holds a session ${session}`);
  }

  private async removeFile(file: string): Promise<void> {
    const { size } = await stat(file);
    await rm(file);
    this.used = Math.max(0, this.used - size);
    this.observer?.usedBytesChanged(this.used);
  }

  private written(bytes: number): void {
    this.used += bytes;
    this.observer?.recordWritten();
    this.observer?.usedBytesChanged(this.used);
  }
}
