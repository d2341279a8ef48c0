// Holds a request that a requireApproval rule matched until a human decides,
// for every protocol: the protocol says what the request is (a summary, the
// details a reviewer reads, and the fingerprint an approval binds to).
// A grant from an earlier approval (scope session or window) lets it through at
// once; otherwise an ApprovalRequest is created (through the broker, or a
// kubeconfig in standalone mode), the client is told which request it waits
// for and the exact kubectl command a reviewer runs, and each step is recorded.
// Any failure — no cluster, the broker down, a timeout — is a denial.
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { SessionRecorder } from "../evidence/session-recorder.js";
import type { Decision } from "../policy/engine.js";
import type { ApprovalIdentity, ApprovalOutcome, ApprovalRule, ApprovalService, ApprovalTicket } from "./approval-service.js";
import type { GrantCache } from "./grants.js";
import { reviewerCommand } from "./reviewer-hint.js";
import { errorMessage } from "../config/error-message.js";

export interface HeldRequest {
  decision: Decision;
  /** One line for the ApprovalRequest, e.g. "DELETE orders" or "POST /v1/refunds". */
  summary: string;
  /** What the reviewer reads: the statement and its bound values, the request and its body. */
  details: string;
  /** What an approval and its grant bind to: the exact request (text and values, method, path, query and body). */
  fingerprint: string;
  /** The evidence seq of the request record. */
  requestSeq: number;
}

export interface GateOutcome {
  approved: boolean;
  expired?: boolean;
  /** The ApprovalRequest, when one was made. */
  name?: string;
  /** For the client when not approved. */
  message: string;
}

export interface ApprovalGate {
  obtain(held: HeldRequest, notify: (message: string) => void, signal: AbortSignal): Promise<GateOutcome>;
  /** The session is over: its session-scoped grants go with it. */
  end(): void;
}

export interface ApprovalGateOptions {
  service: ApprovalService;
  grants: GrantCache;
  recorder: SessionRecorder;
  resource: string;
  /** The policies of the bundle, for the rule's approval settings. */
  policies: readonly BrokeredPolicy[];
  identity: ApprovalIdentity;
  /** Who the session runs as (the pod, or a JWT's subject): grants are per user. */
  sessionUser: string;
  sessionId: string;
}

const MAX_DETAILS = 65_536;


export class ApprovalFlow implements ApprovalGate {
  constructor(private readonly options: ApprovalGateOptions) {}

  end(): void {
    this.options.grants.endSession(this.options.sessionId);
  }

  async obtain(held: HeldRequest, notify: (message: string) => void, signal: AbortSignal): Promise<GateOutcome> {
    const { decision, fingerprint } = held;
    const approval = decision.approval;
    if (!approval) return { approved: false, message: "portcullis: the request needs approval but the rule's approval settings are missing" };
    const grant = { resource: this.options.resource, policy: decision.policy, rule: decision.rule, fingerprint, sessionID: this.options.sessionId, identity: this.options.sessionUser };
    if (this.options.grants.covers(grant)) return { approved: true, message: "" };
    const where = `AccessPolicy "${decision.policy}" rule "${decision.rule}"`;
    const rule = this.ruleOf(decision.policy, decision.rule);
    if (!rule) return { approved: false, message: `portcullis: ${where} requires approval, but the rule is no longer in the configuration` };
    let ref: ApprovalTicket;
    try {
      ref = await this.options.service.request({
        resource: this.options.resource,
        policy: decision.policy,
        rule: decision.rule,
        summary: held.summary,
        details: this.details(held.details),
        fingerprint,
        sessionID: this.options.sessionId,
      }, { rule, identity: this.options.identity });
    } catch (error) {
      return { approved: false, message: `portcullis: ${where} requires approval, and no ApprovalRequest could be made: ${errorMessage(error)}` };
    }
    await this.options.recorder.append("approval", { name: ref.name, phase: "Pending", request: held.requestSeq });
    notify(`portcullis: ${where} requires approval; waiting for ApprovalRequest ${ref.namespace}/${ref.name} (until ${ref.expiresAt.toISOString()}). A reviewer approves with: ${reviewerCommand(ref, { stampDecidedAt: this.options.service.kind === "kubeconfig" })}`);
    const deadline = new Date(Math.min(ref.expiresAt.getTime(), Date.now() + approval.timeoutMs));
    let outcome: ApprovalOutcome;
    try {
      outcome = await this.options.service.awaitDecision(ref, deadline, signal);
    } catch (error) {
      outcome = { phase: "Expired", reason: `the decision could not be read: ${errorMessage(error)}`, grantScope: "once" };
    }
    await this.options.recorder.append("approval", {
      name: ref.name,
      phase: outcome.phase,
      request: held.requestSeq,
      ...(outcome.decidedBy ? { decidedBy: outcome.decidedBy } : {}),
      ...(outcome.reason ? { reason: outcome.reason } : {}),
    });
    if (outcome.phase === "Approved") {
      this.options.grants.record(grant, outcome);
      return { approved: true, name: ref.name, message: "" };
    }
    const by = outcome.decidedBy ? ` by ${outcome.decidedBy}` : "";
    const reason = outcome.reason ? `: ${outcome.reason}` : "";
    const verb = outcome.phase === "Denied" ? `was denied${by}` : "expired without a decision";
    return { approved: false, expired: outcome.phase === "Expired", name: ref.name, message: `portcullis: ApprovalRequest ${ref.namespace}/${ref.name} for ${where} ${verb}${reason}` };
  }

  /**
   * The request for the reviewer. The ApprovalRequest names the pod's identity as requester (that is
   * what the broker can verify); a session that runs as a JWT's subject says who that is, too.
   */
  private details(details: string): string {
    const { sessionUser, identity } = this.options;
    const prefix = sessionUser !== identity.username ? `-- session identity: ${sessionUser}\n` : "";
    return `${prefix}${details}`.slice(0, MAX_DETAILS);
  }

  private ruleOf(policyName: string, ruleName: string): ApprovalRule | undefined {
    const rule = this.options.policies.find((policy) => policy.name === policyName)?.spec.rules?.find((candidate) => candidate.name === ruleName);
    return rule?.approval ? { ...rule, approval: rule.approval } : undefined;
  }
}
