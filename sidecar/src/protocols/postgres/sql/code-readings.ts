// Code inside a statement (a function body, a DO block) is read by the server
// when it runs, under the standard_conforming_strings then in force — the
// session's at each call, which nobody can know when the code is written. So
// code whose '…' literals hold a backslash is judged under both readings: as
// written (the setting on) and with those literals read as E'…' (the setting
// off). The policy sees what either reading runs; a reading the server could
// not parse runs nothing, and one the gateway cannot be sure of refuses the
// statement (sql-reading.ts).
import { Buffer } from "node:buffer";
import { ClassificationError, parseStatements, type ParsedStatement, scanTokens } from "./parser.js";
import { PlpgsqlParseError } from "./plpgsql.js";
import { dependsOnStandardStrings, textAsServerReads } from "./sql-reading.js";

const SETTING_OFF = { standardConformingStrings: false, clientEncoding: "UTF8" } as const;

/** The code as the server reads it with standard_conforming_strings off, when that differs from the code as written. */
export function settingOffReading(code: string): string | undefined {
  return dependsOnStandardStrings(code) ? textAsServerReads(code, SETTING_OFF) : undefined;
}

/** Runs `read` on a reading, or answers undefined when the parser rejects that reading (the server could not run it either). */
export function ifParsable<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    const rejectedByParser = error instanceof PlpgsqlParseError || (error instanceof Error && "sqlDetails" in error);
    if (!rejectedByParser) throw error;
    return undefined;
  }
}

/** A dollar quote whose tag the code does not contain. */
function dollarQuoted(code: string): string {
  let tag = "$portcullis$";
  for (let n = 1; code.includes(tag); n++) tag = `$portcullis${n}$`;
  return `${tag}${code}${tag}`;
}

/**
 * The statement with its code replaced by `code`: each string constant of the statement is tried in turn,
 * and the first replacement whose parse gives `code` back as the statement's code (codeOf) is the one. None
 * matching refuses the statement.
 */
export function withCode(statementText: string, code: string, codeOf: (statement: ParsedStatement) => string | undefined): string {
  const bytes = Buffer.from(statementText, "utf8");
  const replacement = Buffer.from(dollarQuoted(code), "utf8");
  for (const token of scanTokens(statementText)) {
    if (!/^(?:[eE]?'|\$)/.test(token.text)) continue;
    const candidate = Buffer.concat([bytes.subarray(0, token.start), replacement, bytes.subarray(token.end)]).toString("utf8");
    let parsed: ParsedStatement[];
    try {
      parsed = parseStatements(candidate);
    } catch {
      continue;
    }
    if (parsed.length === 1 && codeOf(parsed[0] as ParsedStatement) === code) return candidate;
  }
  throw new ClassificationError("the code could not be read as the server reads it with standard_conforming_strings off; write its literals as E'…'");
}
