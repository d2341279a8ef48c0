// The masking tests rely on the sample data being what it claims: card numbers
// that pass Luhn, IBANs whose check digits are right, well-formed SSNs, and
// order numbers that a good SSN detector must leave alone.
import { describe, expect, it } from "@jest/globals";
import { SAMPLE_CUSTOMERS, type SampleCustomer } from "./sample-data.js";

function isLuhnValid(digits: string): boolean {
  const sum = [...digits].reverse().reduce((total, char, index) => {
    const value = index % 2 === 1 ? Number(char) * 2 : Number(char);
    return total + (value > 9 ? value - 9 : value);
  }, 0);
  return /^\d{13,19}$/.test(digits) && sum % 10 === 0;
}

function hasValidIbanCheckDigits(iban: string): boolean {
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  const numeric = [...rearranged].map((char) => Number.parseInt(char, 36).toString()).join("");
  return /^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban) && BigInt(numeric) % 97n === 1n;
}

/** Area not 000, 666 or 9xx; group not 00; serial not 0000. */
const SSN = /^(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$/;

function present(field: keyof SampleCustomer): string[] {
  return SAMPLE_CUSTOMERS.flatMap((customer) => (customer[field] === null ? [] : [customer[field]]));
}

describe("the checks themselves", () => {
  it.each([
    ["4111111111111111", true],
    ["4111111111111112", false],
    ["378282246310005", true],
    ["12345", false],
  ])("Luhn %s → %s", (card, valid) => expect(isLuhnValid(card)).toBe(valid));

  it.each([
    ["DE89370400440532013000", true],
    ["DE88370400440532013000", false],
    ["GB82WEST12345698765432", true],
  ])("IBAN %s → %s", (iban, valid) => expect(hasValidIbanCheckDigits(iban)).toBe(valid));
});

describe("the sample customers", () => {
  it("has about twenty customers with unique names", () => {
    expect(SAMPLE_CUSTOMERS.length).toBe(20);
    expect(new Set(present("name")).size).toBe(SAMPLE_CUSTOMERS.length);
  });

  it("has Luhn-valid card numbers only", () => {
    expect(present("card").length).toBeGreaterThanOrEqual(8);
    expect(present("card").filter((card) => !isLuhnValid(card))).toEqual([]);
  });

  it("has IBANs with valid check digits only", () => {
    expect(present("iban").length).toBeGreaterThanOrEqual(8);
    expect(present("iban").filter((iban) => !hasValidIbanCheckDigits(iban))).toEqual([]);
  });

  it("has well-formed SSNs only", () => {
    expect(present("ssn").length).toBeGreaterThanOrEqual(5);
    expect(present("ssn").filter((ssn) => !SSN.test(ssn))).toEqual([]);
  });

  it("has order numbers that look like identifiers but are not SSNs", () => {
    const orderNumbers = present("orderNumber");
    expect(orderNumbers).toEqual(expect.arrayContaining(["123456789", "ORD-2024-11-5821"]));
    // "ORD-2024-11-5821" contains 024-11-5821: only a detector that respects word boundaries leaves it alone, which is the point.
    expect(orderNumbers.filter((n) => /\b\d{3}-\d{2}-\d{4}\b/.test(n))).toEqual([]);
    expect(orderNumbers.filter((n) => /\d{3}-\d{2}-\d{4}/.test(n)).length).toBeGreaterThan(0);
  });

  it("has emails and phone numbers in free text too, not only in their columns", () => {
    expect(present("note").filter((note) => /@example\./.test(note)).length).toBeGreaterThan(0);
    expect(present("note").filter((note) => /\+\d[\d ]+\d/.test(note)).length).toBeGreaterThan(0);
  });
});
