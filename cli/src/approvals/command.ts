// `portcullis approvals ...`: the reviewer's side of ApprovalRequests.
import { commandGroup } from "../args.js";
import { approveCommand, denyCommand } from "./decide.js";
import { listCommand } from "./list.js";

const USAGE = `Usage: portcullis approvals <command> [options]

Commands:
  list       ${listCommand.summary}
  approve    ${approveCommand.summary}
  deny       ${denyCommand.summary}

Run "portcullis approvals <command> --help" for its options.
`;

export const approvalsCommand = commandGroup("list, approve and deny ApprovalRequests", USAGE, { list: listCommand, approve: approveCommand, deny: denyCommand });
