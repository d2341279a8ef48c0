// Runs the real `portcullis` command (cli/dist/main.js) as a child process,
// the way a reviewer runs it: a kubeconfig by --kubeconfig or $KUBECONFIG,
// output on stdout and stderr, an exit code.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand, type CommandResult } from "../processes/child-process.js";

const MAIN = fileURLToPath(new URL("../../../cli/dist/main.js", import.meta.url));

/** Never throws on a non-zero exit: the tests look at the code and the output. */
export function portcullis(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  // HOME is moved so no ~/.kube/config of the machine leaks into a test that relies on $KUBECONFIG.
  return runCommand(process.execPath, [MAIN, ...args], { env: { ...process.env, KUBECONFIG: "", HOME: "/nonexistent", ...env } });
}

/** Writes `portcullis` and `kubectl-portcullis` into `dir`, so with it on PATH `kubectl portcullis` runs the CLI as a plugin; returns dir. */
export function installCliPlugin(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (const name of ["portcullis", "kubectl-portcullis"]) {
    writeFileSync(join(dir, name), `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`);
    chmodSync(join(dir, name), 0o755);
  }
  return dir;
}
