// Turns what jose throws while verifying a token into a message for the
// client. jose's own messages are written for developers ('"exp" claim
// timestamp check failed'); an agent's operator needs "the token has expired".
// Failures already worded (key fetching, in issuer-keys.ts) pass through.
import { errors } from "jose";
import { AuthenticationError, quote } from "./authentication-error.js";

const when = (seconds: unknown): string => (typeof seconds === "number" && Number.isFinite(seconds) ? ` (${new Date(seconds * 1000).toISOString()})` : "");

function claimFailure(error: errors.JWTClaimValidationFailed): string {
  const { claim, reason, payload } = error;
  if (reason === "missing") return `the token has no ${claim} claim`;
  if (claim === "nbf" && reason === "check_failed") return `the token is not valid yet: its nbf is in the future${when(payload["nbf"])}`;
  if (claim === "iss") return `the token's issuer ${quote(payload["iss"])} is not trusted`;
  return `the token's ${claim} claim is not valid (${reason})`;
}

/** The client-facing reason a token failed verification. */
export function verificationFailure(error: unknown): AuthenticationError {
  if (error instanceof AuthenticationError) return error;
  if (error instanceof errors.JWTExpired) return new AuthenticationError(`the token has expired${when(error.payload["exp"])}`);
  if (error instanceof errors.JWTClaimValidationFailed) return new AuthenticationError(claimFailure(error));
  if (error instanceof errors.JWSSignatureVerificationFailed) return new AuthenticationError("the token's signature is not valid");
  if (error instanceof errors.JOSEAlgNotAllowed) return new AuthenticationError("the token's signing algorithm is not accepted");
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new AuthenticationError(`the token is malformed: ${error.message}`);
  if (error instanceof errors.JOSEError) return new AuthenticationError(`the token could not be verified: ${error.message}`, { cause: error });
  // Anything else is a fault of ours, not of the token: refuse without detail (fail closed); the cause is for the log.
  return new AuthenticationError("the token could not be verified because of an internal error", { cause: error });
}
