// Test helper: an Io that keeps what a command writes, at a fixed time.
import type { Io } from "./io.js";

export interface CapturedIo {
  io: Io;
  stdout(): string;
  stderr(): string;
}

export function capturedIo(options: { now?: Date; stderrIsTTY?: boolean } = {}): CapturedIo {
  let stdout = "";
  let stderr = "";
  const now = options.now ?? new Date("2026-11-25T12:00:00.000Z");
  return {
    io: {
      out: (text) => void (stdout += text),
      err: (text) => void (stderr += text),
      stderrIsTTY: options.stderrIsTTY ?? false,
      now: () => now,
    },
    stdout: () => stdout,
    stderr: () => stderr,
  };
}
