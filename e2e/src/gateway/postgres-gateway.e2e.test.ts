// The PostgreSQL gateway end to end: the real gateway process in standalone
// mode between real clients (psql, pgbench, node-postgres, psycopg2) and a
// real PostgreSQL server with TLS and SCRAM, under a "no destructive changes"
// policy with masking rules.
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import net from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { serialize } from "pg-protocol";
import { verifyChain, type EvidenceRecord } from "@portcullis/common/evidence/record";
import { freePort } from "../controlplane/processes.js";
import { seedSampleData, startPostgres, type PostgresLogin, type RunningPostgres } from "../postgres/server.js";
import { portcullis } from "../cli/portcullis-cli.js";
import { auditorStoreFile, filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";
import { errorOf, rowOf, WireClient } from "./wire-client.js";

const run = promisify(execFile);
const HASH_KEY = Buffer.from("portcullis-test-masking-key-0001").toString("base64");

function secret(name: string, data: Record<string, string>): object {
  return { apiVersion: "v1", kind: "Secret", metadata: { name }, stringData: data };
}

function resource(name: string, pgServer: RunningPostgres, port: number, credentials: string): object {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name },
    spec: {
      protocol: "postgres",
      endpoint: { host: "127.0.0.1", port: pgServer.port, tls: { mode: "verify-full", serverName: pgServer.serverName, caBundleRef: { kind: "Secret", name: "db-ca", key: "ca.crt" } } },
      listener: { port },
      credentials: { secretRef: { name: credentials } },
    },
  };
}

const policy = {
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "AccessPolicy",
  metadata: { name: "no-destructive-changes" },
  spec: {
    subjects: { serviceAccounts: ["report-bot"] },
    resources: ["orders-db", "orders-db-md5", "orders-db-cleartext"],
    rules: [
      { name: "block-drop-and-truncate", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "Destructive changes are made by the DBA team, not by agents." },
      { name: "block-unbounded-delete", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" },
      { name: "reads", match: { sql: { commands: ["SELECT", "SHOW", "EXPLAIN", "SET", "TRANSACTION"] } }, action: "allow" },
      { name: "writes-need-approval", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "15m" } },
    ],
    masking: [
      { name: "contact", columns: ["customers.email"], strategy: "redact" },
      { name: "phones", columns: ["*.phone"], strategy: "hash", hashKeyRef: { name: "masking-key", key: "key" } },
      { name: "identifiers", detectors: ["usSSN", "creditCard"], strategy: "partial", keepLast: 4 },
    ],
    recording: { storeRef: { name: "evidence-store" } },
    defaultAction: "deny",
  },
};

let server: RunningPostgres;
let storeDir: string;
let gateway: SidecarProcess;

const viaGateway = (name = "orders-db"): pg.ClientConfig => ({ host: "127.0.0.1", port: gateway.ports[name], user: "agent", database: "app", password: "unused" });

