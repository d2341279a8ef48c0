// The two ways a command fails on purpose. Anything else that escapes a
// command is a bug or an unexpected failure, still reported as one line.
import { oneLine } from "./format/text.js";

/** The command line itself is wrong: the caller prints the message and the usage, and exits 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** The command understood what was asked and could not (or must not) do it: one line, exit 1. */
export class CliError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
  }
}

/** An error's message without its stack, on one printable line. */
export function errorText(error: unknown): string {
  return oneLine(error instanceof Error ? error.message : String(error));
}
