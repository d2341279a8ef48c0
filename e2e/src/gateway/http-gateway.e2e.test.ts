// The HTTP gateway standalone, with real clients (curl, Node's fetch, Debian's
// Python requests) and real backends (an HTTPS API with its own CA, nginx):
// allow, deny and mask with the Resource's credential injected and the agent's
// own Authorization dropped; a table of target and framing evasions that
// never reach the backend as something the policy did not judge; SSE and a
// large download streamed with bounded memory; refusals that fail closed
// (502, 413, bodies that cannot be masked); every request in the evidence,
// replayed with the CLI.
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { portcullis } from "../cli/portcullis-cli.js";
import { freePort } from "../controlplane/processes.js";
import { startNginx, type RunningNginx } from "../http/nginx.js";
import { WebSocket } from "undici";
import { API_HOST, CUSTOMER, startApi, WEBSOCKET_GREETING, type RunningApi } from "../http/upstream.js";
import { waitUntil } from "../processes/wait.js";
import { auditorStoreFile, filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";
import { curl } from "../http/curl.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const API_TOKEN = "api-token-3f9c";

let api: RunningApi;
let nginx: RunningNginx;
let gateway: SidecarProcess;
let dir: string;
let storeDir: string;
let storeFile: string;
const ports = { billing: 0, files: 0, web: 0, gone: 0, small: 0, chat: 0 };

const url = (resource: keyof typeof ports, path: string): string => `http://127.0.0.1:${ports[resource]}${path}`;

function resource(name: string, port: number, endpoint: object, extra: object = {}): object {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name },
    spec: {
      protocol: "http",
      endpoint,
      listener: { port },
      credentials: { secretRef: { name: "api-token" } },
      http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " }, ...extra },
    },
  };
}

function manifests(apiPort: number, apiCa: string, nginxPort: number, closedPort: number): object[] {
  const tls = { mode: "verify-full", serverName: API_HOST, caBundleRef: { kind: "Secret", name: "api-ca", key: "ca.crt" } };
  const api = { host: "127.0.0.1", port: apiPort, tls };
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "api-token" }, stringData: { token: API_TOKEN } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "api-ca" }, stringData: { "ca.crt": apiCa } },
    ...filesystemStoreManifests(storeDir),
    resource("billing-api", ports.billing, api),
    resource("files-api", ports.files, api),
    resource("web", ports.web, { host: "127.0.0.1", port: nginxPort, tls: { mode: "disable" } }),
    resource("gone-api", ports.gone, { host: "127.0.0.1", port: closedPort, tls: { mode: "disable" } }),
    resource("small-api", ports.small, api, { maxBodyBytes: 1024 }),
    resource("chat-api", ports.chat, api),
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "billing" },
      spec: {
        subjects: { serviceAccounts: ["agent"] },
        resources: ["billing-api"],
        rules: [
          { name: "no-deletes", match: { http: { methods: ["DELETE"] } }, action: "deny", message: "agents never delete billing data" },
          { name: "big-refunds", match: { http: { methods: ["POST"], paths: ["/v1/refunds"] } }, when: "http.body.amount > 1000", action: "deny" },
          {
            name: "refunds",
            match: { http: { methods: ["POST"], paths: ["/v1/refunds"] } },
            action: "requireApproval",
            approval: { reviewers: { groups: ["billing-leads"] }, timeout: "1m" },
          },
          { name: "reads", match: { http: { methods: ["GET"], paths: ["/v1/customers/*", "/v1/notes.txt", "/v1/logo.png", "/v1/echo", "/v1/broken.json"] } }, action: "allow" },
        ],
        masking: [
          { name: "emails", jsonPaths: ["$.email", "$.items[*].email"], strategy: "redact" },
          { name: "ibans", detectors: ["iban"], strategy: "partial", keepLast: 4 },
        ],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "files" },
      spec: {
        subjects: { serviceAccounts: ["agent"] },
        resources: ["files-api", "web", "gone-api", "small-api"],
        rules: [
          { name: "no-admin", match: { http: { paths: ["/v1/admin/**"] } }, action: "deny" },
          WEBSOCKET_RULE,
          { name: "uploads", match: { http: { methods: ["POST"] } }, when: "has(http.body.name)", action: "allow" },
          { name: "reads", match: { http: { methods: ["GET", "HEAD"] } }, action: "allow" },
        ],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "chat" },
      spec: {
        subjects: { serviceAccounts: ["agent"] },
        resources: ["chat-api"],
        rules: [WEBSOCKET_RULE, { name: "posts", match: { http: { methods: ["POST"], paths: ["/v1/echo"] } }, action: "allow" }],
        masking: [{ name: "emails", detectors: ["email"], strategy: "redact" }],
        recording: { storeRef: { name: "evidence-store" } },
      },
    },
  ];
}

