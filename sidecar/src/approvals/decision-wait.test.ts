import { describe, expect, it } from "@jest/globals";
import { BrokerError } from "../config/broker-error.js";
import type { ApprovalView } from "./approval-service.js";
import { BrokerApprovals, longPollSeconds } from "./broker-approvals.js";
import { waitForDecision, type DecisionSource } from "./decision-wait.js";
import { NO_APPROVALS_MESSAGE, NoApprovals } from "./no-approvals.js";

const START = Date.parse("2030-01-01T00:00:00Z");
const pending: ApprovalView = { name: "bot-x1", namespace: "agents", phase: "Pending", expiresAt: "2030-01-01T00:15:00Z", fingerprint: "sha256:aa", grantScope: "once" };
const approved: ApprovalView = { ...pending, phase: "Approved", reason: "ok", decidedBy: { username: "alice" }, decidedAt: "2030-01-01T00:01:00Z" };

/** A source answering from a script; each read takes the time the answer says (a long-poll), on a clock the test controls. */
function scripted(answers: (ApprovalView | Error)[], tookMs = 60_000): { source: DecisionSource; waits: number[] } {
  let now = START;
  const waits: number[] = [];
  const source: DecisionSource = {
    read: (waitMs) => {
      waits.push(waitMs);
      now += Math.min(waitMs, tookMs);
      const answer = answers.shift() ?? pending;
      return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
    },
    isTransient: (error) => error instanceof BrokerError && error.transient,
    pauseMs: 0,
    backoff: { initialMs: 1, maxMs: 2 },
    now: () => new Date(now),
  };
  return { source, waits };
}

describe("waitForDecision", () => {
  it("reads until a reviewer decides and reports who and why", async () => {
    const { source, waits } = scripted([pending, pending, approved]);
    await expect(waitForDecision(source, new Date(START + 15 * 60_000))).resolves.toEqual({
      phase: "Approved",
      reason: "ok",
      decidedBy: "alice",
      decidedAt: new Date("2030-01-01T00:01:00Z"),
      grantScope: "once",
    });
    expect(waits).toEqual([900_000, 840_000, 780_000]);
  });

  it("ends Expired when the deadline passes while Pending", async () => {
    const { source } = scripted([]);
    await expect(waitForDecision(source, new Date(START + 150_000))).resolves.toEqual({ phase: "Expired", reason: "no decision before 2030-01-01T00:02:30.000Z", grantScope: "once" });
  });

  it("rides out transient failures and gives up on permanent ones", async () => {
    const { source } = scripted([new BrokerError(undefined, "connection refused"), new BrokerError(503, "the broker failed"), approved], 1_000);
    await expect(waitForDecision(source, new Date(START + 60_000))).resolves.toMatchObject({ phase: "Approved" });
    const refused = scripted([new BrokerError(404, 'ApprovalRequest "bot-x1" not found in namespace "agents"')]).source;
    await expect(waitForDecision(refused, new Date(START + 60_000))).rejects.toThrow('ApprovalRequest "bot-x1" not found');
  });

  it("stops waiting when the client goes away", async () => {
    const controller = new AbortController();
    controller.abort(new Error("client disconnected"));
    await expect(waitForDecision(scripted([]).source, new Date(START + 60_000), controller.signal)).rejects.toThrow("client disconnected");
  });

  it.each([
    ["a denial", { ...pending, phase: "Denied", reason: "not now" }, { phase: "Denied", reason: "not now", grantScope: "once" }],
    ["the broker's expiry", { ...pending, phase: "Expired", reason: "nobody decided before 2030-01-01T00:15:00Z" }, { phase: "Expired", reason: "nobody decided before 2030-01-01T00:15:00Z", grantScope: "once" }],
    ["a window grant", { ...approved, grantScope: "window", grantWindow: "1h30m" }, { phase: "Approved", grantScope: "window", grantWindowMs: 5_400_000 }],
    ["a window grant whose window cannot be read", { ...approved, grantScope: "window", grantWindow: "soon" }, { phase: "Approved", grantScope: "once" }],
    ["a session grant", { ...approved, grantScope: "session" }, { phase: "Approved", grantScope: "session" }],
  ] as [string, ApprovalView, object][])("reports %s", async (_case, view, outcome) => {
    await expect(waitForDecision(scripted([view]).source, new Date(START + 60_000))).resolves.toMatchObject(outcome);
  });
});

describe("BrokerApprovals", () => {
  it.each([
    [1, 1],
    [999, 1],
    [1_001, 2],
    [60_000, 60],
    [900_000, 60],
  ])("long-polls %i ms left as waitSeconds=%i", (ms, seconds) => {
    expect(longPollSeconds(ms)).toBe(seconds);
  });

  it("asks the broker and long-polls it within the broker's limit", async () => {
    const polls: [string, number][] = [];
    const approvals = new BrokerApprovals({
      requestApproval: () => Promise.resolve({ name: "bot-x1", namespace: "agents", expiresAt: "2030-01-01T00:15:00Z" }),
      getApproval: (name, waitSeconds) => {
        polls.push([name, waitSeconds]);
        return Promise.resolve(polls.length < 2 ? pending : approved);
      },
    });
    const ticket = await approvals.request({ resource: "orders-db", policy: "p", rule: "r", summary: "UPDATE", fingerprint: "sha256:aa" });
    expect(ticket).toEqual({ name: "bot-x1", namespace: "agents", expiresAt: new Date("2030-01-01T00:15:00Z") });
    await expect(approvals.awaitDecision(ticket, new Date(Date.now() + 10 * 60_000))).resolves.toMatchObject({ phase: "Approved", decidedBy: "alice" });
    expect(polls).toEqual([
      ["bot-x1", 60],
      ["bot-x1", 60],
    ]);
  });
});

describe("NoApprovals", () => {
  it("refuses, saying how to get approvals", async () => {
    const none = new NoApprovals();
    await expect(none.request()).rejects.toThrow(NO_APPROVALS_MESSAGE);
    await expect(none.awaitDecision()).rejects.toThrow("approvals need a cluster: run the gateway under the Portcullis operator, or standalone with --kubeconfig");
  });
});
