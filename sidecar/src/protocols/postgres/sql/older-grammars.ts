// The gateway parses with PostgreSQL 18's grammar; servers may be older. A
// word that became a keyword after the server's version (system_user in 16,
// json_table in 17, …) is an ordinary name to that server: `CREATE TABLE t
// (system_user text)` is valid there and a syntax error here, and `SELECT
// system_user FROM t` reads a column there and calls a function here. So for
// an older server every such word is read as the server reads it: the text is
// classified with each one written as the quoted identifier the server's
// scanner makes of it ("system_user": for a word that is no keyword at all, the
// unquoted and the quoted spelling give the same identifier token). The text
// forwarded is the client's. Words that are keywords in both versions are
// never rewritten: their reading can depend on the grammar. A quote that would
// join the word to a neighbour ("users"system_user, U&system_user) refuses the
// text instead.
//
// PG18_ONLY_KEYWORDS lists, per server major version, the keywords of
// PostgreSQL 18 that version's scanner does not have; they were read from the
// keyword lists compiled into libpg-query 13.7.3, 15.6.3, 16.7.3 and 17.7.4
// (PostgreSQL's src/include/parser/kwlist.h of each version) and 18.1.5. A
// version without its own list uses the next newer one, which knows at least
// as many keywords, so it rewrites no more than it should.
import { Buffer } from "node:buffer";
import { ClassificationError, type ScannedToken, scanTokens } from "./parser.js";

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
const NONE: ReadonlySet<string> = new Set();

export function keywordsUnknownTo(serverMajor: number | undefined): ReadonlySet<string> {
  if (serverMajor === undefined || serverMajor >= PARSER_MAJOR) return NONE;
  return PG18_ONLY_KEYWORDS.find(([major]) => serverMajor <= major)?.[1] ?? NONE;
}

/** Whether the text may hold one of the words (a quick test before scanning). */
export function mentionsAny(text: string, words: ReadonlySet<string>): boolean {
  if (words.size === 0) return false;
  const lower = text.toLowerCase();
  for (const word of words) if (lower.includes(word)) return true;
  return false;
}

/** The text with the words rewritten, and the character offsets (in the text as sent) of the words quoted. */
export interface QuotedText {
  text: string;
  quotedAt: number[];
}

/**
 * The text with every word the server does not know as a keyword written as the quoted identifier it reads;
 * the text itself when it has none. Throws ClassificationError when a quote would join a word to a neighbour.
 */
export function quoteUnknownKeywords(text: string, unknown: ReadonlySet<string>): QuotedText {
  let tokens: ScannedToken[];
  try {
    tokens = scanTokens(text);
  } catch {
    // A text the scanner cannot read is the parser's to reject, with its own message and position.
    return { text, quotedAt: [] };
  }
  const bytes = Buffer.from(text, "utf8");
  const words = tokens.flatMap((token, index) => (/^[A-Za-z_]+$/.test(token.text) && unknown.has(token.text.toLowerCase()) ? [index] : []));
  if (words.length === 0) return { text, quotedAt: [] };
  const identifiers = new Map(words.map((index) => [index, `"${(tokens[index] as ScannedToken).text.toLowerCase()}"`]));
  const parts: Buffer[] = [];
  let at = 0;
  for (const [index, identifier] of identifiers) {
    const token = tokens[index] as ScannedToken;
    parts.push(bytes.subarray(at, token.start), Buffer.from(identifier));
    at = token.end;
  }
  parts.push(bytes.subarray(at));
  const quoted = Buffer.concat(parts).toString("utf8");
  let requoted: ScannedToken[] = [];
  try {
    requoted = scanTokens(quoted);
  } catch {
    // Compared below as different.
  }
  const same = requoted.length === tokens.length && requoted.every((token, index) => token.text === (identifiers.get(index) ?? tokens[index]?.text));
  if (!same) {
    const word = (tokens[words[0] as number] as ScannedToken).text;
    throw new ClassificationError(
      `"${word}" is a keyword of the gateway's parser (PostgreSQL ${PARSER_MAJOR}) and a name to this server, and it touches a quoted name or U&; separate them with a space`,
    );
  }
  const quotedAt = words.map((index) => [...bytes.subarray(0, (tokens[index] as ScannedToken).start).toString("utf8")].length);
  return { text: quoted, quotedAt };
}