/** WebSockets are relayed only by a rule that names the Upgrade header. */
const WEBSOCKET_RULE = { name: "websockets", match: { http: { methods: ["GET"], paths: ["/v1/ws"], headers: [{ name: "Upgrade", values: ["websocket"] }] } }, action: "allow" };

/** A WebSocket through the gateway: the messages it received, after sending `send` once the first one arrived. */
async function webSocketExchange(url: string, send: string): Promise<string[]> {
  const socket = new WebSocket(url);
  const received: string[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener("message", (event) => {
      received.push(String(event.data));
      if (received.length === 1) socket.send(send);
      else socket.close(1000);
    });
    socket.addEventListener("close", () => resolve());
    socket.addEventListener("error", () => reject(new Error(`the WebSocket to ${url} failed`)));
  });
  return received;
}

/** One raw request on a fresh connection, read until its response is complete; the status is 0 when the connection closed without one. */
function raw(port: number, request: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(request));
    let text = "";
    const done = (): void => {
      socket.destroy();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text });
    };
    socket.setEncoding("latin1").on("data", (chunk: string) => {
      text += chunk;
      const head = text.indexOf("\r\n\r\n");
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? Number.NaN);
      if (head >= 0 && Buffer.byteLength(text.slice(head + 4), "latin1") >= length) done();
    });
    socket.setTimeout(10_000, done);
    socket.on("error", reject);
    socket.on("close", done);
  });
}

