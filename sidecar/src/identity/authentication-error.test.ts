import { describe, expect, it } from "@jest/globals";
import { quote } from "./authentication-error.js";

describe("quote", () => {
  it.each([
    ["a string", "payments", '"payments"'],
    ["control characters", "a\u001b[2Jb\nc", '"a\\u001b[2Jb\\nc"'],
    ["a number", 5, '"5"'],
    ["an array", ["a", 1], '"[\\"a\\",1]"'],
    ["undefined", undefined, '"undefined"'],
  ])("quotes %s", (_name, value, expected) => {
    expect(quote(value)).toBe(expected);
  });

  it("shortens a long value to 200 characters and marks the cut", () => {
    expect(quote("x".repeat(1000))).toBe(`"${"x".repeat(200)}…"`);
  });
});
