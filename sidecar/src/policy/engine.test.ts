// Decisions of the policy engine: the repository's example policy against
// ordinary statements and evasions, then each rule feature on its own.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "@jest/globals";
import { parse } from "yaml";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { IdentityFacts, ResourceFacts } from "@portcullis/common/policy/cel";
import { classifiedStatements, classifySql, initClassifier } from "../protocols/postgres/sql/classify.js";
import { compilePolicies as compileFor, denialMessage, type Decision, type PolicySet } from "./engine.js";
import { SQL_MATCHER } from "../protocols/postgres/sql/sql-match.js";
import type { SqlFacts } from "@portcullis/common/policy/cel";

type Spec = BrokeredPolicy["spec"];
type Rule = NonNullable<Spec["rules"]>[number];

const RESOURCE: ResourceFacts = { name: "orders-db", protocol: "postgres" };
const IDENTITY: IdentityFacts = {
  username: "system:serviceaccount:shop:report-bot",
  groups: ["system:serviceaccounts"],
  serviceAccount: "report-bot",
  namespace: "shop",
  pod: "report-bot-7d9f",
  claims: {},
};

function examplePolicy(): BrokeredPolicy {
  const document = parse(readFileSync(new URL("../../../crds/examples/no-destructive-changes-policy.yaml", import.meta.url), "utf8")) as {
    metadata: { name: string };
    spec: Spec;
  };
  return { name: document.metadata.name, spec: document.spec };
}

function policy(name: string, rules: Rule[], extra: Partial<Spec> = {}): BrokeredPolicy {
  return { name, spec: { subjects: { serviceAccounts: ["report-bot"] }, resources: [RESOURCE.name], rules, ...extra } };
}

const compilePolicies = (policies: readonly BrokeredPolicy[], resource: ResourceFacts): PolicySet<SqlFacts> => compileFor(policies, resource, SQL_MATCHER);

function decide(policies: PolicySet<SqlFacts>, sql: string, identity: IdentityFacts = IDENTITY): Decision {
  return policies.decide(classifiedStatements(classifySql(sql)), identity, RESOURCE);
}

beforeAll(async () => {
  await initClassifier();
});

