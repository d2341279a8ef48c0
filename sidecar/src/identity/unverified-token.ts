// What can be read from a token before its signature is checked, and the
// checks that need no key: the shape, the signing algorithm and the issuer.
// The issuer picks which AccessPolicy entries (and so which signing keys)
// apply; the algorithm is refused here, before any key is fetched, when it is
// "none" or a shared-secret HMAC — an HS256 token "signed" with an issuer's
// public key is the classic way to forge one.
import { decodeJwt, decodeProtectedHeader } from "jose";
import { AuthenticationError, quote } from "./authentication-error.js";

/** Asymmetric JWS algorithms: the issuer signs with a private key only it holds. */
export const ACCEPTED_ALGORITHMS: readonly string[] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"];

/** Longer than any real token; a PostgreSQL password this long is something else. */
const MAX_TOKEN_LENGTH = 16 * 1024;

export interface UnverifiedToken {
  algorithm: string;
  issuer: string;
  /** The key id from the header, to say which key was not found. */
  keyId?: string;
}

function decodeParts(token: string): { header: ReturnType<typeof decodeProtectedHeader>; payload: ReturnType<typeof decodeJwt> } {
  if (token.length > MAX_TOKEN_LENGTH) throw new AuthenticationError(`the password is not a JWT: it is longer than ${MAX_TOKEN_LENGTH} characters`);
  try {
    return { header: decodeProtectedHeader(token), payload: decodeJwt(token) };
  } catch {
    throw new AuthenticationError("the password is not a JWT (expected header.payload.signature in base64url with a JSON header and claims)");
  }
}

function checkAlgorithm(algorithm: unknown): string {
  if (typeof algorithm !== "string" || algorithm === "") throw new AuthenticationError("the token names no signing algorithm (alg)");
  if (algorithm.toLowerCase() === "none") throw new AuthenticationError('the token is unsigned (alg "none"); only signed tokens are accepted');
  if (ACCEPTED_ALGORITHMS.includes(algorithm)) return algorithm;
  const kind = algorithm.startsWith("HS") ? "a shared-secret algorithm" : "not an accepted algorithm";
  throw new AuthenticationError(`the token is signed with ${quote(algorithm)}, ${kind}; accepted: ${ACCEPTED_ALGORITHMS.join(", ")}`);
}

/** Reads the token's header and issuer without trusting them; throws AuthenticationError when they cannot be used. */
export function readUnverifiedToken(token: string): UnverifiedToken {
  const { header, payload } = decodeParts(token);
  const algorithm = checkAlgorithm(header.alg);
  if (typeof payload.iss !== "string" || payload.iss === "") throw new AuthenticationError("the token has no issuer (iss claim)");
  return { algorithm, issuer: payload.iss, ...(typeof header.kid === "string" ? { keyId: header.kid } : {}) };
}
