import { describe, expect, it } from "@jest/globals";
import { ruleProblems } from "./crd-rules.js";
import { loadCrdSchemas, structuralProblems, withDefaults, type StructuralSchema } from "./crd-schema.js";

const schema: StructuralSchema = {
  type: "object",
  properties: {
    mode: { type: "string", default: "strict" },
    tls: { type: "object", properties: { verify: { type: "boolean", default: true }, note: { type: "string", nullable: true } } },
    labels: { type: "object", additionalProperties: { type: "string" } },
    tags: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "set" },
    rules: {
      type: "array",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
      items: {
        type: "object",
        properties: { name: { type: "string" }, limit: { type: "integer", default: 10 } },
        "x-kubernetes-validations": [
          { rule: "self.limit <= 100", message: "limit must be at most 100" },
          { rule: "self.name != 'x'" },
          { rule: "self == oldSelf", message: "immutable" },
        ],
      },
    },
    free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
  },
};

describe("withDefaults", () => {
  it.each([
    ["fills in a missing top-level default", {}, { mode: "strict" }],
    ["keeps a given value", { mode: "loose" }, { mode: "loose" }],
    ["defaults inside a given object only", { tls: {} }, { mode: "strict", tls: { verify: true } }],
    ["defaults inside list items", { rules: [{ name: "a" }] }, { mode: "strict", rules: [{ name: "a", limit: 10 }] }],
    ["drops a null where the schema allows none, then defaults it", { mode: null, tls: { verify: null } }, { mode: "strict", tls: { verify: true } }],
    ["keeps a null the schema allows", { tls: { note: null } }, { mode: "strict", tls: { verify: true, note: null } }],
  ])("%s", (_case, value, expected) => {
    expect(withDefaults(value, schema)).toEqual(expected);
  });

  it("does not change its input", () => {
    const input = { tls: {} };
    withDefaults(input, schema);
    expect(input).toEqual({ tls: {} });
  });
});

describe("structuralProblems", () => {
  it.each([
    ["an unknown field, wherever it is", { tls: { verfy: false }, extra: 1 }, [{ field: "extra", message: "unknown field" }, { field: "tls.verfy", message: "unknown field" }]],
    ["nothing in a map or a preserve-unknown-fields object", { labels: { any: "x" }, free: { anything: { goes: 1 } } }, []],
    ["a duplicate in a set", { tags: ["a", "b", "a"] }, [{ field: "tags[2]", message: 'duplicate value: "a"' }]],
    ["a duplicate key in a map list", { rules: [{ name: "a", limit: 1 }, { name: "a", limit: 2 }] }, [{ field: "rules[1]", message: 'duplicate value: {"name":"a"}' }]],
  ])("reports %s", (_case, value, expected) => {
    expect(structuralProblems(value, schema)).toEqual(expected);
  });
});

describe("ruleProblems", () => {
  it("reports a broken rule at its field, with its message or the rule itself, and skips transition rules", () => {
    const value = withDefaults({ rules: [{ name: "ok" }, { name: "x", limit: 500 }] }, schema);
    expect(ruleProblems(value, schema)).toEqual([
      { field: "rules[1]", message: "limit must be at most 100" },
      { field: "rules[1]", message: "failed rule: self.name != 'x'" },
    ]);
  });

  it("refuses a value a rule cannot be evaluated on", () => {
    const broken: StructuralSchema = { type: "object", "x-kubernetes-validations": [{ rule: "self.missing.field == 1", message: "never shown" }] };
    const [problem] = ruleProblems({}, broken);
    expect(problem?.field).toBe("");
    expect(problem?.message).toMatch(/^rule self\.missing\.field == 1 could not be evaluated: /);
  });
});

describe("loadCrdSchemas", () => {
  it("finds the served versions of the Portcullis CRDs", () => {
    expect([...loadCrdSchemas().keys()].sort()).toEqual(["portcullis.dev/v1alpha1/AccessPolicy", "portcullis.dev/v1alpha1/ApprovalRequest", "portcullis.dev/v1alpha1/Resource"]);
  });
});
