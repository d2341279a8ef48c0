import { describe, expect, it } from "@jest/globals";
import { canonicalJson } from "./canonical-json.js";

/** The definition, written the slow way: the text JSON.stringify makes, parsed back, written again with keys sorted. */
function reference(value: unknown): string {
  const sorted = (item: unknown): string => {
    if (Array.isArray(item)) return `[${item.map(sorted).join(",")}]`;
    if (item !== null && typeof item === "object") {
      const keys = Object.keys(item).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${sorted((item as Record<string, unknown>)[key])}`).join(",")}}`;
    }
    return JSON.stringify(item);
  };
  const text = JSON.stringify(value);
  return text === undefined ? "null" : sorted(JSON.parse(text));
}

/** A random JSON-ish value, with what JSON leaves out or changes mixed in. */
function randomValue(random: () => number, depth: number): unknown {
  const pick = Math.floor(random() * (depth > 3 ? 6 : 9));
  const strings = ["", "a", "é\u0000\"\\\n", "\ud800", "𝄞", "constructor", "10", "B", "b"];
  switch (pick) {
    case 0:
      return strings[Math.floor(random() * strings.length)];
    case 1:
      return [0, -0, 1.5, -1e21, 1e-7, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53][Math.floor(random() * 8)];
    case 2:
      return random() < 0.5;
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return new Date(Math.floor(random() * 2e12));
    case 6:
    case 7: {
      const object: Record<string, unknown> = {};
      for (let i = Math.floor(random() * 5); i > 0; i--) object[strings[Math.floor(random() * strings.length)] as string] = randomValue(random, depth + 1);
      if (random() < 0.1) object.f = () => 1;
      return object;
    }
    default:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  }
}

describe("canonicalJson", () => {
  it("sorts keys at every depth and leaves out undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: null, y: undefined }], c: "x" } })).toBe('{"a":{"c":"x","d":[3,{"z":null}]},"b":1}');
  });

  it("makes of a value what JSON.stringify makes of it, keys sorted (5,000 random values)", () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 5_000; i++) {
      const value = randomValue(random, 0);
      expect(canonicalJson(value)).toBe(reference(value));
    }
  });

  it("refuses what JSON.stringify refuses", () => {
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
  });
});
