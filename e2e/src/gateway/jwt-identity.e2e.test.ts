// JWT client authentication against a real issuer: an HTTPS server on
// loopback, with a certificate from a CA made for this run, serving an OpenID
// discovery document and JSON Web Key Sets whose keys the test rotates. The
// authenticator is the built sidecar module, as the gateway runs it.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { SignJWT, UnsecuredJWT, type JWTPayload } from "jose";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { AuthenticationError } from "@portcullis/sidecar/identity/authentication-error";
import { JwtAuthenticator, type JwtAuthenticatorOptions } from "@portcullis/sidecar/identity/jwt-authenticator";
import { IssuerServer, signingKey, type SigningKey } from "./oidc-issuer.js";

let server: IssuerServer;
let ca: string;
let keyA1: SigningKey;
let keyA2: SigningKey;
let keyB: SigningKey;
let attackerKey: SigningKey;
// Issuer A publishes a discovery document; issuer B only a key set, named by jwksURL.
let issuerA: string;
let issuerB: string;

const NOW_SECONDS = (): number => Math.floor(Date.now() / 1000);

function policy(name: string, subjects: BrokeredPolicy["spec"]["subjects"]): BrokeredPolicy {
  return { name, spec: { subjects, resources: ["orders-db"], defaultAction: "deny" } };
}

function policies(): BrokeredPolicy[] {
  return [
    policy("pods", { serviceAccounts: ["report-bot"] }),
    policy("payments-team", { oidc: [{ issuer: issuerA, audiences: ["orders-db"], claims: { team: "payments" } }] }),
    policy("any-agent", { oidc: [{ issuer: issuerA, audiences: ["orders-db", "reports"] }] }),
    policy("reports", { oidc: [{ issuer: issuerB, jwksURL: `${issuerB}/keys`, audiences: ["reports"] }] }),
  ];
}

const authenticator = (options: JwtAuthenticatorOptions = {}, governing = policies()): JwtAuthenticator =>
  JwtAuthenticator.fromPolicies(governing, { namespace: "agents", ca, ...options });

async function token(key: SigningKey, claims: JWTPayload, issuer = issuerA, alg = key.jwk.alg ?? "ES256"): Promise<string> {
  return new SignJWT({ sub: "agent-7", aud: "orders-db", exp: NOW_SECONDS() + 300, ...claims })
    .setProtectedHeader({ alg, kid: key.kid, typ: "JWT" })
    .setIssuer(issuer)
    .setIssuedAt()
    .sign(key.privateKey);
}

async function refusal(auth: JwtAuthenticator, jwt: string): Promise<string> {
  try {
    await auth.authenticate(jwt);
  } catch (error) {
    expect(error).toBeInstanceOf(AuthenticationError);
    const message = (error as Error).message;
    // The message goes to the client: never the token, nor its signature.
    expect(message).not.toContain(jwt);
    expect(message).not.toContain(jwt.split(".")[2] || "no signature");
    return message;
  }
  throw new Error("the token was accepted");
}

beforeAll(async () => {
  const authority = await createCertificateAuthority("jwt-identity-test-ca");
  const serving = await authority.issue({ commonName: "issuer", ipAddresses: ["127.0.0.1"], usage: "server" });
  ca = authority.certPem;
  server = await IssuerServer.start(serving.certPem, serving.keyPem);
  issuerA = `${server.base}/a`;
  issuerB = `${server.base}/b`;
  [keyA1, keyA2, keyB, attackerKey] = await Promise.all([signingKey("a-1"), signingKey("a-2", "RS256"), signingKey("b-1", "EdDSA"), signingKey("a-1")]);
});

beforeEach(() => {
  server.requests.clear();
  server.published.set("/a/keys", [keyA1]);
  server.published.set("/b/keys", [keyB]);
  server.documents.set("/a/.well-known/openid-configuration", { issuer: issuerA, jwks_uri: `${issuerA}/keys` });
});

afterAll(async () => {
  await server?.stop();
});

