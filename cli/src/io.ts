// Where a command writes and what it may ask about its surroundings, passed in
// rather than reached for, so tests run every command in-process and read
// exactly what a user would see.
export interface Io {
  /** The command's result (tables, transcripts, JSON). */
  out(text: string): void;
  /** Errors, warnings and progress, kept apart from a result that may be piped. */
  err(text: string): void;
  /** Progress bars only make sense on a terminal. */
  readonly stderrIsTTY: boolean;
  now(): Date;
}

export function processIo(): Io {
  // `portcullis sessions replay … | head`: the reader has what it wanted; stop quietly, as other tools do.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    stderrIsTTY: process.stderr.isTTY === true,
    now: () => new Date(),
  };
}