function rssKiB(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, "utf8").then((status) => Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-http-"));
  storeDir = join(dir, "store");
  storeFile = join(dir, "store.yaml");
  await auditorStoreFile(storeFile, storeDir);
  [api, nginx] = await Promise.all([startApi(), startNginx()]);
  for (const name of Object.keys(ports) as Array<keyof typeof ports>) ports[name] = await freePort();
  gateway = await startSidecar({ manifests: manifests(api.port, api.caPem, nginx.port, await freePort()) });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await api?.stop();
  await nginx?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the HTTP gateway with curl", () => {
  it("allows a read, presents the Resource's credential and drops the agent's, and masks the response", async () => {
    const seen = api.received.length;
    const result = await curl(["-H", "Authorization: Bearer agent-own-token", url("billing", "/v1/customers/7")]);
    expect(result.status).toBe(200);
    const body = JSON.parse(result.body) as Record<string, unknown>;
    expect(body).toMatchObject({ id: 7, name: "Ada", email: "***", iban: "******************3000", items: [{ email: "***" }, { email: "***" }] });
    // A JSON-path rule masks the fields it names, nothing else.
    expect(body.notes).toBe(CUSTOMER.notes);
    const request = api.received[seen];
    expect(request?.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
    expect(request?.headers.host).toBe(`127.0.0.1:${api.port}`);
  });

  it("denies with 403 and a JSON body naming the policy and the rule; the backend never sees it", async () => {
    const seen = api.received.length;
    const result = await curl(["-X", "DELETE", url("billing", "/v1/customers/7")]);
    expect(result.status).toBe(403);
    expect(JSON.parse(result.body)).toEqual({
      error: "denied",
      message: 'portcullis: denied by AccessPolicy "billing" rule "no-deletes": agents never delete billing data',
      policy: "billing",
      rule: "no-deletes",
    });
    expect(api.received.length).toBe(seen);
  });

  it("decides on the JSON body when a rule reads it", async () => {
    const big = await curl(["-X", "POST", "-H", "content-type: application/json", "--data", '{"amount": 5000}', url("billing", "/v1/refunds")]);
    expect(big.status).toBe(403);
    expect(JSON.parse(big.body)).toMatchObject({ policy: "billing", rule: "big-refunds" });
    // A small refund needs a reviewer, and standalone without --kubeconfig there is none: refused, saying why.
    const small = await curl(["-X", "POST", "-H", "content-type: application/json", "--data", '{"amount": 20}', url("billing", "/v1/refunds")]);
    expect(small.status).toBe(403);
    expect(JSON.parse(small.body)).toMatchObject({ error: "approval denied", rule: "refunds", message: expect.stringMatching(/no ApprovalRequest could be made/) as unknown as string });
  });

  it("withholds a response it cannot mask rather than pass it on: text under a JSON-path rule, an image, JSON that does not parse", async () => {
    for (const path of ["/v1/notes.txt", "/v1/logo.png", "/v1/broken.json"]) {
      const result = await curl([url("billing", path)]);
      expect(result.status).toBe(502);
      expect(JSON.parse(result.body)).toMatchObject({ error: "response withheld" });
      expect(result.body).not.toContain(CUSTOMER.iban);
    }
  });

  it("asks for the whole body under masking: the agent's Range is not forwarded", async () => {
    const seen = api.received.length;
    const result = await curl(["-H", "Range: bytes=15-40", url("billing", "/v1/customers/7")]);
    expect(JSON.parse(result.body)).toMatchObject({ email: "***" });
    expect(api.received[seen]?.headers.range).toBeUndefined();
  });

  it("does not forward the agent's forwarding claims", async () => {
    const seen = api.received.length;
    await curl(["-H", "X-Forwarded-For: 10.0.0.1", "-H", "Forwarded: for=10.0.0.1", url("files", "/v1/echo")]);
    expect(api.received[seen]?.headers["x-forwarded-for"]).toBeUndefined();
    expect(api.received[seen]?.headers.forwarded).toBeUndefined();
  });

  it("forwards a chunked upload and one that expects 100-continue", async () => {
    const chunked = await curl(["-X", "POST", "-H", "content-type: application/json", "-H", "Transfer-Encoding: chunked", "--data", '{"x":1}', url("chat", "/v1/echo")]);
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.body)).toMatchObject({ body: '{"x":1}' });
    const continued = await curl(["-X", "POST", "-H", "content-type: application/json", "-H", "Expect: 100-continue", "--data", '{"name":"n"}', url("files", "/v1/echo")]);
    expect(continued.status).toBe(200);
  });

  it("refuses a body a rule must read when it is encoded", async () => {
    const result = await curl(["-X", "POST", "-H", "content-type: application/json", "-H", "Content-Encoding: gzip", "--data", '{"name":"n"}', url("files", "/v1/echo")]);
    expect(result.status).toBe(403);
    expect(JSON.parse(result.body)).toMatchObject({ message: expect.stringContaining("the request body is encoded (gzip)") as unknown });
  });

  it("reaches nginx with the credential injected", async () => {
    const result = await curl(["-H", "Authorization: Basic YWdlbnQ6cGFzcw==", url("web", "/v1/whoami?b=2&a=1")]);
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ server: "nginx", authorization: `Bearer ${API_TOKEN}`, target: "/v1/whoami?b=2&a=1" });
  });

  it("answers 502 naming the cause when the backend cannot be reached", async () => {
    const result = await curl([url("gone", "/v1/anything")]);
    expect(result.status).toBe(502);
    expect(JSON.parse(result.body)).toMatchObject({ error: "bad gateway", message: expect.stringMatching(/could not be reached: .*ECONNREFUSED/) as unknown as string });
  });

  it("refuses a body over the Resource's maxBodyBytes with 413 when a rule must read it", async () => {
    const result = await curl(["-X", "POST", "-H", "content-type: application/json", "--data", JSON.stringify({ name: "x".repeat(2048) }), url("small", "/v1/echo")]);
    expect(result.status).toBe(413);
    expect(JSON.parse(result.body)).toMatchObject({ error: "request body too large", message: expect.stringContaining("1024 bytes") as unknown as string });
    const fits = await curl(["-X", "POST", "-H", "content-type: application/json", "--data", '{"name":"ok"}', url("small", "/v1/echo")]);
    expect(fits.status).toBe(200);
    expect(JSON.parse(fits.body)).toMatchObject({ method: "POST", body: '{"name":"ok"}' });
  });
});

describe("other clients", () => {
  it("Node's fetch", async () => {
    const response = await fetch(url("billing", "/v1/customers/7"), { headers: { authorization: "Bearer agent-own-token" } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { email: string }).email).toBe("***");
  });

  it("Python requests (Debian)", async () => {
    const script = "import requests,sys; r = requests.get(sys.argv[1]); print(r.status_code, r.json()['email'], r.json()['iban'])";
    const { stdout } = await run(PYTHON, ["-c", script, url("billing", "/v1/customers/7")]);
    expect(stdout.trim()).toBe("200 *** ******************3000");
  });
});

