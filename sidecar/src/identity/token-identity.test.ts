import { describe, expect, it } from "@jest/globals";
import { AuthenticationError } from "./authentication-error.js";
import { identityFromToken } from "./token-identity.js";

const ISSUER = "https://issuer.example/tenant";

describe("identityFromToken", () => {
  it("maps issuer and subject to the user name and keeps the whole payload as claims", () => {
    const payload = { iss: ISSUER, sub: "agent-7", aud: ["db"], exp: 2_000_000_000, team: "payments", groups: ["analysts", "payments"] };
    expect(identityFromToken(payload, "agents")).toEqual({
      username: "oidc:https://issuer.example/tenant#agent-7",
      groups: ["analysts", "payments"],
      serviceAccount: "",
      namespace: "agents",
      pod: "",
      claims: payload,
    });
  });

  it.each([
    ["absent", undefined],
    ["a string", "analysts"],
    ["mixed", ["analysts", 3]],
    ["an object", { analysts: true }],
  ])("gives no groups when the groups claim is %s", (_name, groups) => {
    expect(identityFromToken({ iss: ISSUER, sub: "a", groups }, "ns").groups).toEqual([]);
  });

  it("copies groups and claims, so later changes to the payload do not reach the identity", () => {
    const payload = { iss: ISSUER, sub: "a", groups: ["x"] };
    const identity = identityFromToken(payload, "ns");
    payload.groups.push("y");
    payload.sub = "b";
    expect(identity.groups).toEqual(["x"]);
    expect(identity.claims["sub"]).toBe("a");
  });

  it.each([
    ["no subject", { iss: ISSUER }, "the token has no subject (sub claim)"],
    ["an empty subject", { iss: ISSUER, sub: "" }, "the token has no subject (sub claim)"],
    ["a numeric subject", { iss: ISSUER, sub: 12 }, "the token has no subject (sub claim)"],
    ["no issuer", { sub: "a" }, "the token has no issuer (iss claim)"],
  ])("refuses a payload with %s", (_name, payload, message) => {
    expect(() => identityFromToken(payload as Record<string, unknown>, "ns")).toThrow(AuthenticationError);
    expect(() => identityFromToken(payload as Record<string, unknown>, "ns")).toThrow(message);
  });
});
