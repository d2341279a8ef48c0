// What a built-in detector is made of, and the token-boundary tests the
// detectors share. A detector is an RE2 pattern that finds candidates, a cheap
// test that lets most values skip RE2 entirely (each RE2 call copies the value
// into WASM), and an acceptance check for what a pattern cannot say: checksums,
// ranges, and that a number is not just the middle of a longer one. Patterns
// start with \b where they can, so fewer candidates reach that check.
import { isAlphanumeric, isDigit, isWordCharacter } from "./characters.js";
import type { Accept, Span } from "./re2-search.js";

export interface Detector {
  /** RE2 syntax; finds candidates, which `accept` confirms. */
  pattern: string;
  /** False when the text cannot hold a match, so RE2 need not run. */
  mayContain(text: string): boolean;
  accept?: Accept;
}

/**
 * True when position `i` begins a token: the character before is not part of
 * a word, nor a joiner (one of `joiners`, e.g. "-" in 2024-555) that follows
 * one, so 555-1234 inside 2024-555-1234 does not count on its own.
 */
export function startsToken(text: string, i: number, joiners = "-."): boolean {
  if (i === 0) return true;
  if (isWordCharacter(text.charCodeAt(i - 1))) return false;
  return !(joiners.includes(text.charAt(i - 1)) && i >= 2 && isAlphanumeric(text.charCodeAt(i - 2)));
}

/** True when position `i` ends a token: what follows is not part of a word, nor a joiner followed by one. */
export function endsToken(text: string, i: number, joiners = "-."): boolean {
  if (i >= text.length) return true;
  if (isWordCharacter(text.charCodeAt(i))) return false;
  return !(joiners.includes(text.charAt(i)) && i + 1 < text.length && isAlphanumeric(text.charCodeAt(i + 1)));
}

/**
 * True when a number written in groups (4111 1111 1111 1112) goes on at position `i`: a space and then a
 * digit. A detector must not claim the first groups of a longer number.
 */
export function numberGoesOn(text: string, i: number): boolean {
  return text.charAt(i) === " " && isDigit(text.charCodeAt(i + 1));
}

/** True when a number written in groups came before position `i`: a digit and then a space. */
export function numberCameBefore(text: string, i: number): boolean {
  return i >= 2 && text.charAt(i - 1) === " " && isDigit(text.charCodeAt(i - 2));
}

/** True when `text` holds at least `wanted` characters that pass `test`; stops counting as soon as it does. */
export function hasAtLeast(text: string, wanted: number, test: (code: number) => boolean): boolean {
  let found = 0;
  for (let i = 0; i < text.length && found < wanted; i++) if (test(text.charCodeAt(i))) found += 1;
  return found >= wanted;
}

/** The runs of digits in text[start, end), as spans. */
export function digitGroups(text: string, start: number, end: number): Span[] {
  const groups: Span[] = [];
  let i = start;
  while (i < end) {
    while (i < end && !isDigit(text.charCodeAt(i))) i += 1;
    const groupStart = i;
    while (i < end && isDigit(text.charCodeAt(i))) i += 1;
    if (i > groupStart) groups.push({ start: groupStart, end: i });
  }
  return groups;
}
