// Plain-HTTP endpoints for the kubelet and Prometheus, apart from the agent's
// listeners: /healthz (the process is alive), /readyz (the gateway can take
// sessions: configuration loaded, listeners and evidence spool open) and
// /metrics.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { GatewayMetrics } from "./metrics.js";

export interface HealthServerOptions {
  port: number;
  host: string;
  metrics: GatewayMetrics;
  ready: () => boolean;
  /** Why the gateway is not ready, for the 503 body; a generic reason by default. */
  notReadyReason?: () => string;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };

function readiness(options: HealthServerOptions): { ok: boolean; text: string } {
  try {
    if (options.ready()) return { ok: true, text: "ok\n" };
    return { ok: false, text: `not ready: ${options.notReadyReason?.() ?? "the gateway is starting or stopping"}\n` };
  } catch {
    return { ok: false, text: "not ready: the readiness check failed\n" };
  }
}

function serveMetrics(metrics: GatewayMetrics, res: ServerResponse): void {
  metrics.registry.metrics().then(
    (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
    () => res.writeHead(500, TEXT).end("metrics unavailable\n"),
  );
}

function handle(options: HealthServerOptions, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { ...TEXT, allow: "GET, HEAD" }).end("method not allowed\n");
  } else if (path === "/healthz") {
    res.writeHead(200, TEXT).end("ok\n");
  } else if (path === "/readyz") {
    const { ok, text } = readiness(options);
    res.writeHead(ok ? 200 : 503, TEXT).end(text);
  } else if (path === "/metrics") {
    serveMetrics(options.metrics, res);
  } else {
    res.writeHead(404, TEXT).end("not found: try /healthz, /readyz or /metrics\n");
  }
}

/** Listens on host:port (port 0 picks a free one) and resolves with the port in use. */
export function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const server = createServer((req, res) => handle(options, req, res));
  return new Promise((resolve, reject) => {
    server.once("error", (error) => reject(new Error(`the health server cannot listen on ${options.host}:${options.port}: ${error.message}`)));
    server.listen(options.port, options.host, () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            // Keep-alive connections from a scraper would otherwise hold close() open.
            server.closeAllConnections();
          }),
      });
    });
  });
}
