// Character tests on UTF-16 code units, shared by the search loop and the
// detectors. Token boundaries are ASCII on purpose: they mirror RE2's \b,
// which the detector patterns use.

export function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

export function isAlphanumeric(code: number): boolean {
  return isDigit(code) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

export function isWordCharacter(code: number): boolean {
  return isAlphanumeric(code) || code === 95; // _
}

export function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** 2 at the start of a surrogate pair, else 1. */
export function codePointLength(text: string, i: number): number {
  return isHighSurrogate(text.charCodeAt(i)) && i + 1 < text.length ? 2 : 1;
}
