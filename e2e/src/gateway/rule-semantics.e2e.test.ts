// Rules mean what a reviewer reads (issue 9), against a real PostgreSQL and
// psql through the gateway: a WHERE that filters nothing is no WHERE, MERGE is
// the DELETE it performs, code a statement stores or runs counts with its
// commands, ALTER TABLE's subcommands can be told apart, and EXECUTE of a SQL
// prepared statement is judged as the statement it runs.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import type { CommandResult } from "../processes/child-process.js";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { agentPsql } from "./agent-psql.js";
import { databaseManifests } from "./database-manifests.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

let server: RunningPostgres;
let gateway: SidecarProcess;

const ORDERS = 3;

beforeAll(async () => {
  server = await startPostgres({ tls: false });
  gateway = await startSidecar({
    manifests: [
      ...(await databaseManifests(server, "shop-db", "reports-db")),
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "careful-writes" },
        spec: {
          subjects: { serviceAccounts: ["agent"] },
          resources: ["shop-db"],
          rules: [
            { name: "no-unbounded-changes", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" },
            { name: "no-drop", match: { sql: { commands: ["DROP"] } }, action: "deny" },
            { name: "audit-is-append-only", match: { sql: { commands: ["DELETE", "UPDATE"], tables: ["audit"] } }, action: "deny" },
            { name: "no-dropping-columns", match: { sql: { commands: ["ALTER"], subcommands: ["DROP COLUMN", "DROP CONSTRAINT"] } }, action: "deny" },
            { name: "adding-columns", match: { sql: { commands: ["ALTER"], subcommands: ["ADD COLUMN"] } }, action: "allow" },
            { name: "the-rest", match: { sql: { commands: ["SELECT", "SET", "WRITE"] } }, action: "allow" },
          ],
          defaultAction: "deny",
        },
      },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "read-only" },
        spec: {
          subjects: { serviceAccounts: ["agent"] },
          resources: ["reports-db"],
          rules: [
            { name: "reads", match: { sql: { commands: ["SELECT", "UTILITY"] } }, action: "allow" },
            // PREPARE of a read (judged as the read, tagged prepare).
            { name: "prepared-reads", match: { sql: { commands: ["WRITE"] } }, when: "'prepare' in sql.dangerous && sql.command == 'SELECT' && size(sql.tablesWritten) == 0", action: "allow" },
          ],
          defaultAction: "deny",
        },
      },
    ],
  });
});

afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
});

beforeEach(async () => {
  const reset = await server.psql([
    "-v",
    "ON_ERROR_STOP=1",
    "-c",
    `SET client_min_messages = warning;
     DROP TABLE IF EXISTS orders, audit, refunds CASCADE;
     CREATE TABLE public.orders (id int PRIMARY KEY, note text, total int);
     INSERT INTO orders SELECT n, 'n' || n, n * 10 FROM generate_series(1, ${ORDERS}) n;
     CREATE TABLE public.audit (id int); INSERT INTO audit VALUES (1);
     CREATE TABLE public.refunds (order_id int); INSERT INTO refunds VALUES (2);
     ALTER TABLE orders OWNER TO ${server.usersRole}; ALTER TABLE audit OWNER TO ${server.usersRole}; ALTER TABLE refunds OWNER TO ${server.usersRole};`,
  ]);
  expect(reset.stderr).toBe("");
});

/** psql with each -c in one session through the gateway, as an agent would run it. */
function psql(resource: string, ...commands: string[]): Promise<CommandResult> {
  return agentPsql(server, gateway.ports[resource] as number, ["-qAt", ...commands.flatMap((command) => ["-c", command])]);
}

async function count(table: string): Promise<number> {
  return Number((await server.psql(["-At", "-c", `SELECT count(*) FROM ${table}`])).stdout.trim());
}

const deniedBy = (rule: string): RegExp => new RegExp(`ERROR:  portcullis: denied by AccessPolicy "[a-z-]+" rule "${rule}"`);

describe("a WHERE that filters nothing is no WHERE", () => {
  it.each(["DELETE FROM orders WHERE 1 = 1", "DELETE FROM orders WHERE id = 1 OR true", "UPDATE orders SET total = 0 WHERE EXISTS (SELECT 1 FROM refunds)"])("%s is refused as unbounded", async (sql) => {
    expect((await psql("shop-db", sql)).stderr).toMatch(deniedBy("no-unbounded-changes"));
    expect(await count("orders WHERE total > 0")).toBe(ORDERS);
  });

  it("a correlated condition bounds it, and it runs", async () => {
    const result = await psql("shop-db", "DELETE FROM orders o WHERE EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id)");
    expect(result.stderr).toBe("");
    expect(await count("orders")).toBe(ORDERS - 1);
  });
});

describe("MERGE is the DELETE it performs", () => {
  it("a MERGE that deletes every matched row is refused as an unbounded DELETE", async () => {
    const result = await psql("shop-db", "MERGE INTO orders o USING refunds r ON true WHEN MATCHED THEN DELETE");
    expect(result.stderr).toMatch(deniedBy("no-unbounded-changes"));
    expect(await count("orders")).toBe(ORDERS);
  });

  it("one bounded by its join condition runs", async () => {
    const result = await psql("shop-db", "MERGE INTO orders o USING refunds r ON o.id = r.order_id WHEN MATCHED THEN DELETE");
    expect(result.stderr).toBe("");
    expect(await count("orders")).toBe(ORDERS - 1);
  });
});

