import { describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { audienceProblem, claimHolds, claimsProblem, matchEntries, oidcEntries, type OidcEntry } from "./oidc-entries.js";

const ISSUER = "https://issuer.example";

function policy(name: string, oidc?: NonNullable<BrokeredPolicy["spec"]["subjects"]["oidc"]>): BrokeredPolicy {
  return { name, spec: { subjects: oidc ? { oidc } : { serviceAccounts: ["bot"] }, resources: ["db"], defaultAction: "deny" } };
}

const entry = (policyName: string, overrides: Partial<OidcEntry> = {}): OidcEntry => ({ policy: policyName, issuer: ISSUER, audiences: ["db"], claims: {}, ...overrides });

describe("oidcEntries", () => {
  it("lists every oidc entry with its policy, and nothing for policies without one", () => {
    const entries = oidcEntries([
      policy("pods-only"),
      policy("payments", [
        { issuer: ISSUER, audiences: ["db"], claims: { team: "payments" } },
        { issuer: "https://other.example", jwksURL: "https://other.example/keys", audiences: ["a", "b"] },
      ]),
    ]);
    expect(entries).toEqual([
      { policy: "payments", issuer: ISSUER, audiences: ["db"], claims: { team: "payments" } },
      { policy: "payments", issuer: "https://other.example", jwksURL: "https://other.example/keys", audiences: ["a", "b"], claims: {} },
    ]);
  });
});

describe("audienceProblem", () => {
  it.each([
    ["a single matching audience", "db", undefined],
    ["an array containing an accepted audience", ["other", "db"], undefined],
    ["a second accepted audience", "reports", undefined],
    ["a different audience", "web", 'audience "web" not accepted; accepted: "db", "reports"'],
    ["an array of other audiences", ["web", "api"], 'audience "web", "api" not accepted; accepted: "db", "reports"'],
    ["no audience", undefined, 'the token has no audience (aud claim); accepted: "db", "reports"'],
    ["an empty array", [], 'the token has no audience (aud claim); accepted: "db", "reports"'],
    ["a numeric audience", 5, 'the token has no audience (aud claim); accepted: "db", "reports"'],
    ["a prefix of an accepted audience", "d", 'audience "d" not accepted; accepted: "db", "reports"'],
  ])("%s", (_name, aud, expected) => {
    expect(audienceProblem(aud === undefined ? {} : { aud: aud as string }, ["db", "reports"])).toBe(expected);
  });
});

describe("claimHolds", () => {
  it.each([
    ["payments", "payments", true],
    ["Payments", "payments", false],
    ["payments ", "payments", false],
    [["ops", "payments"], "payments", true],
    [["ops"], "payments", false],
    [[], "payments", false],
    [true, "true", true],
    [false, "true", false],
    [42, "42", true],
    [{ team: "payments" }, "payments", false],
    [[["payments"]], "payments", false],
    [null, "null", false],
    [undefined, "undefined", false],
  ])("%j holds %j: %s", (value, expected, holds) => {
    expect(claimHolds(value, expected)).toBe(holds);
  });
});

describe("claimsProblem", () => {
  it("passes when every required claim holds", () => {
    expect(claimsProblem({ team: "payments", groups: ["a", "b"] }, { team: "payments", groups: "b" })).toBeUndefined();
    expect(claimsProblem({ anything: 1 }, {})).toBeUndefined();
  });

  it("names every failing claim, with include for array claims", () => {
    expect(claimsProblem({ team: "billing", groups: ["a"] }, { team: "payments", groups: "b", env: "prod" })).toBe(
      'claim team must be "payments", claim groups must include "b", claim env must be "prod"',
    );
  });
});

describe("matchEntries", () => {
  const payload = { iss: ISSUER, sub: "agent", aud: "db", team: "payments" };

  it("counts every fully matching entry, each policy once, and explains the rest", () => {
    const result = matchEntries(payload, [
      entry("team-payments", { claims: { team: "payments" } }),
      entry("team-billing", { claims: { team: "billing" } }),
      entry("other-audience", { audiences: ["web"] }),
      entry("anyone"),
      entry("team-payments", { audiences: ["db", "x"] }),
    ]);
    expect(result.policies).toEqual(["team-payments", "anyone"]);
    expect(result.problems).toEqual(['claim team must be "billing" (AccessPolicy "team-billing")', 'audience "db" not accepted; accepted: "web" (AccessPolicy "other-audience")']);
  });

  it("matches nothing when no entry holds", () => {
    expect(matchEntries(payload, [entry("p", { claims: { team: "ops" } })])).toEqual({ policies: [], problems: ['claim team must be "ops" (AccessPolicy "p")'] });
  });
});
