#!/usr/bin/env node
// `make try`: the five-minute trial. A throwaway PostgreSQL with sample
// data, a local control plane (an API server for the ApprovalRequests, no
// node), and the gateway in standalone mode in front of the database with a
// policy that allows reads, denies drops, masks emails and holds writes for
// a reviewer; then the psql line and the commands to try, and everything
// stopped again on Ctrl-C. Nothing is installed: no node, no images, no Helm.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ControlPlane } from "../controlplane/controlplane.js";
import { freePort } from "../controlplane/processes.js";
import { locateTools } from "../controlplane/tools.js";
import { auditorStoreFile, filesystemStoreManifests } from "../gateway/filesystem-evidence.js";
import { startSidecar, type SidecarProcess } from "../gateway/sidecar-process.js";
import { kubectl } from "../jest/environment.js";
import { seedSampleData, startPostgres, type RunningPostgres } from "../postgres/server.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
/** Where the gateway creates ApprovalRequests, and the reviewer finds them (try.e2e.test.ts names it too). */
const TRIAL_NAMESPACE = "trial";
const TRIAL_POLICY = "trial";

function manifests(pg: RunningPostgres, listener: number, storeDir: string): object[] {
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-credentials" }, stringData: { username: pg.users.scram.username, password: pg.users.scram.password } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "orders-db-ca" }, data: { "ca.crt": pg.caPem } },
    ...filesystemStoreManifests(storeDir),
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "orders-db" },
      spec: {
        protocol: "postgres",
        endpoint: { host: "127.0.0.1", port: pg.port, tls: { mode: "verify-full", serverName: pg.serverName, caBundleRef: { kind: "ConfigMap", name: "orders-db-ca", key: "ca.crt" } } },
        listener: { port: listener },
        credentials: { secretRef: { name: "orders-db-credentials" } },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: TRIAL_POLICY },
      spec: {
        subjects: { serviceAccounts: ["agent"] },
        resources: ["orders-db"],
        rules: [
          { name: "no-drops", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "agents never drop tables" },
          { name: "reads", match: { sql: { commands: ["SELECT", "SHOW", "EXPLAIN", "SET", "TRANSACTION"] } }, action: "allow" },
          { name: "writes", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { users: ["portcullis-admin"] }, timeout: "10m" } },
        ],
        masking: [{ name: "contact", columns: ["customers.email"], strategy: "redact" }],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
  ];
}

function instructions(listener: number, kubeconfig: string, storeFile: string): string {
  const cli = `node ${join(REPO, "cli/dist/main.js")}`;
  return `
Portcullis is in front of a throwaway PostgreSQL. Connect as the agent would (no password: the gateway holds the real one):

  psql "host=127.0.0.1 port=${listener} user=agent dbname=app"

  SELECT name, email FROM customers ORDER BY id LIMIT 3;  -- allowed; emails come back masked
  DROP TABLE customers;                                   -- denied: "agents never drop tables"
  UPDATE orders SET status = 'refunded' WHERE id = 1;     -- waits for a reviewer

In a second shell, be the reviewer:

  ${cli} approvals list -n ${TRIAL_NAMESPACE} --kubeconfig ${kubeconfig}
  ${cli} approvals approve NAME -n ${TRIAL_NAMESPACE} --kubeconfig ${kubeconfig} --reason "looks fine"

When psql exits, read the session back (each statement, its decision, the approval):

  ${cli} sessions list --store-file ${storeFile}
  ${cli} sessions replay SESSION --store-file ${storeFile}

Ctrl-C stops everything and removes it.
`;
}

async function main(): Promise<void> {
  const tools = locateTools();
  const dir = await mkdtemp(join(tmpdir(), "portcullis-try-"));
  let controlPlane: ControlPlane | undefined;
  let pg: RunningPostgres | undefined;
  let gateway: SidecarProcess | undefined;
  const stop = async (): Promise<void> => {
    await gateway?.stop();
    await pg?.stop();
    await controlPlane?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(0)));
  process.once("SIGTERM", () => void stop().then(() => process.exit(0)));
  try {
    console.error("starting a control plane (for the ApprovalRequests) and a PostgreSQL with sample data…");
    [controlPlane, pg] = await Promise.all([ControlPlane.start({ tools, ownerPid: process.pid }), startPostgres()]);
    await seedSampleData(pg);
    const kubeconfig = controlPlane.state.adminKubeconfig;
    for (const args of [
      ["apply", "-f", join(REPO, "crds")],
      ["wait", "--for=condition=Established", "--timeout=60s", "--recursive=false", "-f", join(REPO, "crds")],
      ["create", "namespace", TRIAL_NAMESPACE],
    ]) {
      const result = await kubectl(args, { kubeconfig });
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
    }
    const storeDir = join(dir, "evidence");
    // The auditor's store file names the signing key's public half, which replay and verify check against.
    const storeFile = await auditorStoreFile(join(dir, "store.yaml"), storeDir);
    const listener = await freePort();
    console.error("starting the gateway in standalone mode…");
    gateway = await startSidecar({ manifests: manifests(pg, listener, storeDir), extraArgs: ["--kubeconfig", kubeconfig, "--namespace", TRIAL_NAMESPACE] });
    console.log(instructions(listener, kubeconfig, storeFile));
    // Runs until Ctrl-C: the database, the control plane and the gateway belong to this process.
    setInterval(() => undefined, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
}

main().catch((error: unknown) => {
  console.error(`make try failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
