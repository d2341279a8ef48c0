import { describe, expect, it } from "@jest/globals";
import type { HttpFacts } from "@portcullis/common/policy/cel";
import type { PolicyRule } from "../../policy/protocol-matcher.js";
import { HTTP_MATCHER, pathPattern, rulesReadBody } from "./http-match.js";

const facts = (overrides: Partial<HttpFacts> = {}): HttpFacts => ({ method: "GET", path: "/v1/customers/7", host: "billing.example.com", headers: {}, query: {}, ...overrides });
const matches = (match: PolicyRule["match"], action: PolicyRule["action"], request: HttpFacts): boolean => HTTP_MATCHER.compile(match, action)(request);

describe("HTTP_MATCHER", () => {
  it.each<[string, string, boolean]>([
    ["/v1/customers/*", "/v1/customers/7", true],
    ["/v1/customers/*", "/v1/customers/7/orders", false],
    ["/v1/customers/**", "/v1/customers", true],
    ["/v1/customers/**", "/v1/customers/7/orders", true],
    ["/v1/customers/**", "/v1/customersX", false],
    ["/v1/*/orders", "/v1/7/orders", true],
    ["/v1/*.json", "/v1/a.json", true],
  ])("path %s on %s: %s", (glob, path, expected) => {
    expect(pathPattern(glob, false).test(path)).toBe(expected);
  });

  it("matches paths without case for deny rules and with case for allow rules", () => {
    const match = { http: { paths: ["/admin/**"] } };
    expect(matches(match, "deny", facts({ path: "/ADMIN/users" }))).toBe(true);
    expect(matches(match, "allow", facts({ path: "/ADMIN/users" }))).toBe(false);
  });

  it("matches methods, hosts, headers and query parameters", () => {
    const match = { http: { methods: ["POST" as const], hosts: ["*.example.com"], headers: [{ name: "X-Tenant", values: ["acme"] }], query: [{ name: "dry", values: ["true"] }] } };
    const request = facts({ method: "POST", headers: { "x-tenant": "acme" }, query: { dry: ["true"] } });
    expect(matches(match, "allow", request)).toBe(true);
    expect(matches(match, "allow", { ...request, method: "GET" })).toBe(false);
    expect(matches(match, "allow", { ...request, host: "example.org" })).toBe(false);
    expect(matches(match, "allow", { ...request, headers: {} })).toBe(false);
    // An allow needs every value to fit; a deny is content with one.
    expect(matches(match, "allow", { ...request, query: { dry: ["true", "false"] } })).toBe(false);
    expect(matches(match, "deny", { ...request, query: { dry: ["false", "true"] } })).toBe(true);
  });

  it("never applies a rule for another protocol, and applies a rule without match to everything", () => {
    expect(matches({ sql: { commands: ["SELECT"] } }, "allow", facts())).toBe(false);
    expect(matches(undefined, "allow", facts())).toBe(true);
  });

  it("knows when a rule reads the body", () => {
    expect(rulesReadBody([{ when: "http.body.amount > 100" }])).toBe(true);
    expect(rulesReadBody([{ when: 'http.method == "GET"' }, {}])).toBe(false);
  });
});
