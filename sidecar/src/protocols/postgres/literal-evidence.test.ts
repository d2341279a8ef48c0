import { beforeAll, describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { compileMasking } from "../../masking/index.js";
import { maskStatementLiterals, shownStatement } from "./literal-evidence.js";
import { initClassifier } from "./sql/classify.js";

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
  ])("masks %s", (_name, text, expected) => {
    expect(masked(text)).toBe(expected);
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
    expect(shownStatement(check, mask)).toEqual({ text: check.text, parameters: ["$1 = '***'", "$2 = 'card ***'", "$3 = (binary, 4 bytes)"] });
    expect(shownStatement(check, undefined).parameters).toEqual(["$1 = 'ada@example.com'", "$2 = 'card 4111 1111 1111 1111'", "$3 = '\\x00000007' (binary)"]);
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
