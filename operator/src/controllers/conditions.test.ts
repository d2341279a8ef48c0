import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { objectCache } from "../testing/objects.js";
import { policyVerdict, readyCondition, resourceVerdict, type ReferenceCaches } from "./conditions.js";

const cache = objectCache;

const resource: IResource = {
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "Resource",
  metadata: { name: "orders-db", namespace: "agents" },
  spec: { protocol: "postgres", endpoint: { host: "db", port: 5432 }, listener: { port: 15432 }, credentials: { secretRef: { name: "creds" } } },
};

const policy: IAccessPolicy = {
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "AccessPolicy",
  metadata: { name: "p", namespace: "agents" },
  spec: { subjects: { serviceAccounts: ["bot"] }, resources: ["orders-db"], recording: { storeRef: { name: "store" } } },
};

const secret = (data: Record<string, string>): V1Secret => ({ metadata: { name: "creds", namespace: "agents" }, data });
const caches = (secrets: V1Secret[], configMaps: V1ConfigMap[] = [], resources: IResource[] = [resource]): ReferenceCaches => ({
  secrets: cache(secrets),
  configMaps: cache(configMaps),
  resources: cache(resources),
});

describe("resourceVerdict", () => {
  it("names a missing Secret", () => {
    expect(resourceVerdict(resource, caches([]))).toEqual({
      status: "False",
      reason: "SecretNotFound",
      message: "Secret agents/creds named in spec.credentials.secretRef does not exist or is not labelled portcullis.dev/credentials=true (the operator reads only Secrets opted in for Portcullis)",
    });
  });

  it("names missing keys", () => {
    expect(resourceVerdict(resource, caches([secret({ username: "dXNlcg==" })])).message).toBe('Secret agents/creds has no key "password"');
  });

  it("is ready when the references resolve", () => {
    expect(resourceVerdict(resource, caches([secret({ username: "", password: "" })])).status).toBe("True");
  });
});

describe("policyVerdict", () => {
  it("names Resources that do not exist", () => {
    expect(policyVerdict(policy, caches([], [], [])).message).toBe("Resource orders-db named in spec.resources does not exist in namespace agents");
  });

  it("names a missing evidence-store ConfigMap", () => {
    expect(policyVerdict(policy, caches([])).reason).toBe("StoreConfigMapNotFound");
  });

  it("checks the evidence store's settings with the parser the sidecar uses", () => {
    const store = (data: Record<string, string>): V1ConfigMap => ({ metadata: { name: "store", namespace: "agents" }, data });
    expect(policyVerdict(policy, caches([], [store({ type: "s3", credentialsSecret: "gone" })]))).toMatchObject({
      reason: "StoreSecretNotFound",
      message: "Secret agents/gone named under credentialsSecret in ConfigMap agents/store does not exist or is not labelled portcullis.dev/credentials=true (the operator reads only Secrets opted in for Portcullis)",
    });
    const invalid = policyVerdict(policy, caches([], [store({ type: "tape" })]));
    expect(invalid.reason).toBe("InvalidStore");
    expect(invalid.message).toContain("type");
  });

  it("reports admission errors first", () => {
    expect(policyVerdict(policy, caches([]), ["spec.rules[0].when: bad"])).toMatchObject({ reason: "InvalidPolicy", message: "spec.rules[0].when: bad" });
  });
});

describe("readyCondition", () => {
  const now = new Date("2026-11-25T10:00:00Z");

  it("keeps the transition time while the status holds", () => {
    const before = [{ type: "Ready", status: "False" as const, reason: "SecretNotFound", message: "x", lastTransitionTime: "2026-11-24T00:00:00Z" }];
    expect(readyCondition({ status: "False", reason: "SecretKeyMissing", message: "y" }, 3, before, now).lastTransitionTime).toBe("2026-11-24T00:00:00Z");
    expect(readyCondition({ status: "True", reason: "Ready", message: "ok" }, 3, before, now)).toMatchObject({ lastTransitionTime: now.toISOString(), observedGeneration: 3 });
  });
});
