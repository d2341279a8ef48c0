// The gateway parses with PostgreSQL 18's grammar; servers may be older. A
// word that became a keyword after the server's version (system_user in 16,
// json_table in 17, …) is an ordinary identifier to that server, so text
// naming a column `system_user` is valid there and a syntax error here. Such a
// text is not refused for that reason alone: where the parser stops at a word
// the server's version does not know as a keyword at all, that word is read
// as the quoted identifier the server reads ("system_user": for a word that is
// no keyword, the server's scanner gives the same identifier token either
// way), and the text is classified again. Words that are keywords in both
// versions are never rewritten: their reading can depend on the grammar.
//
// PG18_ONLY_KEYWORDS lists, per server major version, the keywords of
// PostgreSQL 18 that version's scanner does not have; they were read from the
// keyword lists compiled into libpg-query 13.7.3, 15.6.3, 16.7.3 and 17.7.4
// (PostgreSQL's src/include/parser/kwlist.h of each version) and 18.1.5. A
// version without its own list uses the next newer one, which knows at least
// as many keywords, so it rewrites no more than it should.
import { Buffer } from "node:buffer";
import { type ScannedToken, scanTokens } from "./parser.js";

/** The major version of the gateway's parser. */
export const PARSER_MAJOR = 18;

const SINCE_17 = ["enforced", "objects", "period", "virtual"];
const SINCE_16 = [
  ...SINCE_17,
  ...["conditional", "empty", "error", "json_exists", "json_query", "json_scalar", "json_serialize", "json_table", "json_value", "keep", "merge_action"],
  ...["nested", "omit", "path", "plan", "quotes", "source", "string", "target", "unconditional"],
];
const SINCE_15 = [...SINCE_16, "absent", "format", "indent", "json", "json_array", "json_arrayagg", "json_object", "json_objectagg", "keys", "scalar", "system_user"];
const SINCE_13 = [...SINCE_15, "asensitive", "atomic", "breadth", "compression", "depth", "finalize", "matched", "merge", "parameter", "return"];

const PG18_ONLY_KEYWORDS: ReadonlyArray<[number, ReadonlySet<string>]> = [
  [13, new Set(SINCE_13)],
  [15, new Set(SINCE_15)],
  [16, new Set(SINCE_16)],
  [17, new Set(SINCE_17)],
];

/** The keywords of the parser the server of this major version reads as plain identifiers; empty for 18 and later. */
export function keywordsUnknownTo(serverMajor: number | undefined): ReadonlySet<string> {
  if (serverMajor === undefined || serverMajor >= PARSER_MAJOR) return new Set();
  return PG18_ONLY_KEYWORDS.find(([major]) => serverMajor <= major)?.[1] ?? new Set();
}

/**
 * The text with the word at a character offset quoted as the identifier the server reads, when that word is a
 * keyword the server does not know; undefined otherwise.
 */
export function quoteUnknownKeyword(text: string, offset: number, unknown: ReadonlySet<string>): string | undefined {
  if (unknown.size === 0) return undefined;
  const bytes = Buffer.from(text, "utf8");
  const byteOffset = Buffer.byteLength([...text].slice(0, offset).join(""), "utf8");
  let tokens: ScannedToken[];
  try {
    tokens = scanTokens(text);
  } catch {
    // A text the scanner cannot read (an unterminated literal) has no word to quote.
    return undefined;
  }
  const token = tokens.find((candidate) => candidate.start === byteOffset);
  if (!token || !/^[A-Za-z_]+$/.test(token.text) || !unknown.has(token.text.toLowerCase())) return undefined;
  return Buffer.concat([bytes.subarray(0, token.start), Buffer.from(`"${token.text.toLowerCase()}"`), bytes.subarray(token.end)]).toString("utf8");
}
