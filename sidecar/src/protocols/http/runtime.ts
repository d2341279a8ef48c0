// Everything one http Resource needs under one configuration revision: its
// compiled policies and masking, the pooled keep-alive connections to the
// real backend (TLS verified against the Resource's CA), and the credential
// the gateway presents in the Resource's credentialHeader. A Resource whose
// configuration is broken yields a refusal message instead (fail closed).
import type { BrokeredPolicy, BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { HttpFacts, ResourceFacts } from "@portcullis/common/policy/cel";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import type { Pool } from "undici";
import { errorMessage } from "../../config/error-message.js";
import type { ResourceRuntime, RuntimeServices } from "../../runtime/registry.js";
import { SessionRulesResolver } from "../../runtime/session-rules.js";
import type { ProtocolMatcher } from "../../policy/protocol-matcher.js";
import type { RefusalEncoder } from "./responses.js";
import { dialectExchange, type ExchangeHandler } from "./exchange.js";
import { httpDialect } from "./http-dialect.js";
import { rulesReadBody } from "./http-match.js";

export const DEFAULT_MAX_BODY_BYTES = 1_048_576;
/** Keep-alive connections per backend; more requests queue in the pool. */
const UPSTREAM_CONNECTIONS = 128;

/** Where the backend is and how its TLS is verified (and the client certificate presented): for connections outside the pool (WebSocket upgrades). */
export interface UpstreamOrigin {
  scheme: "http" | "https";
  host: string;
  port: number;
  tls: { rejectUnauthorized: boolean; servername?: string; ca?: string; cert?: string; key?: string };
}

/** A client certificate and key (PEM) the gateway presents to the backend's TLS. */
export interface ClientCertificate {
  cert: string;
  key: string;
}

export interface UpstreamSettings {
  pool: Pool;
  origin: UpstreamOrigin;
  /** The Host header the backend gets: the Resource's host (and port when not the scheme's default). */
  host: string;
  /** The header the credential goes in, lower case, and its value; absent when the Resource has no credentials. */
  credential?: { name: string; value: string };
}

export interface HttpResourceRuntime<F = HttpFacts> extends ResourceRuntime {
  readonly bundle: ConfigBundle;
  readonly resource: ResourceFacts;
  readonly services: RuntimeServices;
  readonly rules: SessionRulesResolver<F>;
  /** Answers one request of this protocol. */
  readonly exchange: ExchangeHandler<F>;
  /** How this protocol's refusals are written. */
  readonly encodeRefusal: RefusalEncoder;
  readonly upstream: UpstreamSettings;
  readonly maxBodyBytes: number;
  /** Where maxBodyBytes comes from, for messages: "spec.http.maxBodyBytes". */
  readonly maxBodySetting: string;
  /** A rule's when reads the body: requests are read whole (up to maxBodyBytes) before they are decided. */
  readonly readsBody: boolean;
  /** Host names (lower case, without port) a request's Host may give besides loopback names: the Resource's. */
  readonly hostNames: ReadonlySet<string>;
}

/** What a protocol carried over HTTP adds to the shared runtime: its rules' matcher, its exchange, credential, limits and names. */
export interface ProtocolParts<F> {
  protocol: "http" | "kubernetes" | "mcp";
  matcher: ProtocolMatcher<F>;
  exchange: ExchangeHandler<F>;
  encodeRefusal: RefusalEncoder;
  /** The header and value the gateway presents, or why the Resource's credentials cannot be presented. */
  credential: UpstreamSettings["credential"] | string;
  /** Presented in the TLS handshake with the backend instead of (or besides) a header. */
  clientCertificate?: ClientCertificate;
  maxBodyBytes: number;
  maxBodySetting: string;
  readsBody: boolean;
  /** Names the agent may address the backend by (Host), beyond loopback. */
  hostNames: string[];
}

/** The header and value the gateway presents; undefined without credentials; a string when they cannot be presented. */
export function credentialFor(resource: BrokeredResource): UpstreamSettings["credential"] | string {
  const { credentials, spec } = resource;
  if (!credentials) return undefined;
  if (!("token" in credentials)) return `an ${spec?.protocol ?? "http"} Resource's credentials are a token (spec.credentials.tokenKey)`;
  const header = spec?.http?.credentialHeader;
  if (!header) return "it has credentials but no spec.http.credentialHeader to present them in";
  return { name: header.name.toLowerCase(), value: `${header.valuePrefix ?? ""}${credentials.token}` };
}

/** undici (about 14 MiB once loaded) loads with the first HTTP or MCP upstream, not in every gateway. */
let undiciPool: typeof Pool | undefined;

/** Keep-alive connections to the backend, TLS verified as endpoint.tls says; and the Host the backend expects. */
export function upstreamPool(
  spec: NonNullable<BrokeredResource["spec"]>,
  caBundle: string | undefined,
  clientCertificate?: ClientCertificate,
): { pool: Pool; authority: string; origin: UpstreamOrigin } {
  const mode = spec.endpoint.tls?.mode ?? "verify-full";
  const scheme = mode === "disable" ? "http" : "https";
  const { host, port } = spec.endpoint;
  const literal = host.includes(":") ? `[${host}]` : host;
  // An address is checked against the certificate's IP names; TLS itself carries only host names (SNI).
  const servername = spec.endpoint.tls?.serverName ?? (isIP(host) ? undefined : host);
  const tls = { rejectUnauthorized: mode === "verify-full", ...(servername ? { servername } : {}), ...(caBundle ? { ca: caBundle } : {}), ...clientCertificate };
  undiciPool ??= (createRequire(import.meta.url)("undici") as typeof import("undici")).Pool;
  const pool = new undiciPool(`${scheme}://${literal}:${port}`, { connections: UPSTREAM_CONNECTIONS, pipelining: 1, ...(scheme === "https" ? { connect: tls } : {}) });
  return { pool, origin: { scheme, host, port, tls }, authority: `${literal}${port === (scheme === "https" ? 443 : 80) ? "" : `:${port}`}` };
}

/** The runtime shared by protocols carried over HTTP: the policies governing the Resource, its backend's pool, and the protocol's parts. */
export function httpBackedRuntime<F>(
  bundle: ConfigBundle,
  resource: BrokeredResource,
  services: RuntimeServices,
  partsFor: (spec: NonNullable<BrokeredResource["spec"]>, governing: BrokeredPolicy[]) => ProtocolParts<F>,
): HttpResourceRuntime<F> | string {
  const unavailable = `portcullis: Resource "${resource.name}" is not available`;
  if (resource.error || !resource.spec) return `${unavailable}: ${resource.error ?? "it does not exist"}`;
  const governing = bundle.policies.filter((policy) => policy.spec.resources.includes(resource.name));
  if (!governing.length) return `${unavailable}: no AccessPolicy that applies to this pod names it`;
  const { spec } = resource;
  const parts = partsFor(spec, governing);
  if (typeof parts.credential === "string") return `${unavailable}: ${parts.credential}`;
  const facts: ResourceFacts = { name: resource.name, protocol: parts.protocol };
  let rules: SessionRulesResolver<F>;
  try {
    rules = new SessionRulesResolver(bundle, governing, facts, parts.matcher);
  } catch (error) {
    return `${unavailable}: ${errorMessage(error)}`;
  }
  const { pool, authority, origin } = upstreamPool(spec, resource.caBundle, parts.clientCertificate);
  return {
    bundle,
    resource: facts,
    services,
    rules,
    exchange: parts.exchange,
    encodeRefusal: parts.encodeRefusal,
    upstream: { pool, origin, host: authority, ...(parts.credential ? { credential: parts.credential } : {}) },
    maxBodyBytes: parts.maxBodyBytes,
    maxBodySetting: parts.maxBodySetting,
    readsBody: parts.readsBody,
    hostNames: new Set(parts.hostNames),
    close: () => {
      pool.close().catch(() => undefined);
    },
  };
}

/** "policy/rule" of every rule whose match names the Upgrade header: the rules that may open a WebSocket. */
function upgradeRules(governing: readonly BrokeredPolicy[]): Set<string> {
  const names = new Set<string>();
  for (const policy of governing) {
    for (const rule of policy.spec.rules ?? []) {
      if (rule.match?.http?.headers?.some((header) => header.name.toLowerCase() === "upgrade")) names.add(`${policy.name}/${rule.name}`);
    }
  }
  return names;
}

/** The names a Resource's backend goes by: its host and the TLS server name, lower case. */
export function backendNames(spec: NonNullable<BrokeredResource["spec"]>): string[] {
  return [...new Set([spec.endpoint.host.toLowerCase(), ...(spec.endpoint.tls?.serverName ? [spec.endpoint.tls.serverName.toLowerCase()] : [])])];
}

export function httpRuntime(bundle: ConfigBundle, resource: BrokeredResource, services: RuntimeServices): HttpResourceRuntime | string {
  return httpBackedRuntime(bundle, resource, services, (spec, governing) => {
    const names = backendNames(spec);
    const dialect = httpDialect(spec.endpoint.host.toLowerCase(), upgradeRules(governing));
    return {
      protocol: "http",
      matcher: dialect.matcher,
      exchange: dialectExchange(dialect),
      encodeRefusal: dialect.encodeRefusal,
      credential: credentialFor(resource),
      maxBodyBytes: spec.http?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxBodySetting: "spec.http.maxBodyBytes",
      readsBody: rulesReadBody(governing.flatMap((policy) => policy.spec.rules ?? [])),
      hostNames: names,
    };
  });
}
