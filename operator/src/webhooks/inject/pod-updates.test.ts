import type { V1Pod } from "@kubernetes/client-node";
import { injectedPodUpdateProblems } from "./pod-updates.js";
import { encodeRecord, type InjectionRecord } from "./record.js";
import { injectionSeal } from "./seal.js";

const KEY = Buffer.alloc(32, 3);
const RECORD: InjectionRecord = { version: 1, initContainers: ["portcullis-gateway"], containers: [], volumes: ["portcullis-identity"], env: [], resources: ["db"], hash: "sha256:00" };

function injected(): V1Pod {
  const pod: V1Pod = {
    metadata: { name: "agent-1", namespace: "agents", annotations: {} },
    spec: {
      initContainers: [{ name: "portcullis-gateway", image: "gateway:1", restartPolicy: "Always", volumeMounts: [{ name: "portcullis-identity", mountPath: "/var/run/secrets/portcullis" }] }],
      containers: [{ name: "agent", image: "agent:1" }],
      volumes: [{ name: "portcullis-identity", projected: { sources: [{ serviceAccountToken: { audience: "portcullis", path: "token" } }] } }],
    },
  };
  const seal = injectionSeal(KEY, pod, "agents", RECORD);
  return { ...pod, metadata: { ...pod.metadata, annotations: { "portcullis.dev/injected": encodeRecord({ ...RECORD, seal }) } } };
}

const changed = (change: (pod: V1Pod) => void): V1Pod => {
  const pod = structuredClone(injected());
  change(pod);
  return pod;
};

describe("injectedPodUpdateProblems", () => {
  it("lets ordinary changes through: labels, the agent's image, a harmless debug container", () => {
    const pod = changed((p) => {
      if (p.metadata) p.metadata.labels = { tier: "batch" };
      if (p.spec?.containers[0]) p.spec.containers[0].image = "agent:2";
      if (p.spec) p.spec.ephemeralContainers = [{ name: "debugger", image: "busybox", targetContainerName: "agent" }];
    });
    expect(injectedPodUpdateProblems(injected(), pod, "agents", KEY)).toEqual([]);
  });

  it.each([
    ["a swapped gateway image", (p: V1Pod) => { if (p.spec?.initContainers?.[0]) p.spec.initContainers[0].image = "evil:1"; }, "the containers and volumes Portcullis injected cannot be changed"],
    ["a removed injection record", (p: V1Pod) => { if (p.metadata) p.metadata.annotations = {}; }, "annotation portcullis.dev/injected of an injected pod cannot be changed or removed"],
    ["a debug container targeting the gateway", (p: V1Pod) => { if (p.spec) p.spec.ephemeralContainers = [{ name: "dbg", image: "busybox", targetContainerName: "portcullis-gateway" }]; }, 'ephemeral container "dbg" (spec.ephemeralContainers[0]) targets portcullis-gateway'],
    ["a debug container mounting the token", (p: V1Pod) => { if (p.spec) p.spec.ephemeralContainers = [{ name: "dbg", image: "busybox", volumeMounts: [{ name: "portcullis-identity", mountPath: "/t" }] }]; }, 'mounts volume "portcullis-identity"'],
  ])("refuses %s", (_name, change, message) => {
    expect(injectedPodUpdateProblems(injected(), changed(change), "agents", KEY)).toEqual([expect.stringContaining(message)]);
  });

  it("judges only the ephemeral containers an update adds, and leaves pods it did not seal alone", () => {
    const risky = changed((p) => { if (p.spec) p.spec.ephemeralContainers = [{ name: "dbg", image: "busybox", securityContext: { privileged: true } }]; });
    const withDebugger = changed((p) => { if (p.spec) p.spec.ephemeralContainers = [{ name: "dbg", image: "busybox", targetContainerName: "portcullis-gateway" }]; });
    expect(injectedPodUpdateProblems(withDebugger, structuredClone(withDebugger), "agents", KEY)).toEqual([]);
    expect(injectedPodUpdateProblems(injected(), risky, "agents", Buffer.alloc(32, 4))).toEqual([]);
    const plain: V1Pod = { metadata: { name: "p" }, spec: { containers: [{ name: "a" }] } };
    expect(injectedPodUpdateProblems(plain, { ...plain, spec: { containers: [{ name: "a" }], ephemeralContainers: [{ name: "d", targetContainerName: "a" }] } }, "agents", KEY)).toEqual([]);
  });
});
