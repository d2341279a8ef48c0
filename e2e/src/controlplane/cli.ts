#!/usr/bin/env node
// portcullis-controlplane: builds and runs the test control plane by hand.
//   tools                 build the Kubernetes binaries, etcd, helm and versitygw into the cache
//   up                    start a control plane that outlives this command (or reuse the
//                         running one); print its kubeconfig
//   down                  stop it and remove its directory
//   user NAME [GROUP...]  write a kubeconfig for a user with those groups; print its path
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "./controlplane.js";
import { buildTools, locateTools } from "./tools.js";

const USAGE = "usage: portcullis-controlplane tools | up | down | user NAME [GROUP...]";
const dir = process.env.PORTCULLIS_CONTROLPLANE_DIR ?? join(tmpdir(), "portcullis-controlplane");

async function main(args: string[]): Promise<void> {
  const [command, ...rest] = args;
  switch (command) {
    case "tools": {
      const tools = buildTools((line) => console.error(line));
      for (const path of Object.values(tools)) console.log(path);
      return;
    }
    case "up": {
      if (rest.length > 0) throw new UsageError(`unknown argument "${rest[0]}"`);
      console.log((await upOrReuse()).state.adminKubeconfig);
      return;
    }
    case "down": {
      if (!existsSync(join(dir, "state.json"))) {
        console.error(`no control plane running in ${dir}`);
        return;
      }
      await ControlPlane.attach(dir).stop();
      console.error(`stopped the control plane in ${dir}`);
      return;
    }
    case "user": {
      const [name, ...groups] = rest;
      if (!name) throw new UsageError("user needs a NAME");
      console.log(await ControlPlane.attach(dir).kubeconfigFor(name, groups));
      return;
    }
    default:
      throw new UsageError(command ? `unknown command "${command}"` : "missing command");
  }
}

class UsageError extends Error {}

async function upOrReuse(): Promise<ControlPlane> {
  const running = existsSync(join(dir, "state.json"));
  const controlPlane = running ? ControlPlane.attach(dir) : await ControlPlane.start({ dir, tools: locateTools() });
  const { server } = controlPlane.state;
  console.error(running ? `reusing the control plane at ${server}` : `kube-apiserver ready at ${server}; logs in ${join(dir, "logs")}`);
  return controlPlane;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(error instanceof UsageError ? `${message}\n${USAGE}` : `portcullis-controlplane: ${message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
