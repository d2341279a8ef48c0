// The HTTP gateway against nginx, in one run: wrk -t2 -c50 through each of
// direct (the backend itself, nginx returning a small JSON body), nginx as a
// reverse proxy with upstream keep-alive and the credential header set, the
// gateway with an allow rule and credential injection, and the gateway masking
// the JSON body. Two interleaved rounds; prints requests per second, p99
// latency and ratios to the nginx proxy. Before measuring it checks that each
// gateway still denies a POST and masks the email. Run with `make bench-http`;
// reported, not asserted, and not part of `make test`. BENCH_PROFILE_DIR=DIR
// writes a CPU profile of the gateway.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort } from "../controlplane/processes.js";
import { startSidecar } from "../gateway/sidecar-process.js";
import { startNginxWith } from "../http/nginx.js";

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const BODY = '{"id":7,"name":"Ada","email":"ada@example.com","plan":"pro"}';

interface WrkResult {
  rps: number;
  p99Ms: number;
}

function millis(text: string): number {
  const match = /^([\d.]+)(us|ms|s)$/.exec(text);
  if (!match) throw new Error(`wrk printed an unexpected latency "${text}"`);
  return Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as "us" | "ms" | "s"];
}

async function wrk(url: string): Promise<WrkResult> {
  const { stdout } = await run("wrk", ["-t2", "-c50", `-d${SECONDS}s`, "--latency", url], { maxBuffer: 1 << 20 });
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1];
  const p99 = /\s99%\s+(\S+)/.exec(stdout)?.[1];
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1];
  if (!rps || !p99) throw new Error(`wrk printed no rate or p99:\n${stdout}`);
  if (errors) throw new Error(`${errors} responses were not 2xx through ${url}`);
  return { rps: Number(rps), p99Ms: millis(p99) };
}

function gatewayManifests(backendPort: number, allowPort: number, maskPort: number): object[] {
  const resource = (name: string, port: number): object => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name },
    spec: {
      protocol: "http",
      endpoint: { host: "127.0.0.1", port: backendPort, tls: { mode: "disable" } },
      listener: { port },
      credentials: { secretRef: { name: "token" } },
      http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
    },
  });
  const policy = (name: string, resourceName: string, masking?: object[]): object => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name },
    spec: {
      subjects: { serviceAccounts: ["bench"] },
      resources: [resourceName],
      rules: [{ name: "reads", match: { http: { methods: ["GET"], paths: ["/v1/*"] } }, action: "allow" }],
      ...(masking ? { masking } : {}),
    },
  });
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "token" }, stringData: { token: "bench-token" } },
    resource("allow", allowPort),
    resource("mask", maskPort),
    policy("allow", "allow"),
    policy("mask", "mask", [{ name: "emails", jsonPaths: ["$.email"], strategy: "redact" }]),
  ];
}

async function check(url: string, masked: boolean): Promise<void> {
  const denied = await fetch(url, { method: "POST", body: "{}" });
  if (denied.status !== 403) throw new Error(`${url}: a POST was not denied (${denied.status})`);
  const body = await (await fetch(url)).text();
  if (masked !== !body.includes("ada@example.com")) throw new Error(`${url}: the email is ${masked ? "not masked" : "masked"}: ${body}`);
}

async function main(): Promise<void> {
  const backend = await startNginxWith(
    (port) => `
  server {
    listen 127.0.0.1:${port} backlog=4096;
    default_type application/json;
    location = /v1/item { return 200 '${BODY}'; }
  }`,
  );
  const proxy = await startNginxWith(
    (port) => `
  upstream backend { server 127.0.0.1:${backend.port}; keepalive 64; }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer bench-token";
    }
  }`,
  );
  const [allowPort, maskPort] = [await freePort(), await freePort()];
  const gateway = await startSidecar({
    manifests: gatewayManifests(backend.port, allowPort, maskPort),
    ...(process.env.BENCH_PROFILE_DIR ? { env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}` } } : {}),
  });
  const targets: Array<[string, string]> = [
    ["direct (nginx backend)", `http://127.0.0.1:${backend.port}/v1/item`],
    ["nginx reverse proxy", `http://127.0.0.1:${proxy.port}/v1/item`],
    ["gateway, allow + credential", `http://127.0.0.1:${allowPort}/v1/item`],
    ["gateway, masking JSON", `http://127.0.0.1:${maskPort}/v1/item`],
  ];
  try {
    await check(targets[2]?.[1] ?? "", false);
    await check(targets[3]?.[1] ?? "", true);
    const results = new Map<string, WrkResult[]>();
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const [name, url] of targets) results.set(name, [...(results.get(name) ?? []), await wrk(url)]);
    }
    const mean = (name: string): WrkResult => {
      const all = results.get(name) ?? [];
      return { rps: all.reduce((sum, r) => sum + r.rps, 0) / all.length, p99Ms: all.reduce((sum, r) => sum + r.p99Ms, 0) / all.length };
    };
    const baseline = mean("nginx reverse proxy").rps;
    console.log(`wrk -t2 -c50, ${SECONDS} s each, mean of ${ROUNDS} interleaved rounds\n`);
    console.log("| target | requests/s | p99 | x nginx proxy |\n|---|---|---|---|");
    for (const [name] of targets) {
      const result = mean(name);
      console.log(`| ${name} | ${result.rps.toFixed(0)} | ${result.p99Ms.toFixed(2)} ms | ${(result.rps / baseline).toFixed(2)} |`);
    }
  } finally {
    await gateway.stop();
    await proxy.stop();
    await backend.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
