// The literal form of a statement text: the text with each of its plain
// constants — a '…' string, a decimal integer of up to nine digits — replaced
// by a placeholder, everything else kept as sent. Texts with the same form
// differ only in those values, and PostgreSQL's scanner turns each into a
// token of the same kind (SCONST, ICONST) whatever its value, so their parse
// trees differ only in the constants' values: the classifier (classify.ts)
// classifies a form once where nothing it reports depends on those values.
// Only plain text has a form: no quoted identifiers, no backslashes,
// comments, dollar quotes or E'…', U&'…', B'…', X'…' strings, no letters
// outside strings beyond ASCII; other numbers (1.5, 1e3, 0x1F, 1_000, ten or
// more digits) stay in the form as written. The tokens come along, for the
// evidence's masked view. Pure.

/** A token of a text with a form, in UTF-16 offsets: a word, a parameter, a number, a string or one other character. */
export interface FormToken {
  start: number;
  end: number;
  /** A constant the form replaced (its value is not in the form), and of which kind. */
  constant?: "string" | "number";
}

export interface LiteralForm {
  /** The text with each replaced constant as NUL and a letter (the protocol ends texts at NUL, so no text holds one). */
  key: string;
  tokens: FormToken[];
  /** Every character is ASCII: UTF-16 offsets are byte offsets. */
  ascii: boolean;
}

const MAX_PLAIN_INTEGER_DIGITS = 9;

const code = (character: string): number => character.charCodeAt(0);
const QUOTE = code("'");
const MINUS = code("-");
const SLASH = code("/");
const STAR = code("*");
const DOLLAR = code("$");
const DOT = code(".");
const PLUS = code("+");
const AMPERSAND = code("&");
const DOUBLE_QUOTE = code('"');
const BACKSLASH = code("\\");

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLetter = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isWordPart = (c: number): boolean => isLetter(c) || isDigit(c) || c === DOLLAR;
// Blanks as PostgreSQL's scanner knows them: space, tab, newline, carriage return, form feed (and vertical tab, which it rejects elsewhere).
const isBlank = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);
// Outside strings: ASCII punctuation that starts no quote, comment, escape or dollar quote.
const isPlainPunctuation = (c: number): boolean => c > 32 && c < 127 && c !== QUOTE && c !== DOUBLE_QUOTE && c !== BACKSLASH && c !== DOLLAR && !isWordPart(c);

/** A token found at a place: where it ends, and whether the form replaces it; undefined when the text has no form. */
type Scanned = { end: number; constant?: "string" | "number"; ascii?: false } | undefined;

/** The literal form of `text`, or undefined when the text is not plain enough to have one. */
export function literalForm(text: string): LiteralForm | undefined {
  const tokens: FormToken[] = [];
  const key: string[] = [];
  let ascii = true;
  let copiedTo = 0;
  let at = 0;
  while (at < text.length) {
    if (isBlank(text.charCodeAt(at))) {
      at += 1;
      continue;
    }
    const token = tokenAt(text, at);
    if (token === undefined) return undefined;
    if (token.constant !== undefined) {
      key.push(text.slice(copiedTo, at), token.constant === "string" ? "\u0000s" : "\u0000n");
      copiedTo = token.end;
      tokens.push({ start: at, end: token.end, constant: token.constant });
    } else {
      tokens.push({ start: at, end: token.end });
    }
    if (token.ascii === false) ascii = false;
    at = token.end;
  }
  key.push(text.slice(copiedTo));
  return { key: key.join(""), tokens, ascii };
}

/** The token starting at `at` (not a blank). */
function tokenAt(text: string, at: number): Scanned {
  const c = text.charCodeAt(at);
  if (isLetter(c)) return { end: runEnd(text, at, isWordPart) };
  if (c === DOLLAR) return parameterAt(text, at);
  if (isDigit(c) || (c === DOT && isDigit(text.charCodeAt(at + 1)))) return numberAt(text, at);
  if (c === QUOTE) return stringAt(text, at);
  if (!isPlainPunctuation(c)) return undefined;
  const next = text.charCodeAt(at + 1);
  // -- and /* start comments, &' is U&'…'.
  if ((c === MINUS && next === MINUS) || (c === SLASH && next === STAR) || (c === AMPERSAND && next === QUOTE)) return undefined;
  return { end: at + 1 };
}

function runEnd(text: string, from: number, part: (c: number) => boolean): number {
  let at = from;
  while (at < text.length && part(text.charCodeAt(at))) at += 1;
  return at;
}

/** Only $n, a parameter: $tag$ starts a dollar quote. */
function parameterAt(text: string, at: number): Scanned {
  if (!isDigit(text.charCodeAt(at + 1))) return undefined;
  const end = runEnd(text, at + 1, isDigit);
  return end < text.length && isWordPart(text.charCodeAt(end)) ? undefined : { end };
}

/** The whole run a number token could take: digits, letters (exponents, 0x…, junk the server rejects), _, dots, and signs after an e. */
function numberAt(text: string, start: number): Scanned {
  let at = start;
  while (at < text.length) {
    const next = text.charCodeAt(at);
    const exponentSign = (next === MINUS || next === PLUS) && (text[at - 1] === "e" || text[at - 1] === "E");
    if (!isWordPart(next) && next !== DOT && !exponentSign) break;
    at += 1;
  }
  const run = text.slice(start, at);
  // The server's scanner ends a number at $ (1$$…$$ is a number and a dollar quote): no form.
  if (run.includes("$")) return undefined;
  return /^[0-9]+$/.test(run) && run.length <= MAX_PLAIN_INTEGER_DIGITS ? { end: at, constant: "number" } : { end: at };
}

/** A '…' string (with '' for a quote); no backslash, and not right after a word or number (E'…', U&'…', B'…' or worse). */
function stringAt(text: string, start: number): Scanned {
  if (start > 0 && isWordPart(text.charCodeAt(start - 1))) return undefined;
  let ascii = true;
  let at = start + 1;
  for (;;) {
    if (at >= text.length) return undefined;
    const inside = text.charCodeAt(at);
    if (inside === BACKSLASH || inside === 0) return undefined;
    if (inside > 127) ascii = false;
    at += 1;
    if (inside === QUOTE) {
      if (text.charCodeAt(at) !== QUOTE) break;
      at += 1;
    }
  }
  return ascii ? { end: at, constant: "string" } : { end: at, constant: "string", ascii: false };
}

/**
 * `text` with every constant its form replaced given another value of the same kind: a number 0 (1 where it was
 * 0), a string '' ('x' where it was empty). Its form is the same.
 */
export function withOtherValues(text: string, form: LiteralForm): string {
  const pieces: string[] = [];
  let from = 0;
  for (const token of form.tokens) {
    if (token.constant === undefined) continue;
    const value = text.slice(token.start, token.end);
    const other = token.constant === "number" ? (/^0+$/.test(value) ? "1" : "0") : value === "''" ? "'x'" : "''";
    pieces.push(text.slice(from, token.start), other);
    from = token.end;
  }
  pieces.push(text.slice(from));
  return pieces.join("");
}
