// The operator's Prometheus metrics, on one registry served at /metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export class OperatorMetrics {
  readonly registry = new Registry();

  readonly webhookDuration = new Histogram({
    name: "portcullis_webhook_duration_seconds",
    help: "Time to answer an admission review, by webhook.",
    labelNames: ["webhook"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly admissions = new Counter({
    name: "portcullis_admissions_total",
    help: "Admission reviews answered, by webhook and outcome (allowed, mutated, denied, error).",
    labelNames: ["webhook", "outcome"],
    registers: [this.registry],
  });

  readonly reconciles = new Counter({
    name: "portcullis_reconciles_total",
    help: "Reconciliations, by controller and result (success, error).",
    labelNames: ["controller", "result"],
    registers: [this.registry],
  });

  readonly approvals = new Gauge({
    name: "portcullis_approval_requests",
    help: "ApprovalRequests currently stored, by phase.",
    labelNames: ["phase"],
    registers: [this.registry],
  });

  readonly connectedSidecars = new Gauge({
    name: "portcullis_broker_connected_sidecars",
    help: "Sidecars holding an open configuration stream to this replica.",
    registers: [this.registry],
  });

  readonly brokerRequests = new Counter({
    name: "portcullis_broker_requests_total",
    help: "Broker API requests, by endpoint and outcome.",
    labelNames: ["endpoint", "outcome"],
    registers: [this.registry],
  });

  readonly isLeader = new Gauge({
    name: "portcullis_leader",
    help: "1 while this replica holds the leader lease.",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
