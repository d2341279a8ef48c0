// What e2e suites share: the control plane the run started, and real kubectl.
import { dirname, join } from "node:path";
import { ControlPlane } from "../controlplane/controlplane.js";
import { locateTools } from "../controlplane/tools.js";
import { runCommand, type CommandResult } from "../processes/child-process.js";

export type { CommandResult };

/** Set by the global setup to the running control plane's directory. */
export const CONTROL_PLANE_ENV = "PORTCULLIS_E2E_CONTROLPLANE";

export function controlPlane(): ControlPlane {
  const dir = process.env[CONTROL_PLANE_ENV];
  if (!dir) throw new Error(`${CONTROL_PLANE_ENV} is not set: run e2e suites through jest's e2e project (make test-e2e)`);
  return ControlPlane.attach(dir);
}


export interface KubectlOptions {
  stdin?: string;
  /** Defaults to the admin kubeconfig. */
  kubeconfig?: string;
}

/** Runs the real kubectl against the run's control plane; never throws on a non-zero exit. */
export function kubectl(args: string[], options: KubectlOptions = {}): Promise<CommandResult> {
  const kubeconfig = options.kubeconfig ?? controlPlane().state.adminKubeconfig;
  // A discovery cache per control plane: the shared ~/.kube/cache is keyed by host:port, and a later
  // control plane on a reused port would be answered from a stale cache that lacks the CRDs.
  const cacheDir = join(dirname(kubeconfig), "kubectl-cache");
  return runCommand(locateTools().kubectl, [`--kubeconfig=${kubeconfig}`, `--cache-dir=${cacheDir}`, ...args], { env: process.env, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
}

/** Like kubectl, but throws with kubectl's stderr when it fails. */
export async function kubectlOk(args: string[], options: KubectlOptions = {}): Promise<string> {
  const result = await kubectl(args, options);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}
