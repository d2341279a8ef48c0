// The server reads a query's text under two session settings that change where
// tokens end: standard_conforming_strings (off: a backslash in '…' escapes the
// next character, as in E'…') and client_encoding (SJIS, BIG5, GBK, UHC,
// GB18030 and JOHAB have two-byte characters whose second byte is `\` or `'`).
// The gateway's parser always reads standard strings in UTF-8, so before a
// text is classified it is turned into the text the gateway's parser reads
// exactly as the server will — or refused when that cannot be known.
//
// - standard_conforming_strings off: every '…' literal that holds a backslash
//   is given an E prefix (a literal read with escapes may end elsewhere, which
//   moves every later token), and PostgreSQL's own scanner checks the result.
//   A literal without backslashes reads the same either way, so a text
//   without one is left alone.
// - unknown (an earlier statement of the same pipeline may have changed it):
//   only texts that read the same under both settings pass, i.e. no '…'
//   literal holds a backslash.
// - client_encoding other than UTF8, or unknown: only ASCII text passes. ASCII
//   bytes are ASCII characters in every encoding PostgreSQL accepts from
//   clients, so such text reads the same everywhere; anything else is refused.
import { ClassificationError, scanTokens, ServerParserError } from "./parser.js";

/** The settings a text is read under; undefined: not known (something that ran since may have changed it). */
export interface SqlReading {
  standardConformingStrings?: boolean | undefined;
  clientEncoding?: string | undefined;
  /** The server's major version (older grammars know fewer keywords: older-grammars.ts). */
  serverMajor?: number | undefined;
}

/** What the gateway's parser assumes: PostgreSQL's defaults since 9.1, and the gateway's own client_encoding. */
export const STANDARD_READING: Readonly<SqlReading> = { standardConformingStrings: true, clientEncoding: "UTF8" };

export function isStandardReading(reading: SqlReading): boolean {
  return reading.standardConformingStrings === true && reading.clientEncoding === "UTF8";
}

/** A short tag for cache keys: texts read differently must not share a classification. */
export function readingKey(reading: SqlReading): string {
  return `${String(reading.standardConformingStrings)}/${reading.clientEncoding ?? "?"}`;
}

// A plain string constant: an SCONST that starts with a quote (not E'…', $$…$$ or, for N'…', the N token before it).
const isPlainLiteral = (token: { text: string }): boolean => token.text.startsWith("'");

/**
 * The text to classify in place of `text`, which the server reads under `reading`: the same text for the
 * standard reading. Throws ClassificationError when the gateway cannot be sure how the server reads it.
 */
export function textAsServerReads(text: string, reading: SqlReading): string {
  checkEncoding(text, reading.clientEncoding);
  if (reading.standardConformingStrings === false) refuseUnicodeLiterals(text);
  if (reading.standardConformingStrings === true || !text.includes("\\")) return text;
  if (reading.standardConformingStrings === undefined) {
    if (dependsOnStandardStrings(text)) {
      throw new ClassificationError(
        "the statement has a backslash in a '…' literal, and an earlier statement of the same pipeline may have changed standard_conforming_strings, which decides how the server reads it; send it after that statement has completed, or write the literal as E'…'",
      );
    }
    return text;
  }
  return withEscapeLiterals(text);
}

