// `make fuzz`: runs the PostgreSQL frontend fuzz target (frontend.fuzz.ts)
// under jazzer.js for a bounded time, seeded from frontend-corpus/ and
// frontend.dict, and ends with a one-line summary. Inputs the fuzzer finds
// along the way, and any crashing input, go to a temporary directory that is
// removed after a clean run and kept (and named) after a failed one, so the
// checked-in seeds stay a short, reviewed set. Usage: node e2e/dist/fuzz/run.js [SECONDS] (default 30).
import { spawn } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { prepareLibFuzzerAddon } from "./libfuzzer-addon.js";

const TARGET = fileURLToPath(new URL("./frontend.fuzz.js", import.meta.url));
const SEEDS = fileURLToPath(new URL("../../src/fuzz/frontend-corpus", import.meta.url));
const DICTIONARY = fileURLToPath(new URL("../../src/fuzz/frontend.dict", import.meta.url));
/** Only the code under test is instrumented, so the edge count measures it alone. */
const INSTRUMENTED = "sidecar/dist/protocols/postgres/";
/** A single input taking this long is reported as a hang. */
const PER_INPUT_TIMEOUT_MS = 2000;

function jazzerCli(): string {
  try {
    return createRequire(import.meta.url).resolve("@jazzer.js/core/dist/cli.js");
  } catch {
    throw new Error("jazzer.js is missing: `npm ci` installs it (@jazzer.js/core is a devDependency of e2e)");
  }
}

function seconds(argument: string | undefined): number {
  const value = Number(argument ?? "30");
  if (!Number.isInteger(value) || value <= 0) throw new Error(`the fuzzing time must be a whole number of seconds, not ${JSON.stringify(argument)}`);
  return value;
}

/** libFuzzer's progress lines (thousands in a run), which the closing summary replaces. */
const PROGRESS_LINE = /^#\d+\s/;

/**
 * Runs jazzer with its stderr (libFuzzer's progress and statistics) in `logFile`, then prints what it
 * wrote there but the progress lines, and resolves with its exit code and that log. A file, not a pipe:
 * libFuzzer writes with C stdio to a descriptor Node made non-blocking, so a pipe the parent drains
 * late (two busy cores) loses the final statistics.
 */
async function runJazzer(args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<{ code: number; log: string }> {
  const descriptor = fs.openSync(logFile, "w");
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "inherit", descriptor] });
    child.once("error", reject);
    child.once("close", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
  }).finally(() => fs.closeSync(descriptor));
  const log = fs.readFileSync(logFile, "utf8");
  for (const line of log.split("\n")) if (line !== "" && !PROGRESS_LINE.test(line)) process.stderr.write(`${line}\n`);
  return { code, log };
}

function lastNumber(log: string, pattern: RegExp): string {
  return [...log.matchAll(pattern)].at(-1)?.[1] ?? "?";
}

function summary(log: string, limit: number): string {
  const executions = lastNumber(log, /stat::number_of_executed_units:\s*(\d+)/g);
  const perSecond = lastNumber(log, /stat::average_exec_per_sec:\s*(\d+)/g);
  const edges = lastNumber(log, /\bcov: (\d+)/g);
  const corpus = lastNumber(log, /\bcorp: (\d+)/g);
  return `fuzz: PostgreSQL frontend parser: ${executions} executions in ${limit} s (${perSecond}/s), ${edges} edges covered, ${corpus} inputs in the corpus`;
}

async function main(): Promise<number> {
  const limit = seconds(process.argv[2]);
  const cli = jazzerCli();
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "portcullis-fuzz-"));
  const launch = prepareLibFuzzerAddon(workDir);
  const corpus = path.join(workDir, "corpus");
  fs.mkdirSync(corpus);
  // libFuzzer writes new inputs to the first corpus directory only, so the seeds are read from the second.
  const args = [...launch.nodeArgs, cli, TARGET, corpus, SEEDS, "--sync", "--includes", INSTRUMENTED, "--timeout", String(PER_INPUT_TIMEOUT_MS)];
  const libFuzzerArgs = [`-max_total_time=${limit}`, `-dict=${DICTIONARY}`, "-print_final_stats=1", `-artifact_prefix=${workDir}/`];
  const { code, log } = await runJazzer([...args, "--", ...libFuzzerArgs], { ...process.env, ...launch.env }, path.join(workDir, "jazzer.log"));
  console.log(summary(log, limit));
  if (code !== 0) {
    console.error(`fuzz: jazzer exited with status ${code}; the failing input (crash-*, timeout-*) and the corpus are in ${workDir}`);
    return code;
  }
  fs.rmSync(workDir, { recursive: true, force: true });
  return 0;
}

try {
  process.exitCode = await main();
} catch (error) {
  console.error(`fuzz: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
