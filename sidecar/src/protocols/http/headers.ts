// Which request headers the policy sees and the backend gets, and which
// response headers the agent gets. The agent's own credentials
// (Authorization, Proxy-Authorization, and whatever it put in the Resource's
// credential header) never leave the gateway; hop-by-hop headers stay on
// their hop; Host is the backend's.
import type http from "node:http";
import type { UpstreamSettings } from "./runtime.js";

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authenticate", "expect"]);
const AGENT_CREDENTIALS = new Set(["authorization", "proxy-authorization"]);
/** Claims about the client or the original request a backend may trust: only a proxy in front of the gateway could make them, and there is none. */
const FORWARDING = new Set(["forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-real-ip"]);
/** Headers frameworks read as another method or path than the request line's: the policy judged the request line. */
const OVERRIDES = ["x-http-method-override", "x-method-override", "x-http-method", "x-original-url", "x-rewrite-url", "x-original-method"];

/** Why the request's headers cannot be accepted, if so. */
export function overrideProblem(headers: http.IncomingHttpHeaders): string | undefined {
  const found = OVERRIDES.find((name) => headers[name] !== undefined);
  return found && `the ${found} header is refused: frameworks read it as another method or path than the one the policy judged`;
}

function connectionListed(headers: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>): Set<string> {
  const value = headers.connection;
  const text = Array.isArray(value) ? value.join(",") : (value ?? "");
  return new Set(text.split(",").map((name) => name.trim().toLowerCase()).filter(Boolean));
}

/** The end-to-end request headers, minus the agent's credentials and the credential header: what rules see and the backend gets. */
export function forwardedRequestHeaders(headers: http.IncomingHttpHeaders, credentialHeader: string | undefined): Record<string, string> {
  const listed = connectionListed(headers);
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === "host" || name === "content-length" || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    if (AGENT_CREDENTIALS.has(name) || FORWARDING.has(name) || name === credentialHeader) continue;
    result[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return result;
}

/** The response headers the agent gets: the backend's, minus hop-by-hop ones. */
export function returnedResponseHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const listed = connectionListed(headers);
  const result: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    result[name] = value;
  }
  return result;
}

/** The bearer token the agent presented to identify itself, if any. */
export function bearerToken(headers: http.IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? "");
  return match?.[1];
}

/** What the backend gets: `headers`, the Host it expects, and the Resource's credential in its header. */
export function backendHeaders(upstream: UpstreamSettings, headers: Record<string, string>): Record<string, string> {
  return { ...headers, host: upstream.host, ...(upstream.credential ? { [upstream.credential.name]: upstream.credential.value } : {}) };
}