async function withClient<T>(work: (client: pg.Client) => Promise<T>, name?: string): Promise<T> {
  const client = new pg.Client(viaGateway(name));
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function psql(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run("psql", ["-X", "-v", "VERBOSITY=verbose", `host=127.0.0.1 port=${gateway.ports["orders-db"]} user=agent dbname=app`, ...args], { env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** The suite's gateway configuration, with the listeners of orders-db, orders-db-md5 and orders-db-cleartext on these ports. */
function gatewayManifests(ports: readonly [number, number, number]): object[] {
  const login = (user: PostgresLogin): Record<string, string> => ({ username: user.username, password: user.password });
  return [
    ...filesystemStoreManifests(storeDir),
    secret("db-ca", { "ca.crt": server.caPem }),
    secret("db-scram", login(server.users.scram)),
    secret("db-md5", login(server.users.md5)),
    secret("db-cleartext", login(server.users.cleartext)),
    secret("masking-key", { key: HASH_KEY }),
    resource("orders-db", server, ports[0], "db-scram"),
    resource("orders-db-md5", server, ports[1], "db-md5"),
    resource("orders-db-cleartext", server, ports[2], "db-cleartext"),
    policy,
  ];
}

beforeAll(async () => {
  server = await startPostgres();
  await seedSampleData(server);
  storeDir = await mkdtemp(join(tmpdir(), "portcullis-evidence-"));
  gateway = await startSidecar({ manifests: gatewayManifests([await freePort(), await freePort(), await freePort()]) });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
  if (storeDir) await rm(storeDir, { recursive: true, force: true });
});

describe("the PostgreSQL gateway with real clients", () => {
  it("lets psql read through it, authenticating upstream with SCRAM over verified TLS", async () => {
    const result = await psql(["-At", "-c", "SELECT count(*) FROM orders", "-c", "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim().split("\n")).toEqual(["50", `${server.users.scram.username}|t`]);
  });

  it.each([
    ["orders-db-md5", "md5"],
    ["orders-db-cleartext", "cleartext"],
  ] as const)("authenticates upstream with %s credentials too", async (name, kind) => {
    const rows = await withClient(async (client) => (await client.query<{ user: string }>("SELECT current_user AS user")).rows, name);
    expect(rows).toEqual([{ user: server.users[kind].username }]);
  });

  it("refuses DROP TABLE in psql with SQLSTATE 42501 naming the policy and rule, and the session goes on", async () => {
    const result = await psql(["-At", "-c", "DROP TABLE orders", "-c", "SELECT count(*) FROM orders"]);
    expect(result.stderr).toContain('ERROR:  42501: portcullis: denied by AccessPolicy "no-destructive-changes" rule "block-drop-and-truncate"');
    expect(result.stderr).toContain("Destructive changes are made by the DBA team");
    expect(result.stdout.trim()).toBe("50");
  });

  const evasions: Array<[string, string | { text: string; name: string; values?: unknown[] }]> = [
    ["comments and case", "/* harmless */ DrOp TaBlE orders"],
    ["a line comment before", "-- just a select\nDROP TABLE orders"],
    ["a multi-statement string", "SELECT 1; DROP TABLE orders"],
    ["a data-modifying CTE", "WITH d AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM d"],
    ["dynamic SQL in a DO block", "DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$"],
    ["an unbounded DELETE", "DELETE FROM orders"],
    ["an unbounded UPDATE", "UPDATE orders SET status = 'gone'"],
    ["TRUNCATE", "TRUNCATE orders"],
    ["COPY FROM PROGRAM", "COPY orders FROM PROGRAM 'id'"],
    ["a prepared DELETE (extended protocol)", { name: "wipe", text: "DELETE FROM orders" }],
    ["a parameterised unbounded UPDATE", { name: "", text: "UPDATE orders SET status = $1", values: ["x"] }],
    ["a client_encoding change spelled with a Unicode escape", `SET U&"client\\005fencoding" TO 'LATIN1'`],
    ["a side-effecting function in a SELECT", "SELECT setval('orders_id_seq', 1)"],
    ["a whole table read through table_to_xml", "SELECT table_to_xml('customers', true, false, '')"],
    ["sampled column values in the planner statistics", "SELECT most_common_vals, histogram_bounds FROM pg_catalog.pg_stats WHERE tablename = 'customers'"],
  ];

  it.each(evasions)("blocks %s", async (_name, statement) => {
    await withClient(async (client) => {
      const error = await client.query(statement as string).then(
        () => undefined,
        (failure: unknown) => failure as { code: string; message: string },
      );
      expect(error?.code).toBe("42501");
      expect(error?.message).toMatch(/^portcullis: /);
      // The session goes on after a denial.
      expect((await client.query("SELECT count(*)::int AS n FROM orders")).rows).toEqual([{ n: 50 }]);
    });
  });

  it("refuses an unparseable statement as the server would (42601 with its position), and runs nothing", async () => {
    await withClient(async (client) => {
      const error = await client.query("DROP TABLE orders WHERE").then(
        () => undefined,
        (failure: unknown) => failure as { code: string; message: string; position: string },
      );
      expect(error).toMatchObject({ code: "42601", message: 'syntax error at or near "WHERE"', position: "19" });
      expect((await client.query("SELECT count(*)::int AS n FROM orders")).rows).toEqual([{ n: 50 }]);
    });
  });

  it("runs allowed prepared statements with parameters", async () => {
    const rows = await withClient(async (client) => {
      const out: Array<{ id: number }> = [];
      for (const id of [1, 2, 3]) out.push(...(await client.query<{ id: number }>({ name: "by-id", text: "SELECT id, status FROM orders WHERE id = $1", values: [id] })).rows);
      return out;
    });
    expect(rows.map((row: { id: number }) => row.id)).toEqual([1, 2, 3]);
  });

  it("denies a write that needs approval when no cluster is configured, saying so", async () => {
    const error = await withClient((client) => client.query("UPDATE orders SET status = 'refunded' WHERE id = 1").then(() => undefined, (failure: unknown) => failure as { code: string; message: string }));
    expect(error?.code).toBe("42501");
    expect(error?.message).toContain("approvals need a cluster");
  });

  it("records every refusal with its reason: rule denials, approvals that could not be asked for, and the rest of their batch", async () => {
    const client = await WireClient.connect(gateway.ports["orders-db"] as number, "agent", "app");
    try {
      const { parse, bind, execute, sync, query } = serialize;
      for (const text of [
        "DROP TABLE orders",
        "DROP TABLE customers",
        "UPDATE orders SET status = 'refused-1' WHERE id = 2",
        "SELECT current_user /* refusal-batch */; UPDATE orders SET status = 'refused-2' WHERE id = 2",
      ]) {
        const answer = await client.exchange([query(text)]);
        expect(answer.filter((m) => m.type === "E").map((m) => errorOf(m).code)).toEqual(["42501"]);
      }
      // A pipelined batch is decided as a whole: its allowed SELECT does not run either.
      const batch = await client.exchange([
        parse({ text: "SELECT current_user /* refusal-pipeline */" }),
        bind({}),
        execute({}),
        parse({ text: "UPDATE orders SET status = 'refused-3' WHERE id = 3" }),
        bind({}),
        execute({}),
        sync(),
      ]);
      expect(batch.filter((m) => m.type === "E").map((m) => errorOf(m).code)).toEqual(["42501"]);
    } finally {
      client.close();
    }
    let session: EvidenceRecord[] | undefined;
    for (let attempt = 0; attempt < 50 && !session; attempt++) {
      session = (await storedSessions(storeDir)).find((records) => records.some((record) => JSON.stringify(record.data).includes("refusal-pipeline")) && records.at(-1)?.type === "session-end");
      if (!session) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const records = session ?? [];
    const requestText = (seq: unknown): string => String((records.find((record) => record.seq === seq)?.data.postgres as { text?: string } | undefined)?.text);
    const refusals = records.filter((record) => record.type === "result").map((record) => [requestText(record.data.request), record.data.refused]);
    expect(refusals).toEqual([
      ["UPDATE orders SET status = 'refused-1' WHERE id = 2", expect.stringContaining("approvals need a cluster")],
      ["SELECT current_user /* refusal-batch */; UPDATE orders SET status = 'refused-2' WHERE id = 2", expect.stringContaining("approvals need a cluster")],
      ["SELECT current_user /* refusal-pipeline */", "not run: another statement of the same request was refused"],
      ["UPDATE orders SET status = 'refused-3' WHERE id = 3", expect.stringContaining("approvals need a cluster")],
    ]);
    expect(records.at(-1)?.data.counts).toEqual({ requests: 6, denied: 2, refused: 4, results: 4, errors: 4, approvals: 0 });
    const storeFile = await auditorStoreFile(join(storeDir, "..", `${records[0]?.session}-store.yaml`), storeDir);
    const replay = await portcullis(["sessions", "replay", records[0]?.session ?? "", "--store-file", storeFile]);
    expect(replay.stdout).toContain("totals     6 requests (2 denied by a rule, 4 refused otherwise), 4 results (4 errors), 0 approvals");
    expect(replay.stdout).toMatch(/refused +portcullis: AccessPolicy "[^"]+" rule "[^"]+" requires approval, and no ApprovalRequest could be made: approvals need a cluster/);
  });

  it("accepts PGOPTIONS settings that change only presentation, and refuses one that changes how text is read", async () => {
    const shown = await psql(["-At", "-c", "SHOW intervalstyle"], { PGOPTIONS: "-c intervalstyle=postgres_verbose" });
    expect(shown.stdout.trim()).toBe("postgres_verbose");
    const refused = await psql(["-At", "-c", "SELECT 1"], { PGOPTIONS: "-c standard_conforming_strings=off" });
    expect(refused.stderr).toMatch(/FATAL: {2}the setting "standard_conforming_strings" is not allowed at startup through the Portcullis gateway: it changes how string literals are read/);
  });

  it("refuses libpq's FunctionCall (psql's \\lo_import) with an error, records it, and the session goes on", async () => {
    const result = await psql(["-At", "-c", "\\lo_import /etc/hostname", "-c", "SELECT 'still here'"]);
    expect(result.stderr).toMatch(/the FunctionCall message \(function OID \d+\) is refused/);
    expect(result.stdout.trim()).toBe("still here");
  });

  it("records the values a statement carries masked as the policies mask results: literals, bound parameters, the reviewer's view", async () => {
    await withClient(async (client) => {
      await client.query("SELECT id FROM customers WHERE email = 'maria.garcia@example.com' AND note <> 'SSN 536-22-8741 on file' /* literal-evidence */");
      await client.query({ text: "SELECT id FROM customers WHERE phone = $1 AND email = $2 AND name = $3 /* parameter-evidence */", values: ["+1 415-555-0134", "maria.garcia@example.com", "Maria Garcia"] });
      // Held for a reviewer (refused standalone): the evidence of a write shows it masked too.
      await client.query("UPDATE customers SET email = 'new.maria@example.com' WHERE id = 1 /* held-evidence */").catch(() => undefined);
      // Without a column list, any value may be the email: all are masked whole.
      await client.query("INSERT INTO customers VALUES (99, 'Ann Lee', 'ann.lee@example.com') /* insert-evidence */").catch(() => undefined);
      // An EXECUTE of a name the gateway has not seen prepared (the PREPARE is held, so refused here): its arguments may
      // go to any column, so all are masked whole.
      await client.query("PREPARE by_email (text) AS SELECT id FROM customers WHERE email = $1").catch(() => undefined);
      await client.query("EXECUTE by_email('maria.garcia@example.com') /* execute-evidence */").catch(() => undefined);
    });
    let requests: EvidenceRecord[] = [];
    for (let attempt = 0; attempt < 50 && requests.length < 5; attempt++) {
      requests = (await storedSessions(storeDir)).flat().filter((record) => record.type === "request" && /(literal|parameter|held|insert|execute)-evidence/.test(JSON.stringify(record.data)));
      if (requests.length < 5) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const shown = requests.map((record) => {
      const { text, parameters } = (record.data as { postgres: { text: string; parameters?: string[] } }).postgres;
      return { text, ...(parameters ? { parameters } : {}) };
    });
    const recorded = JSON.stringify(requests);
    for (const raw of ["maria.garcia@example.com", "536-22-8741", "415-555-0134", "new.maria@example.com", "ann.lee@example.com"]) expect(recorded).not.toContain(raw);
    expect(shown).toEqual([
      { text: "SELECT id FROM customers WHERE email = '***' AND note <> 'SSN *******8741 on file' /* literal-evidence */" },
      { text: "SELECT id FROM customers WHERE phone = $1 AND email = $2 AND name = $3 /* parameter-evidence */", parameters: [expect.stringMatching(/^\$1 = 'hmac:[0-9a-f]{16}'$/), "$2 = '***'", "$3 = 'Maria Garcia'"] },
      { text: "UPDATE customers SET email = '***' WHERE id = 1 /* held-evidence */" },
      { text: "INSERT INTO customers VALUES ('***', '***', '***') /* insert-evidence */" },
      { text: "EXECUTE by_email('***') /* execute-evidence */" },
    ]);
  });

  it("masks personal data in results and leaves order numbers alone", async () => {
    const rows = await withClient(async (client) => (await client.query("SELECT id, email, phone, ssn, card, order_number, note FROM customers ORDER BY id")).rows as Array<Record<string, string | null>>);
    const maria = rows[0] as Record<string, string | null>;
    expect(maria.email).toBe("***");
    expect(maria.ssn).toBe("*******8741");
    expect(maria.card).toBe("************1111");
    expect(maria.order_number).toBe("123456789");
    expect(maria.phone).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(rows[1]?.order_number).toBe("ORD-2024-11-5821");
    expect(rows[4]?.note).toBe("SSN *******3310 verified by phone");
    // Keyed hashes: the same phone number hashes the same way in every session, so joins still work.
    const again = await withClient(async (client) => (await client.query("SELECT phone FROM customers WHERE id = 1")).rows as Array<{ phone: string }>);
    expect(again[0]?.phone).toBe(maria.phone);
  });

  it("finds personal data inside a whole row with its detectors", async () => {
    const result = await psql(["-At", "-c", "SELECT customers FROM customers WHERE id = 1"]);
    expect(result.stdout).not.toContain("536-22-8741");
    expect(result.stdout).toContain("*******8741");
  });

  it("masks in psql (simple protocol) too", async () => {
    const result = await psql(["-At", "-c", "SELECT email, ssn FROM customers WHERE id = 1"]);
    expect(result.stdout.trim()).toBe("***|*******8741");
  });

  it("withholds the values quoted in data errors, which could be masked ones", async () => {
    const result = await psql(["-At", "-c", "SELECT email::int FROM customers WHERE id = 1"]);
    expect(result.stderr).toContain('ERROR:  22P02: invalid input syntax for type integer: "***"');
    expect(result.stderr).toContain("HINT:  portcullis: values in this error are withheld because masking rules apply to this Resource");
    expect(result.stderr).not.toContain("@");
  });

  it("withholds a binary-format result of a masked column instead of leaking it", async () => {
    // node-postgres supports binary results with this client option; its types omit it.
    const client = new pg.Client({ ...viaGateway(), binary: true } as pg.ClientConfig);
    await client.connect();
    // Parameters make node-postgres use the extended protocol, where it asks for binary results.
    const error = await client.query("SELECT email FROM customers WHERE id = $1", [1]).then(
      () => undefined,
      (failure: unknown) => failure as { code: string; message: string },
    );
    await client.end();
    expect(error?.code).toBe("0A000");
    expect(error?.message).toContain("result withheld");
  });

  it("records what the rest of a pipelined batch did after a withheld result: it ran, the client never saw it", async () => {
    const client = await WireClient.connect(gateway.ports["orders-db"] as number, "agent", "app");
    try {
      const { parse, bind, execute, sync, query } = serialize;
      const batch = await client.exchange([
        parse({ text: "SELECT email FROM customers WHERE id = 1" }),
        bind({ binary: true }),
        execute({}),
        parse({ text: "SET application_name = 'after_withheld' /* after-withheld */" }),
        bind({}),
        execute({}),
        sync(),
      ]);
      expect(batch.filter((m) => m.type === "E").map((m) => errorOf(m).code)).toEqual(["0A000"]);
      // The SET ran on the server although the client heard only the error.
      const shown = await client.exchange([query("SHOW application_name")]);
      expect(shown.filter((m) => m.type === "D").map(rowOf)).toEqual([["after_withheld"]]);
    } finally {
      client.close();
    }
    let result: EvidenceRecord | undefined;
    for (let attempt = 0; attempt < 50 && !result; attempt++) {
      const records = (await storedSessions(storeDir)).flat();
      const request = records.find((record) => record.type === "request" && JSON.stringify(record.data).includes("after-withheld"));
      result = request && records.find((record) => record.type === "result" && record.data.request === request.seq && record.session === request.session);
      if (!result) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(result?.data).toMatchObject({ postgres: { commandTags: ["SET"] }, error: { message: expect.stringContaining("it ran, but its result was not passed on") } });
  });

  it.each(["simple", "extended", "prepared"])("carries pgbench in %s mode", async (mode) => {
    const script = join(gateway.spoolDir, "..", "select.sql");
    await run("sh", ["-c", `printf '\\\\set id random(1, 50)\\nSELECT status FROM orders WHERE id = :id;\\n' > ${script}`]);
    const { stdout } = await run("pgbench", ["-n", "-M", mode, "-c", "4", "-j", "2", "-t", "100", "-f", script, "-h", "127.0.0.1", "-p", String(gateway.ports["orders-db"]), "-U", "agent", "app"]);
    expect(stdout).toContain("number of transactions actually processed: 400/400");
    expect(stdout).toMatch(/number of failed transactions: 0 /);
  });

  it("works with psycopg2, including cancelling a running query", async () => {
    const program = `
import psycopg2, threading, time, sys
conn = psycopg2.connect(host="127.0.0.1", port=${gateway.ports["orders-db"]}, user="agent", dbname="app")
cur = conn.cursor()
cur.execute("SELECT count(*) FROM orders WHERE status IS NOT NULL")
print(cur.fetchone()[0])
threading.Timer(1.0, conn.cancel).start()
started = time.time()
try:
    cur.execute("SELECT pg_sleep(30)")
    print("not cancelled")
except psycopg2.errors.QueryCanceled:
    print("cancelled after %.0fs" % (time.time() - started))
`;
    const { stdout } = await run("/usr/bin/python3", ["-c", program]);
    expect(stdout.trim().split("\n")).toEqual(["50", "cancelled after 1s"]);
  });

  it("records every session as a hash chain, uploaded to the policy's evidence store", async () => {
    // Sessions above have ended; the uploader takes each one when it ends.
    let sessions: EvidenceRecord[][] = [];
    for (let i = 0; i < 40; i++) {
      sessions = await storedSessions(storeDir);
      if (sessions.length > 10 && (await readdir(gateway.spoolDir)).filter((name) => name.endsWith(".jsonl")).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(sessions.length).toBeGreaterThan(10);
    for (const records of sessions) expect(verifyChain(records)).toMatchObject({ ok: true });
    const records = sessions.flat();
    const postgres = (record: EvidenceRecord): { text: string; parameters?: string[] } => (record.data as { postgres: { text: string; parameters?: string[] } }).postgres;
    const bound = records.filter((record) => record.type === "request" && postgres(record).text === "SELECT id, status FROM orders WHERE id = $1");
    expect(bound.map((record) => postgres(record).parameters)).toEqual([["$1 = '1'"], ["$1 = '2'"], ["$1 = '3'"]]);
    const denied = records.find((record) => record.type === "request" && postgres(record).text === "DROP TABLE orders");
    const functionCall = records.find((record) => record.type === "request" && postgres(record).text.startsWith("-- FunctionCall"));
    expect(functionCall?.data).toMatchObject({ decision: { action: "deny", rule: "(protocol)" } });
    expect(denied?.data).toMatchObject({ protocol: "postgres", decision: { action: "deny", policy: "no-destructive-changes", rule: "block-drop-and-truncate" } });
    const masked = records.find((record) => record.type === "result" && Object.keys((record.data as { masked: object }).masked).length > 0);
    expect(masked).toBeDefined();
    const counted = records.find((record) => record.type === "result" && (record.data as { postgres: { commandTags: string[] } }).postgres.commandTags.includes("SELECT 20"));
    expect(counted?.data).toMatchObject({ postgres: { rowsReturned: 20 } });
  });

  it("exports request metrics by protocol and decision", async () => {
    const body = await (await fetch(`http://127.0.0.1:${gateway.metricsPort}/metrics`)).text();
    expect(body).toMatch(/portcullis_gateway_requests_total\{resource="orders-db",protocol="postgres",decision="deny"\} [1-9]/);
    expect(body).toMatch(/portcullis_gateway_requests_total\{resource="orders-db",protocol="postgres",decision="allow"\} [1-9]/);
  });
});

describe("bad configuration", () => {
  it("stops the gateway at start with a message naming the object and field", async () => {
    const port = await freePort();
    const bad = { ...(resource("orders-db", server, port, "db-scram") as { spec: object }), metadata: { name: "orders-db" } };
    (bad.spec as { listener: { port: number } }).listener = { port: 80 };
    await expect(startSidecar({ manifests: [secret("db-ca", { "ca.crt": "x" }), secret("db-scram", { username: "a", password: "b" }), bad, policy] })).rejects.toThrow(/Resource "orders-db".*spec\.listener\.port/s);
  });

  it("stops the gateway at start when a listener's port is taken, naming the Resource and the address", async () => {
    const occupant = net.createServer();
    await new Promise<void>((resolve) => occupant.listen(0, "127.0.0.1", resolve));
    const taken = (occupant.address() as net.AddressInfo).port;
    try {
      const manifests = gatewayManifests([taken, await freePort(), await freePort()]);
      const failure = (await startSidecar({ manifests }).catch((error: unknown) => error)) as Error & { logs: Array<Record<string, unknown>> };
      expect(failure.message).toMatch(new RegExp(`Resource "orders-db": cannot listen on 127\\.0\\.0\\.1:${taken}: .*EADDRINUSE`));
      // No line claims the configuration was applied.
      expect(failure.logs.map((line) => line.message)).not.toContain("configuration applied");
      expect(failure.logs.map((line) => line.message)).toContain("configuration applied except for listeners that cannot be opened");
    } finally {
      await new Promise((resolve) => occupant.close(resolve));
    }
  });
});

describe("start-up", () => {
  it("fails at once, saying why, when the spool directory cannot be made", async () => {
    const started = Date.now();
    await expect(startSidecar({ manifests: gatewayManifests([await freePort(), await freePort(), await freePort()]), spoolDir: "/proc/portcullis-spool/evidence" })).rejects.toThrow(
      /cannot start: the evidence spool directory \/proc\/portcullis-spool cannot be created: ENOENT/,
    );
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("binds the health and metrics server to --metrics-host", async () => {
    const sidecar = await startSidecar({ manifests: gatewayManifests([await freePort(), await freePort(), await freePort()]), extraArgs: ["--metrics-host", "127.0.0.2"] });
    try {
      expect((await fetch(`http://127.0.0.2:${sidecar.metricsPort}/healthz`)).status).toBe(200);
      await expect(fetch(`http://127.0.0.1:${sidecar.metricsPort}/healthz`)).rejects.toThrow();
    } finally {
      await sidecar.stop();
    }
  });
});

describe("the listener on the wire", () => {
  /** Sends bytes on a fresh connection and collects everything until the gateway closes it (or 3 s pass). */
  function exchange(bytes: Buffer[]): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port: gateway.ports["orders-db"] as number });
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => resolve(Buffer.concat(chunks)));
      socket.setTimeout(3_000, () => socket.destroy());
      socket.on("connect", () => {
        for (const part of bytes) socket.write(part);
      });
    });
  }
  const int32s = (...values: number[]): Buffer => {
    const out = Buffer.alloc(values.length * 4);
    values.forEach((value, index) => out.writeInt32BE(value, index * 4));
    return out;
  };

  it("answers SSLRequest and GSSENCRequest with N when client TLS is not configured, then takes the startup", async () => {
    const reply = await exchange([int32s(8, 80877103), int32s(8, 80877104), int32s(8, 0x7fffffff)]);
    expect(reply.subarray(0, 2).toString("latin1")).toBe("NN");
    // The third packet is no protocol the gateway speaks: a FATAL protocol-violation error, then the connection closes.
    expect(reply.subarray(2, 3).toString("latin1")).toBe("E");
    expect(reply.toString("latin1")).toContain("08P01");
  });

  it("closes a session that sends garbage with a protocol-violation error, and keeps serving others", async () => {
    const startup = Buffer.from(serialize.startup({ user: "agent", database: "app" }));
    const reply = await exchange([startup, Buffer.from([0x21, 0, 0, 0, 4, 0xff, 0xff])]);
    const text = reply.toString("latin1");
    expect(text).toContain("08P01");
    expect(text).toContain("invalid message from the client");
    const rows = await withClient(async (client) => (await client.query<{ n: number }>("SELECT 1 AS n")).rows);
    expect(rows).toEqual([{ n: 1 }]);
  });
});
