import { describe, expect, it } from "@jest/globals";
import type { RE2 } from "re2-wasm";
import { DETECTOR_WINDOW, MAX_WINDOW, PATTERN_WINDOW, candidateLimit, compileRe2, findSpans, type Accept, type Span } from "./re2-search.js";

const { size: WINDOW, overlap: OVERLAP } = DETECTOR_WINDOW;
const find = (re: RE2, text: string, accept?: Accept): Span[] => findSpans(re, text, DETECTOR_WINDOW, accept);
const texts = (text: string, spans: Span[]): string[] => spans.map(({ start, end }) => text.slice(start, end));

/** `filler` repeated to `length` characters, with `needle` written over it at each of `at`. */
function place(length: number, filler: string, needle: string, at: readonly number[]): string {
  let text = filler.repeat(Math.ceil(length / filler.length)).slice(0, length);
  for (const position of at) text = text.slice(0, position) + needle + text.slice(position + needle.length);
  return text;
}

describe("findSpans", () => {
  const word = compileRe2("secret-[0-9]+");

  it("finds every match of a short text, with UTF-16 positions", () => {
    const text = "a secret-1 and 😀 secret-22 and é secret-333";
    const spans = find(word, text);
    expect(texts(text, spans)).toEqual(["secret-1", "secret-22", "secret-333"]);
    expect(spans[1]).toEqual({ start: text.indexOf("secret-22"), end: text.indexOf("secret-22") + 9 });
  });

  // Matches at, across and just after the window edges and overlaps of a long value.
  const edges = [0, WINDOW - OVERLAP - 3, WINDOW - 5, 2 * WINDOW - 4, 3 * WINDOW - OVERLAP, 3 * WINDOW + 7, 5 * WINDOW - 14];
  it.each([
    ["ASCII", "lorem ipsum "],
    ["text with astral characters", "lorem 😀 ipsüm "],
  ])("finds matches across window edges of a long value (%s)", (_, filler) => {
    const text = place(5 * WINDOW, filler, " secret-12345 ", edges);
    const spans = find(word, text);
    expect(texts(text, spans)).toEqual(Array(edges.length).fill("secret-12345"));
    for (const span of spans) expect(text.slice(span.start - 1, span.end + 1)).toBe(" secret-12345 ");
  });

  it("finds a match much longer than the overlap that runs into a window's end", () => {
    const long = `secret-${"9".repeat(3 * WINDOW)}`;
    const text = `${"x ".repeat(WINDOW / 2 - 10)}${long} tail`;
    expect(texts(text, find(word, text))).toEqual([long]);
  });

  it("masks a match longer than the widest window from where it starts to the end, and keeps working after", () => {
    const text = `head secret-${"9".repeat(4 * MAX_WINDOW)} tail`;
    for (let round = 0; round < 3; round++) expect(find(word, text)).toEqual([{ start: 5, end: text.length }]);
    expect(texts("then secret-7", find(word, "then secret-7"))).toEqual(["secret-7"]);
  });

  it("finds long user-pattern matches (a PEM block) anywhere in a long value with the pattern window", () => {
    const pem = compileRe2(String.raw`-----BEGIN KEY-----[A-Za-z0-9+/=\n]+-----END KEY-----`);
    const block = `-----BEGIN KEY-----\n${"QUJD\n".repeat(800)}-----END KEY-----`;
    const at = [10, PATTERN_WINDOW.size - PATTERN_WINDOW.overlap - 100, PATTERN_WINDOW.size - 2000, 3 * PATTERN_WINDOW.size - 50];
    const text = place(4 * PATTERN_WINDOW.size, "some log line; ", ` ${block} `, at);
    expect(texts(text, findSpans(pem, text, PATTERN_WINDOW))).toEqual(Array(at.length).fill(block));
  });

  it("keeps only what accept keeps, and searches on past a rejected candidate", () => {
    const text = "secret-1 secret-22 secret-333";
    const keepLong: Accept = (_, start, end) => (end - start > 9 ? { start, end } : undefined);
    expect(texts(text, find(word, text, keepLong))).toEqual(["secret-333"]);
  });

  it("steps over empty matches instead of looping, and masks nothing for them", () => {
    expect(find(compileRe2(String.raw`\b`), "ab cd 😀 ef")).toEqual([]);
  });

  it("masks the whole value once it holds more candidates than it may search", () => {
    const limit = candidateLimit(0);
    const many = "secret-1 ".repeat(limit + 1);
    expect(find(word, many)).toEqual([{ start: 0, end: many.length }]);
    const enough = "secret-1 ".repeat(limit);
    expect(find(word, enough)).toHaveLength(limit);
  });

  it("allows more candidates in longer values, so long ordinary text is not masked whole", () => {
    expect(candidateLimit(1_000_000)).toBeGreaterThan(candidateLimit(1_000));
    const text = "a normal sentence with secret-1 in it, repeated over and over again. ".repeat(2_000);
    expect(find(word, text)).toHaveLength(2_000);
  });

  it("searches a megabyte without a match in linear time", () => {
    const text = "lorem ipsum dolor sit amet ".repeat(40_000);
    const started = performance.now();
    expect(find(word, text)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("compiles each pattern once", () => {
    expect(compileRe2("secret-[0-9]+")).toBe(word);
  });
});
