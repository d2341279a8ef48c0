// Golden-file tests of the injector: testdata/NAME.pod.yaml, injected against
// testdata/fixtures.yaml, must give testdata/NAME.patch.golden.json (the
// outcome: patch, warnings or refusal) and, when a pod comes out,
// testdata/NAME.injected.golden.yaml. Regenerate after an intended change
// with `UPDATE_GOLDEN=1` and review the diff; a stale golden file fails.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { parse, parseAllDocuments, stringify } from "yaml";
import { expectGolden, TESTDATA } from "./golden-files.js";
import { applyJsonPatch } from "../json-patch.js";
import { INJECTED_ANNOTATION } from "@portcullis/common/injection-names";
import { renderSidecarPatch, type InjectionInput, type SidecarPatchOutcome } from "./patch.js";
import { defaultInjectionSettings, type InjectionSettings } from "./settings.js";

interface GoldenCase {
  name: string;
  settings?: Partial<InjectionSettings>;
  /** Defaults to the namespace label that opts every pod in. */
  namespaceLabels?: Record<string, string>;
}

const CASES: GoldenCase[] = [
  { name: "explicit-postgres" },
  { name: "transparent-postgres-http" },
  { name: "transparent-https" },
  { name: "transparent-kubernetes" },
  { name: "classic-mode", settings: { nativeSidecar: false } },
  { name: "existing-parts" },
  { name: "pghost-already-set" },
  { name: "opt-out" },
  { name: "already-injected" },
  { name: "forged-annotation" },
  { name: "host-network" },
  { name: "share-process-namespace" },
  { name: "port-collision" },
  { name: "duplicate-listener" },
  { name: "no-policy" },
];

const fixtures = parseAllDocuments(readFileSync(join(TESTDATA, "fixtures.yaml"), "utf8")).map((doc) => doc.toJS() as { kind: string });
const policies = fixtures.filter((o) => o.kind === "AccessPolicy") as IAccessPolicy[];
const resources = fixtures.filter((o) => o.kind === "Resource") as IResource[];

/** A fixed seal key, so the golden records are stable. */
const SEAL_KEY = Buffer.alloc(32, 7);

function inputFor(testCase: GoldenCase): InjectionInput {
  return {
    sealKey: SEAL_KEY,
    policies,
    resources,
    settings: { ...defaultInjectionSettings, ...testCase.settings },
    namespaceLabels: testCase.namespaceLabels ?? { "portcullis.dev/injection": "enabled" },
    namespace: "agents",
  };
}

function readPod(name: string): V1Pod {
  return parse(readFileSync(join(TESTDATA, `${name}.pod.yaml`), "utf8")) as V1Pod;
}

/** The outcome as recorded in NAME.patch.golden.json (the pod goes to its own file). */
function summary(outcome: SidecarPatchOutcome): unknown {
  if (outcome.kind === "refusal") return outcome;
  return { ...outcome, pod: undefined };
}

describe("renderSidecarPatch golden files", () => {
  describe.each(CASES)("$name", (testCase) => {
    const pod = readPod(testCase.name);
    const outcome = renderSidecarPatch(pod, inputFor(testCase));
    const injected = outcome.kind === "patch" && outcome.patch.length > 0 ? outcome.pod : undefined;

    it("matches the golden outcome and injected pod", () => {
      expectGolden(`${testCase.name}.patch.golden.json`, `${JSON.stringify(summary(outcome), null, 2)}\n`);
      expectGolden(`${testCase.name}.injected.golden.yaml`, injected && stringify(injected, { lineWidth: 0 }));
    });

    it("produces a patch that turns the pod into the injected pod", () => {
      if (outcome.kind === "refusal") return;
      expect(applyJsonPatch(pod, outcome.patch)).toEqual(outcome.pod);
      if (outcome.patch.length === 0) expect(outcome.pod).toEqual(pod);
    });

    it("is idempotent: injecting the result again changes nothing", () => {
      if (outcome.kind === "refusal" || outcome.patch.length === 0) return;
      const again = renderSidecarPatch(outcome.pod, inputFor(testCase));
      expect(again).toEqual({ kind: "patch", patch: [], warnings: [], alreadyInjected: true, pod: outcome.pod });
    });
  });

  it("has no golden file without a case", () => {
    const names = new Set(CASES.map((c) => c.name));
    const orphans = readdirSync(TESTDATA)
      .filter((file) => /\.(pod\.yaml|patch\.golden\.json|injected\.golden\.yaml)$/.test(file))
      .filter((file) => !names.has(file.replace(/\.(pod\.yaml|patch\.golden\.json|injected\.golden\.yaml)$/, "")));
    expect(orphans).toEqual([]);
  });
});

