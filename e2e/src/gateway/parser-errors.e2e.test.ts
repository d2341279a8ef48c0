// A statement PostgreSQL's parser rejects never reaches the server, and the
// client hears of it as the server would tell it: SQLSTATE 42601 (or the
// parser's own class), the message, the position psql draws its LINE 1: … ^
// from, the hint. Compared with the same texts sent directly to a real
// PostgreSQL, through psql and through the extended protocol; each refusal is
// recorded. And the version difference: the gateway's parser is PostgreSQL
// 18's, the server here is older, and a column named with a word that only
// became a keyword later is accepted as the server accepts it, and judged.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { agentPsql } from "./agent-psql.js";
import { databaseManifests } from "./database-manifests.js";
import { filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

let server: RunningPostgres;
let gateway: SidecarProcess;
let storeDir: string;

/** Texts PostgreSQL 15 and 18 reject alike. */
const REJECTED = [
  "selec 1",
  "SELECT 1 +",
  "SELECT 'abc",
  "SELECT 1,\n  2 +\nFROM orders",
  "SELECT 'é', 'ü' FROM WHERE",
  "drop operator === (int4)",
  "SELECT 1; DROP TABLE orders; SELECT FROM FROM",
];

beforeAll(async () => {
  server = await startPostgres({ tls: false });
  await server.psql(["-c", `CREATE TABLE public.orders (id int); INSERT INTO orders VALUES (1); GRANT ALL ON public.orders TO ${server.usersRole}`]);
  storeDir = await mkdtemp(join(tmpdir(), "portcullis-parser-errors-"));
  gateway = await startSidecar({
    manifests: [
      ...(await databaseManifests(server, "app-db")),
      ...filesystemStoreManifests(storeDir),
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "keep-orders" },
        spec: {
          subjects: { serviceAccounts: ["agent"] },
          resources: ["app-db"],
          rules: [
            { name: "no-drop", match: { sql: { commands: ["DROP"] } }, action: "deny" },
            { name: "no-deleting-accounts", match: { sql: { commands: ["DELETE"], tables: ["accounts"] } }, action: "deny" },
          ],
          recording: { storeRef: { name: "evidence-store" } },
          defaultAction: "allow",
        },
      },
    ],
  });
});

afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
  if (storeDir) await rm(storeDir, { recursive: true, force: true });
});

function psqlThroughGateway(text: string): ReturnType<typeof agentPsql> {
  return agentPsql(server, gateway.ports["app-db"] as number, ["-c", text]);
}

/** A named prepared statement (Parse, Bind, Execute) through node-postgres; the error's fields and a query after it. */
async function extendedError(config: pg.ClientConfig, text: string): Promise<object> {
  const client = new pg.Client(config);
  await client.connect();
  try {
    const error = await client.query({ name: "rejected", text }).then(
      () => undefined,
      (failure: pg.DatabaseError) => failure,
    );
    // The session goes on.
    expect((await client.query("SELECT count(*)::int AS n FROM orders")).rows).toEqual([{ n: 1 }]);
    return { code: error?.code, message: error?.message, position: error?.position, hint: error?.hint, severity: error?.severity };
  } finally {
    await client.end();
  }
}

describe("texts the parser rejects", () => {
  it.each(REJECTED)("psql shows the server's error, position and hint for %j", async (text) => {
    const direct = await server.psql(["-c", text]);
    const through = await psqlThroughGateway(text);
    expect(direct.stderr).toMatch(/^ERROR: /);
    expect(through.stderr).toBe(direct.stderr);
    expect(through.code).toBe(direct.code);
  });

  it.each(REJECTED)("the extended protocol gets the server's SQLSTATE, position and hint for %j, and the session goes on", async (text) => {
    const direct = await extendedError({ connectionString: server.connectionString(server.users.scram) }, text);
    const through = await extendedError({ host: "127.0.0.1", port: gateway.ports["app-db"], user: "agent", password: "unused", database: server.database }, text);
    expect(direct).toMatchObject({ code: expect.stringMatching(/^42/) });
    expect(through).toEqual(direct);
  });

  it("never lets a statement of a rejected text run", async () => {
    await psqlThroughGateway("SELECT 1; DROP TABLE orders; SELECT FROM FROM");
    expect((await server.psql(["-At", "-c", "SELECT count(*) FROM orders"])).stdout.trim()).toBe("1");
  });
});

describe("a server older than the gateway's parser", () => {
  it("accepts a column named with a word PostgreSQL 16 made a keyword, as PostgreSQL 15 does, and judges what runs", async () => {
    const version = await server.psql(["-At", "-c", "SHOW server_version_num"]);
    expect(Number(version.stdout.trim())).toBeLessThan(160000);
    const created = await psqlThroughGateway("CREATE TABLE accounts (id int, system_user text); INSERT INTO accounts VALUES (1, 'ada')");
    expect(created.stderr).toBe("");
    const read = await psqlThroughGateway("SELECT id FROM accounts WHERE system_user = 'ada'");
    expect(read.stdout).toContain("(1 row)");
    // The same text is judged for what it is: a DELETE of accounts, which the policy denies.
    const deleted = await psqlThroughGateway("DELETE FROM accounts WHERE system_user = 'ada'");
    expect(deleted.stderr).toMatch(/portcullis: denied by AccessPolicy "keep-orders" rule "no-deleting-accounts"/);
    expect((await server.psql(["-At", "-c", "SELECT count(*) FROM accounts"])).stdout.trim()).toBe("1");
  });
});

describe("evidence", () => {
  it("records each rejected text as a refusal with the parser's reason", async () => {
    await psqlThroughGateway("selec 42");
    const stored = (): Promise<EvidenceRecord[]> => storedSessions(storeDir).then((sessions) => sessions.flat());
    let records = await stored();
    for (let attempt = 0; attempt < 50 && !records.some((record) => JSON.stringify(record.data).includes("selec 42")); attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      records = await stored();
    }
    const refusal = records.find((record) => record.type === "request" && JSON.stringify(record.data).includes("selec 42"));
    expect(refusal?.data).toMatchObject({
      decision: { action: "deny", rule: "(parse error)", reason: expect.stringContaining('syntax error at or near "selec"') },
    });
  });
});
