// The gateway's Prometheus metrics, on its own registry (not prom-client's
// global one, so tests and several gateways in one process do not collide),
// served at /metrics by the health server. Label values are Resource names,
// protocols and fixed words only — never identities, requests or data.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SpoolObserver } from "../evidence/spool.js";

/** What became of a request: the policy's decision, or the approval's outcome, or a gateway error. */
export type RequestDecision = "allow" | "deny" | "approval-approved" | "approval-denied" | "approval-expired" | "error";

/** completed: the session ended normally; refused: never admitted (authentication, a full spool); failed: ended by an error. */
export type SessionOutcome = "completed" | "refused" | "failed";

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<"resource" | "protocol" | "decision">;
  readonly requestDuration: Histogram<"resource" | "protocol">;
  readonly activeSessions: Gauge<"resource" | "protocol">;
  readonly sessions: Counter<"resource" | "protocol" | "outcome">;
  readonly maskedValues: Counter<"resource" | "protocol">;
  readonly evidenceSpoolBytes: Gauge;
  readonly evidenceRecords: Counter;
  readonly configRevision: Gauge<"revision">;
}

/** The labels every per-Resource series carries. */
export interface ResourceLabels {
  resource: string;
  protocol: string;
}

// From a cached point query on loopback (~100µs) to a request that waited for a slow backend.
const REQUEST_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: "portcullis_gateway_requests_total",
      help: "Requests (SQL statements, HTTP requests) handled, by Resource, protocol and decision (allow, deny, approval-approved, approval-denied, approval-expired, error).",
      labelNames: ["resource", "protocol", "decision"],
      registers,
    }),
    requestDuration: new Histogram({
      name: "portcullis_gateway_request_duration_seconds",
      help: "Time from a request reaching the gateway to its result, by Resource and protocol (approval waits included).",
      labelNames: ["resource", "protocol"],
      buckets: REQUEST_BUCKETS,
      registers,
    }),
    activeSessions: new Gauge({ name: "portcullis_gateway_active_sessions", help: "Client sessions (connections) open now, by Resource and protocol.", labelNames: ["resource", "protocol"], registers }),
    sessions: new Counter({
      name: "portcullis_gateway_sessions_total",
      help: "Client sessions ended, by Resource, protocol and outcome (completed, refused, failed).",
      labelNames: ["resource", "protocol", "outcome"],
      registers,
    }),
    maskedValues: new Counter({
      name: "portcullis_gateway_masked_values_total",
      help: "Values masked in results, by Resource and protocol.",
      labelNames: ["resource", "protocol"],
      registers,
    }),
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

/** Counts a request and, when it ran, how long it took. */
export function observeRequest(metrics: GatewayMetrics, labels: ResourceLabels, decision: RequestDecision, durationSeconds?: number): void {
  metrics.requests.inc({ ...labels, decision });
  if (durationSeconds !== undefined) metrics.requestDuration.observe(labels, durationSeconds);
}

export function observeSessionEnd(metrics: GatewayMetrics, labels: ResourceLabels, outcome: SessionOutcome): void {
  metrics.sessions.inc({ ...labels, outcome });
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
