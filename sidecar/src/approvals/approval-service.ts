// How the gateway gets a human decision, whatever the mode: through the
// operator's broker, directly against a cluster with a kubeconfig
// (standalone), or not at all (standalone without a cluster). The gateway
// asks once per operation, waits for the outcome, and proceeds only on
// Approved; Denied, Expired, an error or an abort all mean the operation is
// refused (fail closed).
import type { ApprovalAsk, ApprovalView, approvalRuleFor } from "@portcullis/common/approvals";
import { parseDuration } from "@portcullis/common/durations";
import type { ConfigBundle } from "@portcullis/common/config/bundle";

export type { ApprovalAsk, ApprovalView };

/** A requireApproval rule of an AccessPolicy in the bundle, with its approval settings (reviewers, timeout, grant scope). */
export type ApprovalRule = ReturnType<typeof approvalRuleFor>;
export type GrantScope = ApprovalView["grantScope"];
export type ApprovalIdentity = ConfigBundle["identity"];

/** What only the kubeconfig mode needs: the broker reads the rule and the identity itself, from the policy and the token. */
export interface ApprovalContext {
  rule: ApprovalRule;
  identity: ApprovalIdentity;
}

export interface ApprovalRef {
  name: string;
  namespace: string;
}

export interface ApprovalTicket extends ApprovalRef {
  /** When the request lapses; waiting longer is pointless. */
  expiresAt: Date;
}

export interface ApprovalOutcome {
  phase: "Approved" | "Denied" | "Expired";
  reason?: string;
  /** The reviewer's user name, as the API server authenticated them. */
  decidedBy?: string;
  decidedAt?: Date;
  /** What an approval covers besides this one operation (see GrantCache). */
  grantScope: GrantScope;
  /** For grantScope window: how long the grant lasts from decidedAt. */
  grantWindowMs?: number;
}

export interface ApprovalService {
  /** Which implementation this is, for logs and /healthz. */
  readonly kind: "broker" | "kubeconfig" | "none";
  /** Creates the ApprovalRequest; rejects when it cannot be created (the operation is then refused). */
  request(ask: ApprovalAsk, context: ApprovalContext): Promise<ApprovalTicket>;
  /**
   * Resolves with the decision, or Expired ("no decision before …") when the
   * deadline passes while the request is Pending. Rejects on a permanent
   * error or when the signal aborts (the client went away).
   */
  awaitDecision(ref: ApprovalRef, deadline: Date, signal?: AbortSignal): Promise<ApprovalOutcome>;
}

function grantOf(view: ApprovalView): Pick<ApprovalOutcome, "grantScope" | "grantWindowMs"> {
  if (view.grantScope !== "window") return { grantScope: view.grantScope };
  try {
    const grantWindowMs = parseDuration(view.grantWindow ?? "");
    if (grantWindowMs > 0) return { grantScope: "window", grantWindowMs };
  } catch {
    // Handled below.
  }
  // A window that cannot be read grants nothing beyond this operation.
  return { grantScope: "once" };
}

/** The outcome a view reports, or undefined while it is still Pending. */
export function outcomeFromView(view: ApprovalView): ApprovalOutcome | undefined {
  if (view.phase === "Pending") return undefined;
  const decidedAt = view.decidedAt === undefined ? Number.NaN : Date.parse(view.decidedAt);
  return {
    phase: view.phase,
    ...(view.reason !== undefined ? { reason: view.reason } : {}),
    ...(view.decidedBy ? { decidedBy: view.decidedBy.username } : {}),
    ...(Number.isNaN(decidedAt) ? {} : { decidedAt: new Date(decidedAt) }),
    ...grantOf(view),
  };
}

/** The outcome when nobody decided in time. */
export function expiredOutcome(deadline: Date): ApprovalOutcome {
  return { phase: "Expired", reason: `no decision before ${deadline.toISOString()}`, grantScope: "once" };
}
