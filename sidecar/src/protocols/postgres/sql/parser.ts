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

/** The parser's own words for what went wrong. */
export function parserMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  // The WebAssembly glue can throw plain objects (e.g. when its memory cannot grow).
  if (error !== null && typeof error === "object" && typeof (error as { message?: unknown }).message === "string") return (error as { message: string }).message;
  return typeof error === "string" ? error : `the parser failed (${JSON.stringify(error) ?? String(error)})`;
}
