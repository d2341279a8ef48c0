// Reading and weakening ELF version requirements, on the object that needs it:
// jazzer.js's prebuilt libFuzzer addon for this platform.
import { describe, expect, it } from "@jest/globals";
import fs from "node:fs";
import { markVersionsWeak, versionNeeds } from "./elf-version-needs.js";
import { libFuzzerAddonPath } from "./libfuzzer-addon.js";

const addon = fs.readFileSync(libFuzzerAddonPath());

describe("versionNeeds", () => {
  it("lists the libraries and versions the addon requires, none of them weak", () => {
    const needs = versionNeeds(addon);
    expect(needs).toContainEqual({ file: "libc.so.6", version: "GLIBC_2.2.5", weak: false });
    expect(needs).toContainEqual({ file: "libstdc++.so.6", version: "CXXABI_1.3", weak: false });
    expect(needs.every((need) => !need.weak)).toBe(true);
  });

  it.each<[string, Buffer]>([
    ["an empty file", Buffer.alloc(0)],
    ["a shell script", Buffer.from("#!/bin/sh\necho not an ELF file, padded to the size of an ELF header.......\n")],
    ["a 32-bit ELF header", Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1, 1]), Buffer.alloc(58)])],
  ])("refuses %s", (_what, file) => {
    expect(() => versionNeeds(file)).toThrow("not a 64-bit little-endian ELF file");
  });
});

describe("markVersionsWeak", () => {
  it("marks exactly the named versions weak, in a copy", () => {
    const before = versionNeeds(addon);
    const target = before[before.length - 1];
    if (!target) throw new Error("the addon requires no versions");
    const patched = markVersionsWeak(addon, [target.version]);
    expect(versionNeeds(patched)).toEqual(before.map((need) => ({ ...need, weak: need.version === target.version })));
    expect(versionNeeds(addon)).toEqual(before);
    expect(patched.length).toBe(addon.length);
  });

  it("refuses a version the object does not require", () => {
    expect(() => markVersionsWeak(addon, ["GLIBC_99.0"])).toThrow("does not require version GLIBC_99.0");
  });
});
