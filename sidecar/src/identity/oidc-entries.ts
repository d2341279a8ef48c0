// The subjects.oidc entries of the policies that govern a Resource, and
// whether a verified token satisfies one: its audience and the claims the
// entry requires. Pure, so every rule of the AccessPolicy contract is tested
// without a key server. Signature, issuer and expiry are checked before this
// runs (jwt-authenticator.ts), so the requirements it names in a message are
// only ever shown to holders of a validly signed token.
import type { JWTPayload } from "jose";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { quote } from "./authentication-error.js";

/** One trusted issuer of one AccessPolicy. */
export interface OidcEntry {
  policy: string;
  issuer: string;
  /** Absent: discovered from the issuer's /.well-known/openid-configuration. */
  jwksURL?: string;
  audiences: string[];
  /** Claim name to the string the token must carry. */
  claims: Record<string, string>;
}

export function oidcEntries(policies: readonly BrokeredPolicy[]): OidcEntry[] {
  return policies.flatMap((policy) =>
    (policy.spec.subjects.oidc ?? []).map((entry) => ({
      policy: policy.name,
      issuer: entry.issuer,
      ...(entry.jwksURL ? { jwksURL: entry.jwksURL } : {}),
      audiences: [...entry.audiences],
      claims: { ...(entry.claims ?? {}) },
    })),
  );
}

const quoteAll = (values: readonly string[]): string => values.map(quote).join(", ");

/** Why the token's aud names none of the accepted audiences, or undefined when one matches. */
export function audienceProblem(payload: JWTPayload, accepted: readonly string[]): string | undefined {
  const { aud } = payload;
  const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud.filter((value) => typeof value === "string") : [];
  if (audiences.some((audience) => accepted.includes(audience))) return undefined;
  if (!audiences.length) return `the token has no audience (aud claim); accepted: ${quoteAll(accepted)}`;
  return `audience ${quoteAll(audiences)} not accepted; accepted: ${quoteAll(accepted)}`;
}

// Scalars compare by their text, so {"email_verified": "true"} matches a JSON true.
const scalarEquals = (value: unknown, expected: string): boolean =>
  (typeof value === "string" || typeof value === "number" || typeof value === "boolean") && String(value) === expected;

/** Whether a claim carries the expected string: equal for a scalar, a member for an array. */
export function claimHolds(value: unknown, expected: string): boolean {
  return Array.isArray(value) ? value.some((element) => scalarEquals(element, expected)) : scalarEquals(value, expected);
}

/** Why the token's claims fail the required ones (every failure, in the entry's order), or undefined. */
export function claimsProblem(payload: JWTPayload, required: Readonly<Record<string, string>>): string | undefined {
  const failures = Object.entries(required)
    .filter(([name, expected]) => !claimHolds(payload[name], expected))
    .map(([name, expected]) => `claim ${name} must ${Array.isArray(payload[name]) ? "include" : "be"} ${quote(expected)}`);
  return failures.length ? failures.join(", ") : undefined;
}

export function entryProblem(payload: JWTPayload, entry: OidcEntry): string | undefined {
  return audienceProblem(payload, entry.audiences) ?? claimsProblem(payload, entry.claims);
}

export interface EntryMatch {
  /** Names of the policies with a fully matching entry, each once, in entry order. */
  policies: string[];
  /** Why each other entry did not match, naming its policy. */
  problems: string[];
}

/** Matches a verified token against entries of its issuer: any entry that fully matches counts. */
export function matchEntries(payload: JWTPayload, entries: readonly OidcEntry[]): EntryMatch {
  const policies = new Set<string>();
  const problems: string[] = [];
  for (const entry of entries) {
    const problem = entryProblem(payload, entry);
    if (problem === undefined) policies.add(entry.policy);
    else problems.push(`${problem} (AccessPolicy ${quote(entry.policy)})`);
  }
  return { policies: [...policies], problems };
}
