// The one place that talks to libpg-query (PostgreSQL's own parser compiled to
// WASM). Everything else in the policy folder works on the trees it returns,
// so the WASM lifecycle, byte offsets and the parser's error shapes are
// handled once, here.
import { Buffer } from "node:buffer";
import { loadModule, normalizeSync, parsePlPgSQLSync, parseSync, scanSync, type Node } from "libpg-query";

/** A reason to refuse a statement; the classifier turns it into `{ ok: false }`. */
export class ClassificationError extends Error {
  override readonly name = "ClassificationError";
}

export interface ParsedStatement {
  node: Node;
  /** The statement's own text, cut from the input, for the parsers that need text (PL/pgSQL). */
  text: string;
}

export interface ScannedToken {
  text: string;
  /** Byte offsets into the scanned text. */
  start: number;
  end: number;
}

let loading: Promise<void> | undefined;
let ready = false;

/** Loads the WASM module once; later calls share the first load. A failed load can be retried. */
export function loadParser(): Promise<void> {
  loading ??= loadModule().then(
    () => {
      ready = true;
    },
    (error: unknown) => {
      loading = undefined;
      throw error;
    },
  );
  return loading;
}

export function parserReady(): boolean {
  return ready;
}

function requireReady(): void {
  if (!ready) throw new ClassificationError("the SQL classifier is not initialised (initClassifier() was not awaited)");
}

/**
 * The statements of a query string. PostgreSQL answers an empty string with
 * EmptyQueryResponse, so it has no statements rather than being an error.
 */
export function parseStatements(sql: string): ParsedStatement[] {
  requireReady();
  // The wire protocol ends a query at its first NUL; the parser would stop there too,
  // so anything after it would go unclassified.
  if (sql.includes("\u0000")) throw new ClassificationError("the statement contains a NUL character");
  if (sql === "") return [];
  const raw = parseSync(sql).stmts ?? [];
  // Statement locations are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(sql, "utf8");
  return raw.flatMap((statement) => {
    if (!statement.stmt) return [];
    const start = statement.stmt_location ?? 0;
    const end = statement.stmt_len ? start + statement.stmt_len : bytes.length;
    return [{ node: statement.stmt, text: bytes.subarray(start, end).toString("utf8") }];
  });
}

/** The PL/pgSQL functions in the text of a DO block or a CREATE FUNCTION statement. */
export function parsePlpgsql(statementText: string): unknown {
  requireReady();
  return parsePlPgSQLSync(statementText);
}

/** The tokens of a text as PostgreSQL's scanner reads it (standard strings); a text it cannot scan is refused. */
export function scanTokens(sql: string): ScannedToken[] {
  requireReady();
  let scanned: ReturnType<typeof scanSync>;
  try {
    scanned = scanSync(sql);
  } catch {
    // The scanner reports its errors in a form libpg-query cannot decode; the parser names them.
    throw new ClassificationError("the statement cannot be scanned (an unterminated literal, identifier or comment)");
  }
  return scanned.tokens.map((token) => ({ text: token.text, start: token.start, end: token.end }));
}

/** The text with its constants replaced by $n, so summaries do not carry literal values such as passwords. */
export function normalize(sql: string): string {
  requireReady();
  return normalizeSync(sql);
}

/** An error of PostgreSQL's parser, as the server reports it. */
export interface ParserError {
  /** The SQLSTATE the server gives it: 42601 (syntax error) for most. */
  code: string;
  message: string;
  /** 0-based, in characters of the parsed text; PostgreSQL's position field is this plus one. */
  offset?: number;
  hint?: string;
  detail?: string;
}

/** The server's parser would reject the text, as the gateway found without its parser's help. */
export class ServerParserError extends ClassificationError {
  constructor(readonly rejection: ParserError) {
    super(rejection.message);
  }
}

/**
 * The SQLSTATEs of the parser's errors that are not syntax errors (gram.y, scan.l and parser.c raise
 * these; every other error they raise is 42601), by message.
 */
