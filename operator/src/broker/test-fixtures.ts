// Fakes shared by the broker's unit tests: the objects of common's fixtures
// with the agent pod sealed as the injector seals it, in-memory sources, and a
// fake TokenReview API that answers like the API server does.
import type { V1ConfigMap, V1Pod, V1Secret, V1TokenReview } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { encodeRecord, type InjectionRecord } from "../webhooks/inject/record.js";
import { injectionSeal } from "../webhooks/inject/seal.js";
import { agentPod as unsealedPod, NAMESPACE, POD_NAME, POD_UID, USERNAME, approvalPolicy, configMap, postgresResource, secret } from "@portcullis/common/test-fixtures";
import type { BrokerSources } from "./sources.js";

export { approvalPolicy, configMap, httpResource, identity, NAMESPACE, POD_NAME, POD_UID, policy, postgresResource, secret, USERNAME } from "@portcullis/common/test-fixtures";

/** The key the fake operator seals injection records with. */
export const SEAL_KEY = Buffer.alloc(32, 5);

/** What the injector records for a pod with a native gateway sidecar. */
const INJECTION_RECORD: InjectionRecord = {
  version: 1,
  initContainers: ["portcullis-gateway"],
  containers: [],
  volumes: ["portcullis-identity"],
  env: [],
  resources: ["orders-db"],
  hash: "sha256:0123456789abcdef",
};

/** An agent pod as the injector leaves it, sealed (unless `injected` is false). */
export function agentPod(overrides: { labels?: Record<string, string>; serviceAccount?: string; uid?: string; injected?: boolean } = {}): V1Pod {
  const pod = unsealedPod(overrides);
  if (overrides.injected === false) return pod;
  const seal = injectionSeal(SEAL_KEY, pod, NAMESPACE, INJECTION_RECORD);
  return { ...pod, metadata: { ...pod.metadata, annotations: { "portcullis.dev/injected": encodeRecord({ ...INJECTION_RECORD, seal }) } } };
}

/** In-memory BrokerSources whose contents tests change, announcing each change like the informers do. */
export class FakeSources implements BrokerSources {
  sealKey = SEAL_KEY;
  sidecarUid = 1337;
  pods = new Map<string, V1Pod>();
  policies: IAccessPolicy[] = [];
  resourceList: IResource[] = [];
  secrets = new Map<string, V1Secret>();
  configMaps = new Map<string, V1ConfigMap>();
  secretReads: string[] = [];
  private listeners = new Set<(namespace: string) => void>();

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }
  accessPolicies(namespace: string): IAccessPolicy[] {
    return this.policies.filter((item) => item.metadata?.namespace === namespace);
  }
  resources(namespace: string): IResource[] {
    return this.resourceList.filter((item) => item.metadata?.namespace === namespace);
  }
  secret(namespace: string, name: string): Promise<V1Secret | undefined> {
    this.secretReads.push(name);
    return Promise.resolve(namespace === NAMESPACE ? this.secrets.get(name) : undefined);
  }
  configMap(namespace: string, name: string): Promise<V1ConfigMap | undefined> {
    return Promise.resolve(namespace === NAMESPACE ? this.configMaps.get(name) : undefined);
  }
  onChange(listener: (namespace: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
  changed(namespace = NAMESPACE): void {
    for (const listener of this.listeners) listener(namespace);
  }
  addPod(pod: V1Pod): void {
    this.pods.set(`${pod.metadata?.namespace ?? ""}/${pod.metadata?.name ?? ""}`, pod);
  }
}

/** The namespace of the examples: the agent pod, orders-db with its Secret and CA, and the approval policy. */
export function exampleSources(): FakeSources {
  const sources = new FakeSources();
  sources.addPod(agentPod());
  sources.policies = [approvalPolicy()];
  sources.resourceList = [postgresResource("orders-db")];
  sources.secrets.set("orders-db-credentials", secret("orders-db-credentials", { username: "report_bot", password: "s3cret" }));
  sources.configMaps.set("orders-db-ca", configMap("orders-db-ca", { "ca.crt": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n" }));
  return sources;
}

/** A token shaped like a JWT whose exp claim is expSeconds (unsigned: only the fake reviewer reads it). */
export function fakeToken(name: string, expSeconds: number): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256" })}.${part({ sub: name, exp: expSeconds })}.signature-${name}`;
}

type Review = NonNullable<V1TokenReview["status"]>;

/** A TokenReview for a pod-bound service account token, as the API server answers it. */
export function podBoundReview(overrides: { username?: string; podName?: string; podUid?: string; audiences?: string[] } = {}): Review {
  return {
    authenticated: true,
    audiences: overrides.audiences ?? ["portcullis"],
    user: {
      username: overrides.username ?? USERNAME,
      uid: "0b6d3f0e-8c1e-4f7a-9d59-1a2b3c4d5e6f",
      groups: ["system:serviceaccounts", `system:serviceaccounts:${NAMESPACE}`, "system:authenticated"],
      extra: {
        "authentication.kubernetes.io/pod-name": [overrides.podName ?? POD_NAME],
        "authentication.kubernetes.io/pod-uid": [overrides.podUid ?? POD_UID],
        "authentication.kubernetes.io/credential-id": ["JTI=7a1c"],
      },
    },
  };
}

/** A plain object implementing createTokenReview: answers from a table of token → status and counts calls. */
export class FakeTokenReviewer {
  readonly reviews = new Map<string, Review>();
  readonly requests: V1TokenReview[] = [];

  createTokenReview(param: { body: V1TokenReview }): Promise<V1TokenReview> {
    this.requests.push(param.body);
    const status = this.reviews.get(param.body.spec.token) ?? { authenticated: false, error: "invalid bearer token" };
    return Promise.resolve({ apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: param.body.spec, status });
  }
}
