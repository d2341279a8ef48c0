// Authenticates a client that presents a JWT (as its PostgreSQL password)
// against the subjects.oidc entries of the AccessPolicies governing a
// Resource. Built once per configuration revision, so key caches live as long
// as the configuration that trusts the issuer.
//
// Order matters: the issuer is read unverified only to choose the entries and
// keys; the signature, issuer, expiry and not-before are verified next; only
// then are audiences and claims compared, so a client learns what a policy
// requires only with a token its issuer really signed.
import { jwtVerify, type JWTPayload } from "jose";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { IdentityFacts } from "@portcullis/common/policy/cel";
import { AuthenticationError, quote } from "./authentication-error.js";
import { DEFAULT_KEY_FETCH_SETTINGS, IssuerKeys, type KeyFetchSettings } from "./issuer-keys.js";
import { matchEntries, oidcEntries, type OidcEntry } from "./oidc-entries.js";
import { identityFromToken } from "./token-identity.js";
import { ACCEPTED_ALGORITHMS, readUnverifiedToken } from "./unverified-token.js";
import { verificationFailure } from "./verification-failure.js";

export interface JwtAuthenticatorOptions {
  /** The pod's namespace (the bundle's identity.namespace), for identity.namespace. */
  namespace?: string;
  /** PEM CA for HTTPS to the issuers (discovery and keys); it replaces the public roots. */
  ca?: string;
  /** Allowed clock skew for exp and nbf, in seconds; default 30. */
  clockToleranceSeconds?: number;
  /** The time tokens are checked against; default the system clock. Key caching always uses the system clock. */
  now?: () => Date;
  /** Least time between key set refetches caused by an unknown key id; default 30 s. */
  jwksCooldownMs?: number;
  /** How long fetched keys are trusted before they are fetched again; default 5 min. */
  jwksMaxAgeMs?: number;
  /** Timeout of each discovery or key set request; default 5 s. */
  fetchTimeoutMs?: number;
}

export interface AuthenticatedToken {
  identity: IdentityFacts;
  /** Names of the policies whose oidc entry the token matched. */
  policies: string[];
}

/** Entries of one issuer that share one key source (a jwksURL, or discovery). */
interface KeyGroup {
  keys: IssuerKeys;
  entries: OidcEntry[];
}

interface VerifiedOutcome {
  payload: JWTPayload;
  policies: string[];
  problems: string[];
}

type GroupOutcome = VerifiedOutcome | { problems: string[] };

const isVerified = (outcome: GroupOutcome): outcome is VerifiedOutcome => "payload" in outcome;

const DEFAULT_CLOCK_TOLERANCE_SECONDS = 30;

function groupByIssuer(entries: readonly OidcEntry[], settings: KeyFetchSettings): Map<string, KeyGroup[]> {
  const groups = new Map<string, KeyGroup>();
  for (const entry of entries) {
    const source = `${entry.issuer}\n${entry.jwksURL ?? ""}`;
    const group = groups.get(source) ?? { keys: new IssuerKeys(entry.issuer, entry.jwksURL, settings), entries: [] };
    group.entries.push(entry);
    groups.set(source, group);
  }
  const byIssuer = new Map<string, KeyGroup[]>();
  for (const group of groups.values()) byIssuer.set(group.keys.issuer, [...(byIssuer.get(group.keys.issuer) ?? []), group]);
  return byIssuer;
}

export class JwtAuthenticator {
  /** Whether any governing policy trusts an issuer, i.e. whether to ask the client for a token. */
  readonly enabled: boolean;

  private constructor(
    private readonly byIssuer: ReadonlyMap<string, KeyGroup[]>,
    private readonly options: JwtAuthenticatorOptions,
  ) {
    this.enabled = byIssuer.size > 0;
  }

  /** From the policies that govern one Resource; policies without subjects.oidc contribute nothing. */
  static fromPolicies(policies: readonly BrokeredPolicy[], options: JwtAuthenticatorOptions = {}): JwtAuthenticator {
    const settings: KeyFetchSettings = {
      ...(options.ca ? { ca: options.ca } : {}),
      cooldownMs: options.jwksCooldownMs ?? DEFAULT_KEY_FETCH_SETTINGS.cooldownMs,
      maxAgeMs: options.jwksMaxAgeMs ?? DEFAULT_KEY_FETCH_SETTINGS.maxAgeMs,
      timeoutMs: options.fetchTimeoutMs ?? DEFAULT_KEY_FETCH_SETTINGS.timeoutMs,
    };
    return new JwtAuthenticator(groupByIssuer(oidcEntries(policies), settings), options);
  }

  /**
   * The identity a token proves and the policies it satisfies; throws
   * AuthenticationError, with a message for the client, when it proves none.
   */
  async authenticate(token: string): Promise<AuthenticatedToken> {
    const { issuer } = readUnverifiedToken(token);
    const groups = this.byIssuer.get(issuer);
    if (!groups) throw new AuthenticationError(`the token's issuer ${quote(issuer)} is not trusted by any AccessPolicy governing this Resource`);
    const outcomes = await Promise.all(groups.map((group) => this.checkGroup(group, token)));
    const verified = outcomes.filter(isVerified);
    const policies = [...new Set(verified.flatMap((outcome) => outcome.policies))];
    // Every verified outcome carries the same payload: it is the one token's.
    if (verified[0] && policies.length) return { identity: identityFromToken(verified[0].payload, this.options.namespace ?? ""), policies };
    throw new AuthenticationError([...new Set(outcomes.flatMap((outcome) => outcome.problems))].join("; "));
  }

  private async checkGroup(group: KeyGroup, token: string): Promise<GroupOutcome> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, group.keys.resolve, {
        issuer: group.keys.issuer,
        algorithms: [...ACCEPTED_ALGORITHMS],
        requiredClaims: ["exp", "sub"],
        clockTolerance: this.options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS,
        ...(this.options.now ? { currentDate: this.options.now() } : {}),
      }));
    } catch (error) {
      return { problems: [verificationFailure(error).message] };
    }
    return { payload, ...matchEntries(payload, group.entries) };
  }
}
