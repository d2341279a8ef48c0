// What a reviewer reads in a rule is what it does (issue 9): "without WHERE"
// covers a WHERE that filters nothing, MERGE is the INSERT, UPDATE and DELETE
// it performs, code a statement stores or runs (a rule's actions, a DO block,
// a function body) counts with its commands, and ALTER TABLE's subcommands are
// facts of their own.
import { beforeAll, describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { SqlFacts } from "@portcullis/common/policy/cel";
import { classifiedStatements, classifySql, initClassifier } from "./classify.js";
import { compilePolicies } from "../../../policy/engine.js";
import { SQL_MATCHER } from "./sql-match.js";

type Rule = NonNullable<BrokeredPolicy["spec"]["rules"]>[number];

beforeAll(async () => {
  await initClassifier();
});

function only(sql: string): SqlFacts {
  const classification = classifySql(sql);
  if (!classification.ok) throw new Error(`expected ${JSON.stringify(sql)} to classify, got: ${classification.error}`);
  expect(classification.statements).toHaveLength(1);
  return classification.statements[0] as SqlFacts;
}

function decide(rules: Rule[], sql: string): string {
  const policies = compilePolicies([{ name: "p", spec: { subjects: { serviceAccounts: ["bot"] }, resources: ["db"], rules, defaultAction: "deny" } }], { name: "db" }, SQL_MATCHER);
  const decision = policies.decide(classifiedStatements(classifySql(sql)), { username: "bot", groups: [], serviceAccount: "bot", namespace: "ns", pod: "p", claims: {} }, { name: "db", protocol: "postgres" });
  return `${decision.action} ${decision.rule}`;
}

describe("a WHERE that filters nothing is no WHERE", () => {
  it.each([
    ["DELETE FROM orders WHERE true", false],
    ["DELETE FROM orders WHERE 1 = 1", false],
    ["UPDATE orders SET total = 0 WHERE 'a' = 'a'", false],
    ["DELETE FROM orders WHERE NOT false", false],
    ["DELETE FROM orders WHERE random() < 2", false],
    ["DELETE FROM orders WHERE id = 5 OR 1 = 1", false],
    ["DELETE FROM orders WHERE id = 5 OR (true AND 2 > 1)", false],
    ["DELETE FROM orders WHERE EXISTS (SELECT 1 FROM customers)", false],
    ["DELETE FROM orders WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = c.id)", false],
    ["DELETE FROM orders WHERE id = 5", true],
    ["DELETE FROM orders WHERE id = 5 AND true", true],
    ["DELETE FROM orders WHERE id = 5 OR id = 6", true],
    ["DELETE FROM orders WHERE id IN (SELECT order_id FROM refunds)", true],
    ["DELETE FROM orders WHERE EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = orders.id)", true],
    ["DELETE FROM orders o WHERE EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id)", true],
    ["UPDATE orders SET total = 0 FROM refunds r WHERE r.order_id = orders.id", true],
    ["DELETE FROM orders WHERE CURRENT OF c", true],
  ])("%s: hasWhere %s", (sql, bounded) => {
    expect(only(sql).hasWhere).toBe(bounded);
  });

  it("is denied by the rule against unbounded deletes", () => {
    const rules: Rule[] = [{ name: "unbounded", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" }, { name: "rest", action: "allow" }];
    expect(decide(rules, "DELETE FROM orders WHERE 1 = 1")).toBe("deny unbounded");
    expect(decide(rules, "DELETE FROM orders WHERE id = 1")).toBe("allow rest");
  });
});

describe("MERGE is the INSERT, UPDATE and DELETE its actions perform", () => {
  it.each<[string, Partial<SqlFacts>]>([
    ["MERGE INTO orders t USING refunds s ON t.id = s.order_id WHEN MATCHED THEN DELETE", { command: "DELETE", hasWhere: true }],
    ["MERGE INTO orders t USING refunds s ON true WHEN MATCHED THEN DELETE", { command: "DELETE", hasWhere: false }],
    ["MERGE INTO orders t USING refunds s ON t.id = s.order_id WHEN NOT MATCHED BY SOURCE THEN DELETE", { command: "DELETE", hasWhere: false }],
    ["MERGE INTO orders t USING refunds s ON t.id = s.order_id WHEN NOT MATCHED BY SOURCE AND t.total = 0 THEN DELETE", { command: "DELETE", hasWhere: true }],
    ["MERGE INTO orders t USING refunds s ON t.id = s.order_id WHEN MATCHED THEN UPDATE SET total = 0", { command: "UPDATE", hasWhere: true }],
    ["MERGE INTO orders t USING refunds s ON t.id = s.order_id WHEN NOT MATCHED THEN INSERT (id) VALUES (s.order_id)", { command: "INSERT" }],
    ["MERGE INTO orders t USING refunds s ON t.id = s.order_id WHEN MATCHED THEN DO NOTHING", { command: "MERGE" }],
  ])("%s", (sql, expected) => {
    const facts = only(sql);
    expect(facts).toMatchObject(expected);
    expect(facts.commands).toContain("MERGE");
    expect(facts.tablesWritten).toEqual(["orders"]);
  });

  it("is caught by a rule against DELETE, and still by one against MERGE", () => {
    const sql = "MERGE INTO orders t USING refunds s ON true WHEN MATCHED THEN DELETE";
    expect(decide([{ name: "no-delete", match: { sql: { commands: ["DELETE"] } }, action: "deny" }, { name: "rest", action: "allow" }], sql)).toBe("deny no-delete");
    expect(decide([{ name: "no-merge", match: { sql: { commands: ["MERGE"] } }, action: "deny" }, { name: "rest", action: "allow" }], sql)).toBe("deny no-merge");
  });
});

describe("code a statement runs or stores counts with its commands", () => {
  it.each<[string, string[], string[]]>([
    ["CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM audit", ["CREATE", "DELETE"], ["orders", "audit"]],
    ["CREATE RULE r AS ON UPDATE TO orders DO INSTEAD (INSERT INTO audit VALUES (1); UPDATE ledger SET n = 0)", ["CREATE", "INSERT", "UPDATE"], ["orders", "audit", "ledger"]],
    ["DO $$ BEGIN DROP TABLE orders; END $$", ["DO", "DROP"], ["orders"]],
    ["CREATE FUNCTION purge() RETURNS void LANGUAGE sql AS 'DELETE FROM orders'", ["CREATE", "DELETE"], ["orders"]],
    ["CREATE FUNCTION purge() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM orders; END", ["CREATE", "DELETE"], ["orders"]],
    ["WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone", ["SELECT", "DELETE"], ["orders"]],
    ["EXPLAIN DELETE FROM orders", ["EXPLAIN"], []],
    ["EXPLAIN ANALYZE DELETE FROM orders", ["DELETE"], ["orders"]],
  ])("%s runs %j", (sql, commands, written) => {
    const facts = only(sql);
    expect(facts.commands).toEqual(commands);
    expect(facts.tablesWritten).toEqual(expect.arrayContaining(written));
  });

  it.each<[string, boolean]>([
    ["DO $$ BEGIN DELETE FROM orders WHERE id = 1; END $$", true],
    ["DO $$ BEGIN DELETE FROM orders WHERE id = 1; UPDATE ledger SET n = 0; END $$", false],
    ["CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM audit WHERE id = NEW.id", true],
    ["CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM audit", false],
  ])("%s: bounded %s, as every UPDATE and DELETE of its code is", (sql, bounded) => {
    expect(only(sql).hasWhere).toBe(bounded);
  });

  it("a rule that deletes is denied by a rule against DELETE; an allow for CREATE still needs the statement's own command", () => {
    const rules: Rule[] = [
      { name: "no-delete", match: { sql: { commands: ["DELETE"] } }, action: "deny" },
      { name: "no-drop", match: { sql: { commands: ["DROP"] } }, action: "deny" },
      { name: "creates", match: { sql: { commands: ["CREATE", "DO"] } }, action: "allow" },
    ];
    expect(decide(rules, "CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM audit")).toBe("deny no-delete");
    expect(decide(rules, "DO $$ BEGIN DROP TABLE orders; END $$")).toBe("deny no-drop");
    expect(decide(rules, "CREATE RULE r AS ON INSERT TO orders DO ALSO INSERT INTO audit VALUES (1)")).toBe("allow creates");
    // An allow rule matches the statement's own command, never one of code inside it.
    expect(decide([{ name: "deletes", match: { sql: { commands: ["DELETE"] } }, action: "allow" }], "DO $$ BEGIN DELETE FROM orders WHERE id = 1; END $$")).toBe("deny (default)");
  });
});

describe("ALTER TABLE's subcommands", () => {
  it.each<[string, string[]]>([
    ["ALTER TABLE orders DROP COLUMN note", ["DROP COLUMN"]],
    ["ALTER TABLE orders ADD COLUMN note text, DROP CONSTRAINT orders_pkey", ["ADD COLUMN", "DROP CONSTRAINT"]],
    ["ALTER TABLE orders ALTER COLUMN total TYPE numeric", ["ALTER COLUMN TYPE"]],
    ["ALTER TABLE orders DISABLE ROW LEVEL SECURITY", ["DISABLE ROW SECURITY"]],
    ["ALTER TABLE orders OWNER TO someone", ["CHANGE OWNER"]],
    ["CREATE TABLE t (id int)", []],
  ])("%s: %j", (sql, subcommands) => {
    expect(only(sql).subcommands).toEqual(subcommands);
  });

  const rules: Rule[] = [
    { name: "no-dropping-columns", match: { sql: { commands: ["ALTER"], subcommands: ["DROP COLUMN", "DROP CONSTRAINT"] } }, action: "deny" },
    { name: "adding-columns", match: { sql: { commands: ["ALTER"], subcommands: ["ADD COLUMN"] } }, action: "allow" },
  ];

  it.each([
    ["ALTER TABLE orders ADD COLUMN note text", "allow adding-columns"],
    ["ALTER TABLE orders DROP COLUMN note", "deny no-dropping-columns"],
    ["ALTER TABLE orders ADD COLUMN note text, DROP CONSTRAINT orders_pkey", "deny no-dropping-columns"],
    // An allow must name every subcommand: ADD COLUMN with an ALTER COLUMN TYPE is not covered.
    ["ALTER TABLE orders ADD COLUMN note text, ALTER COLUMN total TYPE numeric", "deny (default)"],
  ])("%s: %s", (sql, decision) => {
    expect(decide(rules, sql)).toBe(decision);
  });
});

describe("the gateway's own prepared statements cannot be named from SQL", () => {
  it.each([
    ["EXECUTE PORTCULLIS_0123456789abcdef_S3"],
    ['CREATE TABLE copy AS EXECUTE U&"portcullis\\005f0123456789abcdef\\005fs3"'],
    ["EXPLAIN ANALYZE EXECUTE portcullis_0123456789abcdef_s3"],
    ["DEALLOCATE portcullis_0123456789abcdef_s3"],
    ["PREPARE portcullis_0123456789abcdef_s3 AS SELECT 1"],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'EXECUTE portcullis_0123456789abcdef_s3'"],
  ])("%s is refused", (sql) => {
    const classification = classifySql(sql);
    expect(!classification.ok && classification.error).toMatch(/prepared statement names beginning with portcullis_ are the gateway's own/);
  });
});

describe("a CREATE TRIGGER the guard cannot look up", () => {
  it.each([
    ["DO $$ BEGIN CREATE TRIGGER t AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION evil(); END $$"],
    ["CREATE SCHEMA s CREATE TABLE x (a int) CREATE TRIGGER t AFTER INSERT ON x FOR EACH ROW EXECUTE FUNCTION public.evil()"],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'CREATE TRIGGER t AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION evil()'"],
  ])("%s is refused", (sql) => {
    const classification = classifySql(sql);
    expect(!classification.ok && classification.error).toMatch(/a CREATE TRIGGER inside another statement/);
  });
});

describe("bounds that only look like bounds", () => {
  it.each<[string, boolean]>([
    ["DELETE FROM t WHERE EXISTS (SELECT 1 FROM t WHERE t.id > 0)", false],
    ["DELETE FROM t WHERE EXISTS (SELECT 1 FROM u AS t WHERE t.x = 1)", false],
    ["WITH t AS (SELECT 1 AS x) DELETE FROM public.t WHERE EXISTS (SELECT FROM t WHERE t.x = 1)", false],
    ["DELETE FROM t o WHERE EXISTS (SELECT 1 FROM r WHERE r.x = o.id OR true)", false],
    ["DELETE FROM t USING u WHERE u.x = 1", false],
    ["UPDATE t SET a = 0 FROM (SELECT 1 AS one) s WHERE s.one = 1", false],
    ["UPDATE t SET a = 0 FROM s WHERE id = s.id", false],
    ["DELETE FROM t WHERE NOT (1 = 0 AND id = 1)", false],
    ["DELETE FROM t WHERE COALESCE(true, id = 1)", false],
    ["DELETE FROM t WHERE (true OR id = 1) IS TRUE", false],
    ["DELETE FROM t WHERE CASE WHEN true THEN true ELSE id = 1 END", false],
    ["MERGE INTO t USING (SELECT 1 AS one) s ON s.one = 1 WHEN MATCHED THEN DELETE", false],
    ["MERGE INTO t USING s ON s.id = 1 WHEN MATCHED AND s.x > 0 THEN DELETE", false],
    ["CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM audit WHERE TG_OP = 'INSERT'; RETURN NEW; END $$", false],
    ["CREATE FUNCTION f(p int) RETURNS void LANGUAGE sql AS 'DELETE FROM t WHERE p = 1'", false],
    ["CREATE FUNCTION f(p int) RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t WHERE p = 1; END", false],
    ["CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ DECLARE v int; BEGIN DELETE FROM t WHERE v = 1; END $$", false],
    ["CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM audit WHERE NEW.id = 1", false],
    ["CREATE RULE r AS ON INSERT TO orders DO ALSO DELETE FROM audit WHERE id = NEW.id", true],
    ["DELETE FROM t WHERE NOT (id = 1)", true],
    ["DELETE FROM t WHERE id = COALESCE(1, 2) AND lower(email) = 'x'", true],
    ["DELETE FROM t WHERE active IS TRUE", true],
    ["MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", true],
    ["CREATE FUNCTION f(p_id int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM orders WHERE id = p_id; END $$", true],
    ["CREATE FUNCTION f(p_id int) RETURNS void LANGUAGE sql AS 'DELETE FROM orders WHERE orders.id = f.p_id'", true],
  ])("%s: bounded %s", (sql, bounded) => {
    expect(only(sql).hasWhere).toBe(bounded);
  });
});
