import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { InjectionRecord } from "./record.js";
import { injectionSeal, sealHolds } from "./seal.js";

const KEY = Buffer.alloc(32, 1);
const RECORD: InjectionRecord = { version: 1, initContainers: ["portcullis-gateway"], containers: [], volumes: ["portcullis-identity"], env: [], resources: ["db"], hash: "sha256:00" };

function injected(): V1Pod {
  return {
    metadata: { name: "p", namespace: "agents" },
    spec: {
      serviceAccountName: "bot",
      initContainers: [
        {
          name: "portcullis-gateway",
          image: "gateway:1",
          restartPolicy: "Always",
          env: [{ name: "POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } }],
          volumeMounts: [{ name: "portcullis-identity", mountPath: "/var/run/secrets/portcullis", readOnly: true }],
        },
      ],
      containers: [{ name: "agent", image: "agent:1" }],
      volumes: [{ name: "portcullis-identity", projected: { sources: [{ serviceAccountToken: { audience: "portcullis", path: "token" } }] } }],
    },
  };
}

const sealed = (pod: V1Pod): InjectionRecord => ({ ...RECORD, seal: injectionSeal(KEY, pod, "agents", RECORD) });
const gateway = (pod: V1Pod): V1Container => pod.spec?.initContainers?.[0] ?? { name: "" };

describe("the injection seal", () => {
  it("holds for the pod as the API server stores it: defaulted fieldRef apiVersion, the service-account mount, the app's own changes", () => {
    const pod = injected();
    const record = sealed(pod);
    const stored = injected();
    const env = gateway(stored).env?.[0]?.valueFrom?.fieldRef;
    if (env) env.apiVersion = "v1";
    gateway(stored).volumeMounts?.push({ name: "kube-api-access-x7k2p", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true });
    gateway(stored).imagePullPolicy = "IfNotPresent";
    stored.spec?.containers.push({ name: "helper", image: "helper:1" });
    expect(sealHolds(KEY, stored, "agents", record)).toBe(true);
  });

  it.each([
    ["another mount in the gateway", (pod: V1Pod) => gateway(pod).volumeMounts?.push({ name: "mine", mountPath: "/var/run/secrets/portcullis/ca.crt" })],
    ["another gateway environment", (pod: V1Pod) => gateway(pod).env?.push({ name: "PORTCULLIS_BROKER_URL", value: "https://evil" })],
    ["another token volume", (pod: V1Pod) => {
      const volume = pod.spec?.volumes?.[0]?.projected?.sources?.[0]?.serviceAccountToken;
      if (volume) volume.audience = "other";
    }],
  ])("breaks with %s", (_name, change) => {
    const pod = injected();
    const record = sealed(pod);
    change(pod);
    expect(sealHolds(KEY, pod, "agents", record)).toBe(false);
  });

  it("does not hold without a seal, with a malformed one, in another namespace or under another key", () => {
    const pod = injected();
    const record = sealed(pod);
    expect(sealHolds(KEY, pod, "agents", RECORD)).toBe(false);
    expect(sealHolds(KEY, pod, "agents", { ...record, seal: "not base64url!" })).toBe(false);
    expect(sealHolds(KEY, pod, "elsewhere", record)).toBe(false);
    expect(sealHolds(Buffer.alloc(32, 2), pod, "agents", record)).toBe(false);
  });
});
