// An HTTP agent identified by a bearer JWT: the real gateway verifies it
// against a real HTTPS issuer and runs the session as the token's subject;
// the token never reaches the backend, which gets the Resource's credential.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { SignJWT, type JWTPayload } from "jose";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { freePort } from "../controlplane/processes.js";
import { API_HOST, startApi, type RunningApi } from "../http/upstream.js";
import { waitUntil } from "../processes/wait.js";
import { filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { IssuerServer, signingKey, type SigningKey } from "./oidc-issuer.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const run = promisify(execFile);
const API_TOKEN = "resource-token-5e1";
let issuer: IssuerServer;
let key: SigningKey;
let api: RunningApi;
let gateway: SidecarProcess;
let dir: string;

async function token(claims: JWTPayload = {}): Promise<string> {
  return new SignJWT({ team: "billing", ...claims })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setIssuer(`${issuer.base}/idp`)
    .setSubject("agent-42")
    .setAudience("billing-api")
    .setIssuedAt()
    .setExpirationTime("5m")
    .sign(key.privateKey);
}

async function curl(headers: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", ...headers.flatMap((header) => ["-H", header]), `http://127.0.0.1:${gateway.ports["billing-api"]}/v1/customers/7`]);
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

beforeAll(async () => {
  const authority = await createCertificateAuthority("http-jwt-test-ca");
  const serving = await authority.issue({ commonName: "issuer", ipAddresses: ["127.0.0.1"], usage: "server" });
  dir = await mkdtemp(join(tmpdir(), "portcullis-http-jwt-"));
  await writeFile(join(dir, "ca.crt"), authority.certPem);
  await mkdir(join(dir, "evidence"));
  [issuer, key, api] = await Promise.all([IssuerServer.start(serving.certPem, serving.keyPem), signingKey("k1"), startApi()]);
  issuer.published.set("/idp/keys", [key]);
  issuer.documents.set("/idp/.well-known/openid-configuration", { issuer: `${issuer.base}/idp`, jwks_uri: `${issuer.base}/idp/keys` });
  gateway = await startSidecar({
    env: { NODE_EXTRA_CA_CERTS: join(dir, "ca.crt") },
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
          subjects: { oidc: [{ issuer: `${issuer.base}/idp`, audiences: ["billing-api"], claims: { team: "billing" } }] },
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
  await issuer?.stop();
  await api?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("an HTTP agent with a bearer JWT", () => {
  it("is served as the token's subject, and the backend gets the Resource's credential, not the JWT", async () => {
    const jwt = await token();
    const seen = api.received.length;
    const result = await curl([`Authorization: Bearer ${jwt}`]);
    expect(result.status).toBe(200);
    expect(api.received[seen]?.headers.authorization).toBe(`Bearer ${API_TOKEN}`);
    expect(JSON.stringify(api.received[seen]?.headers)).not.toContain(jwt);
  });

  it("is refused with 401 for a token the issuer did not sign, or without one", async () => {
    const forged = await new SignJWT({ team: "billing" }).setProtectedHeader({ alg: "HS256" }).setIssuer(`${issuer.base}/idp`).setSubject("x").setAudience("billing-api").setExpirationTime("5m").sign(new TextEncoder().encode("k".repeat(32)));
    const rejected = await curl([`Authorization: Bearer ${forged}`]);
    expect(rejected.status).toBe(401);
    expect(JSON.parse(rejected.body)).toMatchObject({ error: "unauthenticated", message: expect.stringContaining("the token was not accepted") as unknown });
    const missing = await curl([]);
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
    expect(identities).toContain(`oidc:${issuer.base}/idp#agent-42`);
  });
});
