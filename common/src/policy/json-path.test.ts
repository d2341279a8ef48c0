import { describe, expect, it } from "@jest/globals";
import { parseJsonPath, selectJsonPath } from "./json-path.js";

const select = (path: string, document: unknown): unknown[] => {
  const parsed = parseJsonPath(path);
  if (!parsed.ok) throw new Error(parsed.message);
  return selectJsonPath(document, parsed.steps).map(({ parent, key }) => (parent as Record<string | number, unknown>)[key]);
};

const DOC = { email: "a@example.com", items: [{ email: "b@example.com", n: 1 }, { email: "c@example.com", nested: { email: "d@example.com" } }], "odd-key": 5 };

describe("parseJsonPath and selectJsonPath", () => {
  it.each<[string, unknown[]]>([
    ["$.email", ["a@example.com"]],
    ["$['email']", ["a@example.com"]],
    ["$.items[*].email", ["b@example.com", "c@example.com"]],
    ["$.items[1].email", ["c@example.com"]],
    ["$..email", ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]],
    ["$.items.*.n", [1]],
    ["$.odd-key", [5]],
    ["$.missing", []],
    ["$.items[9].email", []],
  ])("%s", (path, expected) => {
    expect(select(path, DOC)).toEqual(expected);
  });

  it.each<[string, RegExp]>([
    ["email", /must start with \$/],
    ["$", /names the whole document/],
    ["$.items[?(@.n > 0)]", /not supported/],
    ["$.items[0:2]", /not supported/],
    ["$.items[", /unclosed/],
    ["$.", /member name is missing/],
    ["$email", /unexpected "e"/],
  ])("refuses %s", (path, message) => {
    const parsed = parseJsonPath(path);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.message).toMatch(message);
  });
});
