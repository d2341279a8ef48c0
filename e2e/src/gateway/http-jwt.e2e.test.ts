// An HTTP agent identified by a bearer JWT: the real gateway verifies it
// against a real HTTPS issuer and runs the session as the token's subject;
// the token never reaches the backend, which gets the Resource's credential.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { SignJWT } from "jose";
import { freePort } from "../controlplane/processes.js";
import { API_HOST, startApi, type RunningApi } from "../http/upstream.js";
import { waitUntil } from "../processes/wait.js";
import { filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { signToken, startTrustedIssuer, type TrustedIssuer } from "./oidc-issuer.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";
import { curl, type CurlResult } from "../http/curl.js";

const API_TOKEN = "resource-token-5e1";
let trusted: TrustedIssuer;
let api: RunningApi;
let gateway: SidecarProcess;
let dir: string;

const token = (): Promise<string> => signToken(trusted, "billing-api");

const customer = (headers: string[]): Promise<CurlResult> => curl([...headers.flatMap((header) => ["-H", header]), `http://127.0.0.1:${gateway.ports["billing-api"]}/v1/customers/7`]);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-http-jwt-"));
  await mkdir(join(dir, "evidence"));
  [trusted, api] = await Promise.all([startTrustedIssuer(dir, "http-jwt-test-ca"), startApi()]);
  gateway = await startSidecar({
    env: { NODE_EXTRA_CA_CERTS: trusted.caFile },
    manifests: [
      ...filesystemStoreManifests(join(dir, "evidence")),
      { apiVersion: "v1", kind: "Secret", metadata: { name: "api-token" }, stringData: { token: API_TOKEN } },
      { apiVersion: "v1", kind: "Secret", metadata: { name: "api-ca" }, stringData: { "ca.crt": api.caPem } },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "Resource",
        metadata: { name: "billing-api" },
        spec: {
          protocol: "http",
          endpoint: { host: "127.0.0.1", port: api.port, tls: { mode: "verify-full", serverName: API_HOST, caBundleRef: { kind: "Secret", name: "api-ca", key: "ca.crt" } } },
          listener: { port: await freePort() },
          credentials: { secretRef: { name: "api-token" } },
          http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
        },
      },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "billing-agents" },
        spec: {
          subjects: { oidc: [{ issuer: trusted.url, audiences: ["billing-api"], claims: { team: "billing" } }] },
          resources: ["billing-api"],
          rules: [{ name: "reads", match: { http: { methods: ["GET"] } }, when: 'identity.claims.team == "billing"', action: "allow" }],
          recording: { storeRef: { name: "evidence-store" } },
        },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await trusted?.issuer.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("an HTTP agent with a bearer JWT", () => {
  it("is served as the token's subject, and the backend gets the Resource's credential, not the JWT", async () => {
    const jwt = await token();
    const seen = api.received.length;
    const result = await customer([`Authorization: Bearer ${jwt}`]);
    expect(result.status).toBe(200);
    expect(api.received[seen]?.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
    expect(JSON.stringify(api.received[seen]?.headers)).not.toContain(jwt);
  });

  it("is refused with 401 for a token the issuer did not sign, or without one", async () => {
    const forged = await new SignJWT({ team: "billing" }).setProtectedHeader({ alg: "HS256" }).setIssuer(trusted.url).setSubject("x").setAudience("billing-api").setExpirationTime("5m").sign(new TextEncoder().encode("k".repeat(32)));
    const rejected = await customer([`Authorization: Bearer ${forged}`]);
    expect(rejected.status).toBe(401);
    expect(JSON.parse(rejected.body)).toMatchObject({ error: "unauthenticated", message: expect.stringContaining("the token was not accepted") as unknown });
    const missing = await customer([]);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.body)).toMatchObject({ message: expect.stringContaining("open only to agents presenting a JWT") as unknown });
  });

  it("records the session under the token's subject", async () => {
    await gateway.stop();
    let identities: string[] = [];
    await waitUntil("the JWT session in the store", async () => {
      const sessions = await storedSessions(join(dir, "evidence")).catch(() => []);
      identities = sessions.map((records) => (records[0]?.data as { identity: { username: string } }).identity.username);
      return identities.length > 0;
    }, 20_000);
    expect(identities).toContain(`oidc:${trusted.url}#agent-42`);
  });
});
