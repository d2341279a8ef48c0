import { describe, expect, it } from "@jest/globals";
import { INVALID_REQUEST, PARSE_ERROR, parseMessages, repeatedKey } from "./json-rpc.js";

describe("repeatedKey", () => {
  it.each<[string, string | undefined]>([
    ['{"a":1,"b":2}', undefined],
    ['{"a":1,"a":2}', "a"],
    ['{"a":1,"\\u0061":2}', "a"],
    ['{"a":{"b":1},"c":{"b":2}}', undefined],
    ['{"a":{"b":1,"b":2}}', "b"],
    ['{"a":["b","b",{"b":1}],"b":2}', undefined],
    ['[{"x":1},{"x":2}]', undefined],
    ['[{"x":1,"x":2}]', "x"],
    ['{"s":"a\\"b","t":"\\\\","s":1}', "s"],
    ['{"k":"{\\"k\\":1}"}', undefined],
    ['{"a":[[1,2],[3]],"a":0}', "a"],
  ])("%s: %s", (text, expected) => {
    expect(repeatedKey(text)).toBe(expected);
  });
});

describe("parseMessages", () => {
  it("sorts messages into requests, notifications and responses", () => {
    const parsed = parseMessages(
      JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "x" } },
        { jsonrpc: "2.0", method: "notifications/initialized" },
        { jsonrpc: "2.0", id: "s-1", result: {} },
      ]),
    );
    expect(parsed.ok && parsed.batch).toBe(true);
    expect(parsed.ok && parsed.messages.map((message) => message.kind)).toEqual(["request", "notification", "response"]);
  });

  it.each<[string, number, RegExp]>([
    ["{", PARSE_ERROR, /not JSON/],
    ['{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}', PARSE_ERROR, /names the key "id" twice/],
    ["[]", INVALID_REQUEST, /empty batch/],
    ['{"id":1,"method":"ping"}', INVALID_REQUEST, /"jsonrpc": "2.0"/],
    ['{"jsonrpc":"2.0","id":null,"method":"ping"}', INVALID_REQUEST, /must not be null/],
    ['{"jsonrpc":"2.0","id":{},"method":"ping"}', INVALID_REQUEST, /string or a number/],
    ['{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[1]}', INVALID_REQUEST, /params must be an object/],
    ['{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}', INVALID_REQUEST, /both a request and a response/],
    ['{"jsonrpc":"2.0","id":1}', INVALID_REQUEST, /a result or an error/],
    ['[{"jsonrpc":"2.0","method":"a"},5]', INVALID_REQUEST, /message 2 of the batch/],
  ])("refuses %s", (text, code, message) => {
    const parsed = parseMessages(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.code).toBe(code);
      expect(parsed.message).toMatch(message);
    }
  });

  it("refuses bytes that are not UTF-8", () => {
    const parsed = parseMessages(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]));
    expect(parsed).toMatchObject({ ok: false, message: "the body is not valid UTF-8" });
  });
});

describe("what the server could read differently", () => {
  it.each<[string, string, RegExp]>([
    ["a method in another case", '{"jsonrpc":"2.0","id":1,"method":"Tools/Call","params":{"name":"x"}}', /"Tools\/Call" is not MCP's "tools\/call"/],
    ["a method with a space", '{"jsonrpc":"2.0","id":1,"method":"tools/call ","params":{"name":"x"}}', /spaces or control characters/],
    ["a member JSON-RPC does not have", '{"jsonrpc":"2.0","id":1,"method":"ping","extra":1}', /has no member "extra"/],
    ["a number too large for JSON's doubles", '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"limit":-1e400}}}', /too large/],
    ["nesting deeper than the limit", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"a":${"[".repeat(80)}${"]".repeat(80)}}}`, /deeper than 64 levels/],
  ])("refuses %s", (_case, text, message) => {
    const parsed = parseMessages(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });

  it("never quotes the refused input in its message", () => {
    const parsed = parseMessages('{"email": "ada@example.com", oops}');
    expect(parsed).toMatchObject({ ok: false, message: expect.stringMatching(/^the body is not JSON/) as unknown });
    expect(JSON.stringify(parsed)).not.toContain("ada@example.com");
  });
});
