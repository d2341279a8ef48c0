// Everything one http Resource needs under one configuration revision: its
// compiled policies and masking, the pooled keep-alive connections to the
// real backend (TLS verified against the Resource's CA), and the credential
// the gateway presents in the Resource's credentialHeader. A Resource whose
// configuration is broken yields a refusal message instead (fail closed).
import type { BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { HttpFacts, ResourceFacts } from "@portcullis/common/policy/cel";
import { Pool } from "undici";
import { terminatesAgentTls } from "@portcullis/common/config/agent-tls";
import { errorMessage } from "../../config/error-message.js";
import type { PodCertificates } from "../../runtime/pod-certificates.js";
import type { ResourceRuntime, RuntimeServices } from "../../runtime/registry.js";
import { SessionRulesResolver } from "../../runtime/session-rules.js";
import { HTTP_MATCHER, rulesReadBody } from "./http-match.js";

export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** Keep-alive connections per backend; more requests queue in the pool. */
const UPSTREAM_CONNECTIONS = 128;

/** Where the backend is and how its TLS is verified: for connections outside the pool (WebSocket upgrades). */
export interface UpstreamOrigin {
  scheme: "http" | "https";
  host: string;
  port: number;
  tls: { rejectUnauthorized: boolean; servername: string; ca?: string };
}

export interface UpstreamSettings {
  pool: Pool;
  origin: UpstreamOrigin;
  /** The Host header the backend gets: the Resource's host (and port when not the scheme's default). */
  host: string;
  /** The header the credential goes in, lower case, and its value; absent when the Resource has no credentials. */
  credential?: { name: string; value: string };
}

export interface HttpResourceRuntime extends ResourceRuntime {
  readonly bundle: ConfigBundle;
  readonly resource: ResourceFacts;
  readonly services: RuntimeServices;
  readonly rules: SessionRulesResolver<HttpFacts>;
  readonly upstream: UpstreamSettings;
  readonly maxBodyBytes: number;
  /** A rule's when reads http.body: requests are read whole (up to maxBodyBytes) before they are decided. */
  readonly readsBody: boolean;
  /** The host rules see (http.host): the backend's, lower case, without port. */
  readonly factsHost: string;
  /** Host names (lower case, without port) a request's Host may give besides loopback names: the Resource's. */
  readonly hostNames: ReadonlySet<string>;
  /** Transparent HTTPS: the agent's client expects the backend's TLS, so the listener presents a pod-CA certificate for these names. */
  readonly agentTls?: { names: string[]; certificates: PodCertificates };
}



/** The header and value the gateway presents; undefined without credentials; a string when they cannot be presented. */
function credentialFor(resource: BrokeredResource): UpstreamSettings["credential"] | string {
  const { credentials, spec } = resource;
  if (!credentials) return undefined;
  if (!("token" in credentials)) return "an http Resource's credentials are a token (spec.credentials.tokenKey)";
  const header = spec?.http?.credentialHeader;
  if (!header) return "it has credentials but no spec.http.credentialHeader to present them in";
  return { name: header.name.toLowerCase(), value: `${header.valuePrefix ?? ""}${credentials.token}` };
}

/** Keep-alive connections to the backend, TLS verified as endpoint.tls says; and the Host the backend expects. */
function upstreamPool(spec: NonNullable<BrokeredResource["spec"]>, caBundle: string | undefined): { pool: Pool; authority: string; origin: UpstreamOrigin } {
  const mode = spec.endpoint.tls?.mode ?? "verify-full";
  const scheme = mode === "disable" ? "http" : "https";
  const { host, port } = spec.endpoint;
  const literal = host.includes(":") ? `[${host}]` : host;
  const tls = { rejectUnauthorized: mode === "verify-full", servername: spec.endpoint.tls?.serverName ?? host, ...(caBundle ? { ca: caBundle } : {}) };
  const pool = new Pool(`${scheme}://${literal}:${port}`, { connections: UPSTREAM_CONNECTIONS, pipelining: 1, ...(scheme === "https" ? { connect: tls } : {}) });
  return { pool, origin: { scheme, host, port, tls }, authority: `${literal}${port === (scheme === "https" ? 443 : 80) ? "" : `:${port}`}` };
}

export function httpRuntime(bundle: ConfigBundle, resource: BrokeredResource, services: RuntimeServices): HttpResourceRuntime | string {
  const unavailable = `portcullis: Resource "${resource.name}" is not available`;
  if (resource.error || !resource.spec) return `${unavailable}: ${resource.error ?? "it does not exist"}`;
  const governing = bundle.policies.filter((policy) => policy.spec.resources.includes(resource.name));
  if (!governing.length) return `${unavailable}: no AccessPolicy that applies to this pod names it`;
  const { spec } = resource;
  const credential = credentialFor(resource);
  if (typeof credential === "string") return `${unavailable}: ${credential}`;
  const facts: ResourceFacts = { name: resource.name, protocol: "http" };
  let rules: SessionRulesResolver<HttpFacts>;
  try {
    rules = new SessionRulesResolver(bundle, governing, facts, HTTP_MATCHER);
  } catch (error) {
    return `${unavailable}: ${errorMessage(error)}`;
  }
  const { pool, authority, origin } = upstreamPool(spec, resource.caBundle);
  const names = [...new Set([spec.endpoint.host.toLowerCase(), ...(spec.endpoint.tls?.serverName ? [spec.endpoint.tls.serverName.toLowerCase()] : [])])];
  return {
    bundle,
    resource: facts,
    services,
    rules,
    upstream: { pool, origin, host: authority, ...(credential ? { credential } : {}) },
    maxBodyBytes: spec.http?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    readsBody: rulesReadBody(governing.flatMap((policy) => policy.spec.rules ?? [])),
    factsHost: spec.endpoint.host.toLowerCase(),
    hostNames: new Set(names),
    ...(terminatesAgentTls(resource.spec) ? { agentTls: { names, certificates: services.certificates } } : {}),
    close: () => {
      pool.close().catch(() => undefined);
    },
  };
}