describe("the example no-destructive-changes policy", () => {
  const policies = (): PolicySet<SqlFacts> => compilePolicies([examplePolicy()], RESOURCE);

  it.each<[string, Decision["action"], string]>([
    // Destructive changes, however they are dressed.
    ["DROP TABLE orders", "deny", "block-drop-and-truncate"],
    ["TRUNCATE orders", "deny", "block-drop-and-truncate"],
    ["DROP SCHEMA public CASCADE", "deny", "block-drop-and-truncate"],
    ["/* x */ DrOp TaBlE orders", "deny", "block-drop-and-truncate"],
    ["-- c\nDROP TABLE orders", "deny", "block-drop-and-truncate"],
    ['DROP TABLE "orders"', "deny", "block-drop-and-truncate"],
    ["SELECT 1; DROP TABLE orders", "deny", "block-drop-and-truncate"],
    ["BEGIN; SELECT * FROM orders; TRUNCATE orders; COMMIT", "deny", "block-drop-and-truncate"],
    ["DELETE FROM orders", "deny", "block-unbounded-delete"],
    ["UPDATE orders SET total = 0", "deny", "block-unbounded-delete"],
    ["WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", "deny", "block-unbounded-delete"],
    ["WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d WHERE id = 1", "deny", "block-unbounded-delete"],
    ["WITH x AS (DELETE FROM orders RETURNING id) UPDATE items SET n = 0 WHERE id = 1", "deny", "block-unbounded-delete"],
    ["PREPARE p AS DELETE FROM orders; EXECUTE p", "deny", "block-unbounded-delete"],
    ["EXPLAIN ANALYZE DELETE FROM orders", "deny", "block-unbounded-delete"],
    ["COPY (DELETE FROM orders RETURNING *) TO STDOUT", "deny", "block-unbounded-delete"],
    // Writes, code and anything reaching outside the tables wait for the dba group.
    ["INSERT INTO orders VALUES (1)", "requireApproval", "writes-need-approval"],
    ["UPDATE orders SET total = 0 WHERE id = 1", "requireApproval", "writes-need-approval"],
    ["DELETE FROM orders WHERE id = 1", "requireApproval", "writes-need-approval"],
    ["MERGE INTO orders o USING staging s ON o.id = s.id WHEN MATCHED THEN UPDATE SET total = s.total", "requireApproval", "writes-need-approval"],
    ["CREATE TABLE notes (id int)", "requireApproval", "writes-need-approval"],
    ["ALTER TABLE orders ADD COLUMN note text", "requireApproval", "writes-need-approval"],
    ["GRANT SELECT ON orders TO bob", "requireApproval", "writes-need-approval"],
    ["SELECT * INTO archive FROM orders", "requireApproval", "writes-need-approval"],
    ["COPY orders FROM STDIN", "requireApproval", "writes-need-approval"],
    ["CALL close_month()", "requireApproval", "writes-need-approval"],
    ["DO $$ BEGIN EXECUTE 'DROP TABLE orders'; END $$", "requireApproval", "writes-need-approval"],
    ["DO $$ BEGIN PERFORM 1; END $$", "requireApproval", "writes-need-approval"],
    ["COPY orders FROM PROGRAM 'x'", "requireApproval", "writes-need-approval"],
    ["COPY orders TO PROGRAM 'x'", "requireApproval", "writes-need-approval"],
    ["SELECT pg_read_file('/etc/passwd')", "requireApproval", "writes-need-approval"],
    ["SELECT pg_terminate_backend(pid) FROM pg_stat_activity", "requireApproval", "writes-need-approval"],
    ["SELECT set_config('role', 'postgres', false)", "requireApproval", "writes-need-approval"],
    ["SET ROLE postgres", "requireApproval", "writes-need-approval"],
    ["EXECUTE p", "requireApproval", "writes-need-approval"],
    ["PREPARE q AS SELECT * FROM orders", "requireApproval", "writes-need-approval"],
    // Reads.
    ["SELECT * FROM orders", "allow", "reads"],
    ["select * from ORDERS where id = 1", "allow", "reads"],
    ["SELECT 'DROP TABLE orders'", "allow", "reads"],
    ["WITH big AS (SELECT * FROM orders WHERE total > 100) SELECT count(*) FROM big", "allow", "reads"],
    ["SHOW work_mem", "allow", "reads"],
    ["SET search_path = public", "allow", "reads"],
    ["BEGIN; SELECT * FROM orders; COMMIT", "allow", "reads"],
    ["EXPLAIN SELECT * FROM orders", "allow", "reads"],
    ["EXPLAIN ANALYZE SELECT * FROM orders", "allow", "reads"],
    ["EXPLAIN DELETE FROM orders", "allow", "reads"],
    // Nothing matches: the default action.
    ["VACUUM orders", "deny", "(default)"],
    ["LISTEN jobs", "deny", "(default)"],
    ["COPY orders TO STDOUT", "deny", "(default)"],
    ["LOCK orders", "deny", "(default)"],
    // Cannot be classified.
    ["selec * from orders", "deny", "(parse error)"],
    ["DO LANGUAGE plpython3u $$ import os $$", "deny", "(parse error)"],
    ["SELECT 1\u0000; DROP TABLE orders", "deny", "(parse error)"],
  ])("%j → %s by %s", (sql, action, rule) => {
    const decision = decide(policies(), sql);
    expect({ action: decision.action, rule: decision.rule }).toEqual({ action, rule });
  });

  it("names the policy, rule and the rule's message in a denial", () => {
    const decision = decide(policies(), "DROP TABLE orders");
    expect(decision).toMatchObject({ policy: "no-destructive-changes", index: 0 });
    expect(denialMessage(decision)).toBe(
      'portcullis: denied by AccessPolicy "no-destructive-changes" rule "block-drop-and-truncate": Destructive changes are made by the DBA team, not by agents.',
    );
  });

  it("describes the statement when the rule has no message", () => {
    expect(denialMessage(decide(policies(), "DELETE FROM orders"))).toBe(
      'portcullis: denied by AccessPolicy "no-destructive-changes" rule "block-unbounded-delete": DELETE on orders is denied by this rule',
    );
  });

  it("says which statement of several decided", () => {
    expect(decide(policies(), "SELECT 1; DROP TABLE orders").index).toBe(1);
    expect(decide(policies(), "PREPARE p AS DELETE FROM orders; EXECUTE p").index).toBe(0);
  });

  it("carries the rule's approval settings", () => {
    expect(decide(policies(), "INSERT INTO orders VALUES (1)").approval).toEqual({ reviewers: { users: [], groups: ["dba"] }, timeoutMs: 15 * 60_000, grantScope: "once" });
  });

  it("explains the default action", () => {
    expect(denialMessage(decide(policies(), "VACUUM orders"))).toBe(
      'portcullis: denied by AccessPolicy "no-destructive-changes" (default action): no rule matches VACUUM on orders, and the default action is deny',
    );
  });

  it("passes the parser's message on", () => {
    expect(denialMessage(decide(policies(), "selec * from orders"))).toBe('portcullis: denied: the statement cannot be classified: syntax error at or near "selec"');
  });

  it("allows an empty query, which runs nothing", () => {
    expect(decide(policies(), "")).toMatchObject({ action: "allow", rule: "(empty query)" });
  });
});

