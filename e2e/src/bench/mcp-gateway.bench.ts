// The MCP gateway against the same MCP server direct, in one run, with the
// official SDK's client over Streamable HTTP: tools/list (filtered and
// fingerprinted) and tools/call (a lookup whose JSON text and structured
// content are masked under the second policy), each direct, through the
// gateway with allow rules only, and through the gateway masking emails.
// Interleaved rounds; prints the median latency and the ratio to direct.
// Before measuring it checks that each gateway still denies a tool and, with
// masking, masks the email. Run with `make bench-mcp`; reported, not
// asserted, and not part of `make test`.
import { performance } from "node:perf_hooks";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { freePort } from "../controlplane/processes.js";
import { startSidecar } from "../gateway/sidecar-process.js";
import { CUSTOMER, startMcpServer } from "../mcp/server.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 200);

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

function manifests(serverPort: number, ports: { allow: number; masked: number }): object[] {
  const resource = (name: string, port: number): object => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name },
    spec: { protocol: "mcp", endpoint: { host: "127.0.0.1", port: serverPort, tls: { mode: "disable" } }, listener: { port } },
  });
  const policy = (name: string, masking: object[]): object => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name },
    spec: {
      subjects: { serviceAccounts: ["bench"] },
      resources: [name],
      rules: [
        { name: "lifecycle", match: { mcp: { methods: ["initialize", "ping", "notifications/*", "tools/list"] } }, action: "allow" },
        { name: "no-drops", match: { mcp: { tools: ["drop_*"] } }, action: "deny" },
        { name: "lookups", match: { mcp: { tools: ["lookup_customer"] } }, action: "allow" },
      ],
      masking,
      defaultAction: "deny",
    },
  });
  return [resource("allow", ports.allow), resource("masked", ports.masked), policy("allow", []), policy("masked", [{ name: "emails", detectors: ["email"], strategy: "redact" }])];
}

async function connect(port: number): Promise<Client> {
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return client;
}

async function main(): Promise<void> {
  const server = await startMcpServer();
  const ports = { allow: await freePort(), masked: await freePort() };
  const gateway = await startSidecar({
    manifests: manifests(server.port, ports),
    env: process.env.BENCH_PROFILE_DIR ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } : {},
  });
  const clients = { direct: await connect(server.port), allow: await connect(ports.allow), masked: await connect(ports.masked) };
  try {
    // Still what it is meant to be: a tool denied on both listeners, the email masked where masking applies.
    for (const target of ["allow", "masked"] as const) {
      await clients[target].listTools();
      const denied = await clients[target].callTool({ name: "drop_database", arguments: { name: "x" } }).then(() => false, () => true);
      if (!denied) throw new Error(`the ${target} gateway did not deny drop_database`);
    }
    const masked = await clients.masked.callTool({ name: "lookup_customer", arguments: { id: 7 } });
    if (JSON.stringify(masked).includes(CUSTOMER.email)) throw new Error("the masking gateway did not mask the email");
    const cases: Array<[string, (client: Client) => Promise<unknown>]> = [
      ["tools/list", (client) => client.listTools()],
      ["tools/call lookup_customer", (client) => client.callTool({ name: "lookup_customer", arguments: { id: 7 } })],
    ];
    const times = new Map<string, number[]>();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, call] of cases) {
        for (const target of ["direct", "allow", "masked"] as const) {
          const key = `${name}|${target}`;
          for (let i = 0; i < RUNS; i += 1) {
            const started = performance.now();
            await call(clients[target]);
            times.set(key, [...(times.get(key) ?? []), performance.now() - started]);
          }
        }
      }
    }
    console.log(`median of ${ROUNDS} interleaved rounds, ${RUNS} calls each per round, one client (Streamable HTTP, SSE answers)\n`);
    console.log("| call | direct | gateway, allow rules | x direct | gateway, masking | x direct |\n|---|---|---|---|---|---|");
    for (const [name] of cases) {
      const [direct, allow, mask] = (["direct", "allow", "masked"] as const).map((target) => median(times.get(`${name}|${target}`) ?? [])) as [number, number, number];
      console.log(`| ${name} | ${direct.toFixed(2)} ms | ${allow.toFixed(2)} ms | ${(allow / direct).toFixed(2)} | ${mask.toFixed(2)} ms | ${(mask / direct).toFixed(2)} |`);
    }
  } finally {
    for (const client of Object.values(clients)) await client.close().catch(() => undefined);
    await gateway.stop();
    await server.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
