// Running the harness's child processes: short-lived programs (initdb, psql,
// pg_isready) whose output is collected, and the long-lived postmaster, which
// is told to shut down fast and killed if it does not.
import { spawn, type ChildProcess } from "node:child_process";
import type { CommandResult } from "../jest/environment.js";

const FAST_SHUTDOWN_TIMEOUT_MS = 15_000;

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  stdin?: string;
  /** A directory the program's user may enter (the server account cannot enter root's working directory). */
  cwd?: string;
}

/** Runs a program to completion, collecting its output; never throws on a non-zero exit. */
export function runCommand(file: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once the process has exited, false when timeoutMs passes first. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGINT (PostgreSQL's fast shutdown), then SIGKILL if it is still running after a timeout. */
export async function shutDown(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  child.kill("SIGINT");
  if (await waitForExit(child, FAST_SHUTDOWN_TIMEOUT_MS)) return;
  child.kill("SIGKILL");
  await waitForExit(child, FAST_SHUTDOWN_TIMEOUT_MS);
}
