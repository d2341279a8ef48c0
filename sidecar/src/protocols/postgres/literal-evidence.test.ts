import { beforeAll, describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { compileMasking } from "../../masking/index.js";
import type { ResultColumn } from "../../masking/result-columns.js";
import { maskStatementLiterals, shownStatement } from "./literal-evidence.js";
import { classifySql, initClassifier } from "./sql/classify.js";

const POLICY: BrokeredPolicy = {
  name: "pii",
  spec: {
    subjects: { serviceAccounts: ["agent"] },
    resources: ["orders-db"],
    masking: [
      { name: "contact", columns: ["customers.email", "phone"], strategy: "redact" },
      { name: "ids", detectors: ["usSSN", "creditCard"], strategy: "redact" },
    ],
  },
};

let mask: (value: string, column?: Parameters<ReturnType<typeof compileMasking>["literal"]>[1]) => string | null;

beforeAll(async () => {
  await initClassifier();
  const masker = compileMasking([POLICY], "orders-db");
  mask = (value, column) => masker.literal(value, column);
});

const masked = (text: string): string => maskStatementLiterals(text, mask).text;

describe("maskStatementLiterals", () => {
  it.each([
    ["a value compared with a masked column", "SELECT id FROM customers WHERE email = 'ada@example.com'", "SELECT id FROM customers WHERE email = '***'"],
    ["either side, qualified", "SELECT 1 FROM customers c WHERE 'ada@example.com' = customers.email", "SELECT 1 FROM customers c WHERE '***' = customers.email"],
    ["an IN list, through a cast", "SELECT 1 FROM customers WHERE phone IN ('555-0100', '555-0199'::text)", "SELECT 1 FROM customers WHERE phone IN ('***', '***'::text)"],
    ["UPDATE … SET", "UPDATE customers SET email = 'new@example.com', note = 'hi' WHERE id = 7", "UPDATE customers SET email = '***', note = 'hi' WHERE id = 7"],
    ["INSERT … VALUES by position", "INSERT INTO customers (id, email, note) VALUES (1, 'a@b.example', 'x'), (2, 'c@d.example', 'y')", "INSERT INTO customers (id, email, note) VALUES (1, '***', 'x'), (2, '***', 'y')"],
    ["a detector over any literal", "SELECT * FROM orders WHERE note = 'ssn 123-45-6789 on file'", "SELECT * FROM orders WHERE note = 'ssn *** on file'"],
    ["a card number written as a number", "SELECT * FROM orders WHERE card = 4111111111111111", "SELECT * FROM orders WHERE card = '***'"],
    ["a column another table's rule does not name", "SELECT 1 FROM staff WHERE email = 'boss@example.com'", "SELECT 1 FROM staff WHERE email = 'boss@example.com'"],
    ["escapes and dollar quotes", "UPDATE customers SET email = E'o\\'neil@example.com', phone = $$555-0100$$", "UPDATE customers SET email = '***', phone = '***'"],
    ["a signed number", "SELECT * FROM orders WHERE card = -4111111111111111", "SELECT * FROM orders WHERE card = '-***'"],
    ["through a table's alias", "SELECT 1 FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'ada@example.com'", "SELECT 1 FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = '***'"],
    ["comments", "SELECT 1 /* ssn 536-22-8741 */ -- card 4111 1111 1111 1111\n", "SELECT 1 /* ssn *** */ -- card ***\n"],
    ["the code of a DO block", "DO $$BEGIN RAISE NOTICE '536-22-8741'; END$$", "DO 'BEGIN RAISE NOTICE ''***''; END'"],
    ["= ANY(ARRAY[…])", "SELECT 1 FROM customers WHERE email = ANY(ARRAY['a@b.example', 'c@d.example'])", "SELECT 1 FROM customers WHERE email = ANY(ARRAY['***', '***'])"],
    ["a function of the column", "SELECT 1 FROM customers WHERE lower(email) = 'ada@example.com'", "SELECT 1 FROM customers WHERE lower(email) = '***'"],
    ["a row comparison", "SELECT 1 FROM customers WHERE (email, note) = ('ada@example.com', 'n')", "SELECT 1 FROM customers WHERE (email, note) = ('***', 'n')"],
    ["SET (a, b) = (…)", "UPDATE customers SET (note, email) = ('n', 'ada@example.com')", "UPDATE customers SET (note, email) = ('n', '***')"],
    ["ON CONFLICT DO UPDATE SET", "INSERT INTO customers (id, note) VALUES (1, 'n') ON CONFLICT (id) DO UPDATE SET email = 'ada@example.com'", "INSERT INTO customers (id, note) VALUES (1, 'n') ON CONFLICT (id) DO UPDATE SET email = '***'"],
    ["INSERT … SELECT by position", "INSERT INTO customers (id, email) SELECT 1, 'ada@example.com'", "INSERT INTO customers (id, email) SELECT 1, '***'"],
    ["several statements", "SELECT 1 FROM customers WHERE email = 'a@b.example'; SELECT '123-45-6789'", "SELECT 1 FROM customers WHERE email = '***'; SELECT '***'"],
    ["the alias of UPDATE's table", "UPDATE customers AS c SET note = 'n' WHERE c.email = 'ada@example.com'", "UPDATE customers AS c SET note = 'n' WHERE c.email = '***'"],
    ["CASE column WHEN …", "SELECT CASE email WHEN 'ada@example.com' THEN 1 ELSE 2 END FROM customers", "SELECT CASE email WHEN '***' THEN 1 ELSE 2 END FROM customers"],
    [
      "what CASE, COALESCE and GREATEST give to a masked column",
      "UPDATE customers SET email = CASE WHEN id = 1 THEN 'a@b.example' ELSE COALESCE(NULLIF('c@d.example', ''), GREATEST('e@f.example', email)) END",
      "UPDATE customers SET email = CASE WHEN id = 1 THEN '***' ELSE COALESCE(NULLIF('***', '***'), GREATEST('***', email)) END",
    ],
    [
      "MERGE's UPDATE SET and INSERT by position",
      "MERGE INTO customers c USING staging s ON c.id = s.id WHEN MATCHED THEN UPDATE SET email = 'a@b.example', note = 'n' WHEN NOT MATCHED THEN INSERT (id, email) VALUES (7, 'c@d.example')",
      "MERGE INTO customers c USING staging s ON c.id = s.id WHEN MATCHED THEN UPDATE SET email = '***', note = 'n' WHEN NOT MATCHED THEN INSERT (id, email) VALUES (7, '***')",
    ],
    ["a MERGE matched on a masked column", "MERGE INTO customers c USING staging s ON c.email = 'a@b.example' WHEN MATCHED THEN DELETE", "MERGE INTO customers c USING staging s ON c.email = '***' WHEN MATCHED THEN DELETE"],
    // Without a column list the gateway does not know which column a value goes to: it may be the masked one.
    ["INSERT without a column list, whole", "INSERT INTO customers VALUES (7, 'ada@example.com', 'note')", "INSERT INTO customers VALUES ('***', '***', '***')"],
    ["INSERT … SELECT without a column list", "INSERT INTO customers SELECT 7, 'ada@example.com'", "INSERT INTO customers SELECT '***', '***'"],
    ["MERGE's INSERT without a column list", "MERGE INTO customers c USING staging s ON c.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (7, 'a@b.example')", "MERGE INTO customers c USING staging s ON c.id = s.id WHEN NOT MATCHED THEN INSERT VALUES ('***', '***')"],
    // The bare pattern "phone" names a column of every table, so any table's unnamed column may be it.
    ["INSERT without a column list into another table", "INSERT INTO orders VALUES (7, 'x')", "INSERT INTO orders VALUES ('***', '***')"],
    ["a PREPARE's constants", "PREPARE p AS SELECT 1 FROM customers WHERE email = 'ada@example.com' AND id = $1", "PREPARE p AS SELECT 1 FROM customers WHERE email = '***' AND id = $1"],
    ["EXECUTE of a name not known, whole", "EXECUTE p('ada@example.com', 7)", "EXECUTE p('***', '***')"],
  ])("masks %s", (_name, text, expected) => {
    expect(masked(text)).toBe(expected);
  });

  it("masks EXECUTE's arguments as the columns of the statement PREPARE gave that name", () => {
    // A PREPARE's own $n are not parameters of the statement that prepares.
    expect(maskStatementLiterals("PREPARE p (int, text) AS UPDATE customers SET email = $2 WHERE id = $1", mask).parameterColumns.size).toBe(0);
    const prepared = (name: string): ReadonlyMap<number, ResultColumn> | undefined => (name === "p" ? new Map([[2, { name: "email", table: "public.customers", column: "email", typeOid: 25, format: 0 as const }]]) : undefined);
    expect(maskStatementLiterals("EXECUTE p(7, 'ada@example.com')", mask, prepared).text).toBe("EXECUTE p(7, '***')");
    expect(maskStatementLiterals("EXECUTE q(7, 'ada@example.com')", mask, prepared).text).toBe("EXECUTE q('***', '***')");
  });

  it("names the columns bound parameters stand for", () => {
    const { parameterColumns } = maskStatementLiterals("UPDATE customers SET email = $1 WHERE phone = $2 AND id = $3", mask);
    expect([...parameterColumns.entries()].map(([n, column]) => [n, column.table, column.name])).toEqual([
      [1, "public.customers", "email"],
      [2, "public.customers", "phone"],
      [3, "public.customers", "id"],
    ]);
  });

  it("shows bound parameters masked through the columns they stand for, binary ones by size only", () => {
    const check = {
      text: "UPDATE customers SET email = $1, note = $2 WHERE id = $3",
      parameters: [
        { format: 0 as const, value: Buffer.from("ada@example.com") },
        { format: 0 as const, value: Buffer.from("card 4111 1111 1111 1111") },
        { format: 1 as const, value: Buffer.from([0, 0, 0, 7]) },
      ],
    };
    const classification = classifySql(check.text);
    expect(shownStatement(check, classification, mask)).toEqual({
      text: check.text,
      parameters: ["$1 = '***'", "$2 = 'card ***'", "$3 = (binary, 4 bytes)"],
      summary: "UPDATE customers SET email = $1, note = $2 WHERE id = $3 (writes customers)",
    });
    expect(shownStatement(check, classification, undefined).parameters).toEqual(["$1 = 'ada@example.com'", "$2 = 'card 4111 1111 1111 1111'", "$3 = '\\x00000007' (binary)"]);
  });

  it.each([
    ["a comment", "SELECT 1 /* ssn 536-22-8741 */", "SELECT $1 /* ssn *** */"],
    ["EXECUTE's arguments", "EXECUTE p('ada@example.com')", "EXECUTE p('***')"],
    ["text the parser rejects", "SELECT 'a' '536-22-8741'", /^unparseable: syntax error at or near "'\*\*\*'"/],
  ])("shows the summary of %s masked", (_name, text, summary) => {
    expect(shownStatement({ text }, classifySql(text), mask).summary).toMatch(summary);
    expect(JSON.stringify(shownStatement({ text }, classifySql(text), mask))).not.toMatch(/536-22-8741|ada@example/);
  });

  it("scans the string tokens of text the parser rejects, and withholds text it cannot scan", () => {
    expect(masked("SELEC '123-45-6789' FROM")).toBe("SELEC '***' FROM");
    expect(masked("SELECT 'unterminated 123-45-6789")).toMatch(/^-- statement withheld \(\d+ bytes\): its constants could not be found to mask them$/);
  });

  it("withholds a statement nested too deep to walk, rather than fail to record it", () => {
    expect(masked(`SELECT ${"1+".repeat(5000)}1`)).toMatch(/^-- statement withheld \(\d+ bytes\)/);
  });

  it("keeps text whose byte offsets differ from its characters' in place", () => {
    expect(masked("SELECT 'héllo', email FROM customers WHERE email = 'zoë@example.com'")).toBe("SELECT 'héllo', email FROM customers WHERE email = '***'");
  });
});
