// What the policy decision costs for a statement already classified (the
// facts classifySql reports for it), per statement: one allow rule; and four
// rules like the repository's example policy (deny DROP and TRUNCATE, deny
// DELETE and UPDATE without WHERE through a CEL `when`, allow reads, approval
// for other writes), deciding pgbench -S's SELECT (allowed by the third rule),
// a DROP (denied by the first) and pgbench's UPDATE … WHERE (the second rule's
// `when` is evaluated and does not hold; the fourth asks for approval).
// Run: node sidecar/dist/policy/engine.bench.js (or make bench-micro).
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { IdentityFacts, ResourceFacts, SqlFacts } from "@portcullis/common/policy/cel";
import { runSuite } from "@portcullis/common/bench/measure";
import { SQL_MATCHER } from "../protocols/postgres/sql/sql-match.js";
import { compilePolicies } from "./engine.js";
import type { Classified } from "./protocol-matcher.js";

type Rule = NonNullable<BrokeredPolicy["spec"]["rules"]>[number];

const RESOURCE: ResourceFacts = { name: "bench-db", protocol: "postgres" };
const IDENTITY: IdentityFacts = { username: "system:serviceaccount:agents:bot", groups: ["system:serviceaccounts"], serviceAccount: "bot", namespace: "agents", pod: "bot-0", claims: {} };

const policy = (name: string, rules: Rule[]): BrokeredPolicy => ({ name, spec: { subjects: { serviceAccounts: ["bot"] }, resources: [RESOURCE.name], rules, defaultAction: "deny" } });

const allowReads = compilePolicies([policy("reads", [{ name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" }])], RESOURCE, SQL_MATCHER);
const fourRules = compilePolicies(
  [
    policy("no-destructive-changes", [
      { name: "block-drop-and-truncate", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "Destructive changes are made by the DBA team." },
      { name: "block-unbounded-delete", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" },
      { name: "reads", match: { sql: { commands: ["SELECT", "SHOW", "EXPLAIN", "SET", "TRANSACTION"] } }, action: "allow" },
      { name: "writes-need-approval", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "15m", grantScope: "once" } },
    ]),
  ],
  RESOURCE,
  SQL_MATCHER,
);

/**
 * The facts classifySql reports for a statement on one table, written out so this bench does not wait for the
 * SQL parser's WebAssembly to be compiled.
 */
function statement(command: string, table: string, written: boolean, extra: Partial<SqlFacts> = {}): Classified<SqlFacts> {
  const facts: SqlFacts = {
    command,
    commands: [command],
    objectType: "",
    subcommands: [],
    tables: [table],
    tablesRead: written ? [] : [table],
    tablesWritten: written ? [table] : [],
    hasWhere: false,
    functions: [],
    dangerous: [],
    statementCount: 1,
    ...extra,
  };
  return { ok: true, items: [facts] };
}

// SELECT abalance FROM pgbench_accounts WHERE aid = 12345;
const select = statement("SELECT", "pgbench_accounts", false);
// DROP TABLE pgbench_history;
const drop = statement("DROP", "pgbench_history", true, { objectType: "TABLE" });
// UPDATE pgbench_accounts SET abalance = abalance + -1234 WHERE aid = 12345;
const update = statement("UPDATE", "pgbench_accounts", true, { hasWhere: true });

// The decisions are checked once, so a policy that stopped matching would not be timed unnoticed.
for (const [policies, request, expected] of [
  [allowReads, select, "allow"],
  [fourRules, select, "allow"],
  [fourRules, drop, "deny"],
  [fourRules, update, "requireApproval"],
] as const) {
  const decision = policies.decide(request, IDENTITY, RESOURCE);
  if (decision.action !== expected) throw new Error(`expected ${expected}, the policy decided ${decision.action} (${decision.message})`);
}

await runSuite("policy decision for a classified statement (sidecar/src/policy/engine.ts)", [
  { name: "1 allow rule, SELECT", run: () => allowReads.decide(select, IDENTITY, RESOURCE) },
  { name: "4 rules, SELECT (allowed by rule 3)", run: () => fourRules.decide(select, IDENTITY, RESOURCE) },
  { name: "4 rules, DROP TABLE (denied by rule 1)", run: () => fourRules.decide(drop, IDENTITY, RESOURCE) },
  { name: "4 rules, UPDATE … WHERE (CEL when, then rule 4)", run: () => fourRules.decide(update, IDENTITY, RESOURCE) },
]);
