// The canonical request target: what every rule matches and the backend gets.
// Evasions either become the canonical path they mean or are refused.
import { describe, expect, it } from "@jest/globals";
import { canonicalTarget } from "./request-target.js";

describe("canonicalTarget", () => {
  it.each<[string, string, string[][]]>([
    ["/v1/customers/7", "/v1/customers/7", []],
    ["/v1/customers/7/", "/v1/customers/7", []],
    ["//v1///customers//7", "/v1/customers/7", []],
    ["/v1/./customers/7", "/v1/customers/7", []],
    ["/v1/x/../customers/7", "/v1/customers/7", []],
    ["/v1/%63ustomers/7", "/v1/customers/7", []],
    ["/v1/%2e%2e/admin", "/admin", []],
    ["/v1/%2E/admin", "/v1/admin", []],
    ["/v1/a%3ab", "/v1/a%3Ab", []],
    ["/", "/", []],
    ["/v1/search?q=a+b&limit=10", "/v1/search?q=a+b&limit=10", [["q", "a b"], ["limit", "10"]]],
    ["/v1/search?q=%61%2fb&&x", "/v1/search?q=a%2Fb&x", [["q", "a/b"], ["x", ""]]],
    ["http://billing.example.com/v1/x", "/v1/x", []],
  ])("%s → %s", (raw, target, query) => {
    const result = canonicalTarget(raw, "GET");
    expect(result).toMatchObject({ ok: true, target });
    if (result.ok) expect(result.query).toEqual(query);
  });

  it.each<[string, string, RegExp]>([
    ["GET", "/v1/a%2fb", /encoded slash/],
    ["GET", "/v1/a%5Cb", /encoded backslash/],
    ["GET", "/v1/a\\b", /must be percent-encoded/],
    ["GET", "/admin;x=1/secret", /path parameters/],
    ["GET", "/../admin", /climbs above the root/],
    ["GET", "/v1/%2e%2e/%2e%2e/etc", /climbs above the root/],
    ["GET", "/v1/%00", /control character/],
    ["GET", "/v1/%zz", /two hex digits/],
    ["GET", "/v1/%", /two hex digits/],
    ["GET", "/v1/x#frag", /fragment/],
    ["GET", "/v1/é", /must be percent-encoded/],
    ["GET", "v1/x", /must start with \//],
    ["OPTIONS", "*", /asterisk-form/],
    ["CONNECT", "billing.example.com:443", /CONNECT is refused/],
    ["GET", "ftp://billing.example.com/x", /scheme "ftp"/],
    ["GET", "/v1?q=%ff", /not UTF-8/],
    ["GET", "/v1?q=a b", /must be percent-encoded/],
    ["TRACE", "/v1/x", /TRACE is refused/],
    ["GET", "/v1?limit=10;limit=100000", /";" in the query/],
    ["POST", "/v1/orders/7?_method=DELETE", /"_method" query parameter/],
  ])("refuses %s %s", (method, raw, message) => {
    const result = canonicalTarget(raw, method);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });

  it("gives the authority of an absolute-form target, to be checked against Host", () => {
    expect(canonicalTarget("http://Other.Example.com:8080/x", "GET")).toMatchObject({ ok: true, authority: "other.example.com:8080", target: "/x" });
  });
});
