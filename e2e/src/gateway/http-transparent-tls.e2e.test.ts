// Transparent HTTPS: the agent's client speaks TLS to the backend's name, the
// connection reaches the gateway (as iptables would redirect it; here curl's
// --resolve and --connect-to do that), and the gateway answers with a
// certificate for that name from the pod's CA, whose certificate it wrote to
// the trust directory the app containers read. curl, Python requests and
// Node trust it through the usual variables; the backend still gets the
// Resource's credential over its own verified TLS.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { freePort } from "../controlplane/processes.js";
import { API_HOST, startApi, type RunningApi } from "../http/upstream.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const run = promisify(execFile);
const PYTHON = "/usr/bin/python3";
const TOKEN = "transparent-token-77";
let api: RunningApi;
let gateway: SidecarProcess;
let dir: string;
let trustDir: string;
let listener: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-http-tls-"));
  trustDir = join(dir, "trust");
  await mkdir(trustDir);
  api = await startApi();
  listener = await freePort();
  gateway = await startSidecar({
    extraArgs: ["--trust-dir", trustDir],
    manifests: [
      { apiVersion: "v1", kind: "Secret", metadata: { name: "token" }, stringData: { token: TOKEN } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "api-ca" }, stringData: { "ca.crt": api.caPem } },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "Resource",
        metadata: { name: "billing-api" },
        spec: {
          protocol: "http",
          transparent: true,
          // The real address, and the name its certificate (and the one the agent sees) carries.
          endpoint: { host: "127.0.0.1", port: api.port, tls: { mode: "verify-full", serverName: API_HOST, caBundleRef: { kind: "Secret", name: "api-ca", key: "ca.crt" } } },
          listener: { port: listener },
          credentials: { secretRef: { name: "token" } },
          http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
        },
      },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "reads" },
        spec: { subjects: { serviceAccounts: ["agent"] }, resources: ["billing-api"], rules: [{ name: "reads", match: { http: { methods: ["GET"] } }, action: "allow" }] },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const target = (): string => `https://${API_HOST}:${listener}/v1/customers/7`;
const resolve = (): string[] => ["--resolve", `${API_HOST}:${listener}:127.0.0.1`];

describe("transparent HTTPS", () => {
  it("writes the pod CA alone and with the system's CAs, and no key", async () => {
    const podCa = await readFile(join(trustDir, "pod-ca.crt"), "utf8");
    const bundle = await readFile(join(trustDir, "ca-bundle.crt"), "utf8");
    expect(podCa).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(bundle.endsWith(podCa)).toBe(true);
    expect(bundle.split("BEGIN CERTIFICATE").length).toBeGreaterThan(10);
    expect(bundle + podCa).not.toContain("PRIVATE KEY");
  });

  it("serves curl trusting the bundle through CURL_CA_BUNDLE, with the Resource's credential upstream", async () => {
    const seen = api.received.length;
    const { stdout } = await run("curl", ["-sS", ...resolve(), target()], { env: { ...process.env, CURL_CA_BUNDLE: join(trustDir, "ca-bundle.crt") } });
    expect(JSON.parse(stdout)).toMatchObject({ id: 7 });
    expect(api.received[seen]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("is refused by a client that does not trust the pod CA", async () => {
    const failed: { stderr: string } = await run("curl", ["-sS", "--cacert", "/etc/ssl/certs/ca-certificates.crt", ...resolve(), target()]).catch((error: { stderr: string }) => error);
    expect(failed.stderr).toMatch(/SSL certificate problem|unable to get local issuer certificate/);
  });

  it("serves Python requests trusting it through REQUESTS_CA_BUNDLE", async () => {
    const script = [
      "import requests, socket, sys",
      "real = socket.getaddrinfo",
      "socket.getaddrinfo = lambda host, *a, **k: real('127.0.0.1' if host == sys.argv[2] else host, *a, **k)",
      "print(requests.get(sys.argv[1]).json()['id'])",
    ].join("\n");
    const { stdout } = await run(PYTHON, ["-c", script, target(), API_HOST], { env: { ...process.env, REQUESTS_CA_BUNDLE: join(trustDir, "ca-bundle.crt") } });
    expect(stdout.trim()).toBe("7");
  });

  it("serves Node trusting it through NODE_EXTRA_CA_CERTS", async () => {
    const script = `
      const https = require("node:https");
      https.get(process.argv[1], { lookup: (_h, o, cb) => o.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4) }, (res) => {
        let body = ""; res.on("data", (c) => (body += c)); res.on("end", () => console.log(res.statusCode, JSON.parse(body).id));
      }).on("error", (e) => { console.error(e.message); process.exit(1); });`;
    const { stdout } = await run(process.execPath, ["-e", script, target()], { env: { ...process.env, NODE_EXTRA_CA_CERTS: join(trustDir, "pod-ca.crt") } });
    expect(stdout.trim()).toBe("200 7");
  });
});
