// Starts one control plane for the e2e run. A missing binary or a failed start
// fails the run with the reason; nothing is skipped.
import { ControlPlane, reapOrphanedControlPlanes } from "../controlplane/controlplane.js";
import { locateTools } from "../controlplane/tools.js";
import { CONTROL_PLANE_ENV } from "./environment.js";

export default async function globalSetup(): Promise<void> {
  for (const dir of await reapOrphanedControlPlanes()) console.log(`\nstopped an orphaned control plane in ${dir}`);
  const controlPlane = await ControlPlane.start({ tools: locateTools(), ownerPid: process.pid });
  process.env[CONTROL_PLANE_ENV] = controlPlane.state.dir;
  console.log(`\ne2e: kube-apiserver started at ${controlPlane.state.server} (state in ${controlPlane.state.dir})`);
}
