// The reviewer's commands against a fake API: the table, what is shown before
// a decision, the patch that is sent, and how refusals come back.
import { describe, expect, it } from "@jest/globals";
import type { IApprovalRequest } from "@portcullis/crds";
import { capturedIo } from "../captured-io.js";
import type { ApprovalStatus, ApprovalsApi } from "./api.js";
import { decideApproval } from "./decide.js";
import { describeApproval } from "./describe.js";
import { listApprovals, renderApprovalTable } from "./list.js";

const NOW = new Date("2026-11-25T12:00:00.000Z");

function request(name: string, overrides: { namespace?: string; summary?: string; details?: string; phase?: "Pending" | "Approved"; created?: string } = {}): IApprovalRequest {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "ApprovalRequest",
    metadata: { name, namespace: overrides.namespace ?? "agents", creationTimestamp: overrides.created ?? "2026-11-25T11:58:00Z" },
    spec: {
      requester: { username: "system:serviceaccount:agents:report-bot", groups: ["system:serviceaccounts"] },
      pod: { name: "report-bot-0", uid: "uid-1" },
      resource: "orders-db",
      policy: "no-destructive-changes",
      rule: "writes",
      summary: overrides.summary ?? "DELETE FROM orders WHERE id = $1",
      ...(overrides.details === undefined ? {} : { details: overrides.details }),
      fingerprint: `sha256:${"a".repeat(64)}`,
      sessionID: "01JD3Q0000000000000000000A",
      reviewers: { groups: ["dba"], users: ["carol"] },
      grantScope: "window",
      grantWindow: "15m",
      expiresAt: "2026-11-25T12:09:00Z",
    },
    ...(overrides.phase === "Approved" ? { status: { phase: "Approved", decidedBy: { username: "alice" }, decidedAt: "2026-11-25T11:59:00Z", reason: "ok" } } : {}),
  };
}

describe("approvals list", () => {
  it("renders kubectl's columns with a relative expiry, sorted by name, the summary cut and escaped", () => {
    const table = renderApprovalTable(
      [request("zeta", { phase: "Approved" }), request("alpha", { summary: `UPDATE orders SET note = '\u001b[31m' WHERE id IN (1, 2, 3, 4, 5, 6, 7)` })],
      NOW,
      false,
    );
    expect(table.split("\n")).toEqual([
      "NAME    REQUESTER                                 RESOURCE    SUMMARY                                            PHASE      EXPIRES   AGE",
      "alpha   system:serviceaccount:agents:report-bot   orders-db   UPDATE orders SET note = '\\x1b[31m' WHERE id ...   Pending    in 9m     2m",
      "zeta    system:serviceaccount:agents:report-bot   orders-db   DELETE FROM orders WHERE id = $1                   Approved   -         2m",
      "",
    ]);
  });

  it("adds the namespace column for all namespaces", () => {
    expect(renderApprovalTable([request("a", { namespace: "ops" })], NOW, true).split("\n")[1]).toMatch(/^ops {9}a {3}/);
  });

  it("filters by phase and says so on stderr when nothing is left", async () => {
    const api: ApprovalsApi = { list: () => Promise.resolve([request("done", { phase: "Approved" })]), get: () => Promise.reject(new Error("unused")), patchStatus: () => Promise.reject(new Error("unused")) };
    const captured = capturedIo({ now: NOW });
    expect(await listApprovals(api, { namespace: "agents", phase: "Pending", output: "table" }, captured.io)).toBe(0);
    expect(captured.stdout()).toBe("");
    expect(captured.stderr()).toBe("No ApprovalRequests found in namespace agents in phase Pending.\n");
  });

  it("turns an API error into one line naming the namespace", async () => {
    const forbidden = Object.assign(new Error("HTTP-Code: 403\nMessage: Unknown API Status Code!\nBody: ..."), {
      code: 403,
      body: JSON.stringify({ kind: "Status", message: 'approvalrequests.portcullis.dev is forbidden: User "bob" cannot list resource "approvalrequests"' }),
    });
    const api: ApprovalsApi = { list: () => Promise.reject(forbidden), get: () => Promise.reject(forbidden), patchStatus: () => Promise.reject(forbidden) };
    await expect(listApprovals(api, { namespace: "agents", phase: undefined, output: "json" }, capturedIo().io)).rejects.toThrow(
      'cannot list ApprovalRequests in namespace agents: approvalrequests.portcullis.dev is forbidden: User "bob" cannot list resource "approvalrequests"',
    );
  });
});

