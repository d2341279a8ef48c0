// Checks the regular expressions users write for masking. The sidecar runs them
// with RE2 (re2-wasm), whose matching is linear in the input, so a pattern like
// (a+)+$ cannot be turned against the gateway by what a backend returns.
// RE2 has no backreferences or lookaround; such patterns are refused here.
//
// re2-wasm has a fixed 16 MiB heap: compiling a pattern such as \pL{100} aborts
// it with an out-of-memory error, and a Unicode class like \pL alone costs
// ~100 ms to compile. So a pattern's compiled size is estimated before RE2
// sees it, and the estimate is bounded per pattern and per policy.
import { RE2 } from "re2-wasm";
import { LruCache } from "../lru.js";

/** The CRD's maxLength for a masking pattern. */
export const MAX_PATTERN_LENGTH = 1024;
/** The largest estimated compiled size of one pattern (see estimateRegexCost). */
export const MAX_PATTERN_COST = 10_000;

const RE2_SYNTAX = "RE2 syntax is required (no backreferences or lookaround; see https://github.com/google/re2/wiki/Syntax)";
const CACHE_SIZE = 1000;

// Weights, measured with re2-wasm: relative compile cost of one copy of an atom.
const LITERAL_COST = 1;
const ASCII_CLASS_COST = 5; // \d, \w, [a-z]
const WIDE_CLASS_COST = 15; // ., \D, [^x]: every Unicode code point as UTF-8 ranges
const UNICODE_PROPERTY_COST = 2_500; // \pL, \p{Greek}: hundreds of ranges
const COST_CAP = Number.MAX_SAFE_INTEGER;

// A valid pattern is cached as VALID so that the cache can tell it from a miss.
const VALID = "";
const checked = new LruCache<string, string>(CACHE_SIZE);

/** Returns why `pattern` is not a usable RE2 pattern, or undefined when it is. */
export function checkRegex(pattern: string): string | undefined {
  const hit = checked.get(pattern);
  if (hit !== undefined) return hit === VALID ? undefined : hit;
  const problem = checkUncached(pattern);
  checked.set(pattern, problem ?? VALID);
  return problem;
}

function checkUncached(pattern: string): string | undefined {
  if (pattern.length === 0) return "the pattern is empty; it would match everywhere";
  if (pattern.length > MAX_PATTERN_LENGTH) {
    return `the pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed`;
  }
  const cost = estimateRegexCost(pattern);
  if (cost > MAX_PATTERN_COST) {
    return `pattern ${quote(pattern)} is too large to compile safely (estimated size ${cost}, at most ${MAX_PATTERN_COST}): use fewer or smaller counted repetitions and Unicode classes such as \\pL`;
  }
  return compileWithRe2(pattern);
}

function compileWithRe2(pattern: string): string | undefined {
  let re: RE2 | undefined;
  try {
    re = new RE2(pattern, "u");
    return undefined;
  } catch (error) {
    if (error instanceof SyntaxError) {
      const prefix = `Invalid regular expression: /${pattern}/u: `;
      const reason = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
      return `pattern ${quote(pattern)} is not a valid RE2 regular expression: ${reason}; ${RE2_SYNTAX}`;
    }
    // Anything else is the WASM module failing (e.g. out of memory): refuse rather than guess.
    return `pattern ${quote(pattern)} could not be compiled by RE2 (${firstLine(error)}); simplify it`;
  } finally {
    if (re) release(re);
  }
}

/**
 * re2-wasm never frees a compiled pattern (a C++ object in the WASM heap); without
 * deleting it, every check would leak until the fixed heap is exhausted.
 */
function release(re: RE2): void {
  const wrapper = (re as unknown as { wrapper?: { delete?: () => void } }).wrapper;
  if (typeof wrapper?.delete === "function") wrapper.delete();
}

/** Sums atom costs per group; a counted repetition multiplies the atom or group before it. */
class CostCounter {
  private readonly stack: { total: number; last: number }[] = [{ total: 0, last: 0 }];

  private get top(): { total: number; last: number } {
    return this.stack[this.stack.length - 1] as { total: number; last: number };
  }

  atom(cost: number): void {
    this.top.total = Math.min(COST_CAP, this.top.total + cost);
    this.top.last = cost;
  }

  open(): void {
    this.stack.push({ total: 0, last: 0 });
  }

  close(): void {
    if (this.stack.length > 1) this.atom((this.stack.pop() as { total: number }).total);
  }

  repeat(count: number): void {
    const frame = this.top;
    const repeated = Math.min(COST_CAP, frame.last * count);
    frame.total = Math.min(COST_CAP, frame.total - frame.last + repeated);
    frame.last = repeated;
  }

  result(): number {
    while (this.stack.length > 1) this.close();
    return this.top.total;
  }
}

/**
 * Estimates how large RE2's compiled program for `pattern` is, in units of one
 * literal character: counted repetitions multiply what they repeat, and
 * character classes cost by how many UTF-8 ranges they expand to. The estimate
 * is coarse but monotone, which is all a safety bound needs. Syntax errors are
 * left to RE2.
 */
