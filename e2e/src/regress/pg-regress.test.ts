import { describe, expect, it } from "@jest/globals";
import { parseOutcomes } from "./pg-regress.js";
import { sourceIndexes } from "./postgres-sources.js";

describe("parseOutcomes", () => {
  it("reads single tests, parallel groups, failures and ignored failures", () => {
    const output = [
      "test test_setup                   ... ok          189 ms",
      "parallel group (3 tests):  boolean char name",
      "     boolean                      ... ok           36 ms",
      "     char                         ... FAILED       75 ms",
      "     name                         ... failed (ignored)       12 ms",
      "test tablespace                   ... FAILED (test process exited with exit code 2)       16 ms",
      "======================",
      " 2 of 5 tests failed.",
    ].join("\n");
    expect([...parseOutcomes(output)]).toEqual([
      ["test_setup", "ok"],
      ["boolean", "ok"],
      ["char", "FAILED"],
      ["name", "failed (ignored)"],
      ["tablespace", "FAILED"],
    ]);
  });
});

describe("sourceIndexes", () => {
  it("turns the machine's binary archives into source archives and leaves other stanzas out", () => {
    const machine = [
      "Types: deb",
      "URIs: http://deb.debian.org/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
      "",
      "Types: deb-src",
      "URIs: http://example.org/already-sources",
      "Suites: x",
      "Components: main",
    ].join("\n");
    expect(sourceIndexes(machine)).toBe(["Types: deb-src", "URIs: http://deb.debian.org/debian", "Suites: bookworm bookworm-updates", "Components: main", ""].join("\n"));
  });

  it("says so when there is no Debian archive to fetch from", () => {
    expect(() => sourceIndexes("# nothing\n")).toThrow(/names no Debian archive/);
  });
});