describe("compilePolicies: which policies count", () => {
  it("denies everything on a Resource no policy names", () => {
    const decision = decide(compilePolicies([policy("other", [{ name: "all", action: "allow" }], { resources: ["payments-db"] })], RESOURCE), "SELECT 1");
    expect(decision).toMatchObject({ action: "deny", rule: "(no policy)" });
    expect(denialMessage(decision)).toBe('portcullis: denied: no AccessPolicy names the Resource "orders-db", so nothing may be done on it');
  });

  it("denies even an empty query when no policy governs the Resource", () => {
    expect(decide(compilePolicies([], RESOURCE), "").action).toBe("deny");
  });

  it("denies everything a policy with an error governs, with the error", () => {
    const broken = { ...policy("needs-store", [{ name: "all", action: "allow" }]), error: 'ConfigMap "evidence-store" does not exist' };
    const decision = decide(compilePolicies([broken], RESOURCE), "SELECT 1");
    expect(decision).toMatchObject({ action: "deny", policy: "needs-store", rule: "(policy error)" });
    expect(denialMessage(decision)).toBe('portcullis: denied by AccessPolicy "needs-store": the policy cannot be enforced: ConfigMap "evidence-store" does not exist');
  });

  it("denies everything under a policy whose when does not compile, naming the rule", () => {
    const policies = compilePolicies([policy("typo", [{ name: "reads", action: "allow" }, { name: "bad", action: "deny", when: "sql.comand == 1" }])], RESOURCE);
    const decision = decide(policies, "SELECT 1");
    expect(decision).toMatchObject({ action: "deny", policy: "typo", rule: "bad" });
    expect(decision.message).toContain("its when expression does not compile");
  });

  it("denies everything under a policy whose approval settings are unusable", () => {
    const rule: Rule = { name: "ask", action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "soon" } };
    expect(decide(compilePolicies([policy("odd", [rule])], RESOURCE), "SELECT 1")).toMatchObject({ action: "deny", rule: "ask" });
  });

  it("never throws on a malformed policy", () => {
    const garbage = { name: "garbage", spec: { resources: [RESOURCE.name], rules: "not a list" } } as unknown as BrokeredPolicy;
    expect(decide(compilePolicies([garbage], RESOURCE), "SELECT 1")).toMatchObject({ action: "deny", policy: "garbage", rule: "(policy error)" });
  });
});

