// What e2e suites share: the control plane the run started, and real kubectl.
import { spawn } from "node:child_process";
import { ControlPlane } from "../controlplane/controlplane.js";
import { locateTools } from "../controlplane/tools.js";

/** Set by the global setup to the running control plane's directory. */
export const CONTROL_PLANE_ENV = "PORTCULLIS_E2E_CONTROLPLANE";

export function controlPlane(): ControlPlane {
  const dir = process.env[CONTROL_PLANE_ENV];
  if (!dir) throw new Error(`${CONTROL_PLANE_ENV} is not set: run e2e suites through jest's e2e project (make test-e2e)`);
  return ControlPlane.attach(dir);
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  stdin?: string;
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
}

/** Runs the real kubectl against the run's control plane; never throws on a non-zero exit. */
export function kubectl(args: string[], options: KubectlOptions = {}): Promise<CommandResult> {
  const kubeconfig = options.kubeconfig ?? controlPlane().state.adminKubeconfig;
  return new Promise((resolve, reject) => {
    const child = spawn(locateTools().kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { stdio: "pipe" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

/** Like kubectl, but throws with kubectl's stderr when it fails. */
export async function kubectlOk(args: string[], options: KubectlOptions = {}): Promise<string> {
  const result = await kubectl(args, options);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}
