import { describe, expect, it } from "@jest/globals";
import { MAX_CANDIDATES, SEARCH_OVERLAP, SEARCH_WINDOW, compileRe2, findSpans, type Span } from "./re2-search.js";

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
    const spans = findSpans(word, text);
    expect(texts(text, spans)).toEqual(["secret-1", "secret-22", "secret-333"]);
    expect(spans[1]).toEqual({ start: text.indexOf("secret-22"), end: text.indexOf("secret-22") + 9 });
  });

  // Matches placed at, across and just after window edges and overlaps of a long value.
  const edges = [0, SEARCH_WINDOW - SEARCH_OVERLAP - 3, SEARCH_WINDOW - 5, 2 * SEARCH_WINDOW - 4, 3 * SEARCH_WINDOW - SEARCH_OVERLAP, 3 * SEARCH_WINDOW + 7];
  it.each([
    ["ASCII", "lorem ipsum "],
    ["text with astral characters", "lorem 😀 ipsüm "],
  ])("finds matches across window edges of a long value (%s)", (_, filler) => {
    const text = place(5 * SEARCH_WINDOW, filler, " secret-12345 ", [...edges, 5 * SEARCH_WINDOW - 14]);
    const spans = findSpans(word, text);
    expect(texts(text, spans)).toEqual(Array(edges.length + 1).fill("secret-12345"));
    for (const span of spans) expect(text.slice(span.start - 1, span.end + 1)).toBe(" secret-12345 ");
  });

  it("finds a match much longer than the overlap that runs into a window's end", () => {
    const long = `secret-${"9".repeat(3 * SEARCH_WINDOW)}`;
    const text = `${"x ".repeat(SEARCH_WINDOW / 2 - 10)}${long} tail`;
    expect(texts(text, findSpans(word, text))).toEqual([long]);
  });

  it("keeps only what accept keeps, and searches on past a rejected candidate", () => {
    const text = "secret-1 secret-22 secret-333";
    const keepLong = (_: string, start: number, end: number): Span | undefined => (end - start > 9 ? { start, end } : undefined);
    expect(texts(text, findSpans(word, text, keepLong))).toEqual(["secret-333"]);
  });

  it.each([
    ["a short", "ab cd 😀 ef"],
    ["a long", "ab cd 😀 ef ".repeat(SEARCH_WINDOW / 8)],
  ])("steps over empty matches in %s value instead of looping (a long one runs into the candidate limit)", (_, text) => {
    expect(findSpans(compileRe2(String.raw`\b`), text)).toEqual(text.length > SEARCH_WINDOW ? [{ start: 0, end: text.length }] : []);
  });

  it("masks the whole value once it holds more candidates than it may search", () => {
    const many = "secret-1 ".repeat(MAX_CANDIDATES + 1);
    expect(findSpans(word, many)).toEqual([{ start: 0, end: many.length }]);
    const enough = "secret-1 ".repeat(MAX_CANDIDATES);
    expect(findSpans(word, enough)).toHaveLength(MAX_CANDIDATES);
  });

  it("searches a megabyte without a match in linear time", () => {
    const text = "lorem ipsum dolor sit amet ".repeat(40_000);
    const started = performance.now();
    expect(findSpans(word, text)).toEqual([]);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("compiles each pattern once", () => {
    expect(compileRe2("secret-[0-9]+")).toBe(word);
  });
});
