// The whole command line: dispatch to the command groups, and the one place
// failures become output and exit codes — 2 with the usage for a wrong
// command line, 1 with a single line for everything else, never a stack trace.
import { commandGroup } from "./args.js";
import { approvalsCommand } from "./approvals/command.js";
import { UsageError, errorText } from "./errors.js";
import type { Io } from "./io.js";
import { sessionsCommand } from "./sessions/command.js";

const USAGE = `Usage: portcullis <command> <subcommand> [options]    (as a kubectl plugin: kubectl portcullis ...)

Commands:
  approvals  ${approvalsCommand.summary} (list, approve, deny)
  sessions   ${sessionsCommand.summary} (list, replay, verify)

Run "portcullis <command> --help" for its subcommands.
`;

const root = commandGroup("the Portcullis command line", USAGE, { approvals: approvalsCommand, sessions: sessionsCommand });

export async function run(argv: readonly string[], io: Io): Promise<number> {
  try {
    return await root.run(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`error: ${error.message}\n\n${error.usage}`);
      return 2;
    }
    io.err(`error: ${errorText(error)}\n`);
    return 1;
  }
}
