// The signing keys of one trusted issuer, fetched over HTTPS and cached.
//
// Cache semantics (jose's createRemoteJWKSet, with the settings below):
// - keys are fetched on first use and kept for maxAgeMs (default 5 minutes);
//   a key the issuer removes stays trusted until that age passes or until a
//   refetch replaces the set, whichever is first;
// - a token whose key id is not in the set triggers one refetch, at most once
//   per cooldownMs (default 30 seconds) after the last successful fetch, so a
//   rotated-in key is picked up at once while a flood of made-up key ids
//   cannot make the gateway hammer the issuer;
// - concurrent verifications share one request; a failed fetch is not cached.
// The discovery document (when no jwksURL is given) is fetched once and kept
// for the life of the authenticator, which is rebuilt with each configuration
// revision; a failed discovery is retried by the next token.
import { createRemoteJWKSet, type CryptoKey, customFetch, errors, type FlattenedJWSInput, type JWSHeaderParameters, type RemoteJWKSet } from "jose";
import { AuthenticationError, errorText, quote } from "./authentication-error.js";
import { httpsFetch } from "./https-fetch.js";
import { discoverJwksURL } from "./issuer-discovery.js";

export interface KeyFetchSettings {
  /** PEM CA for the issuer's HTTPS endpoints; absent: the public roots. */
  ca?: string;
  cooldownMs: number;
  maxAgeMs: number;
  /** Per request, discovery and key set alike. */
  timeoutMs: number;
}

export const DEFAULT_KEY_FETCH_SETTINGS: KeyFetchSettings = { cooldownMs: 30_000, maxAgeMs: 5 * 60_000, timeoutMs: 5_000 };

export class IssuerKeys {
  private keySet: Promise<{ url: URL; keys: RemoteJWKSet }> | undefined;
  private readonly fetch;

  constructor(
    readonly issuer: string,
    private readonly jwksURL: string | undefined,
    private readonly settings: KeyFetchSettings,
  ) {
    this.fetch = httpsFetch(settings.ca ? { ca: settings.ca } : {});
  }

  /** The key that verifies a token with this header, for jwtVerify; fails with an AuthenticationError. */
  readonly resolve = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const { url, keys } = await this.remoteKeySet();
    try {
      return await keys(header, token);
    } catch (error) {
      throw this.keyFailure(error, header, url);
    }
  };

  private remoteKeySet(): Promise<{ url: URL; keys: RemoteJWKSet }> {
    this.keySet ??= this.keySetURL()
      .then((url) => ({
        url,
        keys: createRemoteJWKSet(url, {
          cooldownDuration: this.settings.cooldownMs,
          cacheMaxAge: this.settings.maxAgeMs,
          timeoutDuration: this.settings.timeoutMs,
          [customFetch]: this.fetch,
        }),
      }))
      .catch((error: unknown) => {
        this.keySet = undefined;
        throw error;
      });
    return this.keySet;
  }

  private async keySetURL(): Promise<URL> {
    if (this.jwksURL === undefined) return discoverJwksURL(this.issuer, this.fetch, this.settings.timeoutMs);
    if (!URL.canParse(this.jwksURL)) throw new AuthenticationError(`the jwksURL ${quote(this.jwksURL)} of issuer ${quote(this.issuer)} is not a URL`);
    return new URL(this.jwksURL);
  }

  private keyFailure(error: unknown, header: JWSHeaderParameters, url: URL): AuthenticationError {
    const issuer = quote(this.issuer);
    const kid = header.kid === undefined ? "no key id" : `key id ${quote(header.kid)}`;
    if (error instanceof errors.JWKSNoMatchingKey) return new AuthenticationError(`the token's signing key (${kid}, alg ${quote(header.alg)}) is not one that issuer ${issuer} publishes`);
    if (error instanceof errors.JWKSMultipleMatchingKeys) return new AuthenticationError(`issuer ${issuer} publishes several keys that fit the token (${kid}); the token must name its key`);
    if (error instanceof errors.JWKSTimeout) return new AuthenticationError(`the signing keys of issuer ${issuer} could not be fetched: ${url.href} did not answer within ${this.settings.timeoutMs} ms`);
    return new AuthenticationError(`the signing keys of issuer ${issuer} could not be fetched from ${url.href}: ${errorText(error)}`);
  }
}
