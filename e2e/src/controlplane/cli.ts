#!/usr/bin/env node
// portcullis-controlplane: builds and runs the test control plane by hand.
//   tools                 build kube-apiserver, kubectl and etcd into the cache
//   up [--with-crds]      start a control plane that outlives this command (or reuse the
//                         running one), optionally install the Portcullis CRDs; print its kubeconfig
//   down                  stop it and remove its directory
//   user NAME [GROUP...]  write a kubeconfig for a user with those groups; print its path
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CRD_DIR } from "@portcullis/crds";
import { ControlPlane } from "./controlplane.js";
import { buildTools, locateTools } from "./tools.js";

const USAGE = "usage: portcullis-controlplane tools | up [--with-crds] | down | user NAME [GROUP...]";
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
      const withCrds = rest.includes("--with-crds");
      const unknown = rest.filter((arg) => arg !== "--with-crds");
      if (unknown.length > 0) throw new UsageError(`unknown argument "${unknown[0]}"`);
      const tools = locateTools();
      const running = existsSync(join(dir, "state.json"));
      const controlPlane = running ? ControlPlane.attach(dir) : await ControlPlane.start({ dir, tools });
      const { server, adminKubeconfig } = controlPlane.state;
      console.error(running ? `reusing the control plane at ${server}` : `kube-apiserver ready at ${server}; logs in ${join(dir, "logs")}`);
      if (withCrds) {
        const kubectl = (...kubectlArgs: string[]): void => {
          execFileSync(tools.kubectl, [`--kubeconfig=${adminKubeconfig}`, ...kubectlArgs], { stdio: ["ignore", "ignore", "inherit"] });
        };
        kubectl("apply", "-f", CRD_DIR);
        kubectl("wait", "--for=condition=Established", "--timeout=60s", "--recursive=false", "-f", CRD_DIR);
        console.error(
          `Portcullis CRDs installed. Try:\n  export KUBECONFIG=${adminKubeconfig} PATH=${join(tools.kubectl, "..")}:$PATH\n` +
            "  kubectl apply -f crds/examples/ && kubectl get portcullis\nStop with: make controlplane-down",
        );
      }
      console.log(adminKubeconfig);
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

main(process.argv.slice(2)).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  console.error(error instanceof UsageError ? `${message}\n${USAGE}` : `portcullis-controlplane: ${message}`);
  process.exitCode = error instanceof UsageError ? 2 : 1;
});
