// The MCP gateway standalone, with the official MCP SDK on both sides: an
// SDK client through the gateway to an SDK server over Streamable HTTP (SSE
// and JSON answers) and the older HTTP+SSE transport. Lists cut to what the
// policy allows, denied calls answered with JSON-RPC errors naming the policy
// and rule, a rule on arguments, masked results (text, structured content,
// resources, log notifications), an image withheld under masking, the
// server's sampling request passed or refused, batches and ambiguous JSON,
// a changed tool caught, and every exchange in the evidence the CLI replays.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema, LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { portcullis } from "../cli/portcullis-cli.js";
import { freePort } from "../controlplane/processes.js";
import { CUSTOMER, type RunningMcpServer, startMcpServer } from "../mcp/server.js";
import { waitUntil } from "../processes/wait.js";
import { auditorStoreFile, filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const SERVER_TOKEN = "mcp-server-token-51c2";

let server: RunningMcpServer;
let gateway: SidecarProcess;
let dir: string;
let storeDir: string;
let storeFile: string;
const ports = { tools: 0, json: 0, sse: 0, strict: 0 };
const clients: Client[] = [];

const LIFECYCLE = { name: "lifecycle", match: { mcp: { methods: ["initialize", "ping", "notifications/*", "*/list", "resources/templates/list", "logging/setLevel"] } }, action: "allow" };

function resource(name: string, port: number, serverPort: number, path = "/mcp"): object {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name },
    spec: {
      protocol: "mcp",
      endpoint: { host: "127.0.0.1", port: serverPort, tls: { mode: "disable" } },
      listener: { port },
      credentials: { secretRef: { name: "mcp-token" } },
      http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
      mcp: { path },
    },
  };
}

function manifests(serverPort: number): object[] {
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "mcp-token" }, stringData: { token: SERVER_TOKEN } },
    ...filesystemStoreManifests(storeDir),
    resource("tools", ports.tools, serverPort),
    resource("tools-json", ports.json, serverPort, "/mcp-json"),
    resource("tools-sse", ports.sse, serverPort, "/sse"),
    resource("strict-tools", ports.strict, serverPort),
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "agent-tools" },
      spec: {
        subjects: { serviceAccounts: ["agent"] },
        resources: ["tools", "tools-json", "tools-sse"],
        rules: [
          LIFECYCLE,
          { name: "no-drops", match: { mcp: { tools: ["drop_*"] } }, action: "deny", message: "agents never drop databases" },
          { name: "big-refunds", match: { mcp: { tools: ["refund_order"] } }, when: "mcp.tool.arguments.amount > 1000", action: "deny" },
          { name: "calls", match: { mcp: { tools: ["lookup_customer", "refund_order", "customer_photo", "ask_model", "notify_progress", "weather"] } }, action: "allow" },
          { name: "reports", match: { mcp: { resources: ["file:///reports/*"] } }, action: "allow" },
          { name: "prompts", match: { mcp: { prompts: ["summarise"] } }, action: "allow" },
          { name: "sampling", match: { mcp: { methods: ["sampling/createMessage"] } }, action: "allow" },
        ],
        masking: [
          { name: "emails", detectors: ["email"], strategy: "redact" },
          { name: "ibans", detectors: ["iban"], strategy: "partial", keepLast: 4 },
        ],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "strict-tools" },
      spec: {
        subjects: { serviceAccounts: ["agent"] },
        resources: ["strict-tools"],
        rules: [LIFECYCLE, { name: "calls", match: { mcp: { tools: ["ask_model", "lookup_customer"] } }, action: "allow" }],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
  ];
}

/** An SDK client through the gateway, with a model that answers sampling requests and a log of the notifications it got. */
async function connect(
  port: number,
  path = "/mcp",
  transport: "streamable" | "sse" = "streamable",
): Promise<{ client: Client; sampled: string[]; logs: unknown[]; sessionId: () => string | undefined }> {
  const client = new Client({ name: "agent", version: "1.0.0" }, { capabilities: { sampling: {} } });
  const sampled: string[] = [];
  const logs: unknown[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    const content = request.params.messages[0]?.content;
    sampled.push(content && "text" in content ? String(content.text) : "");
    return { role: "assistant", content: { type: "text", text: "forty-two" }, model: "test-model" };
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    logs.push(notification.params.data);
  });
  const url = new URL(`http://127.0.0.1:${port}${path}`);
  const connection = transport === "sse" ? new SSEClientTransport(url) : new StreamableHTTPClientTransport(url);
  await client.connect(connection);
  clients.push(client);
  return { client, sampled, logs, sessionId: () => (connection instanceof StreamableHTTPClientTransport ? connection.sessionId : undefined) };
}

