// A real HTTPS API for the HTTP gateway's tests: its own CA (the Resource's
// caBundle), and endpoints that show what the backend received (method,
// target, headers), serve personal data to mask, stream server-sent events
// slowly, and serve large downloads.
import { createHash } from "node:crypto";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
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
      if (path === "/v1/broken.json") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(`{"email": "${CUSTOMER.email}",`);
      }
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
  server.on("upgrade", (req, socket) => acceptWebSocket(req, socket, received));
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

export const WEBSOCKET_GREETING = `hello, write to ${CUSTOMER.email}`;

/** A server text frame (unmasked; payloads under 126 bytes are all the tests send). */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

/**
 * /v1/ws: a WebSocket that greets with a text naming an email address and answers each text message
 * with "echo: " and the message. Written here from RFC 6455, independent of the gateway's frame code.
 */
function acceptWebSocket(req: IncomingMessage, socket: Duplex, received: RunningApi["received"]): void {
  received.push({ method: req.method ?? "", target: req.url ?? "", headers: req.headers, body: "" });
  if (req.url?.includes("decline")) {
    // A backend that ignores the upgrade and answers with data.
    const body = JSON.stringify(CUSTOMER);
    socket.end(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    return;
  }
  if (!req.url?.startsWith("/v1/ws") || req.headers.upgrade?.toLowerCase() !== "websocket") {
    socket.end("HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    return;
  }
  const accept = createHash("sha1").update(`${req.headers["sec-websocket-key"] ?? ""}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  socket.write(textFrame(WEBSOCKET_GREETING));
  let buffered = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 6) {
      const opcode = (buffered[0] as number) & 0x0f;
      const length = (buffered[1] as number) & 0x7f;
      if (length > 125 || buffered.length < 6 + length) return;
      const key = buffered.subarray(2, 6);
      const payload = Buffer.from(buffered.subarray(6, 6 + length).map((byte, i) => byte ^ (key[i % 4] as number)));
      buffered = buffered.subarray(6 + length);
      if (opcode === 0x8) {
        socket.end(Buffer.from([0x88, 0]));
        return;
      }
      if (opcode === 0x1) socket.write(textFrame(`echo: ${payload.toString()}`));
    }
  });
  socket.on("error", () => undefined);
}
