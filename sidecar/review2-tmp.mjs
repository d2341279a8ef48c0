import { classifySql, initClassifier } from "./dist/protocols/postgres/sql/classify.js";
import { SQL_MATCHER } from "./dist/protocols/postgres/sql/sql-match.js";
import { compilePolicies } from "./dist/policy/engine.js";
import { readFileSync } from "node:fs";
await initClassifier();
const rules = [
  { name: "unbounded", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" },
  { name: "nodrop", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny" },
  { name: "rest", action: "allow" },
];
const policies = compilePolicies([{ name: "p", spec: { subjects: { serviceAccounts: ["bot"] }, resources: ["db"], rules, defaultAction: "deny" } }], { name: "db" }, SQL_MATCHER);
const id = { username: "bot", groups: [], serviceAccount: "bot", namespace: "ns", pod: "p", claims: {} };
const file = process.argv[2];
const cases = readFileSync(file, "utf8").split("\n----\n").map(s => s.trim()).filter(Boolean);
for (const sql of cases) {
  const c = classifySql(sql);
  if (!c.ok) { console.log(`### ${sql}\n  ERR ${c.error}`); continue; }
  const d = policies.decide({ ok: true, items: c.statements }, id, { name: "db", protocol: "postgres" });
  console.log(`### ${sql}\n  => ${d.action} ${d.rule}`);
  for (const s of c.statements) console.log(`  cmd=${s.command} cmds=${JSON.stringify(s.commands)} hasWhere=${s.hasWhere} tables=${JSON.stringify(s.tables)} danger=${JSON.stringify(s.dangerous)}`);
  if (c.preparedUses.some(Boolean)) console.log("  prepared", JSON.stringify(c.preparedUses));
  if (c.triggerFunctions.some(Boolean)) console.log("  trig", JSON.stringify(c.triggerFunctions));
}
