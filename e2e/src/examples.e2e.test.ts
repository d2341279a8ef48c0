// The examples work as a set, as the README says: `kubectl apply -n agents
// -f crds/examples/` on a real API server with the operator running exits
// 0, and every Resource and AccessPolicy becomes Ready — the CA and store
// ConfigMaps, the Secrets, the service accounts and the agent Deployment are
// all there. (The cluster publishes kube-root-ca.crt in every namespace; this
// control plane has no controller manager, so the test creates it.)
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { EXAMPLES_DIR, readManifests, yamlFilesIn } from "@portcullis/crds";
import { OperatorFixture } from "./operator/fixture.js";

const NS = "example-agents";
const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

/** The rows the README shows for `kubectl get resources -n agents`, without the AGE column. */
function readmeResourceRows(): string[][] {
  const block = /kubectl get resources -n agents\n```\n```\n([\s\S]*?)```/.exec(README)?.[1] ?? "";
  return block.trim().split("\n").slice(1).map((line) => line.split(/\s+/).slice(0, 7));
}

let fixture: OperatorFixture;

const named = (kind: string): string[] =>
  yamlFilesIn(EXAMPLES_DIR)
    .flatMap((file) => readManifests(file))
    .filter((object) => object.kind === kind)
    .map((object) => object.metadata.name)
    .sort();

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  await fixture.startOperator("operator-examples");
  await fixture.kubectlOk(["create", "namespace", NS]);
  await fixture.kubectlOk(["create", "configmap", "kube-root-ca.crt", "-n", NS, `--from-literal=ca.crt=${fixture.controlPlane.caPem}`]);
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

describe("the examples as a set", () => {
  it("apply in one command", async () => {
    const applied = await fixture.kubectl(["apply", "-n", NS, "-f", EXAMPLES_DIR]);
    expect(applied.code).toBe(0);
    // Files apply in name order, so a policy can come before the Resources it names: the webhook warns, never refuses.
    expect(applied.stderr.split("\n").filter((line) => line && !line.startsWith("Warning: "))).toEqual([]);
    expect(applied.stdout).toContain("deployment.apps/report-bot created");
  });

  it("make every Resource and AccessPolicy Ready", async () => {
    const resources = named("Resource");
    const policies = named("AccessPolicy");
    expect(resources).toEqual(["billing-api", "cluster-api", "orders-db", "support-tools"]);
    expect(policies).toEqual(["no-destructive-changes", "support-bot-read-only", "support-bot-tools"]);
    for (const [kind, names] of [["resource", resources], ["accesspolicy", policies]] as const) {
      for (const name of names) await fixture.waitFor(["get", kind, name, "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
    }
    const reasons = await fixture.kubectlOk(["get", "accesspolicies", "-n", NS, "-o", 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].reason}{" "}{end}']);
    expect(reasons.trim().split(" ")).toEqual(["Ready", "Ready", "Ready"]);
  }, 120_000);

  it("pass the README's wait, and look as the README shows them", async () => {
    const waited = await fixture.kubectl(["wait", "-n", NS, "--for=condition=Ready", "resources,accesspolicies", "--all", "--timeout=60s"]);
    expect(waited.code).toBe(0);
    const rows = (await fixture.kubectlOk(["get", "resources", "-n", NS, "--no-headers"])).trim().split("\n").map((line) => line.split(/\s+/).slice(0, 7));
    expect(rows).toEqual(readmeResourceRows());
  });

  it("hold no ApprovalRequest: those are the operator's to create (crds/reference/ shows one)", async () => {
    expect((await fixture.kubectlOk(["get", "approvalrequests", "-n", NS, "-o", "name"])).trim()).toBe("");
  });
});
