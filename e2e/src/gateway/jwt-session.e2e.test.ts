// A client identified by a JWT it presents as its PostgreSQL password: the
// real gateway verifies the token against a real HTTPS issuer and runs the
// session as the token's subject, under the policies whose oidc entry it meets.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import type { JWTPayload } from "jose";
import { freePort } from "../controlplane/processes.js";
import { startPostgres, seedSampleData, type RunningPostgres } from "../postgres/server.js";
import { filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { signToken, startTrustedIssuer, type TrustedIssuer } from "./oidc-issuer.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const run = promisify(execFile);
let trusted: TrustedIssuer;
let pg: RunningPostgres;
let gateway: SidecarProcess;
let dir: string;

const token = (claims: JWTPayload): Promise<string> => signToken(trusted, "orders-db", claims);

async function psql(password: string, sql: string): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run("psql", ["-X", "-At", "-v", "VERBOSITY=verbose", `host=127.0.0.1 port=${gateway.ports["orders-db"]} user=agent dbname=app`, "-c", sql], { env: { ...process.env, PGPASSWORD: password } });
  } catch (error) {
    return error as { stdout: string; stderr: string };
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-jwt-session-"));
  await mkdir(join(dir, "evidence"));
  [trusted, pg] = await Promise.all([startTrustedIssuer(dir, "jwt-session-test-ca"), startPostgres({ tls: false })]);
  await seedSampleData(pg);
  gateway = await startSidecar({
    // The issuer's CA is trusted the way an operator would add a private CA to the gateway's image.
    env: { NODE_EXTRA_CA_CERTS: trusted.caFile },
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
          subjects: { oidc: [{ issuer: trusted.url, audiences: ["orders-db"], claims: { team: "billing" } }] },
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
  await trusted?.issuer.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("JWT sessions through the gateway", () => {
  it("runs the session as the token's subject under the policy its claims meet", async () => {
    const result = await psql(await token({}), "SELECT count(*) FROM orders");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("50");
    // The session's evidence names the token's subject, not the pod.
    const username = `oidc:${trusted.url}#agent-42`;
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
