import { beforeAll, describe, expect, it } from "@jest/globals";
import { classifySql, initClassifier } from "./classify.js";
import { keywordsUnknownTo } from "./older-grammars.js";
import { STANDARD_READING, type SqlReading } from "./sql-reading.js";

beforeAll(async () => {
  await initClassifier();
});

function rejected(text: string, reading: SqlReading = STANDARD_READING): unknown {
  const classification = classifySql(text, reading);
  if (classification.ok) throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
  return classification.parserError;
}

describe("the parser's errors, as the server reports them", () => {
  it.each<[string, object]>([
    ["selec 1", { code: "42601", message: 'syntax error at or near "selec"', position: 1 }],
    ["SELECT 'abc", { code: "42601", message: "unterminated quoted string at or near \"'abc\"", position: 8 }],
    ["SELECT 1 +", { code: "42601", message: "syntax error at end of input", position: 11 }],
    // Positions count characters, not bytes.
    ["SELECT 'é', 'ü' FROM WHERE", { code: "42601", message: 'syntax error at or near "WHERE"', position: 22 }],
    ["drop operator === (int4)", { code: "42601", message: "missing argument", position: 24, hint: "Use NONE to denote the missing argument of a unary operator." }],
    ["CREATE SCHEMA IF NOT EXISTS s CREATE TABLE t (a int)", { code: "0A000", message: "CREATE SCHEMA IF NOT EXISTS cannot include schema elements" }],
    ["SELECT U&'wrong: \\061'", { code: "42601", message: "invalid Unicode escape", hint: "Unicode escapes must be \\XXXX or \\+XXXXXX." }],
  ])("%j", (text, expected) => {
    expect(rejected(text)).toMatchObject(expected);
  });

  it("places the position in the text as sent when the reading added E prefixes (standard_conforming_strings off)", () => {
    const reading = { standardConformingStrings: false, clientEncoding: "UTF8" };
    expect(rejected("SELECT 'a\\'' FROM WHERE", reading)).toMatchObject({ code: "42601", position: 19 });
  });

  it("refuses a U&'…' literal while standard_conforming_strings is off, as the server does", () => {
    const reading = { standardConformingStrings: false, clientEncoding: "UTF8" };
    expect(rejected("SELECT 'é', U&'d\\0061t'", reading)).toMatchObject({ code: "0A000", message: "unsafe use of string constant with Unicode escapes", position: 13 });
    expect(rejected("SELECT U&'d!0061t' UESCAPE '!'", reading)).toMatchObject({ code: "0A000", position: 8 });
  });

  it("does not claim the errors of code inside a statement, whose positions are not the statement's", () => {
    expect(rejected("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELEC 1'")).toBeUndefined();
  });

  it("does not claim the gateway's own refusals", () => {
    expect(rejected("SELECT 1\u0000")).toBeUndefined();
  });
});

describe("servers older than the parser (older-grammars.ts)", () => {
  const on = (serverMajor: number | undefined): SqlReading => ({ ...STANDARD_READING, serverMajor });

  it("reads a word that became a keyword after the server's version as the identifier the server reads", () => {
    const classification = classifySql("CREATE TABLE accounts (system_user text, JSON_TABLE int)", on(15));
    expect(classification.ok && classification.statements[0]).toMatchObject({ command: "CREATE", tablesWritten: ["accounts"] });
    expect(classification.ok && classification.summary).toContain('"system_user"');
  });

  it("judges the statement the quoted words belong to, so a policy still sees a DELETE", () => {
    const classification = classifySql("DELETE FROM accounts WHERE json_table = 'x'", on(16));
    expect(classification.ok && classification.statements[0]).toMatchObject({ command: "DELETE", hasWhere: true });
  });

  it("reads a word the parser would take for a function as the column an older server reads", () => {
    // PostgreSQL 18 reads system_user as the SYSTEM_USER function, which filters nothing; 15 reads a column.
    expect(classifySql("DELETE FROM accounts WHERE system_user = 'x'", on(15))).toMatchObject({ ok: true, statements: [{ hasWhere: true }] });
    expect(classifySql("DELETE FROM accounts WHERE system_user = 'x'", on(16))).toMatchObject({ ok: true, statements: [{ hasWhere: false }] });
  });

  it.each([['DELETE FROM "users"system_user'], ["DELETE FROM system_user\"x\""], ["SELECT U&system_user FROM t"]])(
    "refuses %s, where a quote would join the word to its neighbour",
    (text) => {
      const classification = classifySql(text, on(15));
      expect(classification.ok).toBe(false);
      expect(!classification.ok && classification.error).toMatch(/touches a quoted name or U&/);
    },
  );

  it.each([[16], [18], [undefined]])("refuses it as a syntax error for a server %s, where the word is a keyword or the version is unknown", (serverMajor) => {
    expect(rejected("CREATE TABLE accounts (system_user text)", on(serverMajor))).toMatchObject({ code: "42601", message: 'syntax error at or near "system_user"', position: 24 });
  });

  it("reports the parser's own error when quoting the word does not help (MERGE's UPDATE names no table)", () => {
    const text = "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE target SET x = 0";
    expect(rejected(text, on(15))).toMatchObject({ message: 'syntax error at or near "target"', position: 62 });
  });

  it("leaves a text the scanner cannot read as the parser's error", () => {
    expect(rejected("SELECT 'abc", on(15))).toMatchObject({ code: "42601", position: 8 });
  });

  it("reports a later syntax error where the client wrote it, after the quoted words", () => {
    expect(rejected("CREATE TABLE accounts (system_user text,, id int)", on(15))).toMatchObject({ code: "42601", message: 'syntax error at or near ","', position: 41 });
  });

  it("uses the next newer list for a version without its own, which rewrites no more than the server's own would", () => {
    expect(keywordsUnknownTo(14)).toBe(keywordsUnknownTo(15));
    expect(keywordsUnknownTo(12)).toBe(keywordsUnknownTo(13));
    expect([...keywordsUnknownTo(15)].every((word) => keywordsUnknownTo(13).has(word))).toBe(true);
    expect(keywordsUnknownTo(18).size).toBe(0);
  });
});
