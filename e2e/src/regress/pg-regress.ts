// Runs PostgreSQL's regression suite (pg_regress, parallel_schedule) against a
// server that is already running — directly or through the gateway — and reads
// which tests passed. pg_regress reads its scripts from, and lets the server
// COPY files to and from, a run directory the server's account owns.
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCommand } from "../processes/child-process.js";
import { serverAccount } from "../postgres/server-account.js";
import type { RegressSuite } from "./postgres-sources.js";

export type TestOutcome = "ok" | "FAILED" | "failed (ignored)";

export interface SuiteRun {
  /** Each test of the schedule and how it ended, in schedule order. */
  outcomes: Map<string, TestOutcome>;
  /** The run's directory: regression.diffs and results/ are in it. */
  outputDir: string;
  /** pg_regress's own output, for a run that could not start. */
  log: string;
}

export interface SuiteTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  binDir: string;
}

// input/ and output/ are gone since PostgreSQL 15; older suites still have them.
export const RUN_DIR_PREFIX = "portcullis-regress-";
const SUITE_PARTS = ["sql", "expected", "data", "input", "output", "parallel_schedule", "resultmap"];
const MODULES = ["regress.so", "refint.so", "autoinc.so"];

/** `test name ... ok 12 ms`, or an indented name inside a parallel group. */
const OUTCOME_LINE = /^(?:test\s+|\s+)(\S+)\s+\.\.\.\s+(ok|FAILED|failed \(ignored\))/;

export function parseOutcomes(output: string): Map<string, TestOutcome> {
  const outcomes = new Map<string, TestOutcome>();
  for (const line of output.split("\n")) {
    const match = OUTCOME_LINE.exec(line);
    if (match?.[1] && match[2]) outcomes.set(match[1], match[2] as TestOutcome);
  }
  return outcomes;
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) chownTree(child, uid, gid);
    else chownSync(child, uid, gid);
  }
}

/** A fresh copy of the suite the server's account can read and write (server-side COPY uses these paths). */
function runDirectory(suite: RegressSuite, label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${RUN_DIR_PREFIX}${label}-`));
  for (const part of SUITE_PARTS.filter((name) => existsSync(join(suite.suiteDir, name)))) cpSync(join(suite.suiteDir, part), join(dir, part), { recursive: true });
  for (const module of MODULES) cpSync(join(suite.modulesDir, module), join(dir, module));
  // The server writes COPY … TO files into results/, beside pg_regress's own output.
  mkdirSync(join(dir, "results"));
  const account = serverAccount();
  if (account.user !== undefined) chownTree(dir, account.uid, account.gid);
  return dir;
}

export async function runSuite(suite: RegressSuite, target: SuiteTarget, label: string): Promise<SuiteRun> {
  const dir = runDirectory(suite, label);
  const args = [
    `--host=${target.host}`,
    `--port=${target.port}`,
    `--user=${target.user}`,
    `--bindir=${target.binDir}`,
    `--inputdir=${dir}`,
    `--outputdir=${dir}`,
    `--dlpath=${dir}`,
    `--schedule=${join(dir, "parallel_schedule")}`,
  ];
  const env = { ...process.env, PGPASSWORD: target.password, PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "10" };
  const result = await runCommand(suite.pgRegress, args, { env, cwd: dir });
  const log = `${result.stdout}${result.stderr}`;
  return { outcomes: parseOutcomes(result.stdout), outputDir: dir, log };
}
