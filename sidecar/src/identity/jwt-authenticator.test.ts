// What the authenticator decides before it needs any key: the network side
// (keys, discovery, rotation, CA) is in e2e/src/gateway/jwt-identity.e2e.test.ts.
import { describe, expect, it } from "@jest/globals";
import { UnsecuredJWT } from "jose";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { JwtAuthenticator } from "./jwt-authenticator.js";

const ISSUER = "https://issuer.example";
// Nothing listens on port 1: any attempt to fetch keys would fail with a different message.
const UNREACHABLE_KEYS = "https://127.0.0.1:1/keys";

function policy(name: string, subjects: BrokeredPolicy["spec"]["subjects"]): BrokeredPolicy {
  return { name, spec: { subjects, resources: ["db"], defaultAction: "deny" } };
}

const oidcPolicy = policy("tokens", { oidc: [{ issuer: ISSUER, jwksURL: UNREACHABLE_KEYS, audiences: ["db"] }] });
const unsigned = (issuer: string): string => new UnsecuredJWT({ sub: "agent", aud: "db" }).setIssuer(issuer).setExpirationTime("5m").encode();
const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("JwtAuthenticator", () => {
  it.each([
    { name: "no policies", policies: [], enabled: false },
    { name: "only pod subjects", policies: [policy("pods", { serviceAccounts: ["bot"] })], enabled: false },
    { name: "an empty oidc list", policies: [policy("empty", { serviceAccounts: ["bot"], oidc: [] })], enabled: false },
    { name: "one oidc entry among pod policies", policies: [policy("pods", { serviceAccounts: ["bot"] }), oidcPolicy], enabled: true },
  ])("with $name, enabled is $enabled", ({ policies, enabled }) => {
    expect(JwtAuthenticator.fromPolicies(policies).enabled).toBe(enabled);
  });

  it("refuses a token from an issuer no policy trusts, naming that issuer", async () => {
    const token = `${part({ alg: "ES256", kid: "k" })}.${part({ iss: "https://evil.example", sub: "a" })}.c2ln`;
    await expect(JwtAuthenticator.fromPolicies([oidcPolicy]).authenticate(token)).rejects.toThrow(
      'the token\'s issuer "https://evil.example" is not trusted by any AccessPolicy governing this Resource',
    );
  });

  it("refuses every token when no policy has an oidc entry", async () => {
    const token = `${part({ alg: "ES256" })}.${part({ iss: ISSUER, sub: "a" })}.c2ln`;
    await expect(JwtAuthenticator.fromPolicies([policy("pods", { serviceAccounts: ["bot"] })]).authenticate(token)).rejects.toThrow("is not trusted");
  });

  it("refuses an unsigned token of a trusted issuer before fetching any key", async () => {
    await expect(JwtAuthenticator.fromPolicies([oidcPolicy]).authenticate(unsigned(ISSUER))).rejects.toThrow('the token is unsigned (alg "none")');
  });

  it("reports an unreachable key set as a fetch failure of that issuer", async () => {
    const token = `${part({ alg: "ES256", kid: "k" })}.${part({ iss: ISSUER, sub: "a", aud: "db", exp: 4_000_000_000 })}.c2ln`;
    await expect(JwtAuthenticator.fromPolicies([oidcPolicy]).authenticate(token)).rejects.toThrow(
      `the signing keys of issuer "${ISSUER}" could not be fetched from ${UNREACHABLE_KEYS}: `,
    );
  });
});
