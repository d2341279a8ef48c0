// jazzer.js 4 ships its libFuzzer addon prebuilt against glibc 2.38 and GCC
// 13's libstdc++, newer than Debian 12 (where the e2e suite runs) provides.
// From those versions it uses only three symbols: the C23 variants of
// strtol/strtoul (which differ only in also accepting "0b" prefixes, which
// libFuzzer's flag parsing never sees) and std::ios_base_library_init (GCC
// 13's way of making sure the standard streams exist). Where the addon does
// not load as shipped, this builds a loadable copy: the addon with those two
// version requirements marked weak, plus a tiny preloaded library that
// supplies the three symbols. Delete this once the test image has glibc 2.38.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { markVersionsWeak } from "./elf-version-needs.js";

const SHIMMED_VERSIONS = ["GLIBC_2.38", "GLIBCXX_3.4.32"] as const;

const SHIM_SOURCE = `
#include <cstdlib>
#include <ios>
extern "C" long __isoc23_strtol(const char* text, char** end, int base) { return std::strtol(text, end, base); }
extern "C" unsigned long __isoc23_strtoul(const char* text, char** end, int base) { return std::strtoul(text, end, base); }
namespace std { void ios_base_library_init() { static ios_base::Init streams; } }
`;

/** The environment and node flags that let jazzer.js load its addon. */
export interface AddonLaunch {
  env: Record<string, string>;
  nodeArgs: string[];
}

/** Where jazzer.js loads its addon from (its own lookup: prebuilds/fuzzer-PLATFORM-ARCH.node beside its package.json). */
export function libFuzzerAddonPath(): string {
  const packageDir = path.dirname(createRequire(import.meta.url).resolve("@jazzer.js/fuzzer/package.json"));
  return fs.realpathSync(path.join(packageDir, "prebuilds", `fuzzer-${process.platform}-${process.arch}.node`));
}

/** Why `addon` fails to load in a fresh node with `env`, or undefined if it loads. Every symbol is bound at once, so a missing one shows here rather than mid-run. */
function loadProblem(addon: string, env: Record<string, string>): string | undefined {
  const result = spawnSync(process.execPath, ["-e", "process.dlopen({ exports: {} }, process.argv[1])", addon], {
    env: { ...process.env, ...env, LD_BIND_NOW: "1" },
    encoding: "utf8",
  });
  if (result.status === 0) return undefined;
  const lines = `${result.stderr}`.split("\n");
  return lines.find((line) => line.startsWith("Error:"))?.slice("Error: ".length) ?? (lines.join(" ").trim() || `exit status ${result.status}`);
}

function buildShim(workDir: string): string {
  const output = path.join(workDir, "libfuzzer-glibc-compat.so");
  const result = spawnSync("g++", ["-shared", "-fPIC", "-O2", "-x", "c++", "-", "-o", output], { input: SHIM_SOURCE, encoding: "utf8" });
  if (result.error) throw new Error(`building the compatibility library needs g++ (Debian: apt-get install g++): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`g++ could not build the compatibility library: ${result.stderr.trim()}`);
  return output;
}

/**
 * How to start node so that jazzer.js can load its addon: as shipped where the
 * system is new enough, else through a compatible copy built in `workDir`.
 * Throws with the reason when neither loads.
 */
export function prepareLibFuzzerAddon(workDir: string): AddonLaunch {
  const addon = libFuzzerAddonPath();
  const problem = loadProblem(addon, {});
  if (problem === undefined) return { env: {}, nodeArgs: [] };
  if (!SHIMMED_VERSIONS.some((version) => problem.includes(`version \`${version}' not found`))) {
    throw new Error(`jazzer.js's libFuzzer addon does not load: ${problem}`);
  }
  const copy = path.join(workDir, path.basename(addon));
  fs.writeFileSync(copy, markVersionsWeak(fs.readFileSync(addon), SHIMMED_VERSIONS));
  const preload = [buildShim(workDir), process.env.LD_PRELOAD].filter(Boolean).join(":");
  const env = { LD_PRELOAD: preload, PORTCULLIS_LIBFUZZER_ADDON: copy };
  const remaining = loadProblem(copy, env);
  if (remaining !== undefined) throw new Error(`jazzer.js's libFuzzer addon does not load, even with the glibc compatibility library: ${remaining}`);
  return { env, nodeArgs: ["--import", new URL("./libfuzzer-addon-preload.js", import.meta.url).href] };
}
