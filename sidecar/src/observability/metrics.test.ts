import { describe, expect, it } from "@jest/globals";
import { register } from "prom-client";
import { createGatewayMetrics, observeSessionEnd, observeRequest, setConfigRevision, spoolMetricsObserver } from "./metrics.js";

const PG = { resource: "orders-db", protocol: "postgres" };

async function sample(metrics: ReturnType<typeof createGatewayMetrics>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  // A histogram's series are found under its base name and carry their own metricName.
  const base = name.replace(/_(bucket|count|sum)$/, "");
  const metric = await metrics.registry.getSingleMetric(base)?.get();
  return metric?.values.find((value) => ((value as { metricName?: string }).metricName ?? base) === name && Object.entries(labels).every(([k, v]) => String(value.labels[k]) === v))?.value;
}

describe("createGatewayMetrics", () => {
  it("uses a registry of its own, so gateways and tests do not collide", async () => {
    const first = createGatewayMetrics();
    const second = createGatewayMetrics();
    observeRequest(first, PG, "allow");
    expect(await sample(first, "portcullis_gateway_requests_total", { resource: "orders-db", protocol: "postgres", decision: "allow" })).toBe(1);
    expect(await sample(second, "portcullis_gateway_requests_total", { resource: "orders-db", protocol: "postgres", decision: "allow" })).toBeUndefined();
    expect(register.getSingleMetric("portcullis_gateway_requests_total")).toBeUndefined();
    expect(await first.registry.metrics()).toContain("process_cpu_user_seconds_total");
  });

  it("counts statements by decision and observes durations from 100µs to 10s", async () => {
    const metrics = createGatewayMetrics();
    observeRequest(metrics, PG, "deny");
    observeRequest(metrics, PG, "allow", 0.00005);
    observeRequest(metrics, PG, "allow", 7);
    expect(await sample(metrics, "portcullis_gateway_requests_total", { decision: "deny" })).toBe(1);
    expect(await sample(metrics, "portcullis_gateway_requests_total", { decision: "allow" })).toBe(2);
    expect(await sample(metrics, "portcullis_gateway_request_duration_seconds_count", { resource: "orders-db" })).toBe(2);
    expect(await sample(metrics, "portcullis_gateway_request_duration_seconds_bucket", { le: "0.0001" })).toBe(1);
    expect(await sample(metrics, "portcullis_gateway_request_duration_seconds_bucket", { le: "5" })).toBe(1);
    expect(await sample(metrics, "portcullis_gateway_request_duration_seconds_bucket", { le: "10" })).toBe(2);
  });

  it("counts ended sessions by outcome", async () => {
    const metrics = createGatewayMetrics();
    observeSessionEnd(metrics, PG, "refused");
    expect(await sample(metrics, "portcullis_gateway_sessions_total", { resource: "orders-db", outcome: "refused" })).toBe(1);
  });

  it("shows only the current configuration revision", async () => {
    const metrics = createGatewayMetrics();
    setConfigRevision(metrics, "r1");
    setConfigRevision(metrics, "r2");
    const values = (await metrics.configRevision.get()).values;
    expect(values).toEqual([{ labels: { revision: "r2" }, value: 1 }]);
  });

  it("follows the evidence spool through its observer", async () => {
    const metrics = createGatewayMetrics();
    const observer = spoolMetricsObserver(metrics);
    observer.recordWritten();
    observer.recordWritten();
    observer.usedBytesChanged(4096);
    expect(await sample(metrics, "portcullis_gateway_evidence_records_total")).toBe(2);
    expect(await sample(metrics, "portcullis_gateway_evidence_spool_bytes")).toBe(4096);
  });
});
