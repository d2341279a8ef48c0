// helm against a local cluster with a real node: the chart from charts/, the
// images `make images` built (imported, never pulled), and the operator's
// Service at a fixed address, because pods here have no DNS.
import { fileURLToPath } from "node:url";
import { locateTools } from "../controlplane/tools.js";
import { runCommand, type CommandResult } from "../processes/child-process.js";

export const CHART = fileURLToPath(new URL("../../../charts/portcullis", import.meta.url));
export const RELEASE = "portcullis";
export const RELEASE_NAMESPACE = "portcullis-system";
/** The operator Service's clusterIP, in the API server's service range; sidecars reach the broker there. */
export const OPERATOR_IP = "10.0.0.10";

/** The chart's values for the local cluster, as --set arguments. */
export const LOCAL_VALUES = [
  "operator.image.repository=localhost/portcullis-operator",
  "operator.image.pullPolicy=Never",
  "sidecar.image.repository=localhost/portcullis-sidecar",
  "sidecar.initImage.repository=localhost/portcullis-init",
  `service.clusterIP=${OPERATOR_IP}`,
  `operator.brokerUrl=https://${OPERATOR_IP}:8443`,
].flatMap((value) => ["--set", value]);

/** helm with its own cache and configuration (nothing of the user's), never throwing on a non-zero exit. */
export function helm(kubeconfig: string, args: string[]): Promise<CommandResult> {
  return runCommand(locateTools().helm, args, {
    env: { ...process.env, KUBECONFIG: kubeconfig, HELM_CACHE_HOME: "/tmp/portcullis-helm/cache", HELM_CONFIG_HOME: "/tmp/portcullis-helm/config", HELM_DATA_HOME: "/tmp/portcullis-helm/data" },
  });
}

/** Installs (or upgrades) the release with the local values plus `extra`, waiting until the operator is Ready. */
export function helmInstall(kubeconfig: string, extra: string[] = [], command: "install" | "upgrade" = "install"): Promise<CommandResult> {
  return helm(kubeconfig, [command, RELEASE, CHART, "--namespace", RELEASE_NAMESPACE, ...(command === "install" ? ["--create-namespace"] : []), "--wait", "--timeout", "240s", ...LOCAL_VALUES, ...extra]);
}
