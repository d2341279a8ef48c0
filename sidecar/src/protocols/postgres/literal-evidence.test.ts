import { beforeAll, describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { compileMasking } from "../../masking/index.js";
import { maskStatementLiterals, maskStatementLiteralsScanned, shownStatement } from "./literal-evidence.js";
import { classifySql, initClassifier } from "./sql/classify.js";
import { FORM_STATEMENTS, formVariant } from "./sql/form-variants.js";
import { STANDARD_READING } from "./sql/sql-reading.js";

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
    ["either side, qualified", "SELECT id FROM customers WHERE 'ada@example.com' = customers.email", "SELECT id FROM customers WHERE '***' = customers.email"],
    ["an IN list, through a cast", "SELECT id FROM customers WHERE phone IN ('555-0100', '555-0199'::text)", "SELECT id FROM customers WHERE phone IN ('***', '***'::text)"],
    ["UPDATE … SET", "UPDATE customers SET email = 'new@example.com', note = 'hi' WHERE id = 7", "UPDATE customers SET email = '***', note = 'hi' WHERE id = 7"],
    ["INSERT … VALUES by position", "INSERT INTO customers (id, email, note) VALUES (1, 'a@b.example', 'x'), (2, 'c@d.example', 'y')", "INSERT INTO customers (id, email, note) VALUES (1, '***', 'x'), (2, '***', 'y')"],
    ["a detector over any literal", "SELECT * FROM orders WHERE note = 'ssn 123-45-6789 on file'", "SELECT * FROM orders WHERE note = 'ssn *** on file'"],
    ["a card number written as a number", "SELECT * FROM orders WHERE card = 4111111111111111", "SELECT * FROM orders WHERE card = '***'"],
    ["a column another table's rule does not name", "SELECT id FROM staff WHERE email = 'boss@example.com'", "SELECT id FROM staff WHERE email = 'boss@example.com'"],
    ["escapes and dollar quotes", "UPDATE customers SET email = E'o\\'neil@example.com', phone = $$555-0100$$", "UPDATE customers SET email = '***', phone = '***'"],
    ["a signed number", "SELECT * FROM orders WHERE card = -4111111111111111", "SELECT * FROM orders WHERE card = '-***'"],
    ["through a table's alias", "SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = 'ada@example.com'", "SELECT c.id FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.email = '***'"],
    ["comments", "SELECT id /* ssn 536-22-8741 */ -- card 4111 1111 1111 1111\n", "SELECT id /* ssn *** */ -- card ***\n"],
    ["the code of a DO block", "DO $$BEGIN RAISE NOTICE '536-22-8741'; END$$", "DO '***'"],
    ["= ANY(ARRAY[…])", "SELECT id FROM customers WHERE email = ANY(ARRAY['a@b.example', 'c@d.example'])", "SELECT id FROM customers WHERE email = ANY(ARRAY['***', '***'])"],
    ["a function of the column", "SELECT id FROM customers WHERE lower(email) = 'ada@example.com'", "SELECT id FROM customers WHERE lower(email) = '***'"],
    ["a row comparison", "SELECT id FROM customers WHERE (email, note) = ('ada@example.com', 'n')", "SELECT id FROM customers WHERE (email, note) = ('***', 'n')"],
    ["SET (a, b) = (…)", "UPDATE customers SET (note, email) = ('n', 'ada@example.com')", "UPDATE customers SET (note, email) = ('n', '***')"],
    ["ON CONFLICT DO UPDATE SET", "INSERT INTO customers (id, note) VALUES (1, 'n') ON CONFLICT (id) DO UPDATE SET email = 'ada@example.com'", "INSERT INTO customers (id, note) VALUES (1, 'n') ON CONFLICT (id) DO UPDATE SET email = '***'"],
    ["INSERT … SELECT by position", "INSERT INTO customers (id, email) SELECT 1, 'ada@example.com'", "INSERT INTO customers (id, email) SELECT 1, '***'"],
    ["several statements", "SELECT id FROM customers WHERE email = 'a@b.example'; SELECT '123-45-6789'", "SELECT id FROM customers WHERE email = '***'; SELECT '***'"],
    ["the alias of UPDATE's table", "UPDATE customers AS c SET note = 'n' WHERE c.email = 'ada@example.com'", "UPDATE customers AS c SET note = 'n' WHERE c.email = '***'"],
    ["CASE column WHEN …", "SELECT CASE email WHEN 'ada@example.com' THEN note ELSE name END FROM customers", "SELECT CASE email WHEN '***' THEN note ELSE name END FROM customers"],
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
    ["a PREPARE's constants", "PREPARE p AS SELECT id FROM customers WHERE email = 'ada@example.com' AND id = $1", "PREPARE p AS SELECT id FROM customers WHERE email = '***' AND id = $1"],
    ["EXECUTE of a name not known, whole", "EXECUTE p('ada@example.com', 7)", "EXECUTE p('***', '***')"],
  ])("masks %s", (_name, text, expected) => {
    expect(masked(text)).toBe(expected);
  });

  // Forms the walk does not tie to the column: their values are masked as any column's, never shown.
  it.each([
    "UPDATE customers SET email = lower('ada@example.com') WHERE id = 1",
    "INSERT INTO customers VALUES (1, lower('ada@example.com'))",
    "EXECUTE q(lower('ada@example.com'))",
    "SELECT customers.id FROM customers JOIN orders o ON o.cid = customers.id WHERE email = 'ada@example.com'",
    "SELECT id FROM customers WHERE id IN (SELECT id FROM orders) AND email = 'ada@example.com'",
    "DELETE FROM customers USING orders WHERE email = 'ada@example.com'",
    "WITH c AS (SELECT email FROM customers) SELECT * FROM c WHERE email = 'ada@example.com'",
    "SELECT id FROM customers WHERE email = 'ada@example.com' UNION SELECT id FROM orders",
    "INSERT INTO customers (id, email) SELECT 1, 'x@example.com' UNION ALL SELECT 2, 'ada@example.com'",
    "INSERT INTO customers (id, email) SELECT * FROM (VALUES (1, 'ada@example.com')) v",
    "UPDATE customers SET email = v.e FROM (VALUES ('ada@example.com', 1)) v(e, id) WHERE customers.id = v.id",
    "MERGE INTO customers c USING (SELECT 'ada@example.com' AS e) s ON c.email = s.e WHEN MATCHED THEN DELETE",
    "SELECT id FROM customers WHERE email COLLATE \"C\" = 'ada@example.com'",
    "SELECT id FROM customers WHERE 'ada@example.com' IN (email, phone)",
    "SELECT id FROM customers WHERE email || '' = 'ada@example.com'",
    "SELECT id FROM customers WHERE email IN (SELECT 'ada@example.com')",
    "DO $$BEGIN UPDATE customers SET email = 'ada@example.com'; END$$",
    "UPDATE customers SET email = 'ada@example.com' WHERE",
    // From the second review: operators, functions of several columns, whole rows, aliases shadowing tables, dotted schemas, bit strings.
    "UPDATE customers SET email = first_name || 'ada@example.com' WHERE id = 1",
    "SELECT id FROM customers WHERE concat(name, email) = 'ada@example.com'",
    "SELECT id FROM customers WHERE customers::text LIKE '%ada@example.com%'",
    "SELECT id FROM customers c WHERE row_to_json(c.*)::text LIKE '%ada@example.com%'",
    "UPDATE orders SET status = 'x' WHERE cid IN (SELECT id FROM (SELECT id, email FROM customers) AS orders WHERE orders.email = 'ada@example.com')",
    "WITH orders AS (SELECT email FROM customers) SELECT * FROM orders WHERE orders.email = 'ada@example.com' AND EXISTS (SELECT 1 FROM public.orders)",
    "SELECT * FROM orders, LATERAL get_customer(orders.cid) AS g WHERE email = 'ada@example.com'",
    "SELECT id FROM \"acme.prod\".customers WHERE email = 'ada@example.com'",
    "SELECT X'ada' FROM customers",
    "SELECT o.id FROM orders o WHERE (o.buyer).email = 'ada@example.com'",
    "SELECT o.id FROM orders o WHERE o.buyer.email = 'ada@example.com'",
  ])("hides the value in %s", (text) => {
    expect(masked(text)).not.toContain("ada@example.com");
    expect(JSON.stringify(shownStatement({ text, reading: STANDARD_READING }, classifySql(text), mask))).not.toContain("ada@example.com");
  });

  it("masks a $n used at two columns, or where no column is, as any column's", () => {
    const check = (text: string): ReadonlyMap<number, unknown> => maskStatementLiterals(text, mask).parameterColumns;
    expect(check("SELECT id FROM customers WHERE email = $1 OR username = $1").get(1)).toMatchObject({ anyColumn: true });
    expect(check("SELECT id FROM customers WHERE username = $1 AND lower($1) <> ''").get(1)).toMatchObject({ anyColumn: true });
    expect(check("SELECT id FROM customers WHERE username = $1 OR username = $1").get(1)).toMatchObject({ table: "customers", column: "username" });
  });

  it("shows a parser error's excerpt masked whole, quotes inside it too", () => {
    const text = `INSERT INTO customers (name, profile) VALUES ('Bob' '{"email": "ada@example.com"}')`;
    expect(shownStatement({ text, reading: STANDARD_READING }, classifySql(text), mask).summary).toBe('unparseable: syntax error at or near "***"');
  });

  it("withholds text read with standard_conforming_strings off, whose strings end where the server says", () => {
    const text = "UPDATE customers SET note = 'q\\' /*', email = 'bob@example.com' --*/";
    const shown = shownStatement({ text, reading: { ...STANDARD_READING, standardConformingStrings: false } }, classifySql(text, { ...STANDARD_READING, standardConformingStrings: false }), mask);
    expect(shown.text).toMatch(/^-- statement withheld \(\d+ bytes\): standard_conforming_strings is off$/);
    expect(JSON.stringify(shown)).not.toContain("bob@example.com");
    const unknown = shownStatement({ text, reading: { clientEncoding: "UTF8" } }, classifySql(text, { clientEncoding: "UTF8" }), mask);
    expect(JSON.stringify(unknown)).not.toContain("bob@example.com");
  });

  it("names the columns bound parameters stand for", () => {
    const { parameterColumns } = maskStatementLiterals("UPDATE customers SET email = $1 WHERE phone = $2 AND id = $3", mask);
    expect([...parameterColumns.entries()].map(([n, column]) => [n, column.table, column.name])).toEqual([
      [1, "customers", "email"],
      [2, "customers", "phone"],
      [3, "customers", "id"],
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
    expect(shownStatement({ ...check, reading: STANDARD_READING }, classification, mask)).toEqual({
      text: check.text,
      parameters: ["$1 = '***'", "$2 = 'card ***'", "$3 = (binary, 4 bytes)"],
      summary: "UPDATE customers SET email = $1, note = $2 WHERE id = $3 (writes customers)",
    });
    expect(shownStatement({ ...check, reading: STANDARD_READING }, classification, undefined).parameters).toEqual(["$1 = 'ada@example.com'", "$2 = 'card 4111 1111 1111 1111'", "$3 = '\\x00000007' (binary)"]);
  });

  it.each([
    ["a comment", "SELECT id /* ssn 536-22-8741 */", "SELECT id /* ssn *** */"],
    ["EXECUTE's arguments", "EXECUTE p('ada@example.com')", "EXECUTE p('***')"],
    ["text the parser rejects", "SELECT 'a' '536-22-8741'", /^unparseable: syntax error at or near "\*\*\*"/],
  ])("shows the summary of %s masked", (_name, text, summary) => {
    expect(shownStatement({ text, reading: STANDARD_READING }, classifySql(text), mask).summary).toMatch(summary);
    expect(JSON.stringify(shownStatement({ text, reading: STANDARD_READING }, classifySql(text), mask))).not.toMatch(/536-22-8741|ada@example/);
  });

  it("scans the string tokens of text the parser rejects, and withholds text it cannot scan", () => {
    expect(masked("SELEC '123-45-6789' FROM")).toBe("SELEC '***' FROM");
    expect(masked("SELECT 'unterminated 123-45-6789")).toMatch(/^-- statement withheld \(\d+ bytes\): its constants could not be found to mask them$/);
  });

  it("withholds a statement nested too deep to walk, rather than fail to record it", () => {
    expect(masked(`SELECT ${"1+".repeat(5000)}1`)).toMatch(/^-- statement withheld \(\d+ bytes\)/);
  });

  it("keeps text whose byte offsets differ from its characters' in place", () => {
    expect(masked("SELECT email FROM customers WHERE note = 'héllo' AND email = 'zoë@example.com'")).toBe("SELECT email FROM customers WHERE note = 'héllo' AND email = '***'");
  });
});

