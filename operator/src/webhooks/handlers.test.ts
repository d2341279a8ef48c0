import type { V1Namespace, V1Pod } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import type { Cache } from "../controllers/conditions.js";
import type { AdmissionRequest } from "./admission-server.js";
import { podInjectionHandler } from "./handlers.js";
import { defaultInjectionSettings } from "./inject/settings.js";

function cache<T extends { metadata?: { name?: string; namespace?: string } }>(items: T[]): Cache<T> {
  return {
    get: (namespace, name) => items.find((item) => item.metadata?.name === name && (item.metadata?.namespace ?? "") === namespace),
    list: (namespace) => items.filter((item) => namespace === undefined || item.metadata?.namespace === namespace),
  };
}

const resource: IResource = {
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "Resource",
  metadata: { name: "orders-db", namespace: "agents" },
  spec: { protocol: "postgres", endpoint: { host: "orders-db.data.svc", port: 5432 }, listener: { port: 15432 }, credentials: { secretRef: { name: "db" } } },
};
const policy: IAccessPolicy = {
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "AccessPolicy",
  metadata: { name: "reads", namespace: "agents" },
  spec: { subjects: { serviceAccounts: ["report-bot"] }, resources: ["orders-db"], rules: [{ name: "reads", action: "allow" }] },
};
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
  const caches = { namespaces: cache<V1Namespace>([]), policies: cache([policy]), resources: cache([resource]) };

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
