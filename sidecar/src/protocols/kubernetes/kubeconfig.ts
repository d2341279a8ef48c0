// The kubeconfig the agent's containers use in explicit mode (KUBECONFIG, set
// by the injector): one cluster and context per kubernetes Resource, each
// pointing at the gateway's listener on loopback and trusting the pod's CA.
// It holds no credential: the gateway knows the agent by its pod (or by the
// OIDC token a policy asks for) and presents the Resource's own credential.
// Its user has a placeholder token only because kubectl prompts for a user
// name when a user has nothing at all; the token means nothing anywhere (the
// gateway drops the agent's Authorization and a non-JWT never identifies).
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { AGENT_KUBECONFIG_FILE, POD_CA_FILE } from "@portcullis/common/injection-names";

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

/** Writes (or replaces) the kubeconfig in the trust directory the app containers mount; nothing when there is no kubernetes Resource. */
export async function writeAgentKubeconfig(trustDir: string, bundle: ConfigBundle): Promise<void> {
  const text = agentKubeconfig(bundle, join(trustDir, POD_CA_FILE));
  if (text === undefined) return;
  const path = join(trustDir, AGENT_KUBECONFIG_FILE);
  await writeFile(`${path}.tmp`, text, { mode: 0o644 });
  await rename(`${path}.tmp`, path);
}
