// Installs Portcullis into a test control plane the way a platform team would,
// except that the webhooks call the operator by URL on loopback instead of
// through a Service (there are no nodes or Services here). The operator runs
// as its own service account, with exactly the RBAC in operator/deploy.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CRD_DIR, readManifests, type KubeObject } from "@portcullis/crds";
import { stringify } from "yaml";
import type { ControlPlane } from "../controlplane/controlplane.js";
import { kubectl } from "../jest/environment.js";

export const OPERATOR_NAMESPACE = "portcullis-system";
export const OPERATOR_USERNAME = `system:serviceaccount:${OPERATOR_NAMESPACE}:portcullis-operator`;
const DEPLOY_DIR = fileURLToPath(new URL("../../../operator/deploy/", import.meta.url));

async function run(controlPlane: ControlPlane, args: string[], stdin?: string): Promise<string> {
  const result = await kubectl(args, { kubeconfig: controlPlane.state.adminKubeconfig, ...(stdin === undefined ? {} : { stdin }) });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

/** Where the operator that serves the webhooks listens: its webhook port and its CA probe port. */
export interface WebhookPorts {
  webhook: number;
  caProbe: number;
}

/** The Service's ports in operator/deploy/webhooks.yaml. */
const SERVICE_PORTS = { webhook: 9443, caProbe: 9444 };

/** The webhook configurations from operator/deploy, pointed at https://127.0.0.1:PORT. */
export function webhooksByUrl(ports: WebhookPorts): KubeObject[] {
  return readManifests(join(DEPLOY_DIR, "webhooks.yaml")).map((config) => {
    const webhooks = (config.webhooks as { clientConfig: { service?: { path: string; port?: number }; url?: string } }[]).map((hook) => {
      const path = hook.clientConfig.service?.path ?? "/";
      const port = hook.clientConfig.service?.port === SERVICE_PORTS.caProbe ? ports.caProbe : ports.webhook;
      return { ...hook, clientConfig: { url: `https://127.0.0.1:${port}${path}` } };
    });
    return { ...config, webhooks };
  });
}

/** Applies CRDs, the operator's namespace and RBAC, and the webhooks; returns a kubeconfig for the operator's service account. */
export async function installPortcullis(controlPlane: ControlPlane, webhookPorts: WebhookPorts): Promise<string> {
  await run(controlPlane, ["apply", "-f", CRD_DIR]);
  await run(controlPlane, ["wait", "--for=condition=Established", "--timeout=60s", "--recursive=false", "-f", CRD_DIR]);
  await run(controlPlane, ["apply", "-f", "-"], stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: OPERATOR_NAMESPACE } }));
  await run(controlPlane, ["apply", "-f", join(DEPLOY_DIR, "rbac.yaml")]);
  await run(controlPlane, ["apply", "-f", "-"], webhooksByUrl(webhookPorts).map((o) => stringify(o)).join("---\n"));
  const token = (await run(controlPlane, ["create", "token", "portcullis-operator", "-n", OPERATOR_NAMESPACE, "--duration=6h"])).trim();
  return controlPlane.kubeconfigForToken("portcullis-operator", token);
}
