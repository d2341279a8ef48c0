import { RE2 } from "re2-wasm";
import { checkRegex, estimateRegexCost, MAX_PATTERN_COST, MAX_PATTERN_LENGTH } from "./regex.js";

describe("checkRegex", () => {
  it.each([
    String.raw`\d{3}-\d{2}-\d{4}`,
    String.raw`(?i)secret-[a-z0-9]{16}`,
    String.raw`\pL+@\pL+`,
    String.raw`[[:alpha:]]+`,
    String.raw`(?P<key>AKIA[0-9A-Z]{16})`,
    // Catastrophic for a backtracking engine, linear for RE2 (see below).
    String.raw`(a+)+$`,
    // The largest that fit the budget still compile within re2-wasm's heap.
    String.raw`\pL{4}`,
    String.raw`(?:\pL|\pN|\pP|\pS)`,
    String.raw`.{600}`,
  ])("accepts %s", (pattern) => {
    expect(checkRegex(pattern)).toBeUndefined();
  });

  it.each([
    [String.raw`(a)\1`, "invalid escape sequence: \\1"],
    [String.raw`(?=x)`, "invalid perl operator: (?="],
    [String.raw`(?!x)y`, "invalid perl operator: (?!"],
    [String.raw`(?<=x)y`, "invalid perl operator: (?<"],
    ["[a-", "missing ]"],
    ["a{1001}", "invalid repetition size"],
  ])("rejects %s as not RE2", (pattern, reason) => {
    const problem = checkRegex(pattern);
    expect(problem).toContain(`pattern "${pattern}" is not a valid RE2 regular expression: ${reason}`);
    expect(problem).toContain("RE2 syntax is required");
  });

  it.each([
    [String.raw`\pL{100}`, "estimated size 250000"],
    [String.raw`(\w{100}){100}`, "estimated size 50000"],
    [".{1000}", "estimated size 15000"],
  ])("refuses %s, which would exhaust re2-wasm's fixed heap or take seconds to compile", (pattern, size) => {
    expect(checkRegex(pattern)).toContain(`too large to compile safely (${size}, at most ${MAX_PATTERN_COST})`);
  });

  it("bounds the length", () => {
    expect(checkRegex("a".repeat(MAX_PATTERN_LENGTH + 1))).toContain(`at most ${MAX_PATTERN_LENGTH} are allowed`);
    expect(checkRegex("")).toContain("empty");
  });

  it("returns cached answers the same as fresh ones", () => {
    const pattern = String.raw`\d{4}-cached`;
    expect(checkRegex(pattern)).toBeUndefined();
    expect(checkRegex(pattern)).toBeUndefined();
    expect(checkRegex("(a)\\1")).toBe(checkRegex("(a)\\1"));
  });

  // Without freeing, about 950 of these fill re2-wasm's 16 MiB heap and the module aborts.
  it("frees what it compiles, so many checks fit re2-wasm's fixed heap", () => {
    for (let i = 0; i < 1200; i++) {
      const problem = checkRegex(`[a-z]{300}-${i}`);
      if (problem !== undefined) throw new Error(`check ${i}: ${problem}`);
    }
  }, 60_000);

  it("matches (a+)+$ in linear time, where a backtracking engine would not finish", () => {
    const re = new RE2("(a+)+$", "u");
    const input = `${"a".repeat(100_000)}!`;
    const started = performance.now();
    expect(re.test(input)).toBe(false);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe("estimateRegexCost", () => {
  it.each([
    ["abc", 3],
    ["a{10}", 10],
    ["a{2,5}", 5],
    ["a{2,}", 3],
    ["(ab){10}", 20],
    ["(?:a(bc){2}){3}", 15],
    ["(?i)a", 1],
    ["a+b*c?", 3],
    ["a|b", 2],
    [String.raw`\d`, 5],
    [String.raw`\D`, 15],
    [".", 15],
    ["[a-z]", 5],
    ["[^a-z]", 15],
    [String.raw`\pL`, 2500],
    [String.raw`\p{Greek}{2}`, 5000],
    [String.raw`[\pL\pN]`, 5005],
    [String.raw`\Qa.b\E`, 3],
    ["a{", 2],
  ])("estimates %s as %d", (pattern, cost) => {
    expect(estimateRegexCost(pattern)).toBe(cost);
  });
});
