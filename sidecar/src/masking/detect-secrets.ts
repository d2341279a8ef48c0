// Detectors for credentials: JSON Web Tokens and API keys. A JWT is confirmed
// by decoding its header (JSON naming an "alg"), so three dotted words are
// not enough. API keys are recognised by the prefixes their issuers put on
// them, or by an api_key= / "apiKey": label, in which case only the value is
// masked and the label stays readable.
import { endsToken, startsToken, type Detector } from "./detector.js";
import type { Span } from "./re2-search.js";

export const jwt: Detector = {
  // Any prefix of a token matches too, so a token longer than the search
  // overlap that a window cuts short is still found, and then read whole.
  pattern: String.raw`\beyJ[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*){0,2}`,
  mayContain: (text) => text.includes("eyJ"),
  accept: (text, start, end) => {
    if (!startsToken(text, start, ".") || !endsToken(text, end, ".")) return undefined;
    const [header = "", payload = "", signature] = text.slice(start, end).split(".");
    return signature !== undefined && payload !== "" && headerNamesAlgorithm(header) ? { start, end } : undefined;
  },
};

function headerNamesAlgorithm(segment: string): boolean {
  try {
    const header: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof header === "object" && header !== null && typeof (header as { alg?: unknown }).alg === "string";
  } catch {
    return false;
  }
}

const ISSUER_PREFIXES = [
  String.raw`sk_(?:live|test)_[0-9A-Za-z]{8,}`, // Stripe secret keys
  String.raw`pk_live_[0-9A-Za-z]{8,}`, // Stripe publishable keys
  String.raw`gh[pos]_[0-9A-Za-z]{30,}`, // GitHub tokens
  String.raw`github_pat_[0-9A-Za-z_]{20,}`, // GitHub fine-grained tokens
  String.raw`AKIA[0-9A-Z]{16}`, // AWS access key IDs
  String.raw`xox[baprs]-[0-9A-Za-z-]{8,}`, // Slack tokens
  String.raw`AIza[0-9A-Za-z_-]{35}`, // Google API keys
];
const LABELLED_KEY = String.raw`(?i:api[_-]?key)["']?\s*[=:]\s*["']?[0-9A-Za-z._~+/=-]{8,}`;
const MARKERS = ["sk_live_", "sk_test_", "pk_live_", "ghp_", "gho_", "ghs_", "github_pat_", "AKIA", "xox", "AIza"];

export const apiKey: Detector = {
  pattern: [...ISSUER_PREFIXES, LABELLED_KEY].join("|"),
  mayContain: (text) => MARKERS.some((marker) => text.includes(marker)) || text.toLowerCase().includes("api"),
  accept: acceptApiKey,
};

function acceptApiKey(text: string, start: number, end: number): Span | undefined {
  const label = text.slice(start, start + 3).toLowerCase() === "api";
  // A label may be part of a longer name (STRIPE_API_KEY=...); a prefixed key must start a word.
  if (label) return { start: labelledValueStart(text, start, end), end };
  return startsToken(text, start, "") && endsToken(text, end, "") ? { start, end } : undefined;
}

/** Where the value starts after api_key, its separator, spaces and an opening quote. */
function labelledValueStart(text: string, start: number, end: number): number {
  let i = start;
  while (i < end && text.charAt(i) !== "=" && text.charAt(i) !== ":") i += 1;
  i += 1;
  while (i < end && /[\s"']/.test(text.charAt(i))) i += 1;
  return i;
}
