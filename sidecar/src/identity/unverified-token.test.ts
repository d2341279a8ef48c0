import { describe, expect, it } from "@jest/globals";
import { AuthenticationError } from "./authentication-error.js";
import { readUnverifiedToken } from "./unverified-token.js";

const part = (value: unknown): string => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const jwt = (header: unknown, payload: unknown, signature = "c2lnbmF0dXJl"): string => `${part(header)}.${part(payload)}.${signature}`;
const ISSUER = "https://issuer.example";

describe("readUnverifiedToken", () => {
  it.each([
    ["RS256 with a key id", { alg: "RS256", kid: "k1" }, { algorithm: "RS256", issuer: ISSUER, keyId: "k1" }],
    ["ES256 without a key id", { alg: "ES256" }, { algorithm: "ES256", issuer: ISSUER }],
    ["EdDSA", { alg: "EdDSA", kid: "e" }, { algorithm: "EdDSA", issuer: ISSUER, keyId: "e" }],
    ["PS512", { alg: "PS512" }, { algorithm: "PS512", issuer: ISSUER }],
  ])("reads %s", (_name, header, expected) => {
    expect(readUnverifiedToken(jwt(header, { iss: ISSUER, sub: "agent" }))).toEqual(expected);
  });

  it.each([
    ["alg none", jwt({ alg: "none" }, { iss: ISSUER }, ""), 'the token is unsigned (alg "none")'],
    ["alg NONE in capitals", jwt({ alg: "NONE" }, { iss: ISSUER }, ""), "the token is unsigned"],
    ["HS256", jwt({ alg: "HS256" }, { iss: ISSUER }), 'signed with "HS256", a shared-secret algorithm'],
    ["HS512", jwt({ alg: "HS512" }, { iss: ISSUER }), 'signed with "HS512", a shared-secret algorithm'],
    ["an unknown algorithm", jwt({ alg: "XY999" }, { iss: ISSUER }), 'signed with "XY999", not an accepted algorithm; accepted: RS256'],
    ["no algorithm", jwt({ typ: "JWT" }, { iss: ISSUER }), "the token names no signing algorithm (alg)"],
    ["a numeric algorithm", jwt({ alg: 256 }, { iss: ISSUER }), "the token names no signing algorithm (alg)"],
    ["no issuer", jwt({ alg: "RS256" }, { sub: "agent" }), "the token has no issuer (iss claim)"],
    ["an empty issuer", jwt({ alg: "RS256" }, { iss: "" }), "the token has no issuer (iss claim)"],
    ["a numeric issuer", jwt({ alg: "RS256" }, { iss: 7 }), "the token has no issuer (iss claim)"],
    ["an ordinary password", "hunter2", "the password is not a JWT"],
    ["two parts", `${part({ alg: "RS256" })}.${part({ iss: ISSUER })}`, "the password is not a JWT"],
    ["a header that is not JSON", `${part("{not json")}.${part({ iss: ISSUER })}.c2ln`, "the password is not a JWT"],
    ["claims that are a JSON array", jwt({ alg: "RS256" }, [ISSUER]), "the password is not a JWT"],
    ["an encrypted token (five parts)", `${part({ alg: "RSA-OAEP", enc: "A256GCM" })}.a.b.c.d`, "the password is not a JWT"],
    ["a huge password", "a".repeat(20_000), "longer than 16384 characters"],
  ])("refuses %s", (_name, token, message) => {
    expect(() => readUnverifiedToken(token)).toThrow(AuthenticationError);
    expect(() => readUnverifiedToken(token)).toThrow(message);
  });

  it("never puts the token or its parts in its message", () => {
    const token = jwt({ alg: "HS256" }, { iss: ISSUER, secret: "s3cr3t-claim" });
    let message = "";
    try {
      readUnverifiedToken(token);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain("HS256");
    for (const segment of token.split(".")) expect(message).not.toContain(segment);
  });
});
