// The guard's records when a session ends while a statement waits for a
// reviewer: the session's end waits for the check to record how it was
// refused (the approval's outcome, a refused result for each statement of the
// batch) before the session-end. Real spool and policies; the approval gate
// is a stand-in that gives up when the session's signal aborts, as
// ApprovalFlow does.
import { afterAll, beforeAll, expect, it } from "@jest/globals";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { START_DATA } from "@portcullis/common/evidence/test-fixtures";
import { newSessionId } from "@portcullis/common/evidence/session-id";
import { parseSpoolText } from "@portcullis/common/evidence/record";
import type { ApprovalGate } from "../../approvals/approval-flow.js";
import { EvidenceSpool } from "../../evidence/spool.js";
import { closedSessionPath } from "../../evidence/spool-files.js";
import { createGatewayMetrics } from "../../observability/metrics.js";
import { compilePolicies } from "../../policy/engine.js";
import { PostgresGuard } from "./guard.js";
import { initClassifier } from "./sql/classify.js";
import { SQL_MATCHER } from "./sql/sql-match.js";
import { STANDARD_READING } from "./sql/sql-reading.js";

let dir: string;

beforeAll(async () => {
  await initClassifier();
  dir = await mkdtemp(join(tmpdir(), "portcullis-guard-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function examplePolicy(): BrokeredPolicy {
  const document = parse(readFileSync(new URL("../../../../crds/examples/no-destructive-changes-policy.yaml", import.meta.url), "utf8")) as { metadata: { name: string }; spec: BrokeredPolicy["spec"] };
  return { name: document.metadata.name, spec: document.spec };
}

it("records the refusal of a batch whose approval the session's end cut short, before the session-end", async () => {
  const spool = await EvidenceSpool.open({ dir, maxBytes: 1 << 20 });
  const session = newSessionId(new Date(), new Uint8Array(10).fill(3));
  const recorder = await spool.startSession({ session, data: START_DATA });
  const approvals: ApprovalGate = {
    end: () => undefined,
    async obtain(held, _notify, signal) {
      await recorder.append("approval", { name: "bot-0-x1", phase: "Pending", request: held.requestSeq });
      await new Promise((resolve) => signal.addEventListener("abort", resolve));
      await recorder.append("approval", { name: "bot-0-x1", phase: "Expired", request: held.requestSeq, reason: "the session ended" });
      return { approved: false, expired: true, name: "bot-0-x1", message: "portcullis: ApprovalRequest agents/bot-0-x1 expired without a decision" };
    },
  };
  const resource = { name: "orders-db", protocol: "postgres" };
  const guard = new PostgresGuard({
    resource,
    identity: START_DATA.identity,
    policies: compilePolicies([examplePolicy()], resource, SQL_MATCHER),
    recorder,
    approvals,
    maskingActive: false,
    metrics: createGatewayMetrics(),
    functions: { functionSources: () => Promise.resolve([]) },
  });
  const abort = new AbortController();
  const batch = ["SELECT 1", "DELETE FROM orders WHERE id = 1"].map((text) => ({ text, reading: STANDARD_READING, protocol: "extended" as const }));
  const checking = guard.check(batch, () => undefined, abort.signal);
  await new Promise((resolve) => setTimeout(resolve, 50));
  abort.abort();
  await guard.end("client-disconnected");
  await expect(checking).resolves.toMatchObject({ ok: false, error: { code: "42501" } });
  await spool.close();
  const { records } = parseSpoolText(await readFile(closedSessionPath(dir, session), "utf8"));
  const described = records.map((record) => (record.type === "result" ? `result of #${String(record.data.request)}: ${String(record.data.refused)}` : record.type));
  expect(described).toEqual([
    "session-start",
    "request",
    "approval",
    "approval",
    "request",
    "result of #5: not run: another statement of the same request was refused",
    "result of #2: portcullis: ApprovalRequest agents/bot-0-x1 expired without a decision",
    "session-end",
  ]);
  expect(records.at(-1)?.data).toMatchObject({ reason: "client-disconnected", counts: { requests: 2, refused: 2, approvals: 2 } });
});
