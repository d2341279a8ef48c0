// Finds the matches of an RE2 pattern (re2-wasm) in a result value. User
// patterns must run on RE2, whose matching is linear in the input, but
// re2-wasm has properties this module hides from the detectors:
// - every exec copies the whole input into the WASM heap (about 60 ns per
//   character here), so searching a long value for many matches would cost
//   matches × length; values longer than SEARCH_WINDOW are searched in
//   overlapping windows instead, which keeps the cost linear, and a value
//   with more than MAX_CANDIDATES candidates for one detector or pattern is
//   masked whole, which bounds the cost per value without letting it through
//   half-searched;
// - it reports and takes positions in code points, while JavaScript strings
//   count UTF-16 units, so positions are translated when a value holds
//   characters outside the Basic Multilingual Plane;
// - a compiled pattern lives in a fixed 16 MiB heap and is never freed, so
//   each distinct pattern is compiled once per process and reused by every
//   later configuration revision.
import { RE2 } from "re2-wasm";

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

/** Values up to this many UTF-16 units are searched in one piece, longer ones in windows this long. */
export const SEARCH_WINDOW = 2048;
/**
 * Consecutive windows share this many units, so every match up to this long
 * lies whole inside some window; longer matches are found when they start
 * early enough in a window or when their cut-off beginning already matches.
 */
export const SEARCH_OVERLAP = 1024;

/** Candidates (kept, rejected or empty) one search looks at before it gives up and masks the whole value. */
export const MAX_CANDIDATES = 512;

const compiled = new Map<string, RE2>();

/** The process-wide compiled form of an RE2 pattern, global and Unicode-aware. Throws SyntaxError when RE2 rejects it. */
export function compileRe2(source: string): RE2 {
  let re = compiled.get(source);
  if (!re) {
    re = new RE2(source, "gu");
    compiled.set(source, re);
  }
  return re;
}

/**
 * Every non-overlapping match of `re` in `text` that `accept` keeps, left to
 * right; the whole text as one span when it holds more than MAX_CANDIDATES.
 */
export function findSpans(re: RE2, text: string, accept?: Accept): Span[] {
  const positions = PositionMap.of(text);
  const spans: Span[] = [];
  let from = 0;
  let candidates = 0;
  while (from < text.length) {
    const match = text.length <= SEARCH_WINDOW ? execAt(re, text, from, 0, positions) : windowedMatch(re, text, from, positions);
    if (!match) break;
    candidates += 1;
    if (candidates > MAX_CANDIDATES) return [{ start: 0, end: text.length }];
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
 * (anything starting earlier and at most SEARCH_OVERLAP long was visible
 * whole) and ends before the window does; a match running into the window's
 * end is searched again from where it starts, with room to finish.
 */
function windowedMatch(re: RE2, text: string, from: number, positions: PositionMap | undefined): Span | undefined {
  let start = from;
  let size = SEARCH_WINDOW;
  for (;;) {
    const end = alignToCodePoint(text, Math.min(text.length, start + size));
    const match = execAt(re, text.slice(start, end), 0, start, positions);
    if (end === text.length) return match;
    const overlapStart = alignToCodePoint(text, end - SEARCH_OVERLAP);
    if (match && match.start < overlapStart) {
      if (match.end < end) return match;
      if (match.start > start) start = match.start;
      else size *= 2;
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
    let pairs = 0;
    for (let i = 0; i < text.length; i++) if (isHighSurrogate(text.charCodeAt(i))) pairs += 1;
    if (pairs === 0) return undefined;
    const units = new Uint32Array(text.length - pairs + 1);
    let codePoint = 0;
    for (let i = 0; i < text.length; i += codePointLength(text, i)) units[codePoint++] = i;
    units[codePoint] = text.length;
    return new PositionMap(units);
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

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function codePointLength(text: string, i: number): number {
  return isHighSurrogate(text.charCodeAt(i)) && i + 1 < text.length ? 2 : 1;
}

/** Moves a window edge off the middle of a surrogate pair. */
function alignToCodePoint(text: string, i: number): number {
  return i > 0 && i < text.length && isHighSurrogate(text.charCodeAt(i - 1)) ? i - 1 : i;
}

function isAsciiAlphanumeric(code: number): boolean {
  return (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/**
 * Where to search on after a rejected candidate: past its first word, so the
 * next candidate cannot start in the middle of the same word.
 */
function afterFirstToken(text: string, start: number): number {
  let i = start;
  while (i < text.length && !isAsciiAlphanumeric(text.charCodeAt(i))) i += 1;
  while (i < text.length && isAsciiAlphanumeric(text.charCodeAt(i))) i += 1;
  return Math.max(i, start + codePointLength(text, start));
}
