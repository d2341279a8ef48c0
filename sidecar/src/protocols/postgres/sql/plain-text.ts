// Plain statement text: ASCII, without quotes of any kind, backslashes,
// comments or dollar quotes ($ only as $n), so every token is a word, a
// number, a parameter or one punctuation character, and the only values are
// numbers. Most statements an agent or a benchmark sends look like this, and
// for them the evidence's masked view tokenises here instead of in
// PostgreSQL's scanner (which costs more than the parse). Each number is
// checked against the constant the parse tree has at its place, and any doubt
// leaves the text to the scanner. Pure.
import type { ScannedToken } from "./parser.js";

/** A constant of the parse tree: where its token (or its sign) starts, and its value. */
export interface PlainConstant {
  location: number;
  value: string;
}

const PLAIN_TEXT = /^(?:[^\x80-\uffff'"\\$\-/]|\$[0-9]|-(?!-)|\/(?!\*))*$/;
const WORD = /[A-Za-z_][A-Za-z0-9_$]*/y;
const PARAMETER = /\$[0-9]+/y;
// A decimal number with its fraction and exponent, or 0x…, 0o…, 0b…; what follows a number without a space is checked below.
const NUMBER = /(?:0[xX][0-9A-Fa-f_]+|0[oO][0-7_]+|0[bB][01_]+|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?)/y;

/**
 * The tokens of plain text, each number checked against the constant the parse tree has at its place (so a token end
 * this lexer judged differently from the server is never used); undefined when the text is not plain or a check fails.
 */
export function plainTokens(text: string, constants: readonly PlainConstant[]): ScannedToken[] | undefined {
  if (!PLAIN_TEXT.test(text)) return undefined;
  const byLocation = new Map(constants.map((constant) => [constant.location, constant]));
  const tokens: ScannedToken[] = [];
  let numbers = 0;
  for (let at = 0; at < text.length; ) {
    if (/\s/.test(text[at] ?? "")) {
      at += 1;
      continue;
    }
    const token = plainTokenAt(text, at);
    if (token.number) {
      if (!numberMatches(text, token.text, at, tokens.at(-1), byLocation)) return undefined;
      numbers += 1;
    }
    tokens.push({ text: token.text, start: at, end: at + token.text.length });
    at += token.text.length;
  }
  return numbers === constants.length ? tokens : undefined;
}

/** The token of plain text at `at`: a word, a parameter, a number or one other character. */
function plainTokenAt(text: string, at: number): { text: string; number: boolean } {
  for (const pattern of [WORD, PARAMETER]) {
    pattern.lastIndex = at;
    const match = pattern.exec(text)?.[0];
    if (match !== undefined) return { text: match, number: false };
  }
  NUMBER.lastIndex = at;
  const number = NUMBER.exec(text)?.[0];
  return number !== undefined ? { text: number, number: true } : { text: text[at] ?? "", number: false };
}

/** Whether the number at `at` is the constant the parse tree has there (or at the sign before it), ending where it ends. */
function numberMatches(text: string, number: string, at: number, before: ScannedToken | undefined, byLocation: ReadonlyMap<number, PlainConstant>): boolean {
  // A number runs into a letter, digit or dot only where this lexer and the server's might disagree.
  if (/[A-Za-z0-9_.$]/.test(text[at + number.length] ?? "")) return false;
  const sign = before && (before.text === "-" || before.text === "+") ? before : undefined;
  const constant = byLocation.get(at) ?? (sign ? byLocation.get(sign.start) : undefined);
  if (constant === undefined) return false;
  return Number(constant.value) === Number(constant.location === at ? number : `${sign?.text ?? ""}${number}`);
}

