// Child processes of the e2e harness: short-lived programs (kubectl, psql,
// initdb, the portcullis CLI) whose output is collected, long-lived servers
// that are asked to stop and killed if they do not, and the reaping of servers
// whose test process died without stopping them.
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isAlive } from "../controlplane/processes.js";

const STOP_TIMEOUT_MS = 15_000;

/** What a short-lived program did. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env: NodeJS.ProcessEnv;
  stdin?: string;
  /** A directory the program's user may enter (the server account cannot enter root's working directory). */
  cwd?: string;
}

/** Runs a program to completion, collecting its output; never throws on a non-zero exit. stdin is closed after `stdin`. */
export function runCommand(file: string, args: string[], options: RunOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env, cwd: options.cwd, stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A program may exit before its input is written (EPIPE, e.g. pg_isready); its exit code and output report the outcome.
    child.stdin.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") reject(error);
    });
    child.stdin.end(options.stdin ?? "");
  });
}

export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once the process has exited, false when timeoutMs passes first. */
export function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** `signal` (e.g. SIGINT, PostgreSQL's fast shutdown), then SIGKILL if it is still running after a timeout. */
export async function shutDown(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (hasExited(child)) return;
  child.kill(signal);
  if (await waitForExit(child, STOP_TIMEOUT_MS)) return;
  child.kill("SIGKILL");
  await waitForExit(child, STOP_TIMEOUT_MS);
}

/** Where a server started by the harness keeps its state, and which of its processes to kill. */
export interface OrphanLayout {
  /** Temp-dir entries starting with this belong to the kind of server being reaped. */
  prefix: string;
  /** The state file (JSON with the owner's pid) and the data directory its server's command line names. */
  files(dir: string): { state: string; dataDir: string };
  serverPid(state: Record<string, unknown>): number | undefined;
}

/** True when pid's command line names dataDir; guards against signalling a process that reused the id. */
function serves(pid: number, dataDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(dataDir);
  } catch {
    return false;
  }
}

/** Stops servers whose test process has gone (e.g. killed) and removes their directories. */
export function reapOrphans(layout: OrphanLayout): string[] {
  const reaped: string[] = [];
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(layout.prefix))) {
    const dir = join(tmpdir(), name);
    const files = layout.files(dir);
    try {
      const state = JSON.parse(readFileSync(files.state, "utf8")) as Record<string, unknown>;
      if (typeof state.ownerPid !== "number" || isAlive(state.ownerPid)) continue;
      const pid = layout.serverPid(state);
      if (pid !== undefined && serves(pid, files.dataDir)) process.kill(pid, "SIGKILL");
      rmSync(dir, { recursive: true, force: true });
      reaped.push(dir);
    } catch {
      // Being created right now (no state yet), or another user's: reaping is best effort.
    }
  }
  return reaped;
}
