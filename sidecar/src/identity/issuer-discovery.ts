// Where an issuer publishes its signing keys, from its OpenID discovery
// document, for AccessPolicy entries that give no jwksURL. The document must
// name the same issuer (OpenID Connect Discovery 1.0, section 4.3): otherwise
// one issuer's URL could hand out another's keys.
import type { FetchImplementation } from "jose";
import { AuthenticationError, errorText, quote } from "./authentication-error.js";

export function discoveryURL(issuer: string): string {
  return `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
}

/** The jwks_uri of a discovery document, checked; throws a message that says what is wrong with it. */
export function jwksURLFromDiscovery(document: unknown, issuer: string): URL {
  if (typeof document !== "object" || document === null || Array.isArray(document)) throw new Error("it is not a JSON object");
  const fields = document as Record<string, unknown>;
  if (fields["issuer"] !== issuer) throw new Error(`it names issuer ${quote(fields["issuer"])}, not ${quote(issuer)}`);
  const jwksUri = fields["jwks_uri"];
  if (typeof jwksUri !== "string") throw new Error("it has no jwks_uri");
  const url = URL.canParse(jwksUri) ? new URL(jwksUri) : undefined;
  if (url?.protocol !== "https:") throw new Error(`its jwks_uri ${quote(jwksUri)} is not an https URL`);
  return url;
}

async function fetchDocument(url: string, fetch: FetchImplementation, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, { method: "GET", headers: new Headers({ accept: "application/json" }), redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
  if (response.status !== 200) throw new Error(`the server answered HTTP ${response.status}`);
  return response.json();
}

/** Fetches the issuer's discovery document and returns its jwks_uri; throws AuthenticationError. */
export async function discoverJwksURL(issuer: string, fetch: FetchImplementation, timeoutMs: number): Promise<URL> {
  const url = discoveryURL(issuer);
  try {
    return jwksURLFromDiscovery(await fetchDocument(url, fetch, timeoutMs), issuer);
  } catch (error) {
    throw new AuthenticationError(`the signing keys of issuer ${quote(issuer)} could not be found: discovery document ${url}: ${errorText(error)}`);
  }
}