describe("what the backend sees is what the policy judged", () => {
  it.each<[string, string]>([
    ["/v1/admin/users", "the plain path"],
    ["/V1/ADMIN/users", "another case"],
    ["/v1/x/../admin/users", "a dot-dot segment"],
    ["/v1/./admin/users", "a dot segment"],
    ["//v1//admin/users", "duplicate slashes"],
    ["/v1/%61dmin/users", "an encoded letter"],
    ["/v1/%2e%2e/v1/admin/users", "an encoded dot-dot"],
    ["/v1/admin/users/", "a trailing slash"],
    ["http://127.0.0.1/v1/admin/users", "an absolute-form target"],
  ])("denies %s (%s)", async (path) => {
    const seen = api.received.length;
    const result = await raw(ports.files, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(result.status).toBe(403);
    expect(result.text).toContain('"rule":"no-admin"');
    expect(api.received.length).toBe(seen);
  });

  it.each<[string, string]>([
    ["an encoded slash", "GET /v1/admin%2fusers HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["a path parameter", "GET /v1/admin;x=1/users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["a backslash", "GET /v1\\admin\\users HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["climbing above the root", "GET /../v1/admin HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["Content-Length and Transfer-Encoding", "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["two equal Content-Lengths", "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"],
    ["two different Content-Lengths", "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"],
    ["a list in Content-Length", "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2, 2\r\n\r\n{}"],
    ["a transfer coding other than chunked", "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"],
    ["an obs-fold header", "GET /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Folded: a\r\n b\r\n\r\n"],
    ["bare LF line endings", "GET /v1/echo HTTP/1.1\nHost: 127.0.0.1\n\n"],
    ["two Host headers", "GET /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"],
    ["a Host that names another server", "GET /v1/echo HTTP/1.1\r\nHost: evil.example\r\n\r\n"],
    ["an absolute-form target for another host", "GET http://evil.example/v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["a CONNECT", "CONNECT billing.test:443 HTTP/1.1\r\nHost: billing.test:443\r\n\r\n"],
    ["a TRACE", "TRACE /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["a method override header", "POST /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-HTTP-Method-Override: DELETE\r\nContent-Length: 2\r\n\r\n{}"],
    ["a ; in the query", "GET /v1/echo?limit=10;limit=99 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
    ["an asterisk-form OPTIONS", "OPTIONS * HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"],
  ])("refuses %s with 400 before the backend sees it", async (_name, request) => {
    const seen = api.received.length;
    const result = await raw(ports.files, request);
    expect(result.status).toBe(400);
    expect(api.received.length).toBe(seen);
  });

  it("forwards the canonical target it judged", async () => {
    const response = await fetch(url("files", "/v1//x/../echo/?b=%7e&a=1+2"));
    expect(response.status).toBe(200);
    expect(((await response.json()) as { target: string }).target).toBe("/v1/echo?b=~&a=1+2");
  });

  it("refuses a WebSocket upgrade unless the rule that allows it names the Upgrade header", async () => {
    const result = await raw(ports.files, "GET /v1/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    expect(result.status).toBe(403);
    expect(result.text).toContain("are relayed only when the rule that allows them names the Upgrade header");
  });
});

describe("WebSockets", () => {
  it("relays an allowed WebSocket both ways, with the Resource's credential on the handshake", async () => {
    const seen = api.received.length;
    const messages = await webSocketExchange(`ws://127.0.0.1:${ports.files}/v1/ws`, "hi");
    expect(messages).toEqual([WEBSOCKET_GREETING, "echo: hi"]);
    expect(api.received[seen]?.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
    expect(api.received[seen]?.headers["sec-websocket-extensions"]).toBeUndefined();
  });

  it("withholds a backend's answer to an upgrade it declined", async () => {
    const result = await raw(ports.files, "GET /v1/ws?decline=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    expect(result.status).toBe(502);
    expect(result.text).not.toContain(CUSTOMER.email);
  });

  it("survives an agent that resets the connection of a pending upgrade", async () => {
    for (let i = 0; i < 5; i += 1) {
      const socket = net.connect(ports.files, "127.0.0.1", () => {
        socket.write("GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
        socket.resetAndDestroy();
      });
      socket.on("error", () => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(gateway.child.exitCode).toBeNull();
    expect((await fetch(url("files", "/v1/echo"))).status).toBe(200);
  });

  it("masks the backend's text messages where masking applies", async () => {
    const messages = await webSocketExchange(`ws://127.0.0.1:${ports.chat}/v1/ws`, "mail eve@example.net");
    expect(messages).toEqual(["hello, write to ***", "echo: mail ***"]);
  });
});

describe("streaming", () => {
  it("delivers the first server-sent event before the backend finishes the stream", async () => {
    const response = await fetch(url("files", "/v1/events"));
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value ?? new Uint8Array()).toString()).toBe("data: first\n\n");
    api.finishEvents();
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest += Buffer.from(chunk.value).toString();
    expect(rest).toBe("data: last\n\n");
  });

  it("streams a 512 MiB download with bounded gateway memory", async () => {
    const pid = gateway.child.pid as number;
    const before = await rssKiB(pid);
    let peak = before;
    const child = spawn("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", url("files", "/v1/download?mb=512")]);
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const sampler = setInterval(() => void rssKiB(pid).then((rss) => (peak = Math.max(peak, rss))), 50);
    await new Promise((resolve) => child.once("exit", resolve));
    clearInterval(sampler);
    expect(out).toBe(`200 ${512 << 20}`);
    expect(peak - before).toBeLessThan(96 * 1024);
  }, 60_000);
});

describe("evidence", () => {
  it("records each request with its decision and result, and the CLI replays them", async () => {
    // A value in the query that a scanning rule masks is recorded masked.
    expect((await curl([url("billing", `/v1/customers/7?iban=${CUSTOMER.iban}`)])).status).toBe(200);
    await gateway.stop("SIGTERM");
    let sessions: Awaited<ReturnType<typeof storedSessions>> = [];
    await waitUntil("the HTTP sessions in the store", async () => {
      sessions = await storedSessions(storeDir).catch(() => []);
      return sessions.some((records) => records.some((record) => record.type === "request" && (record.data as { http?: { target: string } }).http?.target === "/v1/customers/7"));
    }, 20_000);
    const records = sessions.flat();
    const deleted = records.find((record) => record.type === "request" && (record.data as { summary: string }).summary === "DELETE /v1/customers/7");
    expect(deleted?.data).toMatchObject({ protocol: "http", decision: { action: "deny", policy: "billing", rule: "no-deletes" }, http: { method: "DELETE", target: "/v1/customers/7" } });
    const masked = records.find((record) => record.type === "result" && Object.keys((record.data as { masked: object }).masked).length > 0);
    expect(masked?.data).toMatchObject({ http: { status: 200 }, masked: { "billing/emails": 3, "billing/ibans": 1 } });
    const queried = records.find((record) => record.type === "request" && (record.data as { http?: { target: string } }).http?.target.startsWith("/v1/customers/7?iban="));
    expect((queried?.data as { http: { target: string } }).http.target).toMatch(/^\/v1\/customers\/7\?iban=\S*3000$/);
    expect(JSON.stringify(records)).not.toContain(CUSTOMER.iban);
    // The refund that needed a reviewer nobody could be asked: refused, and its result says why.
    const held = records.find((record) => record.type === "request" && (record.data as { decision: { action: string } }).decision.action === "requireApproval");
    const refusal = records.find((record) => record.type === "result" && record.session === held?.session && record.data.request === held?.seq);
    expect(refusal?.data).toMatchObject({ http: { status: 403 }, refused: expect.stringMatching(/no ApprovalRequest could be made/) as unknown as string });
    const session = records.find((record) => record === deleted)?.session ?? "";
    const replay = await portcullis(["sessions", "replay", session, "--store-file", storeFile]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("request (http)");
    expect(replay.stdout).toContain("DELETE /v1/customers/7");
    expect(replay.stdout).toContain("decision   deny (billing/no-deletes)");
    const message = records.find((record) => record.type === "message" && (record.data as { masked?: object }).masked !== undefined);
    expect(message?.data).toMatchObject({ direction: "backend", kind: "text", masked: { "chat/emails": 1 } });
    const verified = await portcullis(["sessions", "verify", session, "--store-file", storeFile]);
    expect(verified.stdout).toMatch(/^verified: \d+ records/);
  }, 40_000);
});

describe("bodies held in memory, all sessions together", () => {
  it("refuses what would pass --max-buffered-bytes (503 for a request body, the response withheld), and serves what does not", async () => {
    await gateway.stop();
    gateway = await startSidecar({ manifests: manifests(api.port, api.caPem, nginx.port, await freePort()), extraArgs: ["--max-buffered-bytes", "16"] });
    const refund = await curl(["-X", "POST", "-H", "content-type: application/json", "--data", JSON.stringify({ amount: 20, note: "more than sixteen bytes" }), url("billing", "/v1/refunds")]);
    expect(refund.status).toBe(503);
    expect(JSON.parse(refund.body)).toMatchObject({ error: "busy", message: expect.stringContaining("holds as many bodies in memory as it may") as unknown as string });
    const masked = await curl([url("billing", "/v1/customers/7")]);
    expect(masked.status).toBe(502);
    expect(JSON.parse(masked.body)).toMatchObject({ error: "response withheld", message: expect.stringContaining("holds as many bodies in memory as it may") as unknown as string });
    const small = await curl(["-X", "POST", "-H", "content-type: application/json", "--data", '{"amount":5000}', url("billing", "/v1/refunds")]);
    expect(JSON.parse(small.body)).toMatchObject({ rule: "big-refunds" });
  });
});
