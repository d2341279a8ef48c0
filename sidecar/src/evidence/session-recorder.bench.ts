// What recording a statement's evidence costs, per record: the request record
// the guard writes before pgbench -S's SELECT is forwarded, then its result
// record, appended to a real spool in a temporary directory (sealed with the
// canonical JSON and the SHA-256 chain, written to the session's file). The
// floors: JSON.stringify and SHA-256 of the same records, and that plus
// appending the line to a file with writeSync.
// Run: node sidecar/dist/evidence/session-recorder.bench.js (or make bench-micro).
import { createHash } from "node:crypto";
import { closeSync, openSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runSuite } from "@portcullis/common/bench/measure";
import { EVIDENCE_VERSION, GENESIS_HASH, type RequestData, type ResultData, type SessionStartData } from "@portcullis/common/evidence/record";
import { EvidenceSpool } from "./spool.js";

const START: SessionStartData = {
  identity: { username: "system:serviceaccount:agents:bot", groups: ["system:serviceaccounts", "system:authenticated"], serviceAccount: "bot", namespace: "agents", pod: "bot-7d9f", claims: {} },
  resource: { name: "bench-db", namespace: "agents", protocol: "postgres" },
  client: { address: "10.244.0.17", port: 51234, database: "bench", user: "bot", application: "pgbench" },
  policies: ["reads"],
};

const SUMMARY = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
const FINGERPRINT = `sha256:${"5e".repeat(32)}`;

/** The request record the guard writes for pgbench -S's statement, allowed by a rule. */
function requestData(aid: number): RequestData {
  return {
    protocol: "postgres",
    summary: SUMMARY,
    postgres: {
      text: `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`,
      classification: { summary: SUMMARY, fingerprint: FINGERPRINT, commands: ["SELECT"], tables: ["pgbench_accounts"] },
    },
    decision: { action: "allow", policy: "reads", rule: "reads" },
  };
}

function resultData(request: number): ResultData {
  return { request, masked: {}, durationMs: 0.412_345, postgres: { rowsReturned: 1, commandTags: ["SELECT 1"] } };
}

const dir = await mkdtemp(path.join(os.tmpdir(), "portcullis-evidence-bench-"));
try {
  const spool = await EvidenceSpool.open({ dir, maxBytes: Number.MAX_SAFE_INTEGER });
  const recorder = await spool.startSession({ data: START });
  const floorFile = openSync(path.join(dir, "floor-lines.txt"), "a");

  let aid = 1;
  let seq = 0;
  /** The floor's envelope of one record: what the recorder seals, without canonical JSON or the chain. */
  const envelope = (type: "request" | "result", data: object): string => JSON.stringify({ v: EVIDENCE_VERSION, session: recorder.session, seq: ++seq, time: new Date().toISOString(), type, data, prev: GENESIS_HASH });
  const sha256 = (line: string): string => createHash("sha256").update(line).digest("hex");

  await runSuite("evidence of a statement, per record (sidecar/src/evidence/session-recorder.ts)", [
    {
      name: "floor: JSON.stringify + sha256",
      operationsPerRun: 2,
      run: () => [sha256(envelope("request", requestData(aid++))), sha256(envelope("result", resultData(seq)))],
    },
    {
      name: "floor + writeSync of the line",
      operationsPerRun: 2,
      run: () => {
        for (const line of [envelope("request", requestData(aid++)), envelope("result", resultData(seq))]) writeSync(floorFile, `${line.slice(0, -1)},"hash":"sha256:${sha256(line)}"}\n`);
      },
      versus: "floor: JSON.stringify + sha256",
    },
    {
      name: "SessionRecorder.append, request + result",
      operationsPerRun: 2,
      run: async () => {
        const request = await recorder.append("request", requestData(aid++));
        return recorder.append("result", resultData(request.seq));
      },
      versus: "floor: JSON.stringify + sha256",
    },
  ]);

  closeSync(floorFile);
  const records = (await recorder.end({ reason: "client-terminated" })).seq;
  const bytes = (await spool.listSessions()).reduce((sum, session) => sum + session.bytes, 0);
  console.log(`  (the session's spool file holds ${records} records, ${Math.round(bytes / records)} bytes each on average)`);
  await spool.close();
} finally {
  await rm(dir, { recursive: true, force: true });
}