describe("code a statement stores or runs counts with its commands", () => {
  it("a rule that deletes from audit is refused like the DELETE it is", async () => {
    const result = await psql("shop-db", "CREATE RULE forget AS ON INSERT TO orders DO ALSO DELETE FROM audit WHERE id = NEW.id");
    expect(result.stderr).toMatch(deniedBy("audit-is-append-only"));
    expect((await server.psql(["-At", "-c", "SELECT count(*) FROM pg_rules WHERE rulename = 'forget'"])).stdout.trim()).toBe("0");
  });

  it("a DO block with an unbounded DELETE is refused as one; with a bounded one it runs", async () => {
    expect((await psql("shop-db", "DO $$ BEGIN DELETE FROM orders; END $$")).stderr).toMatch(deniedBy("no-unbounded-changes"));
    expect((await psql("shop-db", "DO $$ BEGIN DELETE FROM orders WHERE id = 1; END $$")).stderr).toBe("");
    expect(await count("orders")).toBe(ORDERS - 1);
  });

  it("a DO block that drops is refused like the DROP it is", async () => {
    expect((await psql("shop-db", "DO $$ BEGIN DROP TABLE audit; END $$")).stderr).toMatch(deniedBy("no-drop"));
    expect(await count("audit")).toBe(1);
  });

  it("a rule that only inserts is created", async () => {
    expect((await psql("shop-db", "CREATE RULE remember AS ON DELETE TO orders DO ALSO INSERT INTO audit VALUES (OLD.id)")).stderr).toBe("");
  });
});

describe("a trigger is judged with what its function runs", () => {
  beforeAll(async () => {
    // Functions an administrator created earlier, outside the gateway.
    const created = await server.psql([
      "-v",
      "ON_ERROR_STOP=1",
      "-c",
      `CREATE OR REPLACE FUNCTION public.forget_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM audit; RETURN NEW; END $$;
       CREATE OR REPLACE FUNCTION public.stamp_note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := 'stamped'; RETURN NEW; END $$;`,
    ]);
    expect(created.stderr).toBe("");
  });

  const triggers = async (): Promise<string> => (await server.psql(["-At", "-c", "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal"])).stdout.trim();

  it("a trigger whose function empties audit is refused as the unbounded DELETE it stores", async () => {
    const result = await psql("shop-db", "CREATE TRIGGER forget AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION forget_audit()");
    expect(result.stderr).toMatch(deniedBy("no-unbounded-changes"));
    expect(await triggers()).toBe("");
  });

  it("one whose function only sets the new row's column, and one of the server's own, are created", async () => {
    expect((await psql("shop-db", "CREATE TRIGGER stamp BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION public.stamp_note()")).stderr).toBe("");
    expect((await psql("shop-db", "CREATE TRIGGER same BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()")).stderr).toBe("");
    expect(await triggers()).toBe("same,stamp");
  });

  it("one whose function the gateway cannot find is refused", async () => {
    const result = await psql("shop-db", "CREATE TRIGGER ghost AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION no_such_function()");
    expect(result.stderr).toMatch(/portcullis: denied: the trigger runs no_such_function\(\), which the gateway cannot find in the catalog/);
  });
});

describe("ALTER TABLE's subcommands", () => {
  it("ADD COLUMN is allowed, DROP COLUMN and DROP CONSTRAINT are refused", async () => {
    expect((await psql("shop-db", "ALTER TABLE orders ADD COLUMN shipped boolean")).stderr).toBe("");
    expect((await psql("shop-db", "ALTER TABLE orders DROP COLUMN note")).stderr).toMatch(deniedBy("no-dropping-columns"));
    expect((await psql("shop-db", "ALTER TABLE orders ADD COLUMN paid boolean, DROP CONSTRAINT orders_pkey")).stderr).toMatch(deniedBy("no-dropping-columns"));
    const columns = await server.psql(["-At", "-c", "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attnum > 0 AND NOT attisdropped"]);
    expect(columns.stdout.trim()).toBe("id,note,total,shipped");
  });
});

describe("EXECUTE of a SQL prepared statement is judged as the statement it runs", () => {
  it("EXECUTE of a prepared read is a read; after DEALLOCATE, or for a PREPARE the server refused, it is not known", async () => {
    const result = await psql(
      "reports-db",
      "PREPARE totals AS SELECT sum(total) FROM orders",
      "EXECUTE totals",
      "PREPARE broken AS SELECT * FROM no_such_table",
      "EXECUTE broken",
      "DEALLOCATE totals",
      "EXECUTE totals",
    );
    expect(result.stdout.trim()).toBe(String((ORDERS * (ORDERS + 1) * 10) / 2));
    const errors = result.stderr.trim().split("\n").filter((line) => line.startsWith("ERROR:"));
    expect(errors).toEqual([
      expect.stringMatching(/relation "no_such_table" does not exist/),
      expect.stringMatching(/portcullis: denied by AccessPolicy "read-only" \(default action\): no rule matches UTILITY \[execute-prepared\]/),
      expect.stringMatching(/portcullis: denied by AccessPolicy "read-only" \(default action\): no rule matches UTILITY \[execute-prepared\]/),
    ]);
  });
});
