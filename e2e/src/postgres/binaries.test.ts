// Debian keeps several PostgreSQL majors side by side; the tests must pick the newest.
import { describe, expect, it } from "@jest/globals";
import { newestVersion } from "./binaries.js";

describe("newestVersion", () => {
  it.each([
    [["15"], "15"],
    [["13", "16", "15"], "16"],
    [["9.6", "15", "10"], "15"],
    [["9.6", "9.5"], "9.6"],
    [["lib", "15", "README"], "15"],
    [["lib"], undefined],
    [[], undefined],
  ])("%j → %s", (names, expected) => expect(newestVersion(names)).toBe(expected));
});
