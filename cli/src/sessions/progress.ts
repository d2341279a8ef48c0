// Download progress for big sessions, on stderr so it never mixes with the
// transcript: a line rewritten in place on a terminal, or one line per chunk
// when asked for with --progress while stderr is not a terminal (CI logs).
import type { Io } from "../io.js";

export interface Progress {
  chunkStarted(index: number): void;
  bytesRead(bytes: number): void;
  chunkDone(): void;
  finish(): void;
}

/** Sessions smaller than this download in a moment: no progress unless asked for. */
export const LARGE_SESSION_BYTES = 1 << 20;
const REDRAW_MS = 100;

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1 << 20) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

const SILENT: Progress = { chunkStarted: () => undefined, bytesRead: () => undefined, chunkDone: () => undefined, finish: () => undefined };

export function downloadProgress(io: Io, totals: { chunks: number; bytes: number }, forced: boolean): Progress {
  if (!forced && !(io.stderrIsTTY && totals.bytes >= LARGE_SESSION_BYTES)) return SILENT;
  let chunk = 0;
  let read = 0;
  let drawnAt = 0;
  const status = (): string => `downloading chunk ${chunk}/${totals.chunks}: ${formatBytes(read)} of ${formatBytes(totals.bytes)}`;
  const draw = (force: boolean): void => {
    const now = io.now().getTime();
    if (!force && now - drawnAt < REDRAW_MS) return;
    drawnAt = now;
    io.err(`\r${status()}\u001b[K`);
  };
  return {
    chunkStarted(index) {
      chunk = index + 1;
      if (io.stderrIsTTY) draw(true);
    },
    bytesRead(bytes) {
      read += bytes;
      if (io.stderrIsTTY) draw(false);
    },
    chunkDone() {
      if (io.stderrIsTTY) draw(true);
      else io.err(`${status()}\n`);
    },
    finish() {
      if (io.stderrIsTTY) io.err("\r\u001b[K");
    },
  };
}
