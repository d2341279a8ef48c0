import { describe, expect, it } from "@jest/globals";
import { columnPatternProblem, compileColumnPattern, globMatches } from "./column-patterns.js";
import type { ResultColumn } from "./result-columns.js";

const column = (name: string, table?: string, attname?: string): ResultColumn => ({
  name,
  ...(table ? { table } : {}),
  ...(attname ? { column: attname } : {}),
  typeOid: 25,
  format: 0,
});

const fromCustomers = column("email", "public.customers", "email");
const aliased = column("contact", "public.customers", "email");
const computed = column("email"); // e.g. lower(email) AS email
const ssn = column("ssn", "hr.employees", "ssn");
const cardNumber = column("card_number", "billing.cards", "card_number");
// A value written to a column the statement does not name (INSERT INTO customers VALUES (…)), and one whose table is unknown too.
const someCustomersColumn: ResultColumn = { name: "?", table: "public.customers", typeOid: 25, format: 0, anyColumn: true };
const someColumn: ResultColumn = { name: "?", typeOid: 25, format: 0, anyColumn: true };

// [pattern, column, matches]
const cases: [string, ResultColumn, boolean][] = [
  ["email", fromCustomers, true],
  ["email", aliased, true],
  ["email", computed, true],
  ["EMAIL", fromCustomers, true],
  ["email", column("Email"), true],
  ["mail", fromCustomers, false],
  ["customers.email", fromCustomers, true],
  ["customers.email", aliased, true],
  ["Customers.Email", fromCustomers, true],
  ["customers.email", computed, false],
  ["orders.email", fromCustomers, false],
  ["public.customers.email", fromCustomers, true],
  ["sales.customers.email", fromCustomers, false],
  ["*.ssn", ssn, true],
  ["*.ssn", column("ssn"), true],
  ["*.ssn", column("ssn_hash", "hr.employees", "ssn_hash"), false],
  ["customers.*", fromCustomers, true],
  ["customers.*", ssn, false],
  ["customers.*", computed, false],
  ["*card*", cardNumber, true],
  ["*card*", column("discard_reason"), true],
  ["*card*", ssn, false],
  ["billing.*.card_*", cardNumber, true],
  ["hr.*.*", ssn, true],
  ["hr.*.*", cardNumber, false],
  ["*.*.*", computed, true],
  ["customers.*_ssn", column("primary_ssn", "crm.customers", "primary_ssn"), true],
  ["email", someCustomersColumn, true],
  ["customers.email", someCustomersColumn, true],
  ["public.customers.email", someCustomersColumn, true],
  ["orders.email", someCustomersColumn, false],
  ["sales.customers.email", someCustomersColumn, false],
  ["email", someColumn, true],
  ["orders.email", someColumn, true],
  ["hr.*.ssn", someColumn, true],
  // A statement's column whose table it does not say for certain, and a table named without its schema.
  ["customers.email", column("email", undefined, undefined), false],
  ["customers.email", { ...column("email"), column: "email", anyTable: true }, true],
  ["crm.customers.phone", { ...column("phone"), column: "phone", anyTable: true }, true],
  ["crm.customers.email", { ...column("email", "customers", "email"), schemaUnknown: true }, true],
  ["crm.orders.email", { ...column("email", "customers", "email"), schemaUnknown: true }, false],
  // Names with dots of their own: "acme.prod".customers.
  ["customers.email", column("email", "acme.prod.customers", "email"), true],
  ["*.customers.email", column("email", "acme.prod.customers", "email"), true],
];

describe("compileColumnPattern", () => {
  it.each(cases)("%j against %j → %s", (pattern, candidate, expected) => {
    expect(columnPatternProblem(pattern)).toBeUndefined();
    expect(compileColumnPattern(pattern)(candidate)).toBe(expected);
  });

  it.each(["a.b.c.d", "customers.", ".email", "a..b"])("refuses %j", (pattern) => {
    expect(columnPatternProblem(pattern)).toMatch(/column pattern/);
  });
});

describe("globMatches", () => {
  it.each([
    ["*", "", true],
    ["a*b*c", "axxbyyc", true],
    ["a*b*c", "axxbyy", false],
    ["*ssn", "ssn", true],
    ["ss*n", "ssn", true],
    ["s?n", "ssn", false],
    ["a*a*a*a*b", "a".repeat(5000), false],
  ])("%j ~ %j → %s", (glob, text, expected) => {
    expect(globMatches(glob, text)).toBe(expected);
  });
});
