import { describe, expect, it } from "@jest/globals";
import type { McpFacts } from "@portcullis/common/policy/cel";
import type { PolicyRule } from "../../policy/protocol-matcher.js";
import type { JsonRpcMessage } from "./json-rpc.js";
import { listingFacts, MCP_MATCHER, messageFacts, uriProblem } from "./mcp-match.js";

const call = (name: string, args: Record<string, unknown> = {}): McpFacts => ({ ...listingFacts("tools", name), tool: { name, arguments: args } });
const matches = (match: PolicyRule["match"], action: PolicyRule["action"], facts: McpFacts): boolean => MCP_MATCHER.compile(match, action)(facts);
const request = (method: string, params?: Record<string, unknown>): Extract<JsonRpcMessage, { kind: "request" }> => ({ kind: "request", id: 1, method, params, raw: {} });

describe("MCP_MATCHER", () => {
  it("reads tools without methods as calling them, and matches names with globs", () => {
    const match = { mcp: { tools: ["drop_*"] } };
    expect(matches(match, "deny", call("drop_database"))).toBe(true);
    expect(matches(match, "deny", call("lookup"))).toBe(false);
    expect(matches(match, "deny", { ...listingFacts("tools", "drop_x"), method: "tools/list" })).toBe(false);
  });

  it("matches names without case for deny rules and with case for allow rules", () => {
    expect(matches({ mcp: { tools: ["drop_*"] } }, "deny", call("DROP_database"))).toBe(true);
    expect(matches({ mcp: { tools: ["drop_*"] } }, "allow", call("DROP_database"))).toBe(false);
  });

  it("matches methods with * across segments", () => {
    const notification: McpFacts = { ...listingFacts("tools", ""), kind: "notification", method: "notifications/tools/list_changed", tool: { name: "", arguments: {} } };
    expect(matches({ mcp: { methods: ["notifications/*"] } }, "allow", notification)).toBe(true);
    expect(matches({ mcp: { methods: ["tools/call"] } }, "allow", notification)).toBe(false);
  });

  it("matches resources and prompts by URI and name", () => {
    expect(matches({ mcp: { resources: ["file:///reports/*"] } }, "allow", listingFacts("resources", "file:///reports/q1.txt"))).toBe(true);
    expect(matches({ mcp: { resources: ["file:///reports/*"] } }, "allow", listingFacts("resources", "file:///secrets/k"))).toBe(false);
    expect(matches({ mcp: { prompts: ["summarise"] } }, "allow", listingFacts("prompts", "summarise"))).toBe(true);
  });

  it("never matches a rule written for another protocol", () => {
    expect(matches({ http: { methods: ["POST"] } }, "deny", call("x"))).toBe(false);
  });
});

describe("messageFacts", () => {
  it("reads a tool call's name and arguments", () => {
    expect(messageFacts(request("tools/call", { name: "refund", arguments: { amount: 5 } }), "client")).toMatchObject({ method: "tools/call", tool: { name: "refund", arguments: { amount: 5 } } });
    expect(messageFacts(request("tools/call", { name: "refund" }), "client")).toMatchObject({ tool: { name: "refund", arguments: {} } });
    expect(messageFacts(request("resources/read", { uri: "file:///a" }), "client")).toMatchObject({ resource: { uri: "file:///a" } });
  });

  it.each<[string, Record<string, unknown> | undefined, RegExp]>([
    ["tools/call", undefined, /needs params.name/],
    ["tools/call", { name: 5 }, /needs params.name/],
    ["tools/call", { name: "x", arguments: [1] }, /must be an object/],
    ["resources/read", {}, /needs params.uri/],
    ["prompts/get", { name: "" }, /needs params.name/],
  ])("refuses %s with %j", (method, params, message) => {
    expect(messageFacts(request(method, params), "client")).toMatch(message);
  });
});

describe("uriProblem", () => {
  it.each<[string, RegExp | undefined]>([
    ["file:///reports/q1.txt", undefined],
    ["db://table/orders", undefined],
    ["report-7", undefined],
    ["file:///reports/../secrets/keys.txt", /reads it as file:\/\/\/secrets\/keys.txt/],
    ["file:///reports/%2e%2e/secrets", /reads it as file:\/\/\/secrets/],
    ["file:///reports\\..\\secrets", /canonical form/],
    ["HTTPS://Example.com/a", /reads it as https:\/\/example.com\/a/],
    ["report 7", /spaces or control characters/],
  ])("%s", (uri, problem) => {
    const found = uriProblem(uri);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toMatch(problem);
  });
});
