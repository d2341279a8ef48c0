import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import { policy as accessPolicy, postgresResource } from "../broker/test-fixtures.js";
import { objectCache } from "../testing/objects.js";
import type { AdmissionRequest } from "./admission-server.js";
import { podInjectionHandler } from "./handlers.js";
import { defaultInjectionSettings } from "./inject/settings.js";

const resource = postgresResource("orders-db");
const policy = accessPolicy("reads", { subjects: { serviceAccounts: ["report-bot"] }, resources: ["orders-db"], rules: [{ name: "reads", action: "allow" }] });
const pod: V1Pod = { metadata: { name: "agent-1", namespace: "agents" }, spec: { serviceAccountName: "report-bot", containers: [{ name: "agent", image: "agent:1" }] } };
const request: AdmissionRequest = {
  uid: "1",
  kind: { group: "", version: "v1", kind: "Pod" },
  resource: { group: "", version: "v1", resource: "pods" },
  namespace: "agents",
  operation: "CREATE",
  userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
  object: pod,
};

describe("podInjectionHandler", () => {
  // The namespace was labelled a moment ago: the operator's cache does not have it yet.
  const caches = { namespaces: objectCache<V1Namespace>([]), policies: objectCache([policy]), resources: objectCache([resource]) };

  it("injects a pod the namespace webhook sends, even before the namespace cache has seen the opt-in label", async () => {
    const result = await podInjectionHandler(caches, defaultInjectionSettings, Buffer.alloc(32, 1), true)(request);
    expect(result.allowed).toBe(true);
    if (result.allowed) expect(result.patch?.map((op) => op.path)).toContain("/spec/initContainers");
  });

  it("goes by the cached namespace labels on the pod-label path", async () => {
    const result = await podInjectionHandler(caches, defaultInjectionSettings, Buffer.alloc(32, 1))(request);
    expect(result).toMatchObject({ allowed: true });
    if (result.allowed) expect(result.patch ?? []).toEqual([]);
  });
});
