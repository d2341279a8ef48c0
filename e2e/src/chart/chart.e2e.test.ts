// The Helm chart with the real helm (built from helm.sh/helm/v3): it lints,
// renders what the golden files hold for three sets of values (regenerate
// with UPDATE_GOLDEN=1 after an intended change and review the diff), refuses
// bad values with a message naming them, and the README's values table lists
// exactly the values the schema knows.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { locateTools } from "../controlplane/tools.js";
import { runCommand } from "../processes/child-process.js";

const CHART = fileURLToPath(new URL("../../../charts/portcullis", import.meta.url));
const README = fileURLToPath(new URL("../../../README.md", import.meta.url));
const GOLDEN = fileURLToPath(new URL("../../src/chart/golden", import.meta.url));
const helm = (args: string[]): ReturnType<typeof runCommand> => runCommand(locateTools().helm, args, { env: { ...process.env, HELM_CACHE_HOME: "/tmp/portcullis-helm/cache", HELM_CONFIG_HOME: "/tmp/portcullis-helm/config", HELM_DATA_HOME: "/tmp/portcullis-helm/data" } });

/** Value sets: the defaults, a highly available install with monitoring, and the local test cluster's. */
const VALUE_SETS: Record<string, { namespace: string; set: string[] }> = {
  default: { namespace: "portcullis-system", set: [] },
  "ha-monitoring": {
    namespace: "security",
    set: ["operator.replicas=3", "podDisruptionBudget.minAvailable=2", "serviceMonitor.enabled=true", "serviceMonitor.interval=15s", "grafanaDashboard.enabled=true", "operator.resources.limits.memory=1Gi"],
  },
  local: {
    namespace: "portcullis-system",
    set: [
      "operator.image.repository=localhost/portcullis-operator",
      "operator.image.pullPolicy=Never",
      "sidecar.image.repository=localhost/portcullis-sidecar",
      "sidecar.initImage.repository=localhost/portcullis-init",
      "service.clusterIP=10.0.0.10",
      "operator.brokerUrl=https://10.0.0.10:8443",
      "sidecar.nativeSidecar=false",
      "podDisruptionBudget.enabled=false",
    ],
  },
};

describe("the Helm chart", () => {
  it("lints without errors", async () => {
    const result = await helm(["lint", CHART, "--strict"]);
    expect(result.stdout).toContain("1 chart(s) linted, 0 chart(s) failed");
  });

  it.each(Object.keys(VALUE_SETS))("renders the %s values as the golden file holds", async (name) => {
    const { namespace, set } = VALUE_SETS[name] as { namespace: string; set: string[] };
    const result = await helm(["template", "portcullis", CHART, "--namespace", namespace, ...set.flatMap((value) => ["--set", value])]);
    expect(result.code).toBe(0);
    const golden = join(GOLDEN, `${name}.yaml`);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(golden, result.stdout);
    if (!existsSync(golden)) throw new Error(`${golden} is missing: render it with UPDATE_GOLDEN=1 and review it`);
    expect(result.stdout).toBe(readFileSync(golden, "utf8"));
    // Never matching the release's own namespace or kube-system, whatever it is called.
    expect(result.stdout.match(/values: \[kube-system, [^\]]+\]/g)?.every((line) => line === `values: [kube-system, ${namespace}]`)).toBe(true);
  });

  it.each([
    ["operator.replicas=0", "at '/operator/replicas': minimum: got 0, want 1"],
    ["sidecar.uid=0", "at '/sidecar/uid': minimum: got 0, want 1"],
    ["operator.replica=3", "at '/operator': additional properties 'replica' not allowed"],
    ["service.clusterIP=10.0.0.300", "at '/service/clusterIP'"],
    ["operator.image.pullPolicy=Sometimes", "at '/operator/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"],
    ["operator.brokerUrl=http://insecure:8443", "at '/operator/brokerUrl'"],
    ["sidecar.resources.limits.memory=lots", "at '/sidecar/resources/limits/memory'"],
  ])("refuses %s with a message naming it", async (value, message) => {
    const result = await helm(["template", "portcullis", CHART, "--set", value]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it("documents every value of the schema in the README's values table, and no other", () => {
    const schema = JSON.parse(readFileSync(join(CHART, "values.schema.json"), "utf8")) as SchemaNode;
    const table = /### Values\n([\s\S]*?)\n(?:#|$)/.exec(readFileSync(README, "utf8"))?.[1] ?? "";
    const documented = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((match) => match[1]).sort();
    expect(documented).toEqual(leaves(schema).sort());
  });
});

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  $ref?: string;
}

/** The dotted names of the values a user sets: objects with properties are walked, images ($ref) end at their fields. */
function leaves(node: SchemaNode, prefix = ""): string[] {
  if (node.$ref === "#/definitions/image") return [`${prefix}.repository`, `${prefix}.tag`];
  if (!node.properties) return [prefix];
  return Object.entries(node.properties).flatMap(([name, child]) => leaves(child, prefix ? `${prefix}.${name}` : name));
}
