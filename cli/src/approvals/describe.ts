// What a reviewer is about to approve or deny, shown before the decision is
// sent: who asked, from which pod, for which Resource, under which rule, the
// request itself and its fingerprint, and how long it stays open. Everything
// the agent could influence (summary, details) is escaped for the terminal.
import type { IApprovalRequest } from "@portcullis/crds";
import { indentLines, oneLine } from "../format/text.js";
import { formatRelative } from "../format/time.js";
import { phaseOf } from "./list.js";

const LABEL_WIDTH = 14;

function line(label: string, value: string): string {
  const indent = " ".repeat(LABEL_WIDTH + 2);
  return `  ${`${label}:`.padEnd(LABEL_WIDTH)}${indentLines(value, indent)}`;
}

function reviewers(spec: IApprovalRequest["spec"]): string {
  const parts = [];
  if (spec.reviewers.groups?.length) parts.push(`groups ${spec.reviewers.groups.join(", ")}`);
  if (spec.reviewers.users?.length) parts.push(`users ${spec.reviewers.users.join(", ")}`);
  return parts.join("; ");
}

function grant(spec: IApprovalRequest["spec"]): string {
  const scope = spec.grantScope ?? "once";
  return scope === "window" ? `window of ${spec.grantWindow ?? "?"}` : scope;
}

function decisionLines(request: IApprovalRequest): string[] {
  const status = request.status;
  if (status === undefined || phaseOf(request) === "Pending") return [];
  const who = status.decidedBy?.username ?? "(not recorded)";
  return [line("Decided by", `${oneLine(who)}${status.decidedAt ? ` at ${status.decidedAt}` : ""}`), ...(status.reason ? [line("Reason", oneLine(status.reason))] : [])];
}

export function describeApproval(request: IApprovalRequest, now: Date): string {
  const { spec } = request;
  const groups = spec.requester.groups?.length ? ` (groups ${spec.requester.groups.join(", ")})` : "";
  const lines = [
    `ApprovalRequest ${request.metadata?.namespace ?? ""}/${request.metadata?.name ?? ""}`,
    line("Requester", oneLine(spec.requester.username + groups)),
    line("Pod", oneLine(`${spec.pod.name} (uid ${spec.pod.uid})`)),
    line("Resource", oneLine(spec.resource)),
    line("Policy/rule", oneLine(`${spec.policy} / ${spec.rule}`)),
    line("Summary", oneLine(spec.summary)),
    ...(spec.details ? [line("Details", spec.details)] : []),
    line("Fingerprint", oneLine(spec.fingerprint)),
    ...(spec.sessionID ? [line("Session", oneLine(spec.sessionID))] : []),
    line("Grant", oneLine(grant(spec))),
    line("Reviewers", oneLine(reviewers(spec))),
    line("Expires", `${spec.expiresAt} (${formatRelative(spec.expiresAt, now)})`),
    line("Phase", phaseOf(request)),
    ...decisionLines(request),
  ];
  return `${lines.join("\n")}\n`;
}