describe("the JavaScript path for plain text", () => {
  // Plain texts (sql/literal-form.ts) are tokenised here, and texts classified as their form parsed once per form,
  // instead of by PostgreSQL's scanner and parser each time: the result must be the same, value for value.
  const texts = [
    ...FORM_STATEMENTS,
    "UPDATE pgbench_tellers SET tbalance = tbalance + 17 WHERE tid = 3; SELECT 1",
    "SELECT 0x1F, 0o17, 0b101, 1e5, 1.5e-3, .5, 5., -5, - 5, +7, a$1, $1 + -2 FROM t LIMIT 10 OFFSET 2",
    "SELECT 1_000, 0x1E+5, 1e+5, 12345678901234567890, 4111111111111111 FROM customers WHERE phone = 5550100",
    "PREPARE p AS SELECT id FROM customers WHERE phone = $1 AND id > 5",
    "SELECT a FROM customers ORDER BY 1 LIMIT 5",
    "SELECT x[1], y::numeric(10,2), z-1, z - -1, z*-1, 2^-1, 1/2 FROM customers WHERE id IN (1, 2, 3) AND phone = - -4",
    "SELEC 1 FROM",
  ];
  const partial = compileMasking([{ name: "partial", spec: { ...POLICY.spec, masking: [{ name: "last-two", columns: ["customers.phone", "id", "note"], strategy: "partial", keepLast: 2 }] } }], "orders-db");
  const maskers: Array<[string, typeof mask]> = [
    ["redacting", (value, column) => mask(value, column)],
    ["keeping the last two characters", (value, column) => partial.literal(value, column)],
  ];
  it.each(texts)("masks %j and its variants as the scanner path does", (text) => {
    for (let seed = 1; seed <= 8; seed++) {
      const sent = formVariant(text, seed);
      const classification = classifySql(sent);
      const form = classification.ok ? classification.form : undefined;
      for (const [how, masker] of maskers) {
        const scanned = maskStatementLiteralsScanned(sent, masker);
        expect({ sent, how, masked: maskStatementLiterals(sent, masker, form) }).toEqual({ sent, how, masked: scanned });
        expect({ sent, how, masked: maskStatementLiterals(sent, masker) }).toEqual({ sent, how, masked: scanned });
      }
    }
  });
});
