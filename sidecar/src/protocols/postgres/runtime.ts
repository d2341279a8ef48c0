// Everything one postgres Resource needs to take sessions under one
// configuration revision: its compiled policies and masking rules, where the
// real server is and the credential for it. Built once per revision; a
// Resource whose configuration is broken yields a refusal message instead,
// and its listener refuses every session with it (fail closed).
import type { BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { ResourceFacts } from "@portcullis/common/policy/cel";
import { SpoolFullError } from "../../evidence/spool.js";
import type { RuntimeServices } from "../../runtime/registry.js";
import { SQLSTATE } from "./backend.js";
import { TableCatalog } from "./catalog.js";
import { type ClientInfo, type OpenedSession, type PostgresResourceRuntime, StartupRefusal } from "./listener.js";
import type { UpstreamTarget } from "./upstream.js";
import { ApprovalFlow } from "../../approvals/approval-flow.js";
import { PostgresGuard } from "./guard.js";
import { CatalogResultMasking } from "./result-masking.js";
import { type SessionRules, SessionRulesResolver } from "../../runtime/session-rules.js";
import { IdentityRefusal } from "../../runtime/identity-refusal.js";
import type { SqlFacts } from "@portcullis/common/policy/cel";
import { SQL_MATCHER } from "./sql/sql-match.js";
import { errorMessage } from "../../config/error-message.js";
import type { ResultColumn } from "../../masking/result-columns.js";



/** The runtime for a postgres Resource, or why it cannot take sessions. */
export function postgresRuntime(bundle: ConfigBundle, resource: BrokeredResource, services: RuntimeServices): PostgresResourceRuntime | string {
  const unavailable = `portcullis: Resource "${resource.name}" is not available`;
  if (resource.error || !resource.spec) return `${unavailable}: ${resource.error ?? "it does not exist"}`;
  if (!resource.credentials || !("password" in resource.credentials)) return `${unavailable}: it has no username and password credentials (spec.credentials)`;
  const governing = bundle.policies.filter((policy) => policy.spec.resources.includes(resource.name));
  if (!governing.length) return `${unavailable}: no AccessPolicy that applies to this pod names it`;
  const facts: ResourceFacts = { name: resource.name, protocol: "postgres" };
  let rules: SessionRulesResolver<SqlFacts>;
  try {
    rules = new SessionRulesResolver(bundle, governing, facts, SQL_MATCHER);
  } catch (error) {
    return `${unavailable}: ${errorMessage(error)}`;
  }
  const { spec, credentials, caBundle } = resource;
  const target = (client: ClientInfo | undefined, parameters: Record<string, string>): UpstreamTarget => ({
    host: spec.endpoint.host,
    port: spec.endpoint.port,
    tls: { mode: spec.endpoint.tls?.mode ?? "verify-full", ...(caBundle ? { ca: caBundle } : {}), ...(spec.endpoint.tls?.serverName ? { serverName: spec.endpoint.tls.serverName } : {}) },
    username: credentials.username,
    password: credentials.password,
    database: spec.postgres?.database ?? client?.database ?? credentials.username,
    parameters,
  });
  // Table OIDs are per database: one catalog connection for each database sessions use.
  const catalogs = new Map<string, TableCatalog>();
  const catalogFor = (client: ClientInfo): TableCatalog => {
    const database = target(client, {}).database;
    let catalog = catalogs.get(database);
    if (!catalog) {
      catalog = new TableCatalog(() => target(client, { application_name: "portcullis-catalog" }));
      catalogs.set(database, catalog);
    }
    return catalog;
  };
  return {
    wantsPassword: rules.wantsToken,
    close: () => {
      for (const catalog of catalogs.values()) catalog.close();
    },
    upstreamTarget: target,
    openSession: async (client, password) => openSession(bundle, facts, client, { services, rules: await sessionRules(rules, password), catalog: catalogFor(client) }),
  };
}

/** The session's identity and rules; a token that is not accepted (or missing) refuses the startup with its SQLSTATE. */
async function sessionRules(rules: SessionRulesResolver<SqlFacts>, password: string | undefined): Promise<SessionRules<SqlFacts>> {
  try {
    return await rules.resolve(password);
  } catch (error) {
    if (error instanceof IdentityRefusal) throw new StartupRefusal(error.reason === "token-rejected" ? SQLSTATE.invalidAuthorization : SQLSTATE.invalidPassword, error.message);
    throw error;
  }
}

interface SessionParts {
  services: RuntimeServices;
  rules: SessionRules<SqlFacts>;
  catalog: TableCatalog;
}

async function openSession(bundle: ConfigBundle, resource: ResourceFacts, client: ClientInfo, parts: SessionParts): Promise<OpenedSession> {
  const { services, catalog } = parts;
  const { identity, policies, masker, policyNames } = parts.rules;
  let recorder;
  try {
    recorder = await services.spool.startSession({
      data: {
        identity,
        resource: { name: resource.name, namespace: bundle.identity.namespace, protocol: resource.protocol },
        client: { address: client.address, database: client.database, user: client.user, application: client.applicationName },
        policies: policyNames,
      },
    });
    await recorder.started;
  } catch (error) {
    if (error instanceof SpoolFullError) throw new StartupRefusal(SQLSTATE.configurationLimitExceeded, `portcullis: ${error.message}`);
    throw new StartupRefusal(SQLSTATE.cannotConnectNow, `portcullis: the session's evidence cannot be recorded, so it is refused: ${errorMessage(error)}`);
  }
  const sessionId = recorder.session;
  const approvals = new ApprovalFlow({ service: services.approvals, grants: services.grants, recorder, resource: resource.name, policies: bundle.policies, identity: bundle.identity, sessionUser: identity.username, sessionId });
  const guard = new PostgresGuard({
    resource,
    identity,
    policies,
    recorder,
    approvals,
    maskingActive: masker.active,
    ...(masker.active ? { literals: (value: string, column?: ResultColumn) => masker.literal(value, column) } : {}),
    metrics: services.metrics,
    functions: catalog,
  });
  return { guard, masking: new CatalogResultMasking(masker, catalog), sessionId };
}
