// How the classifier reads a text under the server's session settings: the
// same statements the server will see, or a refusal when that is not sure.
import { beforeAll, describe, expect, it } from "@jest/globals";
import { classifySql, initClassifier } from "./classify.js";
import { type SqlReading, STANDARD_READING, textAsServerReads } from "./sql-reading.js";

const ESCAPES: SqlReading = { standardConformingStrings: false, clientEncoding: "UTF8" };
const UNKNOWN: SqlReading = {};

beforeAll(async () => {
  await initClassifier();
});

function commands(text: string, reading: SqlReading): string[] {
  const classification = classifySql(text, reading);
  if (!classification.ok) throw new Error(`expected ${JSON.stringify(text)} to classify, got: ${classification.error}`);
  return classification.statements.map((statement) => statement.command);
}

function refusal(text: string, reading: SqlReading): string {
  const classification = classifySql(text, reading);
  if (classification.ok) throw new Error(`expected ${JSON.stringify(text)} to be refused`);
  return classification.error;
}

const ATTACK = "SELECT 'a\\', ' ; DROP TABLE victim; -- '";

describe("standard_conforming_strings off", () => {
  it("reads a backslash in '…' as an escape, as the server does: the hidden DROP is seen", () => {
    expect(commands(ATTACK, STANDARD_READING)).toEqual(["SELECT"]);
    expect(commands(ATTACK, ESCAPES)).toEqual(["SELECT", "DROP"]);
  });

  it.each([
    ["an escaped quote", "SELECT 'it\\'s' AS x", "SELECT  E'it\\'s' AS x"],
    ["a literal continued on the next line", "SELECT 'a\\''\n'b\\'c'", "SELECT  E'a\\''\n'b\\'c'"],
    ["an identifier written against the quote", "SELECT text'a\\'b'", "SELECT text E'a\\'b'"],
    ["quotes in comments, dollar quotes, identifiers and E'…'", "SELECT 1 -- it's\n, $$x\\'$$, \"q'\\\", E'\\'', 'c\\'d' /* it's /* nested' */ */", "SELECT 1 -- it's\n, $$x\\'$$, \"q'\\\", E'\\'',  E'c\\'d' /* it's /* nested' */ */"],
    ["literals without backslashes", "SELECT 'a', 'b''c'", "SELECT 'a', 'b''c'"],
  ])("rewrites %s to E'…'", (_, text, read) => {
    expect(textAsServerReads(text, ESCAPES)).toBe(read);
  });

  it("binds approvals to the text as read: the same bytes under another setting are another request", () => {
    const standard = classifySql("SELECT 'a\\\\b'", STANDARD_READING);
    const escapes = classifySql("SELECT 'a\\\\b'", ESCAPES);
    if (!standard.ok || !escapes.ok) throw new Error("expected both readings to classify");
    expect(standard.fingerprint).not.toBe(escapes.fingerprint);
  });

  it("refuses a national-character literal with a backslash", () => {
    expect(refusal("SELECT N'a\\'b'", ESCAPES)).toMatch(/national-character literal/);
  });

  it("refuses a text PostgreSQL's scanner cannot read", () => {
    expect(refusal("SELECT 'a\\'", ESCAPES)).toMatch(/cannot be scanned/);
  });
});

describe("standard_conforming_strings unknown (a pipeline may have changed it)", () => {
  it("accepts texts that read the same either way", () => {
    expect(commands("SELECT E'a\\'b', 'c''d', $$e\\$$", UNKNOWN)).toEqual(["SELECT"]);
  });

  it("refuses a backslash in a '…' literal", () => {
    expect(refusal(ATTACK, UNKNOWN)).toMatch(/may have changed standard_conforming_strings/);
  });
});

describe("client_encoding", () => {
  it("reads UTF8 text as it is", () => {
    expect(commands("SELECT 'café'", STANDARD_READING)).toEqual(["SELECT"]);
  });

  it.each([
    ["SJIS", /while client_encoding is SJIS/],
    ["LATIN1", /while client_encoding is LATIN1/],
    [undefined, /may have changed client_encoding/],
  ])("accepts only ASCII text while client_encoding is %s", (encoding, message) => {
    const reading = { standardConformingStrings: true, clientEncoding: encoding };
    expect(commands("SELECT E'x\\\\'", reading)).toEqual(["SELECT"]);
    // In SJIS, 0x95 0x5C is one character whose second byte is a backslash; decoded as UTF-8 it is U+FFFD and `\`.
    expect(refusal("SELECT E'\ufffd\\'; DROP TABLE victim; --'", reading)).toMatch(message);
  });
});

describe("code the server reads later (DO blocks, function bodies)", () => {
  it.each([
    ["a DO block", "DO $$ BEGIN PERFORM 'a\\', ' ; DROP TABLE victim; -- '; END $$"],
    ["a SQL function with its own SET clause", "CREATE FUNCTION f() RETURNS void LANGUAGE sql SET standard_conforming_strings = off AS $$ SELECT 'a\\', ' ; DROP TABLE victim; -- '; $$"],
    ["a PL/pgSQL function", "CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 'a\\', ' ; DROP TABLE victim; -- '; END $$"],
    // The reading off finds a DELETE the reading on does not, and the PL/pgSQL parser rejects the off reading for a reason the server does not share.
    ["code one reading of which the gateway's parser rejects", "DO $$\nDECLARE\n  s text := 'a\\' /*';\n  d information_schema.character_data COLLATE \"C\";\nBEGIN\n  DELETE FROM users;\n  IF false THEN -- */ || 'b'; BEGIN IF false THEN\n  END IF;\nEND $$"],
    // Split into statements under one setting and read under the other.
    ["code split and read under different settings", "CREATE OR REPLACE FUNCTION f(run boolean) RETURNS void LANGUAGE plpgsql AS $$\nBEGIN\nIF NOT run THEN RETURN; END IF;\nIF false THEN PERFORM 'a\\' /*'; END IF; PERFORM 'z\\'; DELETE FROM users; SELECT 1 --';\n-- */ , 2; END IF;\nEND $$"],
    ["a literal ending in a backslash", "CREATE FUNCTION g() RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN 'C:\\'; END $$"],
  ])("refuses %s whose '…' literal holds a backslash and ends elsewhere with the setting off, whatever the session's setting", (_, text) => {
    expect(refusal(text, STANDARD_READING)).toMatch(/ends elsewhere when standard_conforming_strings is off/);
  });

  it.each([
    ["a regular expression in a function", "CREATE FUNCTION g(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN regexp_replace(t, '\\d+', 'N'); END $$"],
    ["an escaped quote's look-alike that ends in the same place", "DO $$ BEGIN PERFORM '\\n', '\\\\'; END $$"],
  ])("accepts %s, whose tokens end in the same places either way", (_, text) => {
    expect(classifySql(text, STANDARD_READING).ok).toBe(true);
  });

  it("accepts code whose literals read the same either way", () => {
    expect(commands("DO $$ BEGIN PERFORM E'a\\\\', 'b'; END $$", STANDARD_READING)).toEqual(["DO"]);
  });
});
