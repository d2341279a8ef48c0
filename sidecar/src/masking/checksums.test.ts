import { describe, expect, it } from "@jest/globals";
import { ibanChecksumValid, luhnValid } from "./checksums.js";

describe("luhnValid", () => {
  it.each([
    ["4111111111111111", true],
    ["5500000000000004", true],
    ["378282246310005", true],
    ["79927398713", true],
    ["4111111111111112", false],
    ["79927398710", false],
    ["", false],
    ["4111-1111", false],
  ])("%j → %s", (digits, valid) => {
    expect(luhnValid(digits)).toBe(valid);
  });
});

describe("ibanChecksumValid", () => {
  it.each([
    ["DE89370400440532013000", true],
    ["GB82WEST12345698765432", true],
    ["NO9386011117947", true],
    ["DE89370400440532013001", false],
    ["DE88370400440532013000", false],
    ["DE00370400440532013000", false],
    ["de89370400440532013000", false],
    ["DE89 3704 0044 0532 0130 00", false],
  ])("%j → %s", (iban, valid) => {
    expect(ibanChecksumValid(iban)).toBe(valid);
  });
});
