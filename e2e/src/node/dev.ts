#!/usr/bin/env node
// `make dev`: a local cluster with a real node, Portcullis installed by Helm
// from charts/ with the images `make images` built, a demo PostgreSQL with
// sample data and an agent Deployment whose gateway governs it; then the
// commands to try, and everything stopped again on Ctrl-C.
// `make dev-down` (this file with `down`) stops a run left behind and puts
// the host back.
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { installCliPlugin } from "../cli/portcullis-cli.js";
import { ControlPlane, reapOrphanedControlPlanes } from "../controlplane/controlplane.js";
import { isAlive } from "../controlplane/processes.js";
import { locateTools } from "../controlplane/tools.js";
import { kubectl } from "../jest/environment.js";
import { waitForJsonPath } from "../operator/cluster-waits.js";
import { reapOrphanedPostgres, seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";
import { reapOrphanedS3, startS3, type RunningS3 } from "../s3/server.js";
import { DEMO_AGENT, DEMO_NAMESPACE, DEMO_POLICY, demoAgentDeployment, demoManifests, EVIDENCE_STORE } from "./demo.js";
import { helmInstall } from "./helm.js";
import { imageArchives, imageNamed } from "./images.js";
import { cleanUpLeftovers, nodeOwner, NODE_DIR, NODE_IP, POD_CIDR, TestNode } from "./node.js";

const ADMIN = "portcullis-admin";

async function run(step: string, command: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const result = await command;
  if (result.code !== 0) throw new Error(`${step} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

async function up(): Promise<void> {
  const tools = locateTools();
  const archives = imageArchives();
  await TestNode.prepareHost();
  let controlPlane: ControlPlane | undefined;
  let node: TestNode | undefined;
  let server: RunningPostgres | undefined;
  let s3: RunningS3 | undefined;
  // Runs until Ctrl-C: PostgreSQL and the cluster belong to this process.
  const running = setInterval(() => undefined, 60_000);
  const stop = async (): Promise<void> => {
    clearInterval(running);
    console.error("stopping: the node, PostgreSQL, the control plane; putting the host back");
    await node?.stop();
    await server?.stop();
    await s3?.stop();
    await controlPlane?.stop();
    await cleanUpLeftovers();
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(0)));
  process.once("SIGTERM", () => void stop().then(() => process.exit(0)));
  try {
    console.error("starting a control plane and a real node (containerd, kubelet, kube-proxy)…");
    controlPlane = await ControlPlane.start({ tools, ownerPid: process.pid, advertiseAddress: NODE_IP });
    node = await TestNode.start({ controlPlane, tools, images: archives, sandboxImage: imageNamed("portcullis-pause") });
    server = await startPostgres({ podNetwork: { address: NODE_IP, clients: POD_CIDR } });
    await seedSampleData(server);
    s3 = await startS3({ host: NODE_IP });
    await s3.createBucket("evidence");
    const recording = { s3, bucket: "evidence", signingKey: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
    const kubeconfig = controlPlane.state.adminKubeconfig;
    console.error("installing Portcullis with helm…");
    await run("helm install", helmInstall(kubeconfig));
    await run("kubectl apply", kubectl(["apply", "-f", "-"], { kubeconfig, stdin: demoManifests(server, ADMIN, recording).map((o) => stringify(o)).join("---\n") }));
    await waitForJsonPath((args) => kubectl(args, { kubeconfig }), ["get", "accesspolicy", DEMO_POLICY, "-n", DEMO_NAMESPACE], '{.status.conditions[?(@.type=="Ready")].status}', "True", 60_000);
    await run("kubectl apply", kubectl(["apply", "-f", "-"], { kubeconfig, stdin: stringify(demoAgentDeployment()) }));
    await run("kubectl rollout status", kubectl(["rollout", "status", `deployment/${DEMO_AGENT}`, "-n", DEMO_NAMESPACE, "--timeout=180s"], { kubeconfig }));
    console.log(instructions(kubeconfig, server.port, join(tools.kubectl, "..")));
  } catch (error) {
    await stop();
    throw error;
  }
}

function instructions(kubeconfig: string, port: number, kubectlDir: string): string {
  const psql = `kubectl exec -it -n ${DEMO_NAMESPACE} deploy/${DEMO_AGENT} -c agent -- psql "host=${NODE_IP} port=${port} user=agent dbname=app"`;
  const inAgent = `kubectl exec -n ${DEMO_NAMESPACE} deploy/${DEMO_AGENT} -c agent --`;
  return `
Portcullis runs on a local cluster with a real node. Ctrl-C here (or \`make dev-down\`) stops it all.
In another shell:

  export KUBECONFIG=${kubeconfig} PATH=${kubectlDir}:${installCliPlugin(join(NODE_DIR, "bin"))}:$PATH
  kubectl get pods -n ${DEMO_NAMESPACE}          # the agent, with the injected portcullis-gateway
  ${psql}

Inside psql, the agent talks to the database's real address; the gateway in its pod decides:
  SELECT name, email FROM customers;                    -- emails come back masked
  DROP TABLE customers;                                 -- denied: "agents never drop tables"
  UPDATE customers SET note = 'vip' WHERE id = 1;       -- waits for a reviewer

While the UPDATE waits, in a third shell (same exports):
  kubectl get approvalrequests -n ${DEMO_NAMESPACE}
  kubectl portcullis approvals approve NAME -n ${DEMO_NAMESPACE} --reason "looks fine"

When psql exits, its session goes to S3; replay and verify it:
  kubectl portcullis sessions list --store-configmap ${EVIDENCE_STORE} -n ${DEMO_NAMESPACE}
  kubectl portcullis sessions replay SESSION --store-configmap ${EVIDENCE_STORE} -n ${DEMO_NAMESPACE}
  kubectl portcullis sessions verify SESSION --store-configmap ${EVIDENCE_STORE} -n ${DEMO_NAMESPACE}

kubectl in the agent has no kubeconfig and its service account no RBAC; the gateway governs its cluster access:
  ${inAgent} kubectl get pods                                      # allowed in its namespace
  ${inAgent} kubectl get secret evidence-credentials -o yaml     # values masked
  ${inAgent} kubectl get pods -n kube-system                       # denied (default action)
  ${inAgent} bash -c 'kubectl exec $HOSTNAME -c agent -- id'       # exec allowed, recorded channel by channel

The policy and Resources: kubectl get accesspolicy,resource -n ${DEMO_NAMESPACE} -o yaml
`;
}

/** Stops a `make dev` still running (it puts the host back itself), or puts back what a killed one left. */
async function down(): Promise<void> {
  const owner = nodeOwner();
  if (owner !== undefined && owner !== process.pid && isAlive(owner)) {
    process.kill(owner, "SIGTERM");
    const deadline = Date.now() + 120_000;
    while (isAlive(owner) && Date.now() < deadline) await sleep(500);
  }
  await cleanUpLeftovers();
  for (const dir of await reapOrphanedControlPlanes()) console.error(`stopped the control plane in ${dir}`);
  for (const dir of reapOrphanedPostgres()) console.error(`stopped PostgreSQL in ${dir}`);
  for (const dir of reapOrphanedS3()) console.error(`stopped the S3 server in ${dir}`);
  console.error("the local cluster is down and the host is as it was");
}

const command = process.argv[2] ?? "up";
(command === "down" ? down() : command === "up" ? up() : Promise.reject(new Error("usage: dev.js [up | down]"))).catch((error: unknown) => {
  console.error(`make dev: ${(error as Error).message}`);
  process.exit(1);
});
