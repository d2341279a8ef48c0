// An injected pod's gateway as the suites without a node run it: the
// environment the injector wrote into each container of the stored pod, and
// the gateway started as a process with it, plus what the kubelet would give
// it — a projected token bound to the pod and the broker's CA, in files.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { OperatorFixture } from "../operator/fixture.js";
import { OPERATOR_NAMESPACE } from "../operator/install.js";
import type { OperatorProcess } from "../operator/process.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

export interface InjectedPod {
  fixture: OperatorFixture;
  namespace: string;
  name: string;
  serviceAccount: string;
}

interface Container {
  name: string;
  env?: Array<{ name: string; value?: string }>;
}

/** A container's environment as the injector wrote it into the stored pod. */
export async function injectedEnv(pod: InjectedPod, container: string): Promise<Record<string, string>> {
  const spec = JSON.parse(await pod.fixture.kubectlOk(["get", "pod", pod.name, "-n", pod.namespace, "-o", "jsonpath={.spec}"])) as { initContainers?: Container[]; containers: Container[] };
  const found = [...(spec.initContainers ?? []), ...spec.containers].find((candidate) => candidate.name === container);
  if (!found) throw new Error(`the pod has no ${container} container`);
  return Object.fromEntries((found.env ?? []).filter((variable) => variable.value !== undefined).map((variable) => [variable.name, variable.value as string]));
}

/** Starts the pod's gateway with its injected environment, talking to `operator`'s broker; `env` overrides (e.g. local paths for mounts). */
export async function startInjectedGateway(pod: InjectedPod, operator: OperatorProcess, dir: string, env: NodeJS.ProcessEnv = {}): Promise<SidecarProcess> {
  const { fixture, namespace, name } = pod;
  const uid = await fixture.kubectlOk(["get", "pod", name, "-n", namespace, "-o", "jsonpath={.metadata.uid}"]);
  const bound = ["--audience=portcullis", "--bound-object-kind=Pod", `--bound-object-name=${name}`, `--bound-object-uid=${uid}`];
  const token = (await fixture.kubectlOk(["create", "token", pod.serviceAccount, "-n", namespace, ...bound])).trim();
  const ca = Buffer.from(await fixture.kubectlOk(["get", "secret", "portcullis-operator-tls", "-n", OPERATOR_NAMESPACE, "-o", "jsonpath={.data.ca-bundle\\.crt}"]), "base64").toString();
  await writeFile(join(dir, "token"), token);
  await writeFile(join(dir, "ca.crt"), ca);
  const injected = await injectedEnv(pod, "portcullis-gateway");
  return startSidecar({
    env: {
      ...injected,
      PORTCULLIS_BROKER_URL: `https://127.0.0.1:${operator.ports.broker}`,
      PORTCULLIS_TOKEN_FILE: join(dir, "token"),
      PORTCULLIS_BROKER_CA_FILE: join(dir, "ca.crt"),
      ...env,
    },
  });
}
