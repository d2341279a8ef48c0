// `portcullis approvals approve|deny NAME`: shows the request, then sends the
// decision as a merge patch of the status subresource. The API server decides
// whether it stands: the operator's webhook refuses anyone who is not a listed
// reviewer, the requester, and a second decision, and stamps decidedBy and
// decidedAt from its own record. decidedAt is sent anyway because without the
// webhook the CRD requires it once the phase is final.
import type { IApprovalRequest } from "@portcullis/crds";
import { commandWithHelp, outputFormat, parseCommandLine, type Command, type OutputFormat } from "../args.js";
import { CliError } from "../errors.js";
import { oneLine } from "../format/text.js";
import type { Io } from "../io.js";
import { apiErrorMessage, apiErrorStatus, contextNamespace, loadKubeConfig } from "../kube.js";
import { approvalsApi, type ApprovalStatus, type ApprovalsApi } from "./api.js";
import { describeApproval } from "./describe.js";

export type Decision = "Approved" | "Denied";

export interface DecideOptions {
  namespace: string;
  name: string;
  phase: Decision;
  reason: string | undefined;
  output: OutputFormat;
}

const VERB: Record<Decision, string> = { Approved: "approve", Denied: "deny" };

async function readRequest(api: ApprovalsApi, namespace: string, name: string): Promise<IApprovalRequest> {
  try {
    return await api.get(namespace, name);
  } catch (error) {
    if (apiErrorStatus(error) === 404) throw new CliError(`ApprovalRequest ${namespace}/${name} not found`, { cause: error });
    throw new CliError(`cannot read ApprovalRequest ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
  }
}

/** One line saying what the API server recorded. */
function outcome(stored: IApprovalRequest, options: DecideOptions): string {
  const who = stored.status?.decidedBy?.username;
  const by = who === undefined ? " (no decidedBy stamped: the operator's admission webhook did not see this decision)" : ` by ${oneLine(who)}`;
  return `${options.phase} ${options.namespace}/${options.name}${by} at ${stored.status?.decidedAt ?? "?"}\n`;
}

export async function decideApproval(api: ApprovalsApi, options: DecideOptions, io: Io): Promise<number> {
  const { namespace, name, phase } = options;
  const request = await readRequest(api, namespace, name);
  if (options.output === "table") io.out(`${describeApproval(request, io.now())}\n`);
  const status: ApprovalStatus = { phase, decidedAt: io.now().toISOString(), ...(options.reason === undefined ? {} : { reason: options.reason }) };
  let stored: IApprovalRequest;
  try {
    stored = await api.patchStatus(namespace, name, status);
  } catch (error) {
    throw new CliError(`the API server refused to ${VERB[phase]} ${namespace}/${name}: ${apiErrorMessage(error)}`, { cause: error });
  }
  if (stored.status?.phase !== phase) {
    throw new CliError(`ApprovalRequest ${namespace}/${name} is ${stored.status?.phase ?? "Pending"} after the decision was sent, not ${phase}`);
  }
  io.out(options.output === "json" ? `${JSON.stringify(stored, null, 2)}\n` : outcome(stored, options));
  return 0;
}

const OPTIONS = {
  namespace: { type: "string", short: "n" },
  reason: { type: "string" },
  output: { type: "string", short: "o" },
  kubeconfig: { type: "string" },
} as const;

function usage(verb: string): string {
  return `Usage: portcullis approvals ${verb} NAME [-n NAMESPACE] [--reason TEXT] [-o table|json] [--kubeconfig FILE]

Show ApprovalRequest NAME, then ${verb} it. Only a reviewer the request lists may
decide, never the requester, and only once: the API server refuses anything else.

Options:
  -n, --namespace NS      the request's namespace (default: the kubeconfig context's)
      --reason TEXT       why; recorded with the decision and the session's evidence
  -o, --output FORMAT     table (default: the request, then the outcome) or json (the stored object)
      --kubeconfig FILE   the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
  -h, --help              show this help
`;
}

function decideCommand(phase: Decision): Command {
  const verb = VERB[phase];
  const help = usage(verb);
  return commandWithHelp(`${verb} an ApprovalRequest`, help, async (argv, io) => {
    const { values, positionals } = parseCommandLine(argv, { usage: help, options: OPTIONS, positionals: ["NAME"] });
    const output = outputFormat(values.output, help);
    const config = loadKubeConfig(values.kubeconfig);
    const options: DecideOptions = { namespace: values.namespace ?? contextNamespace(config), name: positionals[0] ?? "", phase, reason: values.reason, output };
    return decideApproval(approvalsApi(config), options, io);
  });
}

export const approveCommand = decideCommand("Approved");
export const denyCommand = decideCommand("Denied");