const NOT_SYNTAX_ERRORS: ReadonlyArray<[RegExp, string]> = [
  [/not yet implemented$|is no longer (supported|required)$|^CREATE SCHEMA IF NOT EXISTS cannot include schema elements$|^current database cannot be changed$/, "0A000"],
  [/^a column list with .* is only supported for ON DELETE actions$|^CREATE OR REPLACE CONSTRAINT TRIGGER is not supported$|^aggregates cannot have output arguments$/, "0A000"],
  [/^WITH CHECK OPTION not supported on recursive views$|^an ordered-set aggregate with a VARIADIC direct argument|^unsafe use of string constant with Unicode escapes$/, "0A000"],
  [/^column number must be in range from 1 to \d+$|^precision for type float must be/, "22023"],
  [/^(modulus|remainder) for hash partition provided more than once$/, "42710"],
  [/^frame (start|end|starting from)/, "42P20"],
  [/^role name ".*" is reserved$|cannot be used as a role name here$/, "42939"],
];

/**
 * The hints and details PostgreSQL adds to its parser's errors (libpg-query reports the message only), by
 * message; the Unicode escape hint depends on the kind of literal, told apart by the function that raised it.
 */
const PARSER_ERROR_NOTES: ReadonlyArray<[RegExp, Pick<ParserError, "hint" | "detail">, string?]> = [
  [/^UNENCRYPTED PASSWORD is no longer supported$/, { hint: "Remove UNENCRYPTED to store the password in encrypted form instead." }],
  [/^unrecognized row security option ".*"$/, { hint: "Only PERMISSIVE or RESTRICTIVE policies are supported currently." }],
  [/^RECHECK is no longer required$/, { hint: "Update your data type." }],
  [/^missing argument$/, { hint: "Use NONE to denote the missing argument of a unary operator." }],
  [/^LIMIT #,# syntax is not supported$/, { hint: "Use separate LIMIT and OFFSET clauses." }],
  [/^VALUES in FROM must have an alias$/, { hint: "For example, FROM (VALUES ...) [AS] foo." }],
  [/^subquery in FROM must have an alias$/, { hint: "For example, FROM (SELECT ...) [AS] foo." }],
  [/^invalid publication object list$/, { detail: "One of TABLE or TABLES IN SCHEMA must be specified before a standalone table or schema name." }],
  [/^invalid Unicode escape$/, { hint: "Unicode escapes must be \\XXXX or \\+XXXXXX." }, "str_udeescape"],
  [/^invalid Unicode escape$/, { hint: "Unicode escapes must be \\uXXXX or \\UXXXXXXXX." }],
];

/**
 * The error as the server's parser would report it, when PostgreSQL's parser (its scanner and grammar)
 * raised it: the server's raw parser rejects the same text the same way, before anything runs. Errors
 * of the gateway's own making have no parser details and are not claimed here.
 */
export function parserErrorOf(error: unknown): ParserError | undefined {
  if (error instanceof ServerParserError) return error.rejection;
  const details = (error as { sqlDetails?: { message?: unknown; cursorPosition?: unknown; functionName?: unknown } } | null)?.sqlDetails;
  if (typeof details?.message !== "string") return undefined;
  const { message, cursorPosition, functionName } = details as { message: string; cursorPosition?: unknown; functionName?: unknown };
  const code = NOT_SYNTAX_ERRORS.find(([pattern]) => pattern.test(message))?.[1] ?? "42601";
  const notes = PARSER_ERROR_NOTES.find(([pattern, , raisedBy]) => pattern.test(message) && (raisedBy === undefined || raisedBy === functionName))?.[1];
  return { code, message, ...(typeof cursorPosition === "number" && cursorPosition >= 0 ? { offset: cursorPosition } : {}), ...notes };
}

/** The parser's own words for what went wrong. */
export function parserMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  // The WebAssembly glue can throw plain objects (e.g. when its memory cannot grow).
  if (error !== null && typeof error === "object" && typeof (error as { message?: unknown }).message === "string") return (error as { message: string }).message;
  return typeof error === "string" ? error : `the parser failed (${JSON.stringify(error) ?? String(error)})`;
}
