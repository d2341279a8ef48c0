import { describe, expect, it } from "@jest/globals";
import { errors, type JWTPayload } from "jose";
import { AuthenticationError } from "./authentication-error.js";
import { verificationFailure } from "./verification-failure.js";

const payload = { iss: "https://issuer.example", exp: 1_700_000_000, nbf: 1_800_000_000 };
// What jose hands over when a token's exp is not a number.
const textualExp = JSON.parse('{"exp":"soon"}') as JWTPayload;

describe("verificationFailure", () => {
  it.each([
    ["an expired token", new errors.JWTExpired('"exp" claim timestamp check failed', payload, "exp", "check_failed"), "the token has expired (2023-11-14T22:13:20.000Z)"],
    ["an expired token without a readable exp", new errors.JWTExpired("x", {}, "exp", "check_failed"), "the token has expired"],
    ["a token not valid yet", new errors.JWTClaimValidationFailed("x", payload, "nbf", "check_failed"), "the token is not valid yet: its nbf is in the future (2027-01-15T08:00:00.000Z)"],
    ["a missing exp", new errors.JWTClaimValidationFailed('missing required "exp" claim', {}, "exp", "missing"), "the token has no exp claim"],
    ["a missing sub", new errors.JWTClaimValidationFailed('missing required "sub" claim', {}, "sub", "missing"), "the token has no sub claim"],
    ["a non-numeric exp", new errors.JWTClaimValidationFailed('"exp" claim must be a number', textualExp, "exp", "invalid"), "the token's exp claim is not valid (invalid)"],
    ["an issuer mismatch", new errors.JWTClaimValidationFailed("x", { iss: "https://evil.example" }, "iss", "check_failed"), 'the token\'s issuer "https://evil.example" is not trusted'],
    ["a bad signature", new errors.JWSSignatureVerificationFailed(), "the token's signature is not valid"],
    ["a refused algorithm", new errors.JOSEAlgNotAllowed("x"), "the token's signing algorithm is not accepted"],
    ["a malformed JWS", new errors.JWSInvalid("JWS Protected Header is invalid"), "the token is malformed: JWS Protected Header is invalid"],
    ["malformed claims", new errors.JWTInvalid("JWT Claims Set must be a top-level JSON object"), "the token is malformed: JWT Claims Set must be a top-level JSON object"],
    ["another jose error", new errors.JOSENotSupported("Unsupported key curve"), "the token could not be verified: Unsupported key curve"],
    ["an unexpected error", new TypeError("cannot read properties of undefined"), "the token could not be verified because of an internal error"],
    ["a thrown string", "boom", "the token could not be verified because of an internal error"],
  ])("words %s for the client", (_name, error, message) => {
    const failure = verificationFailure(error);
    expect(failure).toBeInstanceOf(AuthenticationError);
    expect(failure.message).toBe(message);
  });

  it("passes an AuthenticationError through unchanged", () => {
    const error = new AuthenticationError("the signing keys could not be fetched");
    expect(verificationFailure(error)).toBe(error);
  });

  it("keeps an unexpected error as the cause, for the log", () => {
    const cause = new RangeError("internal detail");
    expect(verificationFailure(cause).cause).toBe(cause);
  });
});
