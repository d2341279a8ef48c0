// `portcullis sessions ...`: the auditor's side of the evidence store.
import { commandGroup } from "../args.js";
import { auditCommand } from "./audit.js";
import { listCommand } from "./list.js";
import { replayCommand } from "./replay.js";
import { verifyCommand } from "./verify.js";

const USAGE = `Usage: portcullis sessions <command> [options]

Commands:
  list       ${listCommand.summary}
  replay     ${replayCommand.summary}
  verify     ${verifyCommand.summary}
  audit      ${auditCommand.summary}

Run "portcullis sessions <command> --help" for its options.
`;

export const sessionsCommand = commandGroup("list, replay, verify and audit recorded sessions", USAGE, { list: listCommand, replay: replayCommand, verify: verifyCommand, audit: auditCommand });
