// A client identified by a JWT it presents as its PostgreSQL password: the
// real gateway verifies the token against a real HTTPS issuer and runs the
// session as the token's subject, under the policies whose oidc entry it meets.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { SignJWT, type JWTPayload } from "jose";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { freePort } from "../controlplane/processes.js";
import { startPostgres, seedSampleData, type RunningPostgres } from "../postgres/server.js";
import { filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { IssuerServer, signingKey, type SigningKey } from "./oidc-issuer.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const run = promisify(execFile);
let issuer: IssuerServer;
let key: SigningKey;
let pg: RunningPostgres;
let gateway: SidecarProcess;
let dir: string;

async function token(claims: JWTPayload): Promise<string> {
  const jwt = new SignJWT({ team: "billing", ...claims })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setIssuer(`${issuer.base}/idp`)
    .setSubject("agent-42")
    .setAudience("orders-db")
    .setIssuedAt();
  return (claims.exp === undefined ? jwt.setExpirationTime("5m") : jwt).sign(key.privateKey);
}

async function psql(password: string, sql: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run("psql", ["-X", "-At", "-v", "VERBOSITY=verbose", `host=127.0.0.1 port=${gateway.ports["orders-db"]} user=agent dbname=app`, "-c", sql], { env: { ...process.env, PGPASSWORD: password } });
  } catch (error) {
    return error as { stdout: string; stderr: string };
  }
}

beforeAll(async () => {
  const authority = await createCertificateAuthority("jwt-session-test-ca");
  const serving = await authority.issue({ commonName: "issuer", ipAddresses: ["127.0.0.1"], usage: "server" });
  dir = await mkdtemp(join(tmpdir(), "portcullis-jwt-session-"));
  await writeFile(join(dir, "ca.crt"), authority.certPem);
  await mkdir(join(dir, "evidence"));
  [issuer, key, pg] = await Promise.all([IssuerServer.start(serving.certPem, serving.keyPem), signingKey("k1"), startPostgres({ tls: false })]);
  await seedSampleData(pg);
  issuer.published.set("/idp/keys", [key]);
  issuer.documents.set("/idp/.well-known/openid-configuration", { issuer: `${issuer.base}/idp`, jwks_uri: `${issuer.base}/idp/keys` });
  gateway = await startSidecar({
    // The issuer's CA is trusted the way an operator would add a private CA to the gateway's image.
    env: { NODE_EXTRA_CA_CERTS: join(dir, "ca.crt") },
    manifests: [
      ...filesystemStoreManifests(join(dir, "evidence")),
      { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { username: pg.users.scram.username, password: pg.users.scram.password } },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "Resource",
        metadata: { name: "orders-db" },
        spec: { protocol: "postgres", endpoint: { host: "127.0.0.1", port: pg.port, tls: { mode: "disable" } }, listener: { port: await freePort() }, credentials: { secretRef: { name: "db" } } },
      },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "billing-agents" },
        spec: {
          subjects: { oidc: [{ issuer: `${issuer.base}/idp`, audiences: ["orders-db"], claims: { team: "billing" } }] },
          resources: ["orders-db"],
          rules: [{ name: "reads", match: { sql: { commands: ["SELECT"] } }, when: 'identity.claims.team == "billing"', action: "allow" }],
          recording: { storeRef: { name: "evidence-store" } },
        },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await pg?.stop();
  await issuer?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("JWT sessions through the gateway", () => {
  it("runs the session as the token's subject under the policy its claims meet", async () => {
    const result = await psql(await token({}), "SELECT count(*) FROM orders");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("50");
    // The session's evidence names the token's subject, not the pod.
    const username = `oidc:${issuer.base}/idp#agent-42`;
    const recorded = async (): Promise<boolean> =>
      (await storedSessions(join(dir, "evidence")).catch(() => [])).some((records) => (records[0]?.data as { identity?: { username?: string } }).identity?.username === username);
    for (let attempt = 0; attempt < 40 && !(await recorded()); attempt++) await new Promise((resolve) => setTimeout(resolve, 250));
    expect(await recorded()).toBe(true);
  });

  it.each([
    ["an expired token", { exp: Math.floor(Date.now() / 1000) - 3600 }, /FATAL: {2}portcullis: the token was not accepted: .*expired/],
    ["a token for another team", { team: "marketing" }, /FATAL: {2}portcullis: the token was not accepted: claim team must be "billing"/],
  ])("refuses %s at startup", async (_name, claims, message) => {
    const result = await psql(await token(claims), "SELECT 1");
    expect(result.stderr).toMatch(message);
  });

  it("refuses a client without a token when only OIDC subjects may use the Resource", async () => {
    const result = await psql("just-a-password", "SELECT 1");
    expect(result.stderr).toMatch(/FATAL: {2}portcullis: Resource "orders-db" is open only to agents presenting a JWT/);
  });
});