describe("rules", () => {
  const one = (rules: Rule[], sql: string, extra: Partial<Spec> = {}): Decision => decide(compilePolicies([policy("p", rules, extra)], RESOURCE), sql);

  it("applies the first rule that matches", () => {
    const rules: Rule[] = [
      { name: "first", match: { sql: { commands: ["SELECT"] } }, action: "deny" },
      { name: "second", match: { sql: { commands: ["SELECT"] } }, action: "allow" },
    ];
    expect(one(rules, "SELECT 1").rule).toBe("first");
  });

  it("uses the default action when nothing matches, deny unless set", () => {
    expect(one([], "SELECT 1")).toMatchObject({ action: "deny", rule: "(default)" });
    expect(one([], "SELECT 1", { defaultAction: "allow" })).toMatchObject({ action: "allow", rule: "(default)" });
  });

  it("lets a rule without match match everything", () => {
    expect(one([{ name: "all", action: "allow" }], "VACUUM orders").rule).toBe("all");
  });

  it("never matches SQL with a rule for HTTP or Kubernetes", () => {
    expect(one([{ name: "web", match: { http: { methods: ["GET"] } }, action: "allow" }], "SELECT 1").rule).toBe("(default)");
    expect(one([{ name: "kube", match: { kubernetes: { verbs: ["get"] } }, action: "allow" }], "SELECT 1").rule).toBe("(default)");
  });

  it.each<[string, string, boolean]>([
    ["DDL", "CREATE TABLE t (id int)", true],
    ["DDL", "ALTER TABLE t ADD COLUMN n int", true],
    ["DDL", "DROP VIEW v", true],
    ["DDL", "TRUNCATE t", true],
    ["DDL", "GRANT SELECT ON t TO bob", false],
    ["DDL", "INSERT INTO t VALUES (1)", false],
    ["WRITE", "INSERT INTO t VALUES (1)", true],
    ["WRITE", "COPY t FROM STDIN", true],
    ["WRITE", "COPY t TO STDOUT", false],
    ["WRITE", "REVOKE admin FROM bob", true],
    ["WRITE", "SELECT * FROM t", false],
    ["WRITE", "SELECT * FROM t FOR UPDATE", false],
    ["WRITE", "SELECT lo_import('/x')", true],
    ["WRITE", "REFRESH MATERIALIZED VIEW mv", true],
    ["COPY", "COPY t FROM STDIN", true],
    ["COPY", "COPY t TO STDOUT", true],
    ["TRANSACTION", "ROLLBACK TO SAVEPOINT a", true],
    ["UTILITY", "DISCARD ALL", true],
  ])("commands [%s] on %j → %s", (command, sql, matches) => {
    const rules: Rule[] = [{ name: "r", match: { sql: { commands: [command as "DDL"] } }, action: "deny" }];
    expect(one(rules, sql).rule).toBe(matches ? "r" : "(default)");
  });

  it("matches object types", () => {
    const rules: Rule[] = [{ name: "no-db-drops", match: { sql: { commands: ["DROP"], objectTypes: ["DATABASE", "SCHEMA"] } }, action: "deny" }];
    expect(one(rules, "DROP DATABASE shop", { defaultAction: "allow" }).rule).toBe("no-db-drops");
    expect(one(rules, "DROP SCHEMA s", { defaultAction: "allow" }).rule).toBe("no-db-drops");
    expect(one(rules, "DROP TABLE t", { defaultAction: "allow" }).rule).toBe("(default)");
  });

  describe("table patterns", () => {
    const deny = (tables: string[]): Rule[] => [{ name: "t", match: { sql: { tables } }, action: "deny" }];
    const allow = (tables: string[]): Rule[] => [{ name: "t", match: { sql: { tables } }, action: "allow" }];

    it.each<[string[], string, boolean]>([
      [["orders"], "SELECT * FROM orders", true],
      [["orders"], "SELECT * FROM sales.orders", true],
      [["ORDERS"], 'SELECT * FROM "Orders"', true],
      [["billing.*"], "SELECT * FROM billing.invoices", true],
      [["billing.*"], "SELECT * FROM public.invoices", false],
      [["Bill*.inv*"], "SELECT * FROM billing.invoices", true],
      [["inv*"], "SELECT * FROM billing.invoices", true],
      [["*_secret"], "SELECT * FROM a JOIN api_secret USING (id)", true],
      [["*_secret"], "SELECT * FROM secret_api", false],
      [["customers"], "SELECT * FROM orders WHERE id IN (SELECT order_id FROM customers)", true],
      [["customers"], "WITH customers AS (SELECT 1) SELECT * FROM customers", false],
      // An unqualified name may resolve to the denied schema.
      [["billing.invoices"], "SELECT * FROM invoices", true],
      [["a.b"], "SELECT * FROM axb", false],
    ])("a deny rule on %j matches %j: %s", (tables, sql, matches) => {
      expect(one(deny(tables), sql, { defaultAction: "allow" }).rule).toBe(matches ? "t" : "(default)");
    });

    it.each<[string[], string, boolean]>([
      [["public.*"], "SELECT * FROM public.a", true],
      [["public.*"], "SELECT * FROM public.a JOIN private.b USING (id)", false],
      [["public.*"], "SELECT * FROM a", false],
      [["*"], "SELECT * FROM a JOIN b.c USING (id)", true],
      [["orders", "items"], "SELECT * FROM orders JOIN items USING (id)", true],
      [["orders"], "SELECT 1", false],
    ])("an allow rule on %j covers %j only when it covers every table: %s", (tables, sql, matches) => {
      expect(one(allow(tables), sql).rule).toBe(matches ? "t" : "(default)");
    });
  });

  it("allows a dangerous statement only under an allow rule that names WRITE", () => {
    const reads: Rule[] = [{ name: "reads", match: { sql: { commands: ["SELECT", "SET"] } }, action: "allow" }];
    expect(one(reads, "SELECT pg_read_file('/x')").rule).toBe("(default)");
    expect(one(reads, "SET ROLE admin").rule).toBe("(default)");
    expect(one(reads, "SET search_path = app").rule).toBe("reads");
    const writes: Rule[] = [{ name: "writes", match: { sql: { commands: ["WRITE"] } }, action: "allow" }];
    expect(one(writes, "SELECT pg_read_file('/x')").rule).toBe("writes");
  });

  it("lets a deny rule on a command catch the dangerous form of it", () => {
    expect(one([{ name: "no-set", match: { sql: { commands: ["SET"] } }, action: "deny" }], "SET ROLE admin", { defaultAction: "allow" }).rule).toBe("no-set");
  });

  describe("when", () => {
    it("must hold too", () => {
      const rules: Rule[] = [{ name: "bot-reads", match: { sql: { commands: ["SELECT"] } }, when: 'identity.serviceAccount == "report-bot" && sql.statementCount == 1', action: "allow" }];
      expect(one(rules, "SELECT 1").rule).toBe("bot-reads");
      expect(one(rules, "SELECT 1; SELECT 2").rule).toBe("(default)");
      expect(decide(compilePolicies([policy("p", rules)], RESOURCE), "SELECT 1", { ...IDENTITY, serviceAccount: "other" }).rule).toBe("(default)");
    });

    it("sees the statement's facts", () => {
      const rules: Rule[] = [{ name: "no-secrets", when: '"secrets" in sql.tables || "server-file-function" in sql.dangerous', action: "deny" }];
      expect(one(rules, "SELECT * FROM secrets", { defaultAction: "allow" }).rule).toBe("no-secrets");
      expect(one(rules, "SELECT pg_read_file('/x')", { defaultAction: "allow" }).rule).toBe("no-secrets");
      expect(one(rules, "SELECT * FROM orders", { defaultAction: "allow" }).rule).toBe("(default)");
    });

    it("that fails at run time denies, naming the rule, instead of being skipped", () => {
      const rules: Rule[] = [
        { name: "fragile", when: 'sql.tables[3] == "x"', action: "allow" },
        { name: "everything", action: "allow" },
      ];
      const decision = one(rules, "SELECT * FROM orders");
      expect(decision).toMatchObject({ action: "deny", policy: "p", rule: "fragile" });
      expect(denialMessage(decision)).toMatch(/^portcullis: denied by AccessPolicy "p" rule "fragile": its when expression failed, so the statement is refused: /);
    });
  });

  it("carries approval reviewers, timeout and window", () => {
    const rules: Rule[] = [
      {
        name: "ask",
        action: "requireApproval",
        approval: { reviewers: { users: ["alice@example.com"], groups: ["dba"] }, timeout: "1h30m", grantScope: "window", grantWindow: "2h" },
      },
    ];
    expect(one(rules, "INSERT INTO t VALUES (1)").approval).toEqual({
      reviewers: { users: ["alice@example.com"], groups: ["dba"] },
      timeoutMs: 90 * 60_000,
      grantScope: "window",
      grantWindowMs: 2 * 3_600_000,
    });
  });
});

