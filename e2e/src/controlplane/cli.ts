#!/usr/bin/env node
// portcullis-controlplane: builds and runs the test control plane by hand.
//   tools                 build kube-apiserver, kubectl and etcd into the cache
//   up                    start a control plane that outlives this command (or reuse the
//                         running one); print its kubeconfig
//   dev                   up, install Portcullis (CRDs, RBAC, webhooks) and run the operator
//                         in the foreground until Ctrl-C
//   down                  stop it and remove its directory
//   user NAME [GROUP...]  write a kubeconfig for a user with those groups; print its path
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installPortcullis } from "../operator/install.js";
import { startOperator } from "../operator/process.js";
import { ControlPlane } from "./controlplane.js";
import { freePort } from "./processes.js";
import { buildTools, locateTools } from "./tools.js";

const USAGE = "usage: portcullis-controlplane tools | up | dev | down | user NAME [GROUP...]";
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
    case "dev": {
      if (rest.length > 0) throw new UsageError(`unknown argument "${rest[0]}"`);
      await dev(await upOrReuse());
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

/** Installs Portcullis and runs the operator with its own service account until interrupted. */
async function dev(controlPlane: ControlPlane): Promise<void> {
  const webhookPorts = { webhook: await freePort(), caProbe: await freePort() };
  const kubeconfig = await installPortcullis(controlPlane, webhookPorts);
  const operator = await startOperator({ kubeconfig, logDir: join(dir, "logs"), identity: "dev", webhookPorts });
  console.error(
    [
      `The Portcullis operator is running (log: ${operator.logPath}). In another shell:`,
      `  export KUBECONFIG=${controlPlane.state.adminKubeconfig} PATH=${join(locateTools().kubectl, "..")}:$PATH`,
      "  kubectl create namespace agents && kubectl label namespace agents portcullis.dev/injection=enabled",
      "  kubectl apply -n agents -f crds/examples/postgres-resource.yaml -f crds/examples/no-destructive-changes-policy.yaml",
      "  kubectl get resources,accesspolicies -n agents",
      "Ctrl-C stops the operator; `make controlplane-down` stops the control plane.",
    ].join("\n"),
  );
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => void operator.stop().then(resolve));
    operator.child.once("exit", () => resolve());
  });
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(error instanceof UsageError ? `${message}\n${USAGE}` : `portcullis-controlplane: ${message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
