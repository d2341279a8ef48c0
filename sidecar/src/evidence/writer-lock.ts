// One writer per spool directory. Recovery seals every session file without a
// session-end, which is only right when nobody is still writing it: a lock
// file holding the writer's PID tells a restarted gateway (the previous
// process is gone) from a second gateway on the same directory (refused).
//
// In a container a restarted gateway often gets the PID its predecessor had,
// so a lock naming our own PID is stale unless this process holds it — which
// the in-process set below records. A PID that belongs to a different live
// process counts as a live writer (fail closed: the spool is not opened).
import { open, readFile, realpath, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const LOCK_FILE = "writer.lock";
const heldHere = new Set<string>();

export class SpoolLockedError extends Error {
  constructor(dir: string, holder: string) {
    super(`the evidence spool at ${dir} is in use by ${holder}; one spool directory serves one gateway`);
    this.name = "SpoolLockedError";
  }
}

export interface WriterLock {
  release(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function recordedPid(file: string): Promise<number | undefined> {
  try {
    const pid = (JSON.parse(await readFile(file, "utf8")) as { pid?: unknown }).pid;
    return typeof pid === "number" && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined; // unreadable or half-written: nobody can be proven to hold it
  }
}

async function createLockFile(file: string, content: string): Promise<boolean> {
  try {
    const handle = await open(file, "wx", 0o600);
    try {
      await handle.writeFile(content);
    } finally {
      await handle.close();
    }
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

async function takeLockFile(dir: string, file: string): Promise<void> {
  const content = JSON.stringify({ pid: process.pid, since: new Date().toISOString() });
  if (await createLockFile(file, content)) return;
  const pid = await recordedPid(file);
  if (pid !== undefined && pid !== process.pid && processAlive(pid)) throw new SpoolLockedError(dir, `another gateway process (pid ${pid})`);
  await writeFile(file, content, { mode: 0o600 });
}

/** Takes the spool directory's writer lock; throws SpoolLockedError while another live process or spool holds it. */
export async function acquireWriterLock(dir: string): Promise<WriterLock> {
  const real = await realpath(dir);
  const file = path.join(real, LOCK_FILE);
  if (heldHere.has(real)) throw new SpoolLockedError(dir, "another spool of this process");
  heldHere.add(real);
  try {
    await takeLockFile(dir, file);
  } catch (error) {
    heldHere.delete(real);
    throw error;
  }
  return {
    release: async (): Promise<void> => {
      heldHere.delete(real);
      await rm(file, { force: true });
    },
  };
}