describe("renderSidecarPatch", () => {
  const base = readPod("transparent-postgres-http");
  const input = inputFor({ name: "transparent" });

  it("uses only whole-member add operations", () => {
    const outcome = renderSidecarPatch(base, input);
    if (outcome.kind !== "patch") throw new Error(outcome.message);
    expect(outcome.patch.map((op) => `${op.op} ${op.path}`)).toEqual([
      "add /metadata/annotations",
      "add /spec/initContainers",
      "add /spec/volumes",
    ]);
  });

  it("mounts the identity volume into the sidecar only, and gives capabilities to the init container only", () => {
    const outcome = renderSidecarPatch(base, input);
    if (outcome.kind !== "patch") throw new Error(outcome.message);
    const all = [...(outcome.pod.spec?.initContainers ?? []), ...(outcome.pod.spec?.containers ?? [])];
    const mounting = all.filter((c) => c.volumeMounts?.some((m) => m.name === "portcullis-identity")).map((c) => c.name);
    expect(mounting).toEqual(["portcullis-gateway"]);
    const privileged = all.filter((c) => (c.securityContext?.capabilities?.add ?? []).length > 0).map((c) => c.name);
    expect(privileged).toEqual(["portcullis-init"]);
  });

  it("adds no init container when no Resource is transparent", () => {
    const outcome = renderSidecarPatch(readPod("explicit-postgres"), input);
    if (outcome.kind !== "patch") throw new Error(outcome.message);
    expect(outcome.pod.spec?.initContainers?.map((c) => c.name)).toEqual(["portcullis-gateway"]);
  });

  it("records a different hash when the settings change, and warns about it on an injected pod", () => {
    const first = renderSidecarPatch(base, input);
    if (first.kind !== "patch") throw new Error(first.message);
    const changed = { ...input, settings: { ...input.settings, sidecarImage: "ghcr.io/portcullis-dev/portcullis-sidecar:0.2.0" } };
    const again = renderSidecarPatch(first.pod, changed);
    expect(again).toMatchObject({ kind: "patch", patch: [], alreadyInjected: true });
    expect(again.warnings).toEqual([expect.stringMatching(/^pod was injected with configuration sha256:[0-9a-f]{16}, the current one is sha256:/)]);
  });

  it("refuses an injected pod whose identity volume was also mounted into the agent", () => {
    const first = renderSidecarPatch(base, input);
    if (first.kind !== "patch") throw new Error(first.message);
    const tampered = structuredClone(first.pod);
    const agent = tampered.spec?.containers.find((c) => c.name === "agent");
    if (agent === undefined) throw new Error("the fixture has no agent container");
    agent.volumeMounts = [{ name: "portcullis-identity", mountPath: "/stolen" }];
    const outcome = renderSidecarPatch(tampered, input);
    expect(outcome.kind).toBe("refusal");
    if (outcome.kind === "refusal") expect(outcome.message).toContain('container "agent" mounts volume "portcullis-identity"');
  });

  it.each([
    ["the gateway's image was changed", (pod: V1Pod) => {
      const gateway = pod.spec?.initContainers?.find((c) => c.name === "portcullis-gateway");
      if (gateway) gateway.image = "evil:latest";
    }],
    ["the iptables script was changed", (pod: V1Pod) => {
      const init = pod.spec?.initContainers?.find((c) => c.name === "portcullis-init");
      if (init) init.command = ["/bin/true"];
    }],
    ["the pod runs as another service account", (pod: V1Pod) => {
      if (pod.spec) pod.spec.serviceAccountName = "payments-bot";
    }],
  ])("refuses an injected pod whose seal no longer matches: %s", (_name, change) => {
    const first = renderSidecarPatch(base, input);
    if (first.kind !== "patch") throw new Error(first.message);
    const changed = structuredClone(first.pod);
    change(changed);
    const outcome = renderSidecarPatch(changed, input);
    expect(outcome).toMatchObject({ kind: "refusal", reasons: [expect.stringContaining("its seal does not match")] });
  });

  it("refuses an injected pod copied into another namespace, or sealed with another key", () => {
    const first = renderSidecarPatch(base, input);
    if (first.kind !== "patch") throw new Error(first.message);
    expect(renderSidecarPatch(first.pod, { ...input, namespace: "other" })).toMatchObject({ kind: "refusal" });
    expect(renderSidecarPatch(first.pod, { ...input, sealKey: Buffer.alloc(32, 8) })).toMatchObject({ kind: "refusal" });
    expect(renderSidecarPatch(first.pod, input)).toMatchObject({ kind: "patch", alreadyInjected: true });
  });

  it("refuses a pod that uses a reserved name", () => {
    const pod = structuredClone(base);
    pod.spec?.containers.push({ name: "portcullis-gateway", image: "evil:latest" });
    const outcome = renderSidecarPatch(pod, input);
    expect(outcome).toMatchObject({ kind: "refusal", reasons: ['container name "portcullis-gateway" is reserved for Portcullis; rename the container'] });
  });

  it("refuses a pod that projects its own token for the broker's audience", () => {
    const pod: V1Pod = { ...base, spec: { containers: [], ...base.spec } };
    pod.spec = { ...pod.spec, containers: pod.spec?.containers ?? [], volumes: [{ name: "sneaky", projected: { sources: [{ serviceAccountToken: { audience: "portcullis", path: "t" } }] } }] };
    const outcome = renderSidecarPatch(pod, input);
    expect(outcome).toMatchObject({ kind: "refusal" });
    if (outcome.kind === "refusal") expect(outcome.reasons[0]).toContain('"sneaky" projects a ServiceAccount token for audience "portcullis"');
  });

  it("adds /metadata when the pod has none", () => {
    const pod: V1Pod = { spec: { serviceAccountName: "support-bot", containers: [{ name: "agent", image: "a" }] } };
    const outcome = renderSidecarPatch(pod, input);
    if (outcome.kind !== "patch") throw new Error(outcome.message);
    expect(outcome.patch[0]?.path).toBe("/metadata");
    expect(applyJsonPatch(pod, outcome.patch)).toEqual(outcome.pod);
    expect(outcome.pod.metadata?.annotations?.[INJECTED_ANNOTATION]).toBeDefined();
  });

  it("does not touch a pod in a namespace that has not opted in", () => {
    const outcome = renderSidecarPatch(base, { ...input, namespaceLabels: {} });
    expect(outcome).toMatchObject({ kind: "patch", patch: [], alreadyInjected: false });
  });

  it("does not change its input", () => {
    const pod = readPod("existing-parts");
    const copy = structuredClone(pod);
    renderSidecarPatch(pod, input);
    expect(pod).toEqual(copy);
  });
});
