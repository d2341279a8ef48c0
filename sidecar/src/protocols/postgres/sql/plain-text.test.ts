import { describe, expect, it } from "@jest/globals";
import { plainTokens, type PlainConstant } from "./plain-text.js";

describe("plainTokens", () => {
  it("is taken for plain text, and left for the scanner where a number is not the constant it checks", () => {
    const constant = (location: number, value: string): PlainConstant => ({ location, value });
    expect(plainTokens("SELECT abalance FROM pgbench_accounts WHERE aid = 48213;", [constant(50, "48213")])?.map((token) => token.text)).toEqual(["SELECT", "abalance", "FROM", "pgbench_accounts", "WHERE", "aid", "=", "48213", ";"]);
    expect(plainTokens("SELECT 'a'", [])).toBeUndefined();
    expect(plainTokens("SELECT 1 -- note", [constant(7, "1")])).toBeUndefined();
    expect(plainTokens("SELECT 1_000", [constant(7, "1000")])).toBeUndefined();
    expect(plainTokens("SELECT 12", [constant(7, "13")])).toBeUndefined();
    expect(plainTokens("SELECT 12, 13", [constant(7, "12")])).toBeUndefined();
  });
});
