// Runs the real `portcullis` command (cli/dist/main.js) as a child process,
// the way a reviewer runs it: a kubeconfig by --kubeconfig or $KUBECONFIG,
// output on stdout and stderr, an exit code.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { CommandResult } from "../jest/environment.js";

const MAIN = fileURLToPath(new URL("../../../cli/dist/main.js", import.meta.url));

/** Never throws on a non-zero exit: the tests look at the code and the output. */
export function portcullis(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    // HOME is moved so no ~/.kube/config of the machine leaks into a test that relies on $KUBECONFIG.
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBECONFIG: "", HOME: "/nonexistent", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