describe("describeApproval", () => {
  it("shows everything a reviewer decides on, with multi-line details indented and controls escaped", () => {
    const text = describeApproval(request("refund-1", { details: "DELETE FROM orders\nWHERE id = $1 -- \u001b[8mhidden" }), NOW);
    expect(text).toBe(
      [
        "ApprovalRequest agents/refund-1",
        "  Requester:    system:serviceaccount:agents:report-bot (groups system:serviceaccounts)",
        "  Pod:          report-bot-0 (uid uid-1)",
        "  Resource:     orders-db",
        "  Policy/rule:  no-destructive-changes / writes",
        "  Summary:      DELETE FROM orders WHERE id = $1",
        "  Details:      DELETE FROM orders",
        "                WHERE id = $1 -- \\x1b[8mhidden",
        `  Fingerprint:  sha256:${"a".repeat(64)}`,
        "  Session:      01JD3Q0000000000000000000A",
        "  Grant:        window of 15m",
        "  Reviewers:    groups dba; users carol",
        "  Expires:      2026-11-25T12:09:00Z (in 9m)",
        "  Phase:        Pending",
        "",
      ].join("\n"),
    );
  });

  it("shows the decision of a decided request", () => {
    expect(describeApproval(request("r", { phase: "Approved" }), NOW)).toContain("  Decided by:   alice at 2026-11-25T11:59:00Z\n  Reason:       ok\n");
  });
});

describe("approvals approve/deny", () => {
  function fakeApi(patch: (status: ApprovalStatus) => Promise<IApprovalRequest>): { api: ApprovalsApi; sent: ApprovalStatus[] } {
    const sent: ApprovalStatus[] = [];
    const api: ApprovalsApi = {
      list: () => Promise.resolve([]),
      get: (namespace, name) => Promise.resolve(request(name, { namespace })),
      patchStatus: (_namespace, _name, status) => {
        sent.push(status);
        return patch(status);
      },
    };
    return { api, sent };
  }

  it("shows the request, sends phase, reason and decidedAt, and reports who the API server recorded", async () => {
    const { api, sent } = fakeApi((status) => Promise.resolve({ ...request("refund-1"), status: { ...status, decidedBy: { username: "alice" }, decidedAt: "2026-11-25T12:00:01Z" } }));
    const captured = capturedIo({ now: NOW });
    const code = await decideApproval(api, { namespace: "agents", name: "refund-1", phase: "Denied", reason: "not during the freeze", output: "table" }, captured.io);
    expect(code).toBe(0);
    expect(sent).toEqual([{ phase: "Denied", reason: "not during the freeze", decidedAt: NOW.toISOString() }]);
    expect(captured.stdout()).toMatch(/^ApprovalRequest agents\/refund-1\n[\s\S]* {2}Phase: {8}Pending\n\nDenied agents\/refund-1 by alice at 2026-11-25T12:00:01Z\n$/);
  });

  it("says so when no webhook stamped who decided", async () => {
    const { api } = fakeApi((status) => Promise.resolve({ ...request("refund-1"), status }));
    const captured = capturedIo({ now: NOW });
    await decideApproval(api, { namespace: "agents", name: "refund-1", phase: "Approved", reason: undefined, output: "table" }, captured.io);
    expect(captured.stdout()).toContain("Approved agents/refund-1 (no decidedBy stamped: the operator's admission webhook did not see this decision)");
  });

  it("prints only the stored object with -o json", async () => {
    const { api } = fakeApi((status) => Promise.resolve({ ...request("refund-1"), status }));
    const captured = capturedIo({ now: NOW });
    await decideApproval(api, { namespace: "agents", name: "refund-1", phase: "Approved", reason: undefined, output: "json" }, captured.io);
    expect((JSON.parse(captured.stdout()) as IApprovalRequest).status?.phase).toBe("Approved");
  });

  it.each([
    ["a webhook refusal", 403, { message: 'admission webhook "approvalrequests.portcullis.dev" denied the request: "bob" is not a reviewer of this request' }, 'the API server refused to approve agents/refund-1: admission webhook "approvalrequests.portcullis.dev" denied the request: "bob" is not a reviewer of this request'],
    ["a CEL rule on a decided request", 422, { message: 'ApprovalRequest.portcullis.dev "refund-1" is invalid: status: Invalid value: "object": a decision is final' }, 'the API server refused to approve agents/refund-1: ApprovalRequest.portcullis.dev "refund-1" is invalid: status: Invalid value: "object": a decision is final'],
    ["a bare status", 500, "", "the API server refused to approve agents/refund-1: the API server answered HTTP 500"],
  ])("reports %s as one line", async (_case, code, body, message) => {
    const { api } = fakeApi(() => Promise.reject(Object.assign(new Error("HTTP-Code: ..."), { code, body: typeof body === "string" ? body : JSON.stringify(body) })));
    await expect(decideApproval(api, { namespace: "agents", name: "refund-1", phase: "Approved", reason: undefined, output: "table" }, capturedIo().io)).rejects.toThrow(message);
  });

  it("reports a missing request without sending a decision", async () => {
    const api: ApprovalsApi = {
      list: () => Promise.resolve([]),
      get: () => Promise.reject(Object.assign(new Error("not found"), { code: 404, body: "{}" })),
      patchStatus: () => Promise.reject(new Error("must not be called")),
    };
    await expect(decideApproval(api, { namespace: "agents", name: "gone", phase: "Approved", reason: undefined, output: "table" }, capturedIo().io)).rejects.toThrow("ApprovalRequest agents/gone not found");
  });
});
