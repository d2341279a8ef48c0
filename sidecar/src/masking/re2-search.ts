// Finds the matches of an RE2 pattern (re2-wasm) in a result value. User
// patterns must run on RE2, whose matching is linear in the input, but
// re2-wasm has properties this module hides from the detectors:
// - every exec copies the whole input into the WASM heap and searches it
//   from the start (10 to 75 ns per character here, by pattern), so
//   searching a long value for many matches would cost matches × length.
//   Long values are searched in overlapping windows
//   instead: small ones for the built-in detectors, whose candidates are
//   short or still match when cut short, large ones for user patterns, whose
//   matches may be long (a PEM block). And a value with more candidates than
//   candidateLimit allows is masked whole, which bounds the cost of a value
//   built to be expensive without letting it through half-searched;
// - it reports and takes positions in code points, while JavaScript strings
//   count UTF-16 units, so positions are translated when a value holds
//   characters outside the Basic Multilingual Plane;
// - a compiled pattern lives in a fixed 16 MiB heap and is never freed, so
//   each distinct pattern is compiled once per process and reused by every
//   later configuration revision;
// - it takes about 13 MiB once loaded, so it is loaded by the first pattern
//   compiled, not by a gateway that masks nothing.
import { createRequire } from "node:module";
import type { RE2 } from "re2-wasm";
import { codePointLength, isAlphanumeric, isHighSurrogate } from "./characters.js";

/** A part of a string, in UTF-16 units, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

/**
 * Decides about one candidate match: the part of it to mask (the whole match,
 * a shorter prefix, or the value inside it), or undefined to pass it over.
 */
export type Accept = (text: string, start: number, end: number) => Span | undefined;

/**
 * Values up to `size` UTF-16 units are searched in one piece, longer ones in
 * windows that long. Consecutive windows share `overlap` units, so every
 * match up to that long lies whole inside some window; a longer one is found
 * when its cut-off beginning already matches (the search then widens).
 */
export interface SearchWindow {
  size: number;
  overlap: number;
}

/** For the built-in detectors: their candidates are at most a few hundred characters, or still match when cut. */
export const DETECTOR_WINDOW: SearchWindow = { size: 2048, overlap: 1024 };
/** For user patterns, which may match long stretches; each exec costs about 2 ms at this size. */
export const PATTERN_WINDOW: SearchWindow = { size: 32_768, overlap: 16_384 };

/**
 * The widest a window grows while a match keeps running into its end. Each exec copies its input into
 * re2-wasm's fixed 16 MiB heap, and a heap that overflows stays unusable for every later search, so a
 * match longer than this is masked from where it starts to the end of the value instead.
 */
export const MAX_WINDOW = 262_144;

/**
 * How many candidates (kept, rejected or empty matches) one search of a text
 * this long may look at before it gives up and masks the whole value.
 */
export function candidateLimit(length: number): number {
  return Math.max(512, Math.ceil(length / 32));
}

const compiled = new Map<string, RE2>();
let re2: typeof RE2 | undefined;

/** The process-wide compiled form of an RE2 pattern, global and Unicode-aware. Throws SyntaxError when RE2 rejects it. */
export function compileRe2(source: string): RE2 {
  let re = compiled.get(source);
  if (!re) {
    re2 ??= (createRequire(import.meta.url)("re2-wasm") as typeof import("re2-wasm")).RE2;
    re = new re2(source, "gu");
    compiled.set(source, re);
  }
  return re;
}

/**
 * Every non-overlapping match of `re` in `text` that `accept` keeps, left to
 * right; the whole text as one span when it holds more candidates than
 * candidateLimit allows.
 */
