import { describe, expect, it } from "@jest/globals";
import type { ApprovalAsk, ApprovalOutcome, ApprovalService, ApprovalTicket } from "./approval-service.js";
import { GrantCache } from "./grants.js";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { SessionRecorder } from "../evidence/session-recorder.js";
import { ApprovalFlow, type HeldRequest } from "./approval-flow.js";
import { statementApproval } from "../protocols/postgres/approval-binding.js";
import { shownStatement } from "../protocols/postgres/literal-evidence.js";

const policy: BrokeredPolicy = {
  name: "writes",
  spec: {
    subjects: { serviceAccounts: ["bot"] },
    resources: ["orders-db"],
    rules: [{ name: "need-approval", action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "1m", grantScope: "session" } }],
  },
};

/** A held postgres statement, bound as the postgres gateway binds it. */
const held = (text: string, values?: string[]): HeldRequest => {
  const check = values ? { text, reading: {}, protocol: "extended" as const, parameters: values.map((value) => ({ format: 0 as const, value: Buffer.from(value) })) } : { text, reading: {}, protocol: "simple" as const };
  const classification = { ok: true as const, statements: [], fingerprint: `sha256:${"a".repeat(64)}`, summary: text, preparedUses: [], triggerFunctions: [] };
  return {
    ...statementApproval(check, classification, shownStatement(check, classification, undefined)),
    decision: { action: "requireApproval", policy: "writes", rule: "need-approval", message: "", approval: { reviewers: { users: [], groups: ["dba"] }, timeoutMs: 60_000, grantScope: "session" } },
    requestSeq: 2,
  };
};

/** Scripted decisions, and what it was asked: pure logic, no cluster. */
class ScriptedApprovals implements ApprovalService {
  readonly kind = "none";
  readonly asks: ApprovalAsk[] = [];
  constructor(private readonly outcome: ApprovalOutcome | Error) {}
  request(ask: ApprovalAsk): Promise<ApprovalTicket> {
    this.asks.push(ask);
    if (this.outcome instanceof Error) return Promise.reject(this.outcome);
    return Promise.resolve({ name: `req-${this.asks.length}`, namespace: "agents", expiresAt: new Date(Date.now() + 60_000) });
  }
  awaitDecision(): Promise<ApprovalOutcome> {
    return this.outcome instanceof Error ? Promise.reject(this.outcome) : Promise.resolve(this.outcome);
  }
}

function flow(service: ApprovalService, sessionUser = "system:serviceaccount:agents:bot"): { flow: ApprovalFlow; appended: unknown[] } {
  const appended: unknown[] = [];
  const recorder = { append: (type: string, data: unknown) => (appended.push({ type, data }), Promise.resolve({ seq: appended.length })) } as unknown as SessionRecorder;
  const identity = { username: "system:serviceaccount:agents:bot", uid: "", groups: [], namespace: "agents", serviceAccount: "bot", podName: "bot-0", podUid: "u" };
  return { flow: new ApprovalFlow({ service, grants: new GrantCache(), recorder, resource: "orders-db", policies: [policy], identity, sessionUser, sessionId: "S1" }), appended };
}

describe("ApprovalFlow", () => {
  it("asks once, tells the client what it waits for, records both steps, and honours a session grant", async () => {
    const service = new ScriptedApprovals({ phase: "Approved", decidedBy: "alice", reason: "ok", grantScope: "session" });
    const { flow: gate, appended } = flow(service);
    const notices: string[] = [];
    const first = await gate.obtain(held("UPDATE t SET a = 1 WHERE id = 1"), (text) => notices.push(text), new AbortController().signal);
    expect(first).toMatchObject({ approved: true, name: "req-1" });
    expect(notices[0]).toContain("waiting for ApprovalRequest agents/req-1");
    expect(notices[0]).toContain("kubectl patch approvalrequest req-1 -n agents --subresource=status");
    expect(appended).toEqual([
      { type: "approval", data: { name: "req-1", phase: "Pending", request: 2 } },
      { type: "approval", data: { name: "req-1", phase: "Approved", request: 2, decidedBy: "alice", reason: "ok" } },
    ]);
    const again = await gate.obtain(held("UPDATE t SET a = 1 WHERE id = 1"), () => undefined, new AbortController().signal);
    expect(again.approved).toBe(true);
    expect(service.asks).toHaveLength(1);
  });

  it.each<[string, ApprovalOutcome | Error, RegExp]>([
    ["a denial", { phase: "Denied", decidedBy: "alice", reason: "not now", grantScope: "once" }, /req-1 for AccessPolicy "writes" rule "need-approval" was denied by alice: not now/],
    ["an expiry", { phase: "Expired", reason: "no decision before 10:00", grantScope: "once" }, /expired without a decision: no decision before 10:00/],
    ["an unreachable broker", new Error("connect ECONNREFUSED"), /requires approval, and no ApprovalRequest could be made: connect ECONNREFUSED/],
  ])("refuses after %s, saying why", async (_name, outcome, message) => {
    const result = await flow(new ScriptedApprovals(outcome)).flow.obtain(held("DELETE FROM t WHERE id = 1"), () => undefined, new AbortController().signal);
    expect(result.approved).toBe(false);
    expect(result.message).toMatch(message);
  });

  it("shows the reviewer the bound values, and binds the approval and its grant to them", async () => {
    const service = new ScriptedApprovals({ phase: "Approved", decidedBy: "alice", grantScope: "session" });
    const { flow: gate } = flow(service);
    const signal = new AbortController().signal;
    expect((await gate.obtain(held("DELETE FROM t WHERE id = $1", ["5"]), () => undefined, signal)).approved).toBe(true);
    expect(service.asks[0]?.details).toBe("DELETE FROM t WHERE id = $1\n-- with $1 = '5'");
    expect(service.asks[0]?.fingerprint).not.toBe(`sha256:${"a".repeat(64)}`);
    // The session grant covers the same values again, but not other ones.
    expect((await gate.obtain(held("DELETE FROM t WHERE id = $1", ["5"]), () => undefined, signal)).approved).toBe(true);
    expect(service.asks).toHaveLength(1);
    await gate.obtain(held("DELETE FROM t WHERE id = $1", ["6"]), () => undefined, signal);
    expect(service.asks).toHaveLength(2);
  });

  it("tells the reviewer who the session runs as when a JWT's subject is not the pod", async () => {
    const service = new ScriptedApprovals({ phase: "Approved", grantScope: "once" });
    await flow(service, "oidc:https://idp.example.com#agent-42").flow.obtain(held("UPDATE t SET a = 2 WHERE id = 1"), () => undefined, new AbortController().signal);
    expect(service.asks[0]?.details).toBe("-- session identity: oidc:https://idp.example.com#agent-42\nUPDATE t SET a = 2 WHERE id = 1");
  });
});
