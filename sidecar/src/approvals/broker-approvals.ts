// Approvals in operator mode: the broker creates the ApprovalRequest (taking
// reviewers, timeout and grant scope from the AccessPolicy and the requester
// from the pod's token, never from the sidecar), and the gateway long-polls
// it through the broker until a reviewer decides or it expires.
import { BROKER_MAX_WAIT_SECONDS, BrokerError, type BrokerClient } from "../config/broker-client.js";
import type { ApprovalAsk, ApprovalOutcome, ApprovalRef, ApprovalService, ApprovalTicket } from "./approval-service.js";
import { waitForDecision } from "./decision-wait.js";

/** A guard against a broker that answers Pending at once: never more than a few reads a second. */
const PAUSE_AFTER_PENDING_MS = 250;

export interface BrokerApprovalsOptions {
  now?: () => Date;
  random?: () => number;
}

export class BrokerApprovals implements ApprovalService {
  readonly kind = "broker";

  constructor(
    private readonly client: Pick<BrokerClient, "requestApproval" | "getApproval">,
    private readonly options: BrokerApprovalsOptions = {},
  ) {}

  /** The context is not sent: the broker derives all of it itself. */
  async request(ask: ApprovalAsk): Promise<ApprovalTicket> {
    const created = await this.client.requestApproval(ask);
    return { name: created.name, namespace: created.namespace, expiresAt: new Date(created.expiresAt) };
  }

  awaitDecision(ref: ApprovalRef, deadline: Date, signal?: AbortSignal): Promise<ApprovalOutcome> {
    return waitForDecision(
      {
        read: (waitMs, readSignal) => this.client.getApproval(ref.name, longPollSeconds(waitMs), readSignal),
        isTransient: (error) => error instanceof BrokerError && error.transient,
        pauseMs: PAUSE_AFTER_PENDING_MS,
        ...this.options,
      },
      deadline,
      signal,
    );
  }
}

/** The long-poll for the time left: whole seconds, at least 1, at most what the broker accepts. */
export function longPollSeconds(waitMs: number): number {
  return Math.min(BROKER_MAX_WAIT_SECONDS, Math.max(1, Math.ceil(waitMs / 1000)));
}