export function estimateRegexCost(pattern: string): number {
  const counter = new CostCounter();
  let i = 0;
  while (i < pattern.length) i = scanToken(pattern, i, counter);
  return counter.result();
}

const NO_COPY_TOKENS = new Set(["*", "+", "?", "|", "^", "$"]);

/** Counts the token at `i` and returns the index after it. */
function scanToken(pattern: string, i: number, counter: CostCounter): number {
  const c = pattern[i] ?? "";
  // Unbounded repetition loops over one copy; alternation and anchors copy nothing.
  if (NO_COPY_TOKENS.has(c)) return i + 1;
  switch (c) {
    case "\\":
    case "[": {
      const [cost, next] = c === "[" ? scanClass(pattern, i) : scanEscape(pattern, i);
      counter.atom(cost);
      return next;
    }
    case "(": {
      const opening = scanGroupOpening(pattern, i);
      if (opening.opensGroup) counter.open();
      return opening.index;
    }
    case ")":
      counter.close();
      return i + 1;
    case "{": {
      const repeat = scanRepeat(pattern, i);
      if (!repeat) break;
      counter.repeat(repeat.count);
      return repeat.next;
    }
    case ".":
      counter.atom(WIDE_CLASS_COST);
      return i + 1;
  }
  counter.atom(LITERAL_COST);
  return i + 1;
}

/** Returns [cost, index after the escape]. */
function scanEscape(pattern: string, start: number): [number, number] {
  const kind = pattern[start + 1] ?? "";
  if (kind === "p" || kind === "P") {
    if (pattern[start + 2] === "{") {
      const close = pattern.indexOf("}", start + 3);
      return [UNICODE_PROPERTY_COST, close < 0 ? pattern.length : close + 1];
    }
    return [UNICODE_PROPERTY_COST, start + 3];
  }
  if (kind === "Q") {
    const end = pattern.indexOf("\\E", start + 2);
    const stop = end < 0 ? pattern.length : end;
    return [(stop - (start + 2)) * LITERAL_COST, end < 0 ? pattern.length : end + 2];
  }
  if (kind === "x" && pattern[start + 2] === "{") {
    const close = pattern.indexOf("}", start + 3);
    return [LITERAL_COST, close < 0 ? pattern.length : close + 1];
  }
  if (/^[DWSC]$/.test(kind)) return [WIDE_CLASS_COST, start + 2];
  if (/^[dws]$/.test(kind)) return [ASCII_CLASS_COST, start + 2];
  if (/^[bBAz]$/.test(kind)) return [0, start + 2];
  return [LITERAL_COST, start + 2];
}

/** Returns [cost, index after the closing bracket] for a bracket expression at `start`. */
function scanClass(pattern: string, start: number): [number, number] {
  let i = start + 1;
  const negated = pattern[i] === "^";
  if (negated) i += 1;
  if (pattern[i] === "]") i += 1; // a leading ] is a literal
  let cost = negated ? WIDE_CLASS_COST : ASCII_CLASS_COST;
  while (i < pattern.length && pattern[i] !== "]") {
    if (pattern[i] === "\\") {
      const [escapeCost, next] = scanEscape(pattern, i);
      if (escapeCost > LITERAL_COST) cost += escapeCost;
      i = next;
    } else if (pattern.startsWith("[:", i)) {
      const close = pattern.indexOf(":]", i + 2);
      i = close < 0 ? i + 1 : close + 2;
    } else {
      i += 1;
    }
  }
  return [cost, Math.min(pattern.length, i + 1)];
}

/** `(?i)` only sets flags; `(?:`, `(?i:`, `(?P<n>`, `(?<n>` and `(` open a group. */
function scanGroupOpening(pattern: string, start: number): { opensGroup: boolean; index: number } {
  if (pattern[start + 1] !== "?") return { opensGroup: true, index: start + 1 };
  let i = start + 2;
  if (pattern[i] === "P" || pattern[i] === "<") {
    const close = pattern.indexOf(">", i);
    return { opensGroup: true, index: close < 0 ? pattern.length : close + 1 };
  }
  while (i < pattern.length && pattern[i] !== ":" && pattern[i] !== ")") i += 1;
  return { opensGroup: pattern[i] === ":", index: i + 1 };
}

/** Parses {n}, {n,} or {n,m}; returns how many copies RE2 makes and where it ends. */
function scanRepeat(pattern: string, start: number): { count: number; next: number } | undefined {
  const match = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(start, start + 24));
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = match[3] ? Number(match[3]) : undefined;
  // {n,} is n copies and a loop; {n,m} is m copies (the optional ones nested).
  const count = match[2] === undefined ? min : max === undefined ? min + 1 : max;
  return { count: Math.max(1, count), next: start + match[0].length };
}

function quote(pattern: string): string {
  return `"${pattern.length > 80 ? `${pattern.slice(0, 77)}...` : pattern}"`;
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return (text.split("\n")[0] ?? "").slice(0, 200);
}
