// Stops the run's control plane and removes its directory, also after failed tests.
import { ControlPlane } from "../controlplane/controlplane.js";
import { CONTROL_PLANE_ENV } from "./environment.js";

export default async function globalTeardown(): Promise<void> {
  const dir = process.env[CONTROL_PLANE_ENV];
  if (dir) await ControlPlane.attach(dir).stop();
}
