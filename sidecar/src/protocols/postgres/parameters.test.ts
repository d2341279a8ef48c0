import { describe, expect, it } from "@jest/globals";
import { parameterIdentity, renderParameters, type BoundParameter } from "./parameters.js";

const text = (value: string): BoundParameter => ({ format: 0, value: Buffer.from(value) });

describe("bound parameters", () => {
  it("renders text, NULL and binary values as SQL literals, cutting long ones", () => {
    const long = "x".repeat(1000);
    expect(renderParameters([text("O'Brien"), { format: 0, value: null }, { format: 1, value: Buffer.from([0, 0, 0, 5]) }, text(long)])).toEqual([
      "$1 = 'O''Brien'",
      "$2 = NULL",
      "$3 = '\\x00000005' (binary)",
      `$4 = '${"x".repeat(255)}… (1002 characters)`,
    ]);
  });

  it("identifies values exactly, telling text from binary and NULL from the empty string", () => {
    const identity = (parameters: BoundParameter[]): string => JSON.stringify(parameterIdentity(parameters));
    expect(identity([text("5")])).not.toBe(identity([{ format: 1, value: Buffer.from("5") }]));
    expect(identity([text("")])).not.toBe(identity([{ format: 0, value: null }]));
    expect(identity([text("x".repeat(1000))])).not.toBe(identity([text(`${"x".repeat(999)}y`)]));
  });
});
