// The health server over real HTTP on a loopback port.
import { afterEach, describe, expect, it } from "@jest/globals";
import { startHealthServer, type HealthServer } from "./health-server.js";
import { createGatewayMetrics, observeRequest } from "./metrics.js";

let server: HealthServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(ready: () => boolean, notReadyReason?: () => string): Promise<{ base: string; metrics: ReturnType<typeof createGatewayMetrics> }> {
  const metrics = createGatewayMetrics();
  server = await startHealthServer({ port: 0, host: "127.0.0.1", metrics, ready, notReadyReason });
  return { base: `http://127.0.0.1:${server.port}`, metrics };
}

async function get(url: string, method = "GET"): Promise<{ status: number; type: string | null; body: string }> {
  const response = await fetch(url, { method });
  return { status: response.status, type: response.headers.get("content-type"), body: await response.text() };
}

describe("startHealthServer", () => {
  it("answers /healthz while the process runs, ready or not", async () => {
    const { base } = await start(() => false);
    expect(await get(`${base}/healthz`)).toMatchObject({ status: 200, body: "ok\n" });
  });

  it("answers /readyz from the readiness check, with a reason when not ready", async () => {
    let ready = false;
    const { base } = await start(() => ready, () => "the evidence spool is not open");
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: "not ready: the evidence spool is not open\n" });
    ready = true;
    expect(await get(`${base}/readyz?verbose`)).toMatchObject({ status: 200, body: "ok\n" });
  });

  it("is not ready when the readiness check throws", async () => {
    const { base } = await start(() => {
      throw new Error("boom");
    });
    expect(await get(`${base}/readyz`)).toMatchObject({ status: 503, body: "not ready: the readiness check failed\n" });
  });

  it("gives a generic reason when none is configured", async () => {
    const { base } = await start(() => false);
    expect((await get(`${base}/readyz`)).body).toBe("not ready: the gateway is starting or stopping\n");
  });

  it("serves the gateway's metrics in the Prometheus text format", async () => {
    const { base, metrics } = await start(() => true);
    observeRequest(metrics, { resource: "orders-db", protocol: "postgres" }, "deny");
    const response = await get(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.type).toContain("text/plain");
    expect(response.body).toContain('portcullis_gateway_requests_total{resource="orders-db",protocol="postgres",decision="deny"} 1');
    expect(response.body).toContain("# TYPE portcullis_gateway_request_duration_seconds histogram");
  });

  it("refuses other paths and methods", async () => {
    const { base } = await start(() => true);
    expect(await get(`${base}/admin`)).toMatchObject({ status: 404 });
    expect(await get(`${base}/healthz`, "POST")).toMatchObject({ status: 405 });
  });

  it("stops listening on close", async () => {
    const { base } = await start(() => true);
    await get(`${base}/healthz`);
    await server?.close();
    server = undefined;
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
  });

  it("reports a port it cannot listen on", async () => {
    const { base } = await start(() => true);
    const port = Number(new URL(base).port);
    await expect(startHealthServer({ port, host: "127.0.0.1", metrics: createGatewayMetrics(), ready: () => true })).rejects.toThrow(
      `the health server cannot listen on 127.0.0.1:${port}`,
    );
  });
});
