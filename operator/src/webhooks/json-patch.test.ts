import { applyJsonPatch, escapeJsonPointer, jsonPointer, unescapeJsonPointer } from "./json-patch.js";

describe("JSON pointer escaping", () => {
  it("escapes ~ and / (RFC 6901) and round-trips", () => {
    expect(escapeJsonPointer("portcullis.dev/injected")).toBe("portcullis.dev~1injected");
    expect(escapeJsonPointer("a~/b")).toBe("a~0~1b");
    expect(unescapeJsonPointer("a~0~1b")).toBe("a~/b");
    expect(unescapeJsonPointer("~01")).toBe("~1");
    expect(jsonPointer(["metadata", "annotations", "portcullis.dev/injected"])).toBe("/metadata/annotations/portcullis.dev~1injected");
  });
});

describe("applyJsonPatch", () => {
  const document = { metadata: { annotations: { "a/b": "1" } }, spec: { containers: [{ name: "x" }] } };

  it("adds, replaces and removes members and array items without changing its input", () => {
    const result = applyJsonPatch(document, [
      { op: "add", path: "/metadata/annotations/portcullis.dev~1injected", value: "yes" },
      { op: "replace", path: "/metadata/annotations/a~1b", value: "2" },
      { op: "add", path: "/spec/containers/0", value: { name: "first" } },
      { op: "add", path: "/spec/containers/-", value: { name: "last" } },
      { op: "remove", path: "/spec/containers/1" },
      { op: "add", path: "/spec/volumes", value: [] },
    ]);
    expect(result).toEqual({
      metadata: { annotations: { "a/b": "2", "portcullis.dev/injected": "yes" } },
      spec: { containers: [{ name: "first" }, { name: "last" }], volumes: [] },
    });
    expect(document.spec.containers).toEqual([{ name: "x" }]);
  });

  it("replaces a whole member with add", () => {
    expect(applyJsonPatch(document, [{ op: "add", path: "/spec/containers", value: [] }]).spec.containers).toEqual([]);
  });

  it("names the path it cannot apply", () => {
    expect(() => applyJsonPatch(document, [{ op: "add", path: "/status/phase", value: "x" }])).toThrow('JSON pointer "/status/phase": the parent does not exist');
    expect(() => applyJsonPatch(document, [{ op: "remove", path: "/spec/nothing" }])).toThrow('no member "nothing"');
    expect(() => applyJsonPatch(document, [{ op: "replace", path: "/spec/containers/5", value: 1 }])).toThrow('no array index "5"');
  });
});