export function findSpans(re: RE2, text: string, window: SearchWindow, accept?: Accept): Span[] {
  const positions = PositionMap.of(text);
  const limit = candidateLimit(text.length);
  const spans: Span[] = [];
  let from = 0;
  let candidates = 0;
  while (from < text.length) {
    const match = text.length <= window.size ? execAt(re, text, from, 0, positions) : windowedMatch(re, text, from, window, positions);
    if (!match) break;
    candidates += 1;
    if (candidates > limit) return [{ start: 0, end: text.length }];
    if (match.end === match.start) {
      // An empty match masks nothing; step over one character so the search always advances.
      from = match.start + codePointLength(text, match.start);
      continue;
    }
    const kept = accept ? accept(text, match.start, match.end) : match;
    if (kept) {
      spans.push(kept);
      from = kept.end;
    } else {
      from = afterFirstToken(text, match.start);
    }
  }
  return spans;
}

/**
 * The first match at or after `from` in a long text, searching windows of
 * bounded size. A match is trusted when it starts before the window's overlap
 * (anything starting earlier and at most `overlap` long was visible whole)
 * and ends before the window does; a match running into the window's end is
 * searched again from where it starts, with room to finish (up to MAX_WINDOW).
 */
function windowedMatch(re: RE2, text: string, from: number, window: SearchWindow, positions: PositionMap | undefined): Span | undefined {
  let start = from;
  let size = window.size;
  for (;;) {
    const end = alignToCodePoint(text, Math.min(text.length, start + size));
    const match = execAt(re, text.slice(start, end), 0, start, positions);
    if (end === text.length) return match;
    const overlapStart = alignToCodePoint(text, end - window.overlap);
    if (match && match.start < overlapStart) {
      if (match.end < end) return match;
      if (match.start > start) start = match.start;
      else if (size >= MAX_WINDOW) return { start: match.start, end: text.length };
      else size = Math.min(size * 2, MAX_WINDOW);
    } else {
      start = overlapStart;
    }
  }
}

/** Runs one exec on `input` (which starts at `offset` in the whole text) from UTF-16 position `from`. */
function execAt(re: RE2, input: string, from: number, offset: number, positions: PositionMap | undefined): Span | undefined {
  const base = positions ? positions.codePointAt(offset) : offset;
  re.lastIndex = positions ? positions.codePointAt(offset + from) - base : from;
  const found = re.exec(input);
  if (!found) return undefined;
  const start = positions ? positions.unitAt(base + found.index) : offset + found.index;
  return { start, end: start + (found[0] ?? "").length };
}

/** Maps code-point positions to UTF-16 positions for a text that holds surrogate pairs. */
class PositionMap {
  private constructor(private readonly units: Uint32Array) {}

  /** Undefined when the text has no surrogate pairs: then both ways of counting agree. */
  static of(text: string): PositionMap | undefined {
    let hasPairs = false;
    for (let i = 0; i < text.length && !hasPairs; i++) hasPairs = codePointLength(text, i) === 2;
    if (!hasPairs) return undefined;
    const units = new Uint32Array(text.length + 1);
    let codePoint = 0;
    for (let i = 0; i < text.length; i += codePointLength(text, i)) units[codePoint++] = i;
    units[codePoint] = text.length;
    return new PositionMap(units.subarray(0, codePoint + 1));
  }

  unitAt(codePoint: number): number {
    return this.units[codePoint] ?? this.units[this.units.length - 1] ?? 0;
  }

  /** The code point starting at UTF-16 position `unit` (which must not split a pair). */
  codePointAt(unit: number): number {
    let low = 0;
    let high = this.units.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.units[middle] ?? 0) < unit) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Moves a window edge off the middle of a surrogate pair. */
function alignToCodePoint(text: string, i: number): number {
  return i > 0 && i < text.length && isHighSurrogate(text.charCodeAt(i - 1)) ? i - 1 : i;
}

/**
 * Where to search on after a rejected candidate: past its first word, so the
 * next candidate cannot start in the middle of the same word.
 */
function afterFirstToken(text: string, start: number): number {
  let i = start;
  while (i < text.length && !isAlphanumeric(text.charCodeAt(i))) i += 1;
  while (i < text.length && isAlphanumeric(text.charCodeAt(i))) i += 1;
  return Math.max(i, start + codePointLength(text, start));
}
