// The gateway's Prometheus metrics, on its own registry (not prom-client's
// global one, so tests and several gateways in one process do not collide),
// served at /metrics by the health server. Label values are Resource names and
// fixed words only — never identities, statements or data.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SpoolObserver } from "../evidence/spool.js";

/** What became of a statement: the policy's decision, or the approval's outcome, or a gateway error. */
export type StatementDecision = "allow" | "deny" | "approval-approved" | "approval-denied" | "approval-expired" | "error";

/** completed: the session ended normally; refused: never admitted (authentication, a full spool); failed: ended by an error. */
export type SessionOutcome = "completed" | "refused" | "failed";

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly statements: Counter<"resource" | "decision">;
  readonly statementDuration: Histogram<"resource">;
  readonly activeSessions: Gauge<"resource">;
  readonly sessions: Counter<"resource" | "outcome">;
  readonly maskedValues: Counter<"resource">;
  readonly evidenceSpoolBytes: Gauge;
  readonly evidenceRecords: Counter;
  readonly configRevision: Gauge<"revision">;
}

// From a cached point query on loopback (~100µs) to a statement that waited for a slow backend.
const STATEMENT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    statements: new Counter({
      name: "portcullis_gateway_statements_total",
      help: "Statements handled, by Resource and decision (allow, deny, approval-approved, approval-denied, approval-expired, error).",
      labelNames: ["resource", "decision"],
      registers,
    }),
    statementDuration: new Histogram({
      name: "portcullis_gateway_statement_duration_seconds",
      help: "Time from a statement reaching the gateway to its result, by Resource (approval waits included).",
      labelNames: ["resource"],
      buckets: STATEMENT_BUCKETS,
      registers,
    }),
    activeSessions: new Gauge({ name: "portcullis_gateway_active_sessions", help: "Client sessions open now, by Resource.", labelNames: ["resource"], registers }),
    sessions: new Counter({
      name: "portcullis_gateway_sessions_total",
      help: "Client sessions ended, by Resource and outcome (completed, refused, failed).",
      labelNames: ["resource", "outcome"],
      registers,
    }),
    maskedValues: new Counter({ name: "portcullis_gateway_masked_values_total", help: "Values masked in results, by Resource.", labelNames: ["resource"], registers }),
    evidenceSpoolBytes: new Gauge({ name: "portcullis_gateway_evidence_spool_bytes", help: "Bytes of evidence in the local spool not yet uploaded.", registers }),
    evidenceRecords: new Counter({ name: "portcullis_gateway_evidence_records_total", help: "Evidence records written to the local spool.", registers }),
    configRevision: new Gauge({
      name: "portcullis_gateway_config_revision_info",
      help: "1 for the configuration revision the gateway runs with.",
      labelNames: ["revision"],
      registers,
    }),
  };
}

/** Counts a statement and, when it ran, how long it took. */
export function observeStatement(metrics: GatewayMetrics, resource: string, decision: StatementDecision, durationSeconds?: number): void {
  metrics.statements.inc({ resource, decision });
  if (durationSeconds !== undefined) metrics.statementDuration.observe({ resource }, durationSeconds);
}

export function observeSessionEnd(metrics: GatewayMetrics, resource: string, outcome: SessionOutcome): void {
  metrics.sessions.inc({ resource, outcome });
}

/** Shows only the current revision: the previous one's series disappears. */
export function setConfigRevision(metrics: GatewayMetrics, revision: string): void {
  metrics.configRevision.reset();
  metrics.configRevision.set({ revision }, 1);
}

/** Keeps the evidence metrics current: pass as the spool's `observer`. */
export function spoolMetricsObserver(metrics: GatewayMetrics): SpoolObserver {
  return {
    recordWritten: () => metrics.evidenceRecords.inc(),
    usedBytesChanged: (bytes) => metrics.evidenceSpoolBytes.set(bytes),
  };
}
