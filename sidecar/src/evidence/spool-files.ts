// Where sessions live in the spool directory, shared by the writer, recovery
// and the uploader's listing: DIR/<session>.jsonl while a session is being
// written, DIR/<session>.closed.jsonl once it is complete. Any other file in
// the directory (the writer lock) is not evidence and is ignored.
import type { FileHandle } from "node:fs/promises";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";


const FILE_PATTERN = /^([0-9A-Za-z][0-9A-Za-z_-]{0,127})(\.closed)?\.jsonl$/;

export interface SpoolSession {
  session: string;
  file: string;
  /** True once the session is complete (renamed to .closed.jsonl): ready to upload and remove. */
  closed: boolean;
  bytes: number;
}

export function openSessionPath(dir: string, session: string): string {
  return path.join(dir, `${session}.jsonl`);
}

export function closedSessionPath(dir: string, session: string): string {
  return path.join(dir, `${session}.closed.jsonl`);
}

/** The session files in `dir`, oldest session first (session IDs sort by time). */
export async function listSessionFiles(dir: string): Promise<SpoolSession[]> {
  const sessions: SpoolSession[] = [];
  for (const name of await readdir(dir)) {
    const match = FILE_PATTERN.exec(name);
    if (match?.[1] === undefined) continue;
    const file = path.join(dir, name);
    try {
      const info = await stat(file);
      if (info.isFile()) sessions.push({ session: match[1], file, closed: match[2] !== undefined, bytes: info.size });
    } catch (error) {
      // Removed between readdir and stat (an upload finished): no longer there.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  return sessions.sort((a, b) => (a.session < b.session ? -1 : a.session > b.session ? 1 : Number(a.closed) - Number(b.closed)));
}

/** Writes all of `data` at the end of the file (opened with "a"): a write may take fewer bytes than asked. */
export function writeAllSync(write: (data: Buffer, offset: number, length: number) => number, data: Buffer): void {
  let offset = 0;
  while (offset < data.length) {
    const written = write(data, offset, data.length - offset);
    if (written === 0) throw new Error("the file accepted no bytes");
    offset += written;
  }
}

export async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset, null);
    if (bytesWritten === 0) throw new Error("the file accepted no bytes");
    offset += bytesWritten;
  }
}
