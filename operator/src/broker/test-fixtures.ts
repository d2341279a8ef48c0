// Objects and fakes shared by the broker's unit tests: a namespace with one
// injected agent pod, its policies, Resources, Secrets and ConfigMaps, and a
// fake TokenReview API that answers like the API server does.
import type { V1ConfigMap, V1Pod, V1Secret, V1TokenReview } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { encodeRecord, type InjectionRecord } from "../webhooks/inject/record.js";
import { injectionSeal } from "../webhooks/inject/seal.js";
import type { SidecarIdentity } from "./authenticate.js";
import type { BrokerSources } from "./sources.js";

export const NAMESPACE = "agents";
export const POD_NAME = "report-bot-5d8f7c-x2k4q";
export const POD_UID = "5f0c7a4e-2b1d-4c3e-8f9a-0a1b2c3d4e5f";
export const USERNAME = `system:serviceaccount:${NAMESPACE}:report-bot`;

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

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

/** An agent pod as the injector leaves it: the gateway as a native sidecar holding the only mount of the token volume, sealed. */
export function agentPod(overrides: { labels?: Record<string, string>; serviceAccount?: string; uid?: string; injected?: boolean } = {}): V1Pod {
  const pod: V1Pod = {
    metadata: {
      name: POD_NAME,
      namespace: NAMESPACE,
      uid: overrides.uid ?? POD_UID,
      labels: overrides.labels ?? { app: "report-bot", tier: "agents" },
      annotations: {},
    },
    spec: {
      serviceAccountName: overrides.serviceAccount ?? "report-bot",
      initContainers: [
        {
          name: "portcullis-gateway",
          image: "ghcr.io/portcullis-dev/portcullis-sidecar:0.1.0",
          restartPolicy: "Always",
          volumeMounts: [{ name: "portcullis-identity", mountPath: "/var/run/secrets/portcullis", readOnly: true }],
        },
      ],
      containers: [{ name: "agent", image: "agent:1" }],
      volumes: [{ name: "portcullis-identity", projected: { sources: [{ serviceAccountToken: { audience: "portcullis", path: "token", expirationSeconds: 600 } }] } }],
    },
  };
  if (overrides.injected === false) return pod;
  const seal = injectionSeal(SEAL_KEY, pod, NAMESPACE, INJECTION_RECORD);
  return { ...pod, metadata: { ...pod.metadata, annotations: { "portcullis.dev/injected": encodeRecord({ ...INJECTION_RECORD, seal }) } } };
}

export function identity(overrides: Partial<SidecarIdentity> = {}): SidecarIdentity {
  return {
    username: USERNAME,
    uid: "0b6d3f0e-8c1e-4f7a-9d59-1a2b3c4d5e6f",
    groups: ["system:serviceaccounts", `system:serviceaccounts:${NAMESPACE}`, "system:authenticated"],
    namespace: NAMESPACE,
    serviceAccount: "report-bot",
    podName: POD_NAME,
    podUid: POD_UID,
    ...overrides,
  };
}

export function policy(name: string, spec: Partial<IAccessPolicy["spec"]> & Pick<IAccessPolicy["spec"], "resources">, namespace = NAMESPACE): IAccessPolicy {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name, namespace },
    spec: { subjects: { podSelector: { matchLabels: { app: "report-bot" } } }, ...spec },
  };
}

export function postgresResource(name: string, secretName = `${name}-credentials`): IResource {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace: NAMESPACE },
    spec: {
      protocol: "postgres",
      endpoint: { host: `${name}.data.svc`, port: 5432, tls: { mode: "verify-full", caBundleRef: { kind: "ConfigMap", name: `${name}-ca`, key: "ca.crt" } } },
      listener: { port: 15432 },
      credentials: { secretRef: { name: secretName } },
    },
  };
}

export function httpResource(name: string, secretName = `${name}-token`): IResource {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace: NAMESPACE },
    spec: {
      protocol: "http",
      endpoint: { host: "api.example.com", port: 443 },
      listener: { port: 18080 },
      credentials: { secretRef: { name: secretName }, tokenKey: "api-key" },
      http: { credentialHeader: { name: "X-Api-Key" } },
    },
  };
}

export function secret(name: string, data: Record<string, string>): V1Secret {
  return { metadata: { name, namespace: NAMESPACE }, data: Object.fromEntries(Object.entries(data).map(([key, value]) => [key, b64(value)])) };
}

export function configMap(name: string, data: Record<string, string>): V1ConfigMap {
  return { metadata: { name, namespace: NAMESPACE }, data };
}

/** The writes-need-approval policy of the examples, governing orders-db. */
export function approvalPolicy(): IAccessPolicy {
  return policy("no-destructive-changes", {
    subjects: { podSelector: { matchLabels: { app: "report-bot" } }, serviceAccounts: ["report-bot"] },
    resources: ["orders-db"],
    rules: [
      { name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" },
      {
        name: "writes-need-approval",
        match: { sql: { commands: ["WRITE"] } },
        action: "requireApproval",
        approval: { reviewers: { groups: ["dba"] }, timeout: "15m", grantScope: "once" },
      },
    ],
  });
}

/** In-memory BrokerSources whose contents tests change, announcing each change like the informers do. */
export class FakeSources implements BrokerSources {
  sealKey = SEAL_KEY;
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
