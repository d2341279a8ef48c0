#!/usr/bin/env node
// An agent's MCP client for the agent pod on the real node: the official SDK
// over Streamable HTTP to the URL it is given (the gateway's, from the
// injected PORTCULLIS_*_URL). `list` prints the tool names, `call TOOL ARGS`
// a tool's result; both as one line of JSON. A JSON-RPC error is printed as
// {"error": message} with exit code 3, so the test reads what the agent saw.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

async function main(argv: string[]): Promise<number> {
  const [url, command, tool, args] = argv;
  if (!url || (command !== "list" && command !== "call") || (command === "call" && !tool)) {
    process.stderr.write("usage: agent-client URL list | agent-client URL call TOOL [JSON-ARGUMENTS]\n");
    return 2;
  }
  const client = new Client({ name: "pod-agent", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    const tools = (await client.listTools()).tools.map((entry) => entry.name).sort();
    if (command === "list") {
      process.stdout.write(`${JSON.stringify({ tools })}\n`);
      return 0;
    }
    const result = await client.callTool({ name: tool as string, arguments: args ? (JSON.parse(args) as Record<string, unknown>) : {} });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ error: error instanceof Error ? error.message : String(error) })}\n`);
    return 3;
  } finally {
    await client.close();
  }
}

process.exitCode = await main(process.argv.slice(2));
