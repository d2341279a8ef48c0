// A real HTTPS API for the HTTP gateway's tests: its own CA (the Resource's
// caBundle), and endpoints that show what the backend received (method,
// target, headers), serve personal data to mask, stream server-sent events
// slowly, and serve large downloads.
import { once } from "node:events";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";

export const API_HOST = "billing.test";

export interface RunningApi {
  port: number;
  /** The CA that signed the API's certificate (for API_HOST and 127.0.0.1). */
  caPem: string;
  /** Requests the API received, newest last. */
  received: Array<{ method: string; target: string; headers: Record<string, string | string[] | undefined>; body: string }>;
  /** Ends a held SSE stream (see /v1/events). */
  finishEvents(): void;
  stop(): Promise<void>;
}

export const CUSTOMER = { id: 7, name: "Ada", email: "ada@example.com", iban: "DE89370400440532013000", notes: "call ada@example.com or bob@example.org" };

/** The API on `host` (loopback unless pods must reach it, e.g. the test node's address). */
export async function startApi(host = "127.0.0.1"): Promise<RunningApi> {
  const ca = await createCertificateAuthority("portcullis-test-api-ca");
  const serving = await ca.issue({ commonName: API_HOST, usage: "server", dnsNames: [API_HOST], ipAddresses: [...new Set(["127.0.0.1", host])] });
  const received: RunningApi["received"] = [];
  let releaseEvents: () => void = () => undefined;
  const server = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const target = req.url ?? "";
      received.push({ method: req.method ?? "", target, headers: req.headers, body });
      const path = target.split("?")[0] ?? "";
      const json = (status: number, value: unknown): void => {
        const text = JSON.stringify(value);
        res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
        res.end(text);
      };
      if (path === "/v1/echo" || path.startsWith("/v1/refunds")) return json(200, { method: req.method, target, body, authorization: req.headers.authorization ?? null });
      if (/^\/v1\/customers\/\d+$/.test(path)) return json(200, { ...CUSTOMER, items: [{ email: CUSTOMER.email }, { email: "eve@example.net" }] });
      if (path === "/v1/notes.txt") {
        res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        return res.end(`contact ${CUSTOMER.email}, IBAN ${CUSTOMER.iban}\n`);
      }
      if (path === "/v1/logo.png") {
        res.writeHead(200, { "content-type": "image/png" });
        return res.end(Buffer.alloc(64, 1));
      }
      if (path === "/v1/events") {
        // The first event goes out at once; the stream ends only when the test says so.
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        res.write("data: first\n\n");
        releaseEvents = () => res.end("data: last\n\n");
        return;
      }
      if (path === "/v1/download") {
        const megabytes = Number(new URL(target, "https://x").searchParams.get("mb") ?? "1");
        const block = Buffer.alloc(1 << 20, 97);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(megabytes << 20) });
        let sent = 0;
        const pump = (): void => {
          while (sent < megabytes) {
            sent += 1;
            if (!res.write(block)) return void res.once("drain", pump);
          }
          res.end();
        };
        return pump();
      }
      json(404, { error: "not found", path });
    });
  });
  server.listen(0, host);
  await once(server, "listening");
  return {
    port: (server.address() as AddressInfo).port,
    caPem: ca.certPem,
    received,
    finishEvents: () => releaseEvents(),
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