/** With standard_conforming_strings off the server rejects every U&'…' literal; so does the gateway, in its words. */
function refuseUnicodeLiterals(text: string): void {
  if (!/[uU]&/.test(text)) return;
  const literal = scanTokens(text).find((token) => /^[uU]&'/.test(token.text));
  if (!literal) return;
  throw new ServerParserError({
    code: "0A000",
    message: "unsafe use of string constant with Unicode escapes",
    detail: "String constants with Unicode escapes cannot be used when standard_conforming_strings is off.",
    offset: [...Buffer.from(text, "utf8").subarray(0, literal.start).toString("utf8")].length,
  });
}

/** Whether the text reads differently with standard_conforming_strings on and off: a '…' literal holds a backslash. */
export function dependsOnStandardStrings(text: string): boolean {
  return text.includes("\\") && scanTokens(text).some((token) => isPlainLiteral(token) && token.text.includes("\\"));
}

function checkEncoding(text: string, encoding: string | undefined): void {
  if (encoding === "UTF8" || !/[\u0080-\uffff]/.test(text)) return;
  if (encoding === undefined) {
    throw new ClassificationError(
      "the statement has non-ASCII characters, and an earlier statement of the same pipeline may have changed client_encoding, which decides how the server reads them; send it after that statement has completed",
    );
  }
  throw new ClassificationError(
    `the statement has non-ASCII characters while client_encoding is ${encoding}; the gateway reads such text only in UTF8 (SET client_encoding = 'UTF8')`,
  );
}

/**
 * standard_conforming_strings off: the same statements, with every '…' literal that holds a backslash
 * written as E'…'. A small lexer of the server's reading proposes where those literals start; PostgreSQL's
 * own scanner then checks the result, and any disagreement refuses the text: a mistake of the lexer can
 * refuse a good text, never let a misread one through.
 */
function withEscapeLiterals(text: string): string {
  const starts = escapedLiteralStarts(text);
  const parts: string[] = [];
  // Byte offsets, in the rewritten text, of the inserted Es.
  const inserted = new Set<number>();
  let bytes = 0;
  let from = 0;
  for (const start of starts) {
    const segment = text.slice(from, start);
    bytes += Buffer.byteLength(segment, "utf8");
    // A space keeps an identifier written against the quote (int4'1') from swallowing the E.
    parts.push(segment, " E");
    inserted.add(bytes + 1);
    bytes += 2;
    from = start;
  }
  parts.push(text.slice(from));
  const rewritten = parts.join("");
  verifyRewrite(rewritten, inserted);
  return rewritten;
}

const unreadable = (detail: string): ClassificationError =>
  new ClassificationError(`the gateway cannot be sure how the server reads this statement while standard_conforming_strings is off (${detail}); write its literals as E'…'`);

/**
 * The rewrite reads as the server reads the original when, in the scanner's own reading of it, every inserted
 * E starts an E'…' literal (and does not follow the N of N'…') and no '…' literal holds a backslash: up to each
 * literal the two readings agree token by token, an E'…' literal is read as the server reads '…' with
 * standard_conforming_strings off, and a '…' literal without backslashes ends in the same place either way.
 */
function verifyRewrite(rewritten: string, inserted: ReadonlySet<number>): void {
  const tokens = scanTokens(rewritten);
  let found = 0;
  for (const [index, token] of tokens.entries()) {
    if (isPlainLiteral(token) && token.text.includes("\\")) throw unreadable("a literal with a backslash was not where the gateway expected it");
    if (!inserted.has(token.start)) continue;
    if (!token.text.startsWith("E'")) throw unreadable("a literal was not where the gateway expected it");
    const before = tokens[index - 1];
    if (before && before.end === token.start - 1 && before.text.toLowerCase() === "n") {
      throw new ClassificationError("a national-character literal (N'…') with a backslash is refused while standard_conforming_strings is off; write it as E'…'");
    }
    found += 1;
  }
  if (found !== inserted.size) throw unreadable("a literal was not where the gateway expected it");
}

const IDENTIFIER_START = /[A-Za-z_\u0080-\uffff]/;
const IDENTIFIER_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * Where the '…' literals that hold a backslash start (the index of their quote), reading the text as the server
 * does with standard_conforming_strings off: comments, quoted identifiers, dollar quotes and prefixed
 * literals are skipped; a literal continued on a later line ('a'<newline>'b') is one literal.
 */
function escapedLiteralStarts(text: string): number[] {
  const starts: number[] = [];
  for (let i = 0; i < text.length; ) {
    const skipped = skipNonLiteral(text, i);
    if (skipped !== undefined) i = skipped;
    else if (text[i] === "'") {
      const end = literalEnd(text, i, true);
      if (text.slice(i, end).includes("\\")) starts.push(i);
      i = end;
    } else i++;
  }
  return starts;
}

/** Where a comment, quoted identifier, dollar quote, word or prefixed literal starting at `i` ends; undefined for anything else. */
function skipNonLiteral(text: string, i: number): number | undefined {
  const c = text[i] as string;
  const next = text[i + 1];
  if (c === "-" && next === "-") return lineEnd(text, i);
  if (c === "/" && next === "*") return blockCommentEnd(text, i);
  if (c === '"') return quotedEnd(text, i + 1, '"', false);
  if (c === "$" && !IDENTIFIER_PART.test(text[i - 1] ?? " ")) return dollarQuoteEnd(text, i);
  if (IDENTIFIER_START.test(c)) return wordEnd(text, i);
  return undefined;
}

/** A word, or a literal with a prefix: E'…' reads with escapes anyway; B'…', X'…' and U&'…' hold no backslash escapes (U&'…' is an error with the setting off). */
function wordEnd(text: string, i: number): number {
  let end = i + 1;
  while (end < text.length && IDENTIFIER_PART.test(text[end] as string)) end++;
  const word = text.slice(i, end).toLowerCase();
  if (text[end] === "'" && (word === "e" || word === "b" || word === "x")) return literalEnd(text, end, word === "e");
  if (word === "u" && text[end] === "&" && text[end + 1] === "'") return literalEnd(text, end + 1, false);
  // N'…' goes on to the plain literal after the N.
  return end;
}

function lineEnd(text: string, from: number): number {
  const end = text.indexOf("\n", from);
  return end < 0 ? text.length : end + 1;
}

function blockCommentEnd(text: string, from: number): number {
  let depth = 0;
  for (let i = from; i < text.length - 1; i++) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth++;
      i++;
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return text.length;
}

/** The index after the closing `quote` (doubled quotes stay inside; with `escapes`, so does a quote after a backslash). */
function quotedEnd(text: string, from: number, quote: string, escapes: boolean): number {
  for (let i = from; i < text.length; i++) {
    if (escapes && text[i] === "\\") i++;
    else if (text[i] === quote) {
      if (text[i + 1] !== quote) return i + 1;
      i++;
    }
  }
  return text.length;
}

/** A string literal from its opening quote, with its continuations on later lines. */
function literalEnd(text: string, quote: number, escapes: boolean): number {
  let end = quotedEnd(text, quote + 1, "'", escapes);
  for (;;) {
    const gap = /^[ \t\f\r\n]*/.exec(text.slice(end))?.[0] ?? "";
    if (!gap.includes("\n") || text[end + gap.length] !== "'") return end;
    end = quotedEnd(text, end + gap.length + 1, "'", escapes);
  }
}

function dollarQuoteEnd(text: string, from: number): number {
  const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(from))?.[0];
  if (!tag) return from + 1;
  const close = text.indexOf(tag, from + tag.length);
  return close < 0 ? text.length : close + tag.length;
}
