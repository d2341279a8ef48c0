// What an Execute really runs, with a real PostgreSQL behind the gateway: the
// gateway must check the text the server executes, whatever sequence of
// extended-protocol messages the client sends. Each case is a way the server's
// prepared statements and portals could differ from what a naive proxy
// believes (a Close the server skipped, a duplicate Parse it refused, a
// statement replaced after Bind, SQL PREPARE/EXECUTE, a cursor reusing a
// portal's name); afterwards the table the denied statement would have emptied
// must still be full, and masked columns must stay masked.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { serialize } from "pg-protocol";
import { seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";
import { databaseManifests } from "./database-manifests.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";
import { errorOf, rowOf, WireClient, type BackendMessage } from "./wire-client.js";

const VICTIM_ROWS = 3;
let server: RunningPostgres;
let gateway: SidecarProcess;
let client: WireClient;

beforeAll(async () => {
  server = await startPostgres({ tls: false });
  await seedSampleData(server);
  await server.psql(["-c", `CREATE TABLE public.victim (id int); GRANT ALL ON public.victim TO ${server.usersRole}`]);
  gateway = await startSidecar({
    manifests: [
      ...(await databaseManifests(server, "app-db")),
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "no-destructive-changes" },
        spec: {
          subjects: { serviceAccounts: ["agent"] },
          resources: ["app-db"],
          rules: [{ name: "block-destructive", match: { sql: { commands: ["DROP", "DELETE", "UPDATE", "TRUNCATE"] } }, action: "deny" }],
          defaultAction: "allow",
          masking: [{ name: "contact", columns: ["customers.email"], strategy: "redact" }],
        },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
});

beforeEach(async () => {
  await server.psql(["-c", `TRUNCATE victim; INSERT INTO victim SELECT generate_series(1, ${VICTIM_ROWS})`]);
  client?.close();
  client = await WireClient.connect(gateway.ports["app-db"] as number, "agent", server.database);
});

async function victimRows(): Promise<number> {
  const result = await server.psql(["-At", "-c", "SELECT count(*) FROM victim"]);
  return Number(result.stdout.trim());
}

const errors = (messages: BackendMessage[]): string[] => messages.filter((m) => m.type === "E").map((m) => `${errorOf(m).code} ${errorOf(m).message}`);
const { parse, bind, execute, sync, close, describe: describeMessage, query } = serialize;

describe("the gateway checks what the server executes", () => {
  it("after a Close the server skipped because an earlier message of its batch failed", async () => {
    await client.exchange([parse({ name: "s1", text: "DELETE FROM victim" }), sync()]);
    await client.exchange([parse({ name: "", text: "SELEC oops" }), close({ type: "S", name: "s1" }), sync()]);
    const reply = await client.exchange([bind({ portal: "", statement: "s1" }), execute({ portal: "" }), sync()]);
    expect(errors(reply)).toEqual([expect.stringMatching(/^42501 portcullis: denied by AccessPolicy "no-destructive-changes" rule "block-destructive"/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("after a second Parse of the same name, which the server refuses", async () => {
    await client.exchange([parse({ name: "s2", text: "DELETE FROM victim" }), sync()]);
    const duplicate = await client.exchange([parse({ name: "s2", text: "SELECT 1" }), sync()]);
    expect(errors(duplicate)).toEqual([expect.stringMatching(/^42P05 prepared statement ".*s2" already exists/)]);
    const reply = await client.exchange([bind({ portal: "", statement: "s2" }), execute({ portal: "" }), sync()]);
    expect(errors(reply)).toEqual([expect.stringMatching(/^42501 .*block-destructive/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("when the statement a portal was bound from is replaced before the portal runs", async () => {
    const reply = await client.exchange([
      parse({ name: "", text: "DELETE FROM victim" }),
      bind({ portal: "p", statement: "" }),
      parse({ name: "", text: "SELECT 1" }),
      execute({ portal: "p" }),
      sync(),
    ]);
    expect(errors(reply)).toEqual([expect.stringMatching(/^42501 .*block-destructive/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("keeps statements prepared with Parse out of reach of SQL EXECUTE, DEALLOCATE and PREPARE", async () => {
    await client.exchange([parse({ name: "s3", text: "DELETE FROM victim" }), sync()]);
    const executed = await client.exchange([query("EXECUTE s3")]);
    expect(errors(executed)).toEqual([expect.stringMatching(/^26000 prepared statement "s3" does not exist/)]);
    const [named] = (await client.exchange([query("SELECT name FROM pg_prepared_statements")])).filter((m) => m.type === "D").map((m) => rowOf(m)[0]);
    expect(named).toMatch(/^portcullis_[0-9a-f]{16}_s3$/);
    const replaced = await client.exchange([query(`DEALLOCATE "${named ?? ""}"`)]);
    expect(errors(replaced)).toEqual([expect.stringMatching(/^42501 portcullis: denied: the statement names the gateway's internal prepared statements/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("refuses to bind a statement prepared with SQL PREPARE, whose text it never saw in Parse", async () => {
    await client.exchange([query("PREPARE q AS SELECT 1")]);
    const reply = await client.exchange([bind({ portal: "", statement: "q" }), execute({ portal: "" }), sync()]);
    expect(errors(reply)).toEqual([expect.stringMatching(/^42501 portcullis: denied: prepared statement "q" was not prepared with Parse in this session/)]);
  });

  it("masks a cursor that reuses the name of a portal from an earlier transaction", async () => {
    await client.exchange([parse({ name: "", text: "SELECT 1 AS x" }), bind({ portal: "c" }), describeMessage({ type: "P", name: "c" }), execute({ portal: "c" }), sync()]);
    await client.exchange([query("DECLARE c CURSOR WITH HOLD FOR SELECT email FROM customers WHERE email IS NOT NULL ORDER BY id")]);
    const rows = (await client.exchange([execute({ portal: "c" }), sync()])).filter((m) => m.type === "D").map((m) => rowOf(m)[0]);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.filter((email) => email?.includes("@"))).toEqual([]);
  });
});
