// Evidence for tests of the format, the stores and the verifiers: a session's
// start data and hash-chained records built with the real sealRecord, so what
// tests chunk, upload and verify is exactly what the gateway writes.
import { EVIDENCE_VERSION, GENESIS_HASH, recordLine, sealRecord, type EvidenceRecord, type RequestData, type RequestDecision, type SessionStartData } from "./record.js";

export const START_DATA: SessionStartData = {
  identity: { username: "system:serviceaccount:agents:bot", groups: ["system:serviceaccounts"], serviceAccount: "bot", namespace: "agents", pod: "bot-0", claims: {} },
  resource: { name: "orders-db", namespace: "agents", protocol: "postgres" },
  client: { address: "127.0.0.1", port: 51234, database: "orders", user: "bot" },
  policies: ["read-only"],
};

/** A session-start, `statements` statement records and, when `ended`, a session-end: one valid chain. */
export function recordChain(session: string, statements: number, ended = true): EvidenceRecord[] {
  const records: EvidenceRecord[] = [];
  const add = (type: EvidenceRecord["type"], data: object): void => {
    const previous = records.at(-1);
    const time = new Date(Date.UTC(2026, 10, 25, 10, 0, 0, records.length)).toISOString();
    records.push(sealRecord({ v: EVIDENCE_VERSION, session, seq: records.length + 1, time, type, data, prev: previous?.hash ?? GENESIS_HASH }));
  };
  add("session-start", START_DATA);
  for (let i = 1; i <= statements; i += 1) {
    add("request", postgresRequest(`SELECT ${i}`, { action: "allow" }, { summary: "SELECT", fingerprint: "f", tables: [] }));
  }
  if (ended) add("session-end", { reason: "client-terminated", counts: { statements, denied: 0, results: 0, errors: 0, approvals: 0 }, durationMs: 1 });
  return records;
}

export function linesOf(records: readonly EvidenceRecord[]): string {
  return records.map(recordLine).join("");
}

/** A postgres request record's data for `text`; the classification defaults to a SELECT on orders. */
export function postgresRequest(
  text: string,
  decision: RequestDecision = { action: "allow" },
  extra: { summary?: string; fingerprint?: string; tables?: string[]; parameters?: string[]; approval?: string } = {},
): RequestData {
  const summary = extra.summary ?? "SELECT orders";
  return {
    protocol: "postgres",
    summary,
    decision,
    ...(extra.approval ? { approval: extra.approval } : {}),
    postgres: {
      text,
      ...(extra.parameters ? { parameters: extra.parameters } : {}),
      classification: { summary, fingerprint: extra.fingerprint ?? "0a1b2c", commands: [summary.split(" ")[0] ?? ""], tables: extra.tables ?? ["orders"] },
    },
  };
}
