// Throwaway in-process gateway for review (deleted afterwards).
import { initClassifier } from "./dist/protocols/postgres/sql/classify.js";
import { SQL_MATCHER } from "./dist/protocols/postgres/sql/sql-match.js";
import { compilePolicies } from "./dist/policy/engine.js";
import { PostgresListener } from "./dist/protocols/postgres/listener.js";
import { PostgresGuard } from "./dist/protocols/postgres/guard.js";
import { TableCatalog } from "./dist/protocols/postgres/catalog.js";
import { createGatewayMetrics } from "./dist/observability/metrics.js";
await initClassifier();
const rules = JSON.parse(process.env.RULES);
const policies = compilePolicies([{ name: "p", spec: { subjects: { serviceAccounts: ["bot"] }, resources: ["db"], rules, defaultAction: "deny" } }], { name: "db" }, SQL_MATCHER);
const identity = { username: "bot", groups: [], serviceAccount: "bot", namespace: "ns", pod: "p", claims: {} };
const resource = { name: "db", protocol: "postgres" };
const target = (client, parameters) => ({ host: "127.0.0.1", port: 55432, tls: { mode: "disable" }, username: "postgres", password: "x", database: "postgres", parameters });
const catalog = new TableCatalog(() => target(undefined, { application_name: "portcullis-catalog" }));
let seq = 0;
const metrics = createGatewayMetrics();
const listener = new PostgresListener({
  host: "127.0.0.1", port: Number(process.env.GWPORT),
  runtime: () => ({
    wantsPassword: false,
    upstreamTarget: target,
    openSession: async () => {
      const recorder = {
        append: async (kind, data) => { seq++; if (kind === "request") console.log(`[gw] #${seq} ${data.decision.action} ${data.decision.rule} :: ${data.postgres.text.replace(/\s+/g, " ").slice(0, 110)} :: judged=${JSON.stringify(data.postgres.classification.commands)}`); return { seq }; },
        end: async () => undefined,
      };
      const approvals = { obtain: async () => ({ approved: false, message: "approval needed (mock: not approved)" }), end() {} };
      const guard = new PostgresGuard({ resource, identity, policies, recorder, approvals, maskingActive: false, metrics, functions: catalog });
      return { guard, masking: { active: false, plan: async () => undefined }, sessionId: "s" };
    },
  }),
  onError: (e) => console.log("[gw] error", e),
});
await listener.listen();
console.log("[gw] listening");
