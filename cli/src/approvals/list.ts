// `portcullis approvals list`: the ApprovalRequests a reviewer may have to
// decide, as a table with the columns of `kubectl get approvalrequests` plus
// a relative expiry, or as JSON.
import type { IApprovalRequest } from "@portcullis/crds";
import { commandWithHelp, oneOf, outputFormat, parseCommandLine, type Command } from "../args.js";
import { CliError, UsageError } from "../errors.js";
import { renderTable } from "../format/table.js";
import { oneLine, truncate } from "../format/text.js";
import { formatAge, formatRelative } from "../format/time.js";
import type { Io } from "../io.js";
import { apiErrorMessage, contextNamespace, loadKubeConfig } from "../kube.js";
import { approvalsApi, type ApprovalsApi } from "./api.js";

export const PHASES = ["Pending", "Approved", "Denied", "Expired"] as const;
export type Phase = (typeof PHASES)[number];

const SUMMARY_WIDTH = 48;

const USAGE = `Usage: portcullis approvals list [-n NAMESPACE | -A] [--phase PHASE] [-o table|json] [--kubeconfig FILE]

List ApprovalRequests.

Options:
  -n, --namespace NS      the namespace to list (default: the kubeconfig context's)
  -A, --all-namespaces    list every namespace
      --phase PHASE       only requests in this phase: ${PHASES.join(", ")}
  -o, --output FORMAT     table (default) or json
      --kubeconfig FILE   the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
  -h, --help              show this help
`;

const OPTIONS = {
  namespace: { type: "string", short: "n" },
  "all-namespaces": { type: "boolean", short: "A" },
  phase: { type: "string" },
  output: { type: "string", short: "o" },
  kubeconfig: { type: "string" },
} as const;

/** A request the operator has not marked yet has no status: it is Pending. */
export function phaseOf(request: IApprovalRequest): Phase {
  return request.status?.phase ?? "Pending";
}

function byNamespaceAndName(a: IApprovalRequest, b: IApprovalRequest): number {
  const key = (request: IApprovalRequest): string => `${request.metadata?.namespace ?? ""}/${request.metadata?.name ?? ""}`;
  return key(a).localeCompare(key(b));
}

export function renderApprovalTable(requests: readonly IApprovalRequest[], now: Date, withNamespace: boolean): string {
  const headers = [...(withNamespace ? ["namespace"] : []), "name", "requester", "resource", "summary", "phase", "expires", "age"];
  const rows = [...requests].sort(byNamespaceAndName).map((request) => [
    ...(withNamespace ? [request.metadata?.namespace ?? ""] : []),
    request.metadata?.name ?? "",
    oneLine(request.spec.requester.username),
    oneLine(request.spec.resource),
    truncate(oneLine(request.spec.summary), SUMMARY_WIDTH),
    phaseOf(request),
    phaseOf(request) === "Pending" ? formatRelative(request.spec.expiresAt, now) : "-",
    formatAge(request.metadata?.creationTimestamp, now),
  ]);
  return renderTable(headers, rows);
}

export interface ListApprovalsOptions {
  /** Undefined for all namespaces. */
  namespace: string | undefined;
  phase: Phase | undefined;
  output: "table" | "json";
}

export async function listApprovals(api: ApprovalsApi, options: ListApprovalsOptions, io: Io): Promise<number> {
  let requests: IApprovalRequest[];
  try {
    requests = await api.list(options.namespace);
  } catch (error) {
    throw new CliError(`cannot list ApprovalRequests${options.namespace === undefined ? "" : ` in namespace ${options.namespace}`}: ${apiErrorMessage(error)}`, { cause: error });
  }
  const shown = requests.filter((request) => options.phase === undefined || phaseOf(request) === options.phase);
  if (options.output === "json") {
    io.out(`${JSON.stringify({ apiVersion: "v1", kind: "List", items: shown }, null, 2)}\n`);
  } else if (shown.length === 0) {
    io.err(`No ApprovalRequests found${options.namespace === undefined ? "" : ` in namespace ${options.namespace}`}${options.phase === undefined ? "" : ` in phase ${options.phase}`}.\n`);
  } else {
    io.out(renderApprovalTable(shown, io.now(), options.namespace === undefined));
  }
  return 0;
}

export const listCommand: Command = commandWithHelp("list ApprovalRequests", USAGE, async (argv, io) => {
  const { values } = parseCommandLine(argv, { usage: USAGE, options: OPTIONS });
  if (values["all-namespaces"] === true && values.namespace !== undefined) throw new UsageError("-n/--namespace and -A/--all-namespaces cannot be combined", USAGE);
  const phase = oneOf(values.phase, PHASES, "--phase", USAGE);
  const output = outputFormat(values.output, USAGE);
  const config = loadKubeConfig(values.kubeconfig);
  const namespace = values["all-namespaces"] === true ? undefined : (values.namespace ?? contextNamespace(config));
  return listApprovals(approvalsApi(config), { namespace, phase, output }, io);
});
