// Classifies the SQL an agent sends, with PostgreSQL's own parser, into the
// facts AccessPolicy rules match on: one SqlFacts per statement, plus the
// fingerprint an approval is bound to and a summary a reviewer can read.
// It runs on every query, so each distinct text is parsed once and the
// result is kept in a bounded cache — and texts that differ only in their
// constants (WHERE aid = 17, WHERE aid = 42) share one classification, parsed
// once for their literal form, where a probe shows that nothing it reports
// depends on those values. Anything it cannot understand comes back as
// { ok: false } and the caller refuses the query.
import { isDeepStrictEqual } from "node:util";
import { sha256Digest } from "@portcullis/common/digest";
import { LruCache } from "@portcullis/common/lru";
import type { SqlFacts } from "@portcullis/common/policy/cel";
import { loadParser, normalize, type ParsedStatement, parseStatements, parserMessage, parserErrorOf, parserReady } from "./parser.js";
import { isStandardReading, readingKey, type SqlReading, STANDARD_READING, textAsServerReads } from "./sql-reading.js";
import { keywordsUnknownTo, mentionsAny, type QuotedText, quoteUnknownKeywords } from "./older-grammars.js";
import { type PreparedUse, preparedUseOf } from "./prepared-uses.js";
import { statementFacts } from "./statement-facts.js";
import { type FormToken, type LiteralForm, literalForm, withOtherValues } from "./literal-form.js";
import { unwrap } from "./parse-tree.js";
import { type TriggerFunction, triggerFunctionOf } from "./trigger-function-name.js";
import type { Classified } from "../../../policy/protocol-matcher.js";

export type Classification =
  | {
      ok: true;
      statements: SqlFacts[];
      fingerprint: string;
      summary: string;
      /** Per statement, what it does to the session's SQL prepared statements (PREPARE, EXECUTE, DEALLOCATE). */
      preparedUses: Array<PreparedUse | undefined>;
      /** Per statement, the function a CREATE TRIGGER makes the server run (its code is in the catalog). */
      triggerFunctions: Array<TriggerFunction | undefined>;
      /** The text's literal form, when it has one: its tokens, for the evidence's masked view. */
      form?: TextForm;
    }
  | { ok: false; error: string; parserError?: RejectedText };

/** The server's parser would reject the text too: the client is told so, as the server would tell it. */
export interface RejectedText {
  code: string;
  message: string;
  hint?: string;
  detail?: string;
  /** PostgreSQL's position: 1-based, in characters of the text the client sent. */
  position?: number;
}

/** A text classified as its literal form (literal-form.ts): its tokens, and the form's identity, the same for every text of it. */
export interface TextForm {
  tokens: readonly FormToken[];
  ascii: boolean;
  /** One object per cached form (per text, for a text classified by itself): what is derived once per form (the masked view's plan) is kept by it. */
  identity: object;
}

/**
 * The statements whose classification never depends on the values of their constants: their facts come from
 * statement-kind.ts and the walk (sql-walk.ts), which read node kinds, names and structure only. The values a
 * classification reads — EXPLAIN's options, the language and code of DO and CREATE FUNCTION — are in statements
 * of other kinds, and none of these can hold one of those.
 */
const FORM_KINDS: ReadonlySet<string> = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

interface FormEntry {
  classification: Extract<Classification, { ok: true }>;
}

/** Texts whose classification is kept (least recently used ones go first). */
export const CACHE_ENTRIES = 5000;
/**
 * The parser's WebAssembly memory grows with the largest statement it has parsed and never shrinks (a
 * statement of 64 KiB with tens of thousands of items takes the gateway to about 240 MiB), so larger
 * statements are refused rather than risk the sidecar's memory limit for every session.
 */
export const MAX_STATEMENT_BYTES = 64 * 1024;
// Long texts are usually one-off bulk statements; not caching them keeps the cache's memory bounded.
const MAX_CACHED_LENGTH = 8192;
const MAX_SUMMARY_LENGTH = 200;

const cache = new LruCache<string, Classification>(CACHE_ENTRIES);
/** Classifications by literal form; null for a form whose classification depends on its values (it is classified per text). */
const forms = new LruCache<string, FormEntry | null>(CACHE_ENTRIES);

/** Loads the parser; await it once before the first classifySql. Safe to call again. */
export async function initClassifier(): Promise<void> {
  await loadParser();
}

