// Objects shared by unit tests of the configuration bundle, the approvals and
// the broker: a namespace with one agent pod, its policies, Resources,
// Secrets and ConfigMaps.
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import type { SidecarIdentity } from "./config/bundle.js";
import type { KubernetesFacts } from "./policy/cel.js";

export const NAMESPACE = "agents";
export const POD_NAME = "report-bot-5d8f7c-x2k4q";
export const POD_UID = "5f0c7a4e-2b1d-4c3e-8f9a-0a1b2c3d4e5f";
export const USERNAME = `system:serviceaccount:${NAMESPACE}:report-bot`;

const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/** An agent pod as the injector leaves it, before sealing: the gateway as a native sidecar holding the only mount of the token volume. */
export function agentPod(overrides: { labels?: Record<string, string>; serviceAccount?: string; uid?: string } = {}): V1Pod {
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
  return pod;
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

/** A Kubernetes API request's facts: a get of pod "web" in "prod" unless overridden. */
export function kubernetesFacts(overrides: Partial<KubernetesFacts> = {}): KubernetesFacts {
  return {
    verb: "get",
    resourceRequest: true,
    path: "/api/v1/namespaces/prod/pods/web",
    apiGroup: "",
    apiVersion: "v1",
    resource: "pods",
    subresource: "",
    namespace: "prod",
    name: "web",
    patchType: "",
    dryRun: false,
    fieldManager: "",
    labelSelector: "",
    fieldSelector: "",
    ...overrides,
  };
}