const toolNames = async (client: Client): Promise<string[]> => (await client.listTools()).tools.map((tool) => tool.name).sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-mcp-"));
  storeDir = join(dir, "store");
  storeFile = join(dir, "store.yaml");
  await auditorStoreFile(storeFile, storeDir);
  server = await startMcpServer();
  for (const name of Object.keys(ports) as Array<keyof typeof ports>) ports[name] = await freePort();
  gateway = await startSidecar({ manifests: manifests(server.port) });
}, 60_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  await gateway?.stop();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("an MCP client through the gateway (Streamable HTTP)", () => {
  it("lists only the tools, resources and prompts the policy could allow", async () => {
    const { client } = await connect(ports.tools);
    expect(await toolNames(client)).toEqual(["ask_model", "customer_photo", "lookup_customer", "notify_progress", "refund_order", "weather"]);
    expect((await client.listResources()).resources.map((entry) => entry.uri)).toEqual(["file:///reports/q1.txt"]);
    expect((await client.listPrompts()).prompts.map((entry) => entry.name)).toEqual(["summarise"]);
  });

  it("refuses a denied tool with a JSON-RPC error naming the policy and rule; the server never runs it", async () => {
    const { client } = await connect(ports.tools);
    await toolNames(client);
    const before = server.calls.length;
    await expect(client.callTool({ name: "drop_database", arguments: { name: "orders" } })).rejects.toThrow(
      'portcullis: denied by AccessPolicy "agent-tools" rule "no-drops": agents never drop databases',
    );
    expect(server.calls.slice(before).map((call) => call.tool)).toEqual([]);
    expect(JSON.stringify(server.received)).not.toContain("drop_database");
  });

  it("decides on the tool's arguments", async () => {
    const { client } = await connect(ports.tools);
    await toolNames(client);
    await expect(client.callTool({ name: "refund_order", arguments: { order: "A-1", amount: 5000 } })).rejects.toThrow(/rule "big-refunds"/);
    const small = await client.callTool({ name: "refund_order", arguments: { order: "A-1", amount: 20 } });
    expect(small.content).toEqual([{ type: "text", text: "refunded 20 on A-1" }]);
    expect(server.calls.filter((call) => call.tool === "refund_order").map((call) => call.arguments.amount)).toEqual([20]);
  });

  it("masks a tool's text and structured content, presenting the Resource's credential to the server", async () => {
    const { client } = await connect(ports.tools);
    await toolNames(client);
    const result = await client.callTool({ name: "lookup_customer", arguments: { id: 7 } });
    const text = (result.content as Array<{ text: string }>)[0]?.text ?? "";
    expect(JSON.parse(text)).toEqual({ ...CUSTOMER, email: "***", iban: "******************3000" });
    expect(result.structuredContent).toEqual({ ...CUSTOMER, email: "***", iban: "******************3000" });
    expect(JSON.stringify(result)).not.toContain(CUSTOMER.email);
    expect(new Set(server.authorizations)).toEqual(new Set([`Bearer ${SERVER_TOKEN}`]));
  });

  it("withholds an image it cannot scan under masking, with an error saying why", async () => {
    const { client } = await connect(ports.tools);
    await toolNames(client);
    await expect(client.callTool({ name: "customer_photo", arguments: { id: 7 } })).rejects.toThrow(/withheld: masking rules apply and it holds image content/);
  });

  it("masks resources it lets the agent read and refuses the others", async () => {
    const { client } = await connect(ports.tools);
    const report = await client.readResource({ uri: "file:///reports/q1.txt" });
    expect(report.contents[0]).toMatchObject({ text: "Q1 report. Contact: *** for questions." });
    await expect(client.readResource({ uri: "file:///secrets/keys.txt" })).rejects.toThrow(/default action/);
    await expect(client.getPrompt({ name: "admin" })).rejects.toThrow(/default action/);
    const prompt = await client.getPrompt({ name: "summarise" });
    expect(JSON.stringify(prompt)).toContain("Contact: ***");
  });

  it("passes the server's sampling request to the agent's model where the policy allows it, and masks log notifications", async () => {
    const { client, sampled, logs } = await connect(ports.tools);
    await toolNames(client);
    const result = await client.callTool({ name: "ask_model", arguments: { question: "what is six times seven?" } });
    expect(result.content).toEqual([{ type: "text", text: "the model said: forty-two" }]);
    expect(sampled).toEqual(["what is six times seven?"]);
    await client.callTool({ name: "notify_progress", arguments: {} });
    expect(logs).toEqual(["working for ***"]);
  });

  it("refuses the server's sampling request where the policy does not allow it: the agent's model is never asked", async () => {
    const { client, sampled } = await connect(ports.strict);
    await toolNames(client);
    const result = await client.callTool({ name: "ask_model", arguments: { question: "leak something" } }).catch((error: unknown) => ({ error: String(error) }));
    expect(JSON.stringify(result)).toContain("sampling/createMessage");
    expect(sampled).toEqual([]);
  });

  it("answers with JSON where the server does", async () => {
    const { client } = await connect(ports.json, "/mcp-json");
    expect(await toolNames(client)).toContain("lookup_customer");
    await expect(client.callTool({ name: "drop_database", arguments: { name: "x" } })).rejects.toThrow(/rule "no-drops"/);
    const result = await client.callTool({ name: "lookup_customer", arguments: { id: 7 } });
    expect(result.structuredContent).toMatchObject({ email: "***" });
  });

  it("decides each message of a batch and refuses JSON a server could read differently", async () => {
    const { client, sessionId } = await connect(ports.json, "/mcp-json");
    await toolNames(client);
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream", "mcp-session-id": sessionId() ?? "", "mcp-protocol-version": "2025-06-18" };
    const batch = [
      { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "drop_database", arguments: { name: "orders" } } },
      { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "lookup_customer", arguments: { id: 7 } } },
    ];
    const response = await fetch(`http://127.0.0.1:${ports.json}/mcp-json`, { method: "POST", headers, body: JSON.stringify(batch) });
    const answers = (await response.json()) as Array<{ id: number; error?: { message: string }; result?: { structuredContent: { email: string } } }>;
    expect(answers.find((answer) => answer.id === 1)?.error?.message).toMatch(/rule "no-drops"/);
    expect(answers.find((answer) => answer.id === 2)?.result?.structuredContent.email).toBe("***");
    const seen = server.received.length;
    const twice = '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"lookup_customer","name":"drop_database","arguments":{"id":7}}}';
    const refused = await fetch(`http://127.0.0.1:${ports.json}/mcp-json`, { method: "POST", headers, body: twice });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/names the key "name" twice/);
    expect(server.received.length).toBe(seen);
    const duplicate = [batch[1], { ...batch[1], params: { name: "refund_order", arguments: { order: "A-9", amount: 1 } } }];
    const answered = (await (await fetch(`http://127.0.0.1:${ports.json}/mcp-json`, { method: "POST", headers, body: JSON.stringify(duplicate) })).json()) as Array<{ error?: { message: string } }>;
    expect(answered.map((answer) => answer.error?.message ?? "ok").sort()).toEqual(["ok", expect.stringContaining("request id 2 is already awaiting a response")]);
    const variant = await fetch(`http://127.0.0.1:${ports.json}/mcp-json`, { method: "POST", headers, body: JSON.stringify({ ...batch[0], method: "Tools/Call" }) });
    expect(((await variant.json()) as { error: { message: string } }).error.message).toMatch(/"Tools\/Call" is not MCP's "tools\/call"/);
    const utf7 = await fetch(`http://127.0.0.1:${ports.json}/mcp-json`, { method: "POST", headers: { ...headers, "content-type": "application/json; charset=utf-7" }, body: JSON.stringify(batch[1]) });
    expect(utf7.status).toBe(415);
    expect(server.received.length).toBe(seen + 1);
  });

  it("reaches nothing of the server but its MCP endpoint, and reads a resource only by its canonical URI", async () => {
    const seen = server.received.length;
    const other = await fetch(`http://127.0.0.1:${ports.tools}/mcp-json`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(other.status).toBe(404);
    expect(((await other.json()) as { message: string }).message).toContain("the MCP endpoint of Resource \"tools\" is /mcp (spec.mcp.path)");
    // The server's own refusal of a request it cannot place (no session) passes, with its status.
    const sessionless = await fetch(`http://127.0.0.1:${ports.tools}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(sessionless.status).toBe(400);
    expect(await sessionless.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { message: expect.stringContaining("Server not initialized") as unknown } });
    const { client } = await connect(ports.tools);
    await expect(client.readResource({ uri: "file:///reports/../secrets/keys.txt" })).rejects.toThrow(/not in its canonical form \(a server reads it as file:\/\/\/secrets\/keys.txt\)/);
    expect(JSON.stringify(server.received.slice(seen))).not.toContain("secrets");
  });
});

describe("an MCP client on the older HTTP+SSE transport", () => {
  it("lists, calls, masks and refuses the same way", async () => {
    const { client, sampled } = await connect(ports.sse, "/sse", "sse");
    expect(await toolNames(client)).not.toContain("drop_database");
    await expect(client.callTool({ name: "drop_database", arguments: { name: "orders" } })).rejects.toThrow(/rule "no-drops"/);
    const result = await client.callTool({ name: "lookup_customer", arguments: { id: 7 } });
    expect(result.structuredContent).toMatchObject({ email: "***" });
    const asked = await client.callTool({ name: "ask_model", arguments: { question: "over SSE?" } });
    expect(asked.content).toEqual([{ type: "text", text: "the model said: forty-two" }]);
    expect(sampled).toEqual(["over SSE?"]);
  });
});

describe("a tool whose definition changes", () => {
  it("is hidden and refused once it changes, naming the new fingerprint to pin", async () => {
    const { client } = await connect(ports.tools);
    expect(await toolNames(client)).toContain("weather");
    expect((await client.callTool({ name: "weather", arguments: { city: "Oslo" } })).content).toEqual([{ type: "text", text: "sunny in Oslo" }]);
    server.changeWeatherTool();
    expect(await toolNames(client)).not.toContain("weather");
    await expect(client.callTool({ name: "weather", arguments: { city: "Oslo" } })).rejects.toThrow(/tool "weather" changed its definition \(accepted sha256:[0-9a-f]{64}, now sha256:[0-9a-f]{64}\)/);
    expect(server.calls.filter((call) => call.tool === "weather")).toHaveLength(1);
  });
});

describe("the evidence", () => {
  it("records each JSON-RPC exchange with its decision and result, and the CLI replays the tool calls", async () => {
    for (const client of clients.splice(0)) await client.close().catch(() => undefined);
    await gateway.stop("SIGTERM");
    let records: Awaited<ReturnType<typeof storedSessions>>[number] = [];
    await waitUntil("the MCP sessions in the store", async () => {
      records = (await storedSessions(storeDir).catch(() => [])).flat();
      return records.some((record) => record.type === "request" && (record.data as { mcp?: { tool?: string } }).mcp?.tool === "weather");
    }, 20_000);
    const dropped = records.find((record) => record.type === "request" && (record.data as { mcp?: { tool?: string } }).mcp?.tool === "drop_database");
    expect(dropped?.data).toMatchObject({
      protocol: "mcp",
      summary: "tools/call drop_database",
      decision: { action: "deny", policy: "agent-tools", rule: "no-drops" },
      mcp: { direction: "client", kind: "request", method: "tools/call", tool: "drop_database", arguments: '{"name":"orders"}' },
    });
    const listed = records.find((record) => record.type === "result" && /^listed 6 of 7 tools; hidden: drop_database$/.test((record.data as { mcp?: { summary: string } }).mcp?.summary ?? ""));
    expect(listed?.data).toMatchObject({ mcp: { hidden: ["drop_database"] } });
    const masked = records.find((record) => record.type === "result" && (record.data as { masked: Record<string, number> }).masked["agent-tools/emails"] === 2);
    expect(masked).toBeDefined();
    const changed = records.find((record) => record.type === "request" && (record.data as { decision: { rule?: string } }).decision.rule === "(tool definition)");
    expect(changed?.data).toMatchObject({ mcp: { tool: "weather", toolFingerprint: expect.stringMatching(/^sha256:/) as unknown as string } });
    const sampling = records.find((record) => record.type === "request" && (record.data as { summary: string }).summary === "server: sampling/createMessage");
    expect(sampling?.data).toMatchObject({ decision: { action: "allow", rule: "sampling" }, mcp: { direction: "server" } });
    const session = dropped?.session ?? "";
    const replay = await portcullis(["sessions", "replay", session, "--store-file", storeFile]);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toContain("tools/call drop_database");
    expect(replay.stdout).toContain("decision   deny (agent-tools/no-drops)");
    expect(replay.stdout).toContain('arguments  {"name":"orders"}');
    const verified = await portcullis(["sessions", "verify", session, "--store-file", storeFile]);
    expect(verified.stdout).toMatch(/^verified: \d+ records/);
  }, 60_000);
});

describe("bodies held in memory, all sessions together", () => {
  it("refuses a message past --max-buffered-bytes with 503 and says why; the server never sees it", async () => {
    await gateway.stop();
    gateway = await startSidecar({ manifests: manifests(server.port), extraArgs: ["--max-buffered-bytes", "64"] });
    const seen = server.received.length;
    const initialize = { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "agent", version: "1.0.0" } } };
    const response = await fetch(`http://127.0.0.1:${ports.tools}/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify(initialize),
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    expect(((await response.json()) as { message: string }).message).toContain("holds as many bodies in memory as it may");
    expect(server.received.length).toBe(seen);
  });
});
