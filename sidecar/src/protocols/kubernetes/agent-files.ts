// What the agent's containers read to reach the API server through the
// gateway, written into the trust directory they mount read-only.
// Explicit mode: the kubeconfig (KUBECONFIG, set by the injector), one
// cluster and context per kubernetes Resource, each pointing at the gateway's
// listener on loopback and trusting the pod's CA. Transparent mode: the
// service-account directory in-cluster clients read (the injector mounts it
// over the usual one): ca.crt is the pod's CA, for the certificate the
// gateway presents as kubernetes.default.svc, and token a placeholder.
// It holds no credential: the gateway knows the agent by its pod (or by the
// OIDC token a policy asks for) and presents the Resource's own credential.
// Its user has a placeholder token only because kubectl prompts for a user
// name when a user has nothing at all; the token means nothing anywhere (the
// gateway drops the agent's Authorization and a non-JWT never identifies).
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { governsInClusterApi } from "@portcullis/common/config/agent-tls";
import { AGENT_KUBECONFIG_FILE, POD_CA_FILE, TRUST_SERVICE_ACCOUNT_DIR } from "@portcullis/common/injection-names";
import { writeTrustFile } from "../../runtime/trust-files.js";

const AGENT_USER = "portcullis-agent";
const PLACEHOLDER_TOKEN = "portcullis-pod-identity";

/** The kubeconfig (JSON, which kubeconfig readers take as YAML) for the bundle's kubernetes Resources; undefined when it has none. */
export function agentKubeconfig(bundle: ConfigBundle, caFile: string): string | undefined {
  const resources = bundle.resources
    .filter((resource) => resource.spec?.protocol === "kubernetes")
    .map((resource) => ({ name: resource.name, port: resource.spec?.listener.port ?? 0 }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const [first] = resources;
  if (!first) return undefined;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: resources.map(({ name, port }) => ({ name, cluster: { server: `https://127.0.0.1:${port}`, "certificate-authority": caFile } })),
    users: [{ name: AGENT_USER, user: { token: PLACEHOLDER_TOKEN } }],
    contexts: resources.map(({ name }) => ({ name, context: { cluster: name, user: AGENT_USER, namespace: bundle.identity.namespace } })),
    "current-context": first.name,
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** Writes (or replaces) the agent's kubeconfig and, for a transparent Resource, its service-account files; nothing without a kubernetes Resource. */
export async function writeAgentFiles(trustDir: string, bundle: ConfigBundle, podCaPem: string): Promise<void> {
  const text = agentKubeconfig(bundle, join(trustDir, POD_CA_FILE));
  if (text !== undefined) await writeTrustFile(join(trustDir, AGENT_KUBECONFIG_FILE), text);
  if (!bundle.resources.some((resource) => governsInClusterApi(resource.spec))) return;
  const dir = join(trustDir, TRUST_SERVICE_ACCOUNT_DIR);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await writeTrustFile(join(dir, "ca.crt"), podCaPem);
  await writeTrustFile(join(dir, "namespace"), bundle.identity.namespace);
  await writeTrustFile(join(dir, "token"), PLACEHOLDER_TOKEN);
}