describe("combining statements and policies", () => {
  const reads = policy("reads", [{ name: "selects", match: { sql: { commands: ["SELECT"] } }, action: "allow" }], { defaultAction: "allow" });
  const careful = policy("careful", [
    { name: "orders-need-approval", match: { sql: { tables: ["orders"] } }, action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "10m" } },
    { name: "no-drops", match: { sql: { commands: ["DROP"] } }, action: "deny" },
  ], { defaultAction: "allow" });

  it("takes the most restrictive decision across policies", () => {
    const policies = compilePolicies([reads, careful], RESOURCE);
    expect(decide(policies, "SELECT * FROM items")).toMatchObject({ action: "allow", policy: "reads" });
    expect(decide(policies, "SELECT * FROM orders")).toMatchObject({ action: "requireApproval", policy: "careful" });
    expect(decide(policies, "DROP VIEW v")).toMatchObject({ action: "deny", policy: "careful", rule: "no-drops" });
  });

  it("takes the most restrictive decision across statements, the earliest on ties", () => {
    const policies = compilePolicies([careful], RESOURCE);
    expect(decide(policies, "SELECT 1; SELECT * FROM orders; DROP VIEW v")).toMatchObject({ action: "deny", index: 2 });
    expect(decide(policies, "DROP VIEW a; DROP VIEW b")).toMatchObject({ action: "deny", index: 0 });
    expect(decide(policies, "SELECT 1; SELECT * FROM orders; SELECT * FROM orders")).toMatchObject({ action: "requireApproval", index: 1 });
  });

  it("ignores policies for other Resources", () => {
    const elsewhere = policy("elsewhere", [{ name: "nothing", action: "deny" }], { resources: ["payments-db"] });
    expect(decide(compilePolicies([reads, elsewhere], RESOURCE), "SELECT 1")).toMatchObject({ action: "allow", policy: "reads" });
  });

  it("lets one broken policy deny what another allows", () => {
    const broken = { ...policy("broken", []), error: "Secret missing" };
    expect(decide(compilePolicies([reads, broken], RESOURCE), "SELECT 1")).toMatchObject({ action: "deny", policy: "broken" });
  });
});

