// The command a reviewer runs to decide, shown to the client while it waits
// and written to the logs, so nobody has to look up the patch syntax.
import type { ApprovalRef } from "./approval-service.js";

export interface ReviewerCommandOptions {
  phase?: "Approved" | "Denied";
  /**
   * Put the decision time in the patch. The operator's admission webhook
   * stamps it; without the webhook (standalone with --kubeconfig) the CRD
   * requires the reviewer to set it, so the command fills it in with `date`.
   */
  stampDecidedAt?: boolean;
}

/** Names from the API server are DNS names and need no quoting; anything else is single-quoted for the shell. */
function shellWord(text: string): string {
  return /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(text) ? text : `'${text.replace(/'/g, `'"'"'`)}'`;
}

export function reviewerCommand(ref: ApprovalRef, options: ReviewerCommandOptions = {}): string {
  const phase = options.phase ?? "Approved";
  // The "..." is for the reviewer to replace with their reason.
  const patch = options.stampDecidedAt
    ? `'{"status":{"phase":"${phase}","reason":"...","decidedAt":"'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'"}}'`
    : `'{"status":{"phase":"${phase}","reason":"..."}}'`;
  return `kubectl patch approvalrequest ${shellWord(ref.name)} -n ${shellWord(ref.namespace)} --subresource=status --type=merge -p ${patch}`;
}
