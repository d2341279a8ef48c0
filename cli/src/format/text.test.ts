import { describe, expect, it } from "@jest/globals";
import { indentLines, oneLine, printable, truncate } from "./text.js";

describe("terminal-safe text", () => {
  it.each([
    ["plain text", "SELECT 1", "SELECT 1"],
    ["an ANSI escape that would clear the screen", "a\u001b[2Jb", "a\\x1b[2Jb"],
    ["a bell and a NUL", "\u0007\u0000", "\\x07\\x00"],
    ["a carriage return that would overwrite the line", "approve\rdeny", "approve\\x0ddeny"],
    ["a C1 control (8-bit CSI)", "x\u009by", "x\\x9by"],
    ["a right-to-left override that would reorder the text", "abc\u202edef", "abc\\u202edef"],
    ["an isolate", "\u2066x\u2069", "\\u2066x\\u2069"],
    ["newlines and tabs, which are kept", "a\n\tb", "a\n\tb"],
    ["other Unicode, which is kept", "zoë 🙂 日本", "zoë 🙂 日本"],
  ])("printable keeps %s readable", (_case, input, expected) => {
    expect(printable(input)).toBe(expected);
  });

  it("oneLine collapses whitespace and newlines, then escapes", () => {
    expect(oneLine("  DELETE FROM orders\n   WHERE id = 1\u001b[0m  ")).toBe("DELETE FROM orders WHERE id = 1\\x1b[0m");
  });

  it("truncate cuts by characters and marks the cut", () => {
    expect(truncate("abcdefgh", 8)).toBe("abcdefgh");
    expect(truncate("abcdefghi", 8)).toBe("abcde...");
    expect(truncate("🙂🙂🙂🙂🙂", 4)).toBe("🙂...");
  });

  it("indentLines indents continuation lines and escapes controls", () => {
    expect(indentLines("SELECT 1\r\nFROM t\u001b", "  ")).toBe("SELECT 1\n  FROM t\\x1b");
  });
});
