// The request target as the backend will read it, canonicalised before any
// rule sees it: percent-encoding of unreserved characters decoded and other
// escapes in upper case, dot segments resolved, duplicate and trailing slashes
// removed, the query's pairs normalised the same way. The gateway forwards
// exactly this form, so what the backend sees is what the policy judged.
// Whatever backends read differently is refused instead of guessed: encoded
// slashes and backslashes, path parameters (;), NUL and control characters,
// fragments, climbing above the root, asterisk-form and CONNECT.

export interface CanonicalTarget {
  /** e.g. /v1/customers/7 — always starts with "/", no trailing slash but the root. */
  path: string;
  /** The query's pairs, decoded ("+" as a space), in order. */
  query: Array<[string, string]>;
  /** What is sent upstream: the canonical path and the canonical query string. */
  target: string;
  /** The authority of an absolute-form target (http://host:port/…), to check against Host. */
  authority?: string;
}

export type TargetResult = ({ ok: true } & CanonicalTarget) | { ok: false; message: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
// pchar = unreserved / pct-encoded / sub-delims / ":" / "@"; ";" is refused separately.
const PATH_CHARS = /^[A-Za-z0-9\-._~%!$&'()*+,;=:@/]*$/;
const QUERY_CHARS = /^[A-Za-z0-9\-._~%!$&'()*+,=:@/?]*$/;
const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

class Refusal extends Error {}

/** Percent-escapes normalised: unreserved characters decoded, the rest upper-case; encoded "/" and "\" and controls refused. */
function normaliseEscapes(text: string, where: string): string {
  return text.replace(/%(..)?/g, (_match, hex: string | undefined) => {
    if (hex === undefined || !/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Refusal(`the ${where} has a "%" that is not followed by two hex digits`);
    const code = Number.parseInt(hex, 16);
    const char = String.fromCharCode(code);
    if (UNRESERVED.test(char)) return char;
    if (where === "path" && (char === "/" || char === "\\")) throw new Refusal(`an encoded ${char === "/" ? "slash (%2F)" : "backslash (%5C)"} in the path is refused: backends disagree on whether it separates segments`);
    if (code < 0x20 || code === 0x7f) throw new Refusal(`the ${where} holds an encoded control character (%${hex.toUpperCase()})`);
    return `%${hex.toUpperCase()}`;
  });
}

function canonicalPath(raw: string): string {
  if (!PATH_CHARS.test(raw)) throw new Refusal("the path holds characters that must be percent-encoded (spaces, quotes, backslashes, non-ASCII)");
  if (raw.includes(";")) throw new Refusal('a ";" in the path (path parameters) is refused: some servers drop what follows it, others do not');
  const segments: string[] = [];
  for (const segment of normaliseEscapes(raw, "path").split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (segments.length === 0) throw new Refusal('the path climbs above the root with ".."');
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  return `/${segments.join("/")}`;
}

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    throw new Refusal("the query holds percent-encoded bytes that are not UTF-8");
  }
}

function canonicalQuery(raw: string): { pairs: Array<[string, string]>; text: string } {
  if (raw.includes(";")) throw new Refusal('a ";" in the query is refused: some servers split parameters at it, others do not');
  if (!QUERY_CHARS.test(raw)) throw new Refusal("the query holds characters that must be percent-encoded");
  const parts = normaliseEscapes(raw, "query")
    .split("&")
    .filter((part) => part !== "");
  const pairs = parts.map((part): [string, string] => {
    const equals = part.indexOf("=");
    return equals < 0 ? [decodeComponent(part), ""] : [decodeComponent(part.slice(0, equals)), decodeComponent(part.slice(equals + 1))];
  });
  if (pairs.some(([name]) => name === "_method")) throw new Refusal('a "_method" query parameter is refused: frameworks read it as the request method');
  return { pairs, text: parts.join("&") };
}

/** An absolute-form target split into its authority and the rest; origin-form as it is. */
function splitAbsolute(raw: string): { authority?: string; rest: string } {
  const absolute = ABSOLUTE.exec(raw);
  if (!absolute) return { rest: raw };
  if (!/^https?$/i.test(absolute[1] ?? "")) throw new Refusal(`an absolute-form target with scheme "${absolute[1] ?? ""}" is refused`);
  return { authority: (absolute[2] ?? "").toLowerCase(), rest: absolute[3] || "/" };
}

export function canonicalTarget(raw: string, method: string): TargetResult {
  try {
    if (method === "CONNECT") throw new Refusal("CONNECT is refused: the gateway forwards requests to one backend, not tunnels");
    if (method === "TRACE" || method === "TRACK") throw new Refusal(`${method} is refused: the backend would echo the request, with the credential the gateway adds`);
    if (raw === "*") throw new Refusal("asterisk-form targets (OPTIONS *) are refused");
    if (raw.includes("#")) throw new Refusal("a request target must not carry a fragment (#)");
    const { authority, rest } = splitAbsolute(raw);
    if (!rest.startsWith("/")) throw new Refusal("the request target must start with / (origin-form) or be an absolute http(s) URL");
    const question = rest.indexOf("?");
    const path = canonicalPath(question < 0 ? rest : rest.slice(0, question));
    const query = question < 0 ? { pairs: [], text: "" } : canonicalQuery(rest.slice(question + 1));
    return { ok: true, path, query: query.pairs, target: query.text ? `${path}?${query.text}` : path, ...(authority !== undefined ? { authority } : {}) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, message: error.message };
    throw error;
  }
}