describe("accepted tokens", () => {
  it("maps a token to its identity and every policy whose entry it matches", async () => {
    const jwt = await token(keyA1, { team: "payments", groups: ["analysts", "payments"] });
    const result = await authenticator().authenticate(jwt);
    expect(result.policies).toEqual(["payments-team", "any-agent"]);
    expect(result.identity).toEqual({
      username: `oidc:${issuerA}#agent-7`,
      groups: ["analysts", "payments"],
      serviceAccount: "",
      namespace: "agents",
      pod: "",
      claims: expect.objectContaining({ iss: issuerA, sub: "agent-7", aud: "orders-db", team: "payments" }),
    });
  });

  it("leaves out a policy whose claims the token does not carry", async () => {
    const result = await authenticator().authenticate(await token(keyA1, { team: "billing" }));
    expect(result.policies).toEqual(["any-agent"]);
    expect(result.identity.groups).toEqual([]);
  });

  it("accepts an audience array that contains an accepted audience", async () => {
    const result = await authenticator().authenticate(await token(keyA1, { aud: ["web", "reports"] }));
    expect(result.policies).toEqual(["any-agent"]);
  });

  it("uses the jwksURL of an entry without asking for a discovery document", async () => {
    const result = await authenticator().authenticate(await token(keyB, { aud: "reports" }, issuerB));
    expect(result).toMatchObject({ policies: ["reports"], identity: { username: `oidc:${issuerB}#agent-7` } });
    expect(server.count("/b/.well-known/openid-configuration")).toBe(0);
    expect(server.count("/b/keys")).toBe(1);
  });

  it("honours clock skew: a token expired 10 s ago passes the 30 s tolerance, and not a zero one", async () => {
    const jwt = await token(keyA1, { exp: NOW_SECONDS() - 10 });
    await expect(authenticator().authenticate(jwt)).resolves.toMatchObject({ policies: ["any-agent"] });
    expect(await refusal(authenticator({ clockToleranceSeconds: 0 }), jwt)).toMatch(/^the token has expired \(/);
  });

  it("checks tokens against the given clock", async () => {
    const jwt = await token(keyA1, { exp: NOW_SECONDS() + 60 });
    expect(await refusal(authenticator({ now: () => new Date(Date.now() + 3_600_000) }), jwt)).toMatch(/^the token has expired/);
  });

  it("discovers the key set once and shares the fetches of concurrent sessions", async () => {
    const auth = authenticator();
    const jwt = await token(keyA1, {});
    const results = await Promise.all(Array.from({ length: 8 }, () => auth.authenticate(jwt)));
    await auth.authenticate(jwt);
    expect(results.map((result) => result.policies)).toEqual(Array.from({ length: 8 }, () => ["any-agent"]));
    expect(server.count("/a/.well-known/openid-configuration")).toBe(1);
    expect(server.count("/a/keys")).toBe(1);
  });
});

describe("refused tokens", () => {
  const tamper = (jwt: string, change: (parts: string[]) => void): string => {
    const parts = jwt.split(".");
    change(parts);
    return parts.join(".");
  };
  const payloadOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;

  it.each<{ name: string; make: () => Promise<string>; message: string | RegExp; governing?: () => BrokeredPolicy[] }>([
    { name: "an expired token", make: () => token(keyA1, { exp: NOW_SECONDS() - 120 }), message: /^the token has expired \(\d{4}-/ },
    { name: "a token not valid yet", make: () => token(keyA1, { nbf: NOW_SECONDS() + 600 }), message: /^the token is not valid yet: its nbf is in the future/ },
    { name: "a token without exp", make: () => token(keyA1, { exp: undefined }), message: "the token has no exp claim" },
    { name: "a token without sub", make: () => token(keyA1, { sub: undefined }), message: "the token has no sub claim" },
    {
      name: "a wrong audience",
      make: () => token(keyA1, { aud: "web" }),
      message: 'audience "web" not accepted; accepted: "orders-db" (AccessPolicy "payments-team"); audience "web" not accepted; accepted: "orders-db", "reports" (AccessPolicy "any-agent")',
    },
    {
      name: "a wrong claim",
      make: () => token(keyA1, { team: "billing" }),
      message: 'claim team must be "payments" (AccessPolicy "payments-team")',
      governing: () => policies().filter((p) => p.name === "payments-team"),
    },
    {
      name: "a token signed with a shared secret (HS256)",
      make: () => new SignJWT({ sub: "agent-7", aud: "orders-db" }).setProtectedHeader({ alg: "HS256", kid: "a-1" }).setIssuer(issuerA).setExpirationTime("5m").sign(new TextEncoder().encode("a-shared-secret-of-32-bytes-long!")),
      message: 'the token is signed with "HS256", a shared-secret algorithm; accepted: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519',
    },
    {
      name: "an unsigned token (alg none)",
      make: () => Promise.resolve(new UnsecuredJWT({ sub: "agent-7", aud: "orders-db", team: "payments" }).setIssuer(issuerA).setExpirationTime("5m").encode()),
      message: 'the token is unsigned (alg "none"); only signed tokens are accepted',
    },
    {
      name: "a tampered signature",
      make: async () => tamper(await token(keyA1, {}), (parts) => (parts[2] = `${parts[2]?.startsWith("A") ? "B" : "A"}${parts[2]?.slice(1) ?? ""}`)),
      message: "the token's signature is not valid",
    },
    {
      name: "tampered claims under a valid signature",
      make: async () => {
        const jwt = await token(keyA1, { team: "billing" });
        return tamper(jwt, (parts) => (parts[1] = Buffer.from(JSON.stringify({ ...payloadOf(jwt), team: "payments" })).toString("base64url")));
      },
      message: "the token's signature is not valid",
    },
    { name: "a token signed by another key under a published key id", make: () => token(attackerKey, {}), message: "the token's signature is not valid" },
    { name: "a token signed with an unpublished key", make: () => token(keyA2, {}), message: /^the token's signing key \(key id "a-2", alg "RS256"\) is not one that issuer "https:\/\/127\.0\.0\.1:\d+\/a" publishes$/ },
    { name: "a password that is not a token", make: () => Promise.resolve("correct horse battery staple"), message: /^the password is not a JWT/ },
  ])("refuses $name", async ({ make, message, governing }) => {
    const text = await refusal(authenticator({}, governing?.()), await make());
    if (typeof message === "string") expect(text).toBe(message);
    else expect(text).toMatch(message);
  });

  it("refuses a token from an untrusted issuer without fetching anything", async () => {
    const untrusted = `${server.base}/c`;
    server.documents.set("/c/.well-known/openid-configuration", { issuer: untrusted, jwks_uri: `${issuerA}/keys` });
    expect(await refusal(authenticator(), await token(keyA1, {}, untrusted))).toBe(`the token's issuer "${untrusted}" is not trusted by any AccessPolicy governing this Resource`);
    expect(server.requests.size).toBe(0);
  });

  it("refuses keys from an issuer whose certificate it cannot verify without the configured CA", async () => {
    const jwt = await token(keyA1, {});
    const withoutCA = JwtAuthenticator.fromPolicies(policies(), { namespace: "agents" });
    expect(await refusal(withoutCA, jwt)).toMatch(
      new RegExp(`^the signing keys of issuer "${issuerA}" could not be found: discovery document ${issuerA}/.well-known/openid-configuration: .*certificate`),
    );
    const viaJwksURL = await refusal(withoutCA, await token(keyB, { aud: "reports" }, issuerB));
    expect(viaJwksURL).toMatch(new RegExp(`^the signing keys of issuer "${issuerB}" could not be fetched from ${issuerB}/keys: .*certificate`));
    expect(server.count("/b/keys")).toBe(0);
  });

  it("refuses a discovery document that names another issuer", async () => {
    server.documents.set("/a/.well-known/openid-configuration", { issuer: issuerB, jwks_uri: `${issuerB}/keys` });
    expect(await refusal(authenticator(), await token(keyA1, {}))).toBe(
      `the signing keys of issuer "${issuerA}" could not be found: discovery document ${issuerA}/.well-known/openid-configuration: it names issuer "${issuerB}", not "${issuerA}"`,
    );
  });

  it("retries discovery after a failure instead of remembering it", async () => {
    server.documents.delete("/a/.well-known/openid-configuration");
    const auth = authenticator();
    const jwt = await token(keyA1, {});
    expect(await refusal(auth, jwt)).toMatch(/could not be found: .*: the server answered HTTP 404$/);
    server.documents.set("/a/.well-known/openid-configuration", { issuer: issuerA, jwks_uri: `${issuerA}/keys` });
    await expect(auth.authenticate(jwt)).resolves.toMatchObject({ policies: ["any-agent"] });
  });

  it("refuses when the key set is missing or does not answer in time", async () => {
    server.published.delete("/b/keys");
    const reportsToken = await token(keyB, { aud: "reports" }, issuerB);
    expect(await refusal(authenticator(), reportsToken)).toBe(
      `the signing keys of issuer "${issuerB}" could not be fetched from ${issuerB}/keys: Expected 200 OK from the JSON Web Key Set HTTP response`,
    );
    const slow = [policy("slow", { oidc: [{ issuer: issuerB, jwksURL: `${server.base}/slow/keys`, audiences: ["reports"] }] })];
    expect(await refusal(authenticator({ fetchTimeoutMs: 300 }, slow), reportsToken)).toBe(
      `the signing keys of issuer "${issuerB}" could not be fetched: ${server.base}/slow/keys did not answer within 300 ms`,
    );
  });
});

describe("key rotation", () => {
  it("picks up a new key id at once when the cooldown allows, and then drops the removed key", async () => {
    const auth = authenticator({ jwksCooldownMs: 0 });
    const oldToken = await token(keyA1, {});
    await expect(auth.authenticate(oldToken)).resolves.toMatchObject({ policies: ["any-agent"] });
    server.published.set("/a/keys", [keyA2]);
    await expect(auth.authenticate(await token(keyA2, {}))).resolves.toMatchObject({ policies: ["any-agent"] });
    expect(server.count("/a/keys")).toBe(2);
    expect(await refusal(auth, oldToken)).toBe(`the token's signing key (key id "a-1", alg "ES256") is not one that issuer "${issuerA}" publishes`);
  });

  it("accepts both keys while the issuer publishes both", async () => {
    server.published.set("/a/keys", [keyA1, keyA2]);
    const auth = authenticator();
    await expect(auth.authenticate(await token(keyA1, {}))).resolves.toMatchObject({ policies: ["any-agent"] });
    await expect(auth.authenticate(await token(keyA2, {}))).resolves.toMatchObject({ policies: ["any-agent"] });
    expect(server.count("/a/keys")).toBe(1);
  });

  it("within the default 30 s cooldown, an unknown key id causes no refetch and the cached keys still verify", async () => {
    const auth = authenticator();
    await auth.authenticate(await token(keyA1, {}));
    server.published.set("/a/keys", [keyA2]);
    expect(await refusal(auth, await token(keyA2, {}))).toMatch(/key id "a-2".* is not one that issuer/);
    await expect(auth.authenticate(await token(keyA1, {}))).resolves.toMatchObject({ policies: ["any-agent"] });
    expect(server.count("/a/keys")).toBe(1);
  });

  it("refetches the key set once it is older than the maximum age, so a removed key stops verifying", async () => {
    const auth = authenticator({ jwksMaxAgeMs: 1_000 });
    const oldToken = await token(keyA1, {});
    await auth.authenticate(oldToken);
    server.published.set("/a/keys", [keyA2]);
    await expect(auth.authenticate(oldToken)).resolves.toMatchObject({ policies: ["any-agent"] });
    await sleep(1_100);
    expect(await refusal(auth, oldToken)).toMatch(/key id "a-1".* is not one that issuer/);
    await expect(auth.authenticate(await token(keyA2, {}))).resolves.toMatchObject({ policies: ["any-agent"] });
    expect(server.count("/a/keys")).toBe(2);
  });
});
