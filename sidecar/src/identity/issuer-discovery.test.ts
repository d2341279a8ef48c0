import { describe, expect, it } from "@jest/globals";
import { discoveryURL, jwksURLFromDiscovery } from "./issuer-discovery.js";

const ISSUER = "https://issuer.example/tenant";

describe("discoveryURL", () => {
  it.each([
    ["https://issuer.example", "https://issuer.example/.well-known/openid-configuration"],
    ["https://issuer.example/", "https://issuer.example/.well-known/openid-configuration"],
    ["https://issuer.example/tenant", "https://issuer.example/tenant/.well-known/openid-configuration"],
  ])("%s → %s", (issuer, url) => {
    expect(discoveryURL(issuer)).toBe(url);
  });
});

describe("jwksURLFromDiscovery", () => {
  it("returns the jwks_uri of a document that names the same issuer", () => {
    expect(jwksURLFromDiscovery({ issuer: ISSUER, jwks_uri: "https://keys.example/jwks" }, ISSUER).href).toBe("https://keys.example/jwks");
  });

  it.each([
    ["not an object", ["x"], "it is not a JSON object"],
    ["null", null, "it is not a JSON object"],
    ["another issuer", { issuer: "https://evil.example", jwks_uri: "https://evil.example/keys" }, 'it names issuer "https://evil.example", not "https://issuer.example/tenant"'],
    ["the issuer with a trailing slash", { issuer: `${ISSUER}/`, jwks_uri: "https://keys.example/jwks" }, "it names issuer"],
    ["no issuer", { jwks_uri: "https://keys.example/jwks" }, "it names issuer"],
    ["no jwks_uri", { issuer: ISSUER }, "it has no jwks_uri"],
    ["an http jwks_uri", { issuer: ISSUER, jwks_uri: "http://keys.example/jwks" }, 'its jwks_uri "http://keys.example/jwks" is not an https URL'],
    ["a relative jwks_uri", { issuer: ISSUER, jwks_uri: "/jwks" }, 'its jwks_uri "/jwks" is not an https URL'],
  ])("refuses a document with %s", (_name, document, message) => {
    expect(() => jwksURLFromDiscovery(document, ISSUER)).toThrow(message);
  });
});
