// The classification cache by literal form gives every text exactly what the
// parser gives it: each statement of a table is sent with its constants
// changed many ways (numbers of every length the form replaces, strings that
// name keywords, settings, code, nothing), and what classifySql returns —
// from the form, after the first — is compared with the uncached
// classification of that very text.
import { beforeAll, describe, expect, it } from "@jest/globals";
import { type Classification, classifySql, classifyUncached, initClassifier } from "./classify.js";
import { FORM_STATEMENTS, formVariant as variant } from "./form-variants.js";
import { literalForm } from "./literal-form.js";
import { STANDARD_READING } from "./sql-reading.js";

beforeAll(async () => {
  await initClassifier();
});

const withoutForm = (classification: Classification): Classification => {
  if (!classification.ok) return classification;
  const rest: Partial<typeof classification> = { ...classification };
  delete rest.form;
  return rest as Classification;
};

// Texts with a form whose classification depends on the values (the summary keeps them), or of kinds the form cache leaves.
const PER_TEXT = [
  "SELECT a FROM t ORDER BY 1",
  "SELECT a, count(*) FROM t GROUP BY 1",
  "SELECT 'a'::varchar(10)",
  "EXPLAIN (ANALYZE 0) DELETE FROM t WHERE id = 1",
  "DO 'BEGIN DELETE FROM t; END'",
  "PREPARE p AS DELETE FROM t WHERE id = 1",
  "EXECUTE p(5)",
  "SET statement_timeout = 5",
  "COPY (SELECT 1) TO STDOUT",
  "SELECT FROM WHERE 5",
  "DELETE FROM t WHERE id = 'x",
];

describe("classifySql by literal form", () => {
  it.each(FORM_STATEMENTS)("classifies every text of %j as the parser does, from one classification of its form", (text) => {
    for (let seed = 1; seed <= 12; seed++) {
      const sent = variant(text, seed);
      const got = classifySql(sent);
      expect({ sent, got: withoutForm(got) }).toEqual({ sent, got: classifyUncached(sent, STANDARD_READING) });
      // Served by the form (the same shared facts), with the text's own fingerprint.
      expect(got.ok && got.form !== undefined).toBe(true);
    }
    const [first, second] = [classifySql(variant(text, 100)), classifySql(variant(text, 101))];
    expect(first.ok && second.ok && first.statements === second.statements).toBe(true);
  });

  it.each(PER_TEXT)("classifies %j per text, as the parser does", (text) => {
    for (let seed = 1; seed <= 6; seed++) {
      const sent = variant(text, seed);
      const got = classifySql(sent);
      expect({ sent, got: withoutForm(got) }).toEqual({ sent, got: classifyUncached(sent, STANDARD_READING) });
      // Its own form, if any: no other text shares what is derived from it.
      const other = classifySql(variant(text, seed + 100));
      if (got.ok && got.form) expect(other.ok && other.form?.identity).not.toBe(got.form.identity);
    }
  });

  it("keeps the summary a value would change per text: ORDER BY 1 and ORDER BY 2 are different requests", () => {
    const [one, two] = [classifySql("SELECT a, b FROM t ORDER BY 1"), classifySql("SELECT a, b FROM t ORDER BY 2")];
    expect(one.ok && one.summary).toBe("SELECT a, b FROM t ORDER BY 1");
    expect(two.ok && two.summary).toBe("SELECT a, b FROM t ORDER BY 2");
  });

  it("binds each text's fingerprint to the text, not to its form", () => {
    const [one, two] = [classifySql("SELECT * FROM t WHERE id = 1"), classifySql("SELECT * FROM t WHERE id = 2")];
    expect(one.ok && two.ok && one.fingerprint !== two.fingerprint).toBe(true);
    expect(two).toMatchObject({ fingerprint: (classifyUncached("SELECT * FROM t WHERE id = 2", STANDARD_READING) as { fingerprint: string }).fingerprint });
  });

  it("serves an older server's texts by form too, except those naming a word that server reads otherwise", () => {
    const reading = { standardConformingStrings: true, clientEncoding: "UTF8", serverMajor: 15 };
    const pgbench = classifySql("SELECT abalance FROM pgbench_accounts WHERE aid = 31337;", reading);
    expect(pgbench.ok && pgbench.form).toBeTruthy();
    expect(withoutForm(pgbench)).toEqual(classifyUncached("SELECT abalance FROM pgbench_accounts WHERE aid = 31337;", reading));
    // system_user is a column to PostgreSQL 15 and a function to the parser's 18.
    expect(classifySql("SELECT system_user FROM t WHERE id = 1")).toMatchObject({ ok: true, statements: [{ functions: ["pg_catalog.system_user"] }] });
    const older = classifySql("SELECT system_user FROM t WHERE id = 2", reading);
    expect(older).toMatchObject({ ok: true, statements: [{ functions: [] }] });
    expect(older.ok && older.form).toBeFalsy();
    expect(classifySql("SELECT system_user FROM t WHERE id = 3", reading)).not.toBe(older);
  });

  it("reads a text under another setting as the server does, without the form cache", () => {
    const reading = { standardConformingStrings: false, clientEncoding: "UTF8" };
    const got = classifySql("SELECT * FROM t WHERE a = 'x'", reading);
    expect(got.ok && got.form).toBeFalsy();
    expect(got).toEqual(classifyUncached("SELECT * FROM t WHERE a = 'x'", reading));
  });
});

describe("literalForm", () => {
  it("replaces '…' strings and integers of up to nine digits, and keeps everything else as sent", () => {
    expect(literalForm("SELECT abalance FROM pgbench_accounts WHERE aid = 48213;")?.key).toBe("SELECT abalance FROM pgbench_accounts WHERE aid = \u0000n;");
    expect(literalForm("SELECT 'it''s', $1, t.a1, 1.5, 1e-3, .5, 0x1F, 1_000, 1234567890, 123456789")?.key).toBe("SELECT \u0000s, $1, t.a1, 1.5, 1e-3, .5, 0x1F, 1_000, 1234567890, \u0000n");
    expect(literalForm("SELECT 'é'")).toMatchObject({ key: "SELECT \u0000s", ascii: false });
  });

  it.each([
    ["a comment", "SELECT 1 -- note"],
    ["a block comment", "SELECT /* x */ 1"],
    ["a quoted identifier", 'SELECT "a" FROM t'],
    ["an E string", "SELECT E'a'"],
    ["a Unicode string", "SELECT U&'a'"],
    ["a bit string", "SELECT B'101'"],
    ["a dollar quote", "SELECT $$a$$"],
    ["a backslash", "SELECT 'a\\'"],
    ["an unterminated string", "SELECT 'a"],
    ["a letter beyond ASCII outside a string", "SELECT é FROM t"],
    ["a dollar quote right after a number", "SELECT 1$$x$$"],
  ])("gives no form to text with %s", (_what, text) => {
    expect(literalForm(text)).toBeUndefined();
  });
});