/** A classification as the policy engine takes it: the statements, or why there are none. */
export function classifiedStatements(classification: Classification): Classified<SqlFacts> {
  return classification.ok ? { ok: true, items: classification.statements } : classification;
}

/**
 * Classifies a query string as the server reads it under `reading` (sql-reading.ts); the same text and
 * reading return the same (cached) object.
 */
export function classifySql(text: string, reading: SqlReading = STANDARD_READING): Classification {
  if (!parserReady()) return { ok: false, error: "the SQL classifier is not initialised (initClassifier() was not awaited)" };
  // Only where the gateway scans as the server does (standard strings): see older-grammars.ts.
  const olderKeywords = keywordsUnknownTo(reading.standardConformingStrings === true ? reading.serverMajor : undefined);
  // Texts never hold NUL (the protocol ends them there), so the reading's key cannot run into the text. An
  // older server reads some words otherwise, so its texts are keyed by its version; the words are looked for
  // only when the text is not cached.
  const key = isStandardReading(reading) && olderKeywords.size === 0 ? text : `${readingKey(reading)}/${olderKeywords.size > 0 ? reading.serverMajor : ""}\u0000${text}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const classification = classifyNew(text, reading, olderKeywords);
  if (text.length <= MAX_CACHED_LENGTH) cache.set(key, classification);
  return classification;
}

/** A text the cache does not hold: by its literal form where it has one that decides, else by itself. */
function classifyNew(text: string, reading: SqlReading, olderKeywords: ReadonlySet<string>): Classification {
  const older = mentionsAny(text, olderKeywords);
  // A text without those words reads the same on every server the standard reading applies to.
  const form = isStandardReading(reading) && !older && text.length <= MAX_CACHED_LENGTH ? literalForm(text) : undefined;
  const byForm = form && form.key !== text ? classifiedByForm(text, form) : undefined;
  if (byForm) return byForm;
  const classification = older ? classifyForOlderServer(text, reading, olderKeywords) : classifyUncached(text, reading);
  // A text classified by itself (no constants, or a classification its values may change) is a form of one text.
  return form && classification.ok ? { ...classification, form: { tokens: form.tokens, ascii: form.ascii, identity: {} } } : classification;
}

/**
 * A text for a server older than the parser that names a word the server does not know as a keyword
 * (older-grammars.ts): classified with those words as the identifiers the server reads.
 */
function classifyForOlderServer(text: string, reading: SqlReading, unknown: ReadonlySet<string>): Classification {
  let quoted: QuotedText;
  try {
    quoted = quoteUnknownKeywords(text, unknown);
  } catch (error) {
    return { ok: false, error: parserMessage(error) };
  }
  if (quoted.quotedAt.length === 0) return classifyUncached(text, reading);
  const classification = classifyUncached(quoted.text, reading);
  const rejected = classification.ok ? undefined : classification.parserError;
  if (classification.ok || rejected?.position === undefined) return classification;
  // Positions in the client's text: each quoted word added two characters; an error at a quoted word is
  // reported as the parser reports the word unquoted.
  const offset = rejected.position - 1;
  const before = quoted.quotedAt.filter((at, index) => at + 2 * index < offset).length;
  if (quoted.quotedAt.some((at, index) => at + 2 * index === offset)) return classifyUncached(text, reading);
  return { ...classification, parserError: { ...rejected, position: rejected.position - 2 * before } };
}

/** The classification every text of `form` shares, or undefined when it may depend on their values. */
function classifiedByForm(text: string, form: LiteralForm): Classification | undefined {
  let entry = forms.get(form.key);
  if (entry === undefined) {
    entry = formEntry(text, form);
    forms.set(form.key, entry);
  }
  return entry ? ofForm(entry, text, form) : undefined;
}

/**
 * The classification every text of `form` shares, or null when it may depend on their values. It is `text`'s
 * classification when `text` holds only statements of FORM_KINDS and a probe — the same text with every constant
 * the form replaced given another value — classifies the same, summary included: so the summary's normalisation
 * replaced each of those constants it shows (it replaces constants by their place in the tree, not by their
 * values; one it keeps as written past the summary's 200 characters is in no text's summary).
 */
function formEntry(text: string, form: LiteralForm): FormEntry | null {
  const { classification, kinds } = classifyText(text, STANDARD_READING);
  if (!classification.ok || kinds.length === 0 || !kinds.every((kind) => FORM_KINDS.has(kind))) return null;
  const probe = classifyUncached(withOtherValues(text, form), STANDARD_READING);
  if (!probe.ok || probe.summary !== classification.summary) return null;
  const same = isDeepStrictEqual(probe.statements, classification.statements) && isDeepStrictEqual(probe.preparedUses, classification.preparedUses) && isDeepStrictEqual(probe.triggerFunctions, classification.triggerFunctions);
  return same ? { classification } : null;
}

/** A text's classification as its form's, bound to the text itself (an approval's fingerprint is the exact text's). */
function ofForm(entry: FormEntry, text: string, form: LiteralForm): Classification {
  return { ...entry.classification, fingerprint: fingerprintOf(text), form: { tokens: form.tokens, ascii: form.ascii, identity: entry } };
}

/** Classifies a text without any cache: what the cached paths are held to. */
export function classifyUncached(text: string, reading: SqlReading): Classification {
  return classifyText(text, reading).classification;
}

/** The classification, and the kinds of the statements the parser found. */
function classifyText(text: string, reading: SqlReading): { classification: Classification; kinds: string[] } {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_STATEMENT_BYTES) {
    return { classification: { ok: false, error: `the statement is ${bytes} bytes; the gateway classifies statements of up to ${MAX_STATEMENT_BYTES} bytes, so send it in smaller parts` }, kinds: [] };
  }
  let read = text;
  let parsed: ParsedStatement[];
  try {
    read = textAsServerReads(text, reading);
    parsed = parseStatements(read);
  } catch (error) {
    // Only the text's own parser errors are the server's too; code inside it (a function body) is judged below.
    const rejected = parserErrorOf(error);
    if (!rejected) return { classification: { ok: false, error: parserMessage(error) }, kinds: [] };
    const { offset, ...reported } = rejected;
    return { classification: { ok: false, error: reported.message, parserError: { ...reported, ...(offset === undefined ? {} : { position: offsetInSent(text, read, offset) + 1 }) } }, kinds: [] };
  }
  const kinds = parsed.map((statement) => unwrap(statement.node)[0]);
  try {
    const facts = parsed.map(statementFacts);
    const statements = facts.map((statement) => ({ ...statement, statementCount: facts.length }));
    // Bound to the text as the server reads it: the same bytes read under another setting are another request.
    const classification: Classification = { ok: true, statements, fingerprint: fingerprintOf(read), summary: summarize(read, statements), preparedUses: parsed.map(preparedUseOf), triggerFunctions: parsed.map(triggerFunctionOf) };
    return { classification, kinds };
  } catch (error) {
    // Code that cannot be inspected, and trees too deep to walk, refuse the query.
    return { classification: { ok: false, error: parserMessage(error) }, kinds };
  }
}

/**
 * A character offset of the text as read, in the text as sent. They differ only where the reading put an
 * E before a literal's quote (sql-reading.ts), so walking both and skipping the added characters aligns them.
 */
function offsetInSent(sent: string, read: string, offset: number): number {
  if (sent === read) return offset;
  const sentChars = [...sent];
  const readChars = [...read];
  let at = 0;
  for (let index = 0; index < offset && index < readChars.length; index++) {
    if (readChars[index] === sentChars[at]) at++;
  }
  return at;
}

/** Binds an approval to exactly the text that was approved. */
function fingerprintOf(text: string): string {
  return sha256Digest(text);
}

/** One line for a reviewer: the text with its literals replaced, and the tables it writes. */
/** A short form of the text for lists and logs: constants as $n (utility statements keep theirs), the tables it writes. */
export function summarize(text: string, statements: readonly SqlFacts[]): string {
  const written = [...new Set(statements.flatMap((statement) => statement.tablesWritten))];
  const suffix = written.length > 0 ? ` (writes ${written.join(", ")})` : "";
  let body: string;
  try {
    body = normalize(text).replace(/\s+/g, " ").trim();
  } catch {
    body = statements.map((statement) => statement.command).join("; ");
  }
  if (body === "") body = "(empty query)";
  const room = Math.max(MAX_SUMMARY_LENGTH - suffix.length, 40);
  const clipped = body.length > room ? `${body.slice(0, room - 1)}…` : body;
  return `${clipped}${suffix}`.slice(0, MAX_SUMMARY_LENGTH);
}