describe("deciding what is possible (list filtering)", () => {
  const possible = (policies: PolicySet<SqlFacts>, sql: string): Decision => {
    const classified = classifySql(sql);
    return policies.decide(classifiedStatements(classified), IDENTITY, RESOURCE, { possible: true });
  };
  const rules = policy("lists", [
    { name: "big-deletes", match: { sql: { commands: ["DELETE"] } }, when: "!sql.hasWhere", action: "deny" },
    { name: "no-drops", match: { sql: { commands: ["DROP"] } }, action: "deny" },
    { name: "updates", match: { sql: { commands: ["UPDATE"] } }, when: 'identity.namespace == "elsewhere"', action: "allow" },
    { name: "deletes", match: { sql: { commands: ["DELETE"] } }, action: "allow" },
  ]);

  it("skips a deny rule whose when may not hold, and takes an allow rule whose when may", () => {
    const policies = compilePolicies([rules], RESOURCE);
    expect(possible(policies, "DELETE FROM t")).toMatchObject({ action: "allow", rule: "deletes" });
    expect(decide(policies, "DELETE FROM t")).toMatchObject({ action: "deny", rule: "big-deletes" });
    expect(possible(policies, "UPDATE t SET a = 1 WHERE id = 1")).toMatchObject({ action: "allow", rule: "updates" });
    expect(decide(policies, "UPDATE t SET a = 1 WHERE id = 1")).toMatchObject({ action: "deny", rule: "(default)" });
  });

  it("still denies what a rule without when denies, and what no rule allows", () => {
    const policies = compilePolicies([rules], RESOURCE);
    expect(possible(policies, "DROP TABLE t")).toMatchObject({ action: "deny", rule: "no-drops" });
    expect(possible(policies, "INSERT INTO t VALUES (1)")).toMatchObject({ action: "deny", rule: "(default)" });
  });
});
