// The demo the node suite and `make dev` run: an opted-in namespace, the
// database's credential and CA in Secrets, a transparent postgres Resource at
// the database's real address, an AccessPolicy (drops denied, reads allowed,
// writes held for a reviewer, emails masked, sessions recorded in S3), the
// cluster's own API server as a transparent kubernetes Resource (kubectl in
// the pod reads its namespace and may exec there, with a service account
// token the agent never sees), and an agent Deployment from the demo image,
// hardened as the injector requires (no SETUID, non-root).
import type { RunningPostgres } from "../postgres/server.js";
import type { RunningS3 } from "../s3/server.js";
import { imageNamed } from "./images.js";
import { NODE_IP } from "./node.js";

export const DEMO_NAMESPACE = "agents";
export const DEMO_AGENT = "report-bot";
export const DEMO_POLICY = "report-bot";

/** Where sessions are recorded: an S3 server pods reach, and the key manifests are signed with. */
export interface DemoRecording {
  s3: RunningS3;
  bucket: string;
  signingKey: string;
}

export const EVIDENCE_STORE = "evidence-store";

function recordingManifests(recording: DemoRecording): object[] {
  const { s3, bucket, signingKey } = recording;
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: EVIDENCE_STORE, namespace: DEMO_NAMESPACE },
      data: { type: "s3", bucket, endpoint: s3.endpoint, region: s3.region, pathStyle: "true", prefix: "sessions", credentialsSecret: "evidence-credentials" },
    },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "evidence-credentials", namespace: DEMO_NAMESPACE, labels: { "portcullis.dev/credentials": "true" } }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, signingKey } },
  ];
}

/** An HTTPS API pods reach at the node's address, with the CA of its certificate. */
export interface DemoApi {
  port: number;
  caPem: string;
  token: string;
}

/** The name in the API's certificate, and the one the agent calls it by. */
export const DEMO_API_HOST = "billing.test";
const DEMO_API_LISTENERS = { transparent: 18443, explicit: 18080 };

/** The API twice: transparent (the agent calls https://billing.test, the gateway answers with a pod-CA certificate) and explicit. */
function apiManifests(api: DemoApi): object[] {
  const resource = (name: string, transparent: boolean): object => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace: DEMO_NAMESPACE },
    spec: {
      protocol: "http",
      endpoint: { host: NODE_IP, port: api.port, tls: { mode: "verify-full", serverName: DEMO_API_HOST, caBundleRef: { kind: "Secret", name: "billing-api-ca", key: "ca.crt" } } },
      listener: { port: transparent ? DEMO_API_LISTENERS.transparent : DEMO_API_LISTENERS.explicit },
      transparent,
      credentials: { secretRef: { name: "billing-api-token" } },
      http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
    },
  });
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "billing-api-token", namespace: DEMO_NAMESPACE, labels: { "portcullis.dev/credentials": "true" } }, stringData: { token: api.token } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "billing-api-ca", namespace: DEMO_NAMESPACE, labels: { "portcullis.dev/credentials": "true" } }, stringData: { "ca.crt": api.caPem } },
    resource("billing-api", true),
    resource("billing-api-direct", false),
  ];
}

/** The kubernetes Service's address in the test clusters (the first of SERVICE_RANGE): in-cluster clients call it. */
export const CLUSTER_API_ADDRESS = "10.0.0.1";
const CLUSTER_API_GATEWAY = "cluster-api-gateway";

/**
 * The API server as a transparent Resource: the gateway presents the token of its own service account,
 * which the token controller puts in a Secret, and which may read the namespace and exec into its pods.
 */
function clusterApiManifests(): object[] {
  const ns = DEMO_NAMESPACE;
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: CLUSTER_API_GATEWAY, namespace: ns } },
    { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/service-account-token", metadata: { name: `${CLUSTER_API_GATEWAY}-token`, namespace: ns, labels: { "portcullis.dev/credentials": "true" }, annotations: { "kubernetes.io/service-account.name": CLUSTER_API_GATEWAY } } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: CLUSTER_API_GATEWAY, namespace: ns },
      rules: [
        { apiGroups: ["", "apps"], resources: ["pods", "pods/log", "configmaps", "secrets", "deployments"], verbs: ["get", "list", "watch"] },
        { apiGroups: [""], resources: ["pods/exec", "pods/portforward"], verbs: ["get", "create"] },
      ],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: CLUSTER_API_GATEWAY, namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: CLUSTER_API_GATEWAY },
      subjects: [{ kind: "ServiceAccount", name: CLUSTER_API_GATEWAY, namespace: ns }],
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "cluster-api", namespace: ns },
      spec: {
        protocol: "kubernetes",
        endpoint: { host: CLUSTER_API_ADDRESS, port: 443, tls: { caBundleRef: { kind: "ConfigMap", name: "kube-root-ca.crt", key: "ca.crt" } } },
        listener: { port: 16443 },
        transparent: true,
        credentials: { secretRef: { name: `${CLUSTER_API_GATEWAY}-token` } },
      },
    },
  ];
}

const CLUSTER_API_RULES = [
  { name: "k8s-discovery", match: { kubernetes: { verbs: ["get"], paths: ["/api", "/api/*", "/apis", "/apis/**", "/version", "/openapi/**"] } }, action: "allow" },
  { name: "k8s-reads", match: { kubernetes: { verbs: ["get", "list", "watch"], namespaces: [DEMO_NAMESPACE] } }, action: "allow" },
  { name: "k8s-exec", match: { kubernetes: { verbs: ["exec"], resources: ["pods/exec"], namespaces: [DEMO_NAMESPACE] } }, action: "allow" },
  { name: "k8s-port-forward", match: { kubernetes: { verbs: ["portforward"], resources: ["pods/portforward"], namespaces: [DEMO_NAMESPACE] } }, action: "allow" },
];

const API_RULES = [
  { name: "api-no-deletes", match: { http: { methods: ["DELETE"] } }, action: "deny", message: "agents never delete billing data" },
  { name: "api-reads", match: { http: { methods: ["GET"] } }, action: "allow" },
];

/** An MCP server on the node's address, with the token the gateway presents to it. */
export interface DemoTools {
  port: number;
  token: string;
}

export const DEMO_TOOLS_POLICY = "demo-agent-tools";

/** The MCP server as an explicit Resource (PORTCULLIS_SUPPORT_TOOLS_URL), under its own policy: lookups allowed, drops denied, emails masked in results. */
function toolsManifests(tools: DemoTools): object[] {
  const ns = DEMO_NAMESPACE;
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "support-tools-token", namespace: ns, labels: { "portcullis.dev/credentials": "true" } }, stringData: { token: tools.token } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "support-tools", namespace: ns },
      spec: {
        protocol: "mcp",
        endpoint: { host: NODE_IP, port: tools.port, tls: { mode: "disable" } },
        listener: { port: 18090 },
        credentials: { secretRef: { name: "support-tools-token" } },
        http: { credentialHeader: { name: "Authorization", valuePrefix: "Bearer " } },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: DEMO_TOOLS_POLICY, namespace: ns },
      spec: {
        subjects: { serviceAccounts: [DEMO_AGENT] },
        resources: ["support-tools"],
        rules: [
          { name: "lifecycle", match: { mcp: { methods: ["initialize", "ping", "notifications/*", "tools/list"] } }, action: "allow" },
          { name: "no-drops", match: { mcp: { tools: ["drop_*"] } }, action: "deny", message: "agents never drop databases" },
          { name: "lookups", match: { mcp: { tools: ["lookup_*", "weather"] } }, action: "allow" },
        ],
        masking: [{ name: "emails", detectors: ["email"], strategy: "redact" }],
        recording: { storeRef: { name: EVIDENCE_STORE } },
        defaultAction: "deny",
      },
    },
  ];
}

/** Everything but the agent: create the agent once the policy is Ready (the README says why). With `api`, the HTTPS API too; with `tools`, an MCP server. */
export function demoManifests(pg: RunningPostgres, reviewer: string, recording: DemoRecording, api?: DemoApi, tools?: DemoTools): object[] {
  const ns = DEMO_NAMESPACE;
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { "portcullis.dev/injection": "enabled" } } },
    ...recordingManifests(recording),
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: DEMO_AGENT, namespace: ns } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-credentials", namespace: ns, labels: { "portcullis.dev/credentials": "true" } }, stringData: { username: pg.users.scram.username, password: pg.users.scram.password } },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "orders-db-ca", namespace: ns, labels: { "portcullis.dev/credentials": "true" } }, stringData: { "ca.crt": pg.caPem } },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "orders-db", namespace: ns },
      spec: {
        protocol: "postgres",
        endpoint: { host: NODE_IP, port: pg.port, tls: { mode: "verify-full", serverName: pg.serverName, caBundleRef: { kind: "Secret", name: "orders-db-ca", key: "ca.crt" } } },
        listener: { port: 15432 },
        transparent: true,
        credentials: { secretRef: { name: "orders-db-credentials" } },
      },
    },
    ...(api ? apiManifests(api) : []),
    ...(tools ? toolsManifests(tools) : []),
    ...clusterApiManifests(),
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: DEMO_POLICY, namespace: ns },
      spec: {
        subjects: { serviceAccounts: [DEMO_AGENT] },
        resources: ["orders-db", "cluster-api", ...(api ? ["billing-api", "billing-api-direct"] : [])],
        rules: [
          { name: "no-drops", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "agents never drop tables" },
          { name: "reads", match: { sql: { commands: ["SELECT"] } }, action: "allow" },
          { name: "writes", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { users: [reviewer] }, timeout: "10m" } },
          ...CLUSTER_API_RULES,
          ...(api ? API_RULES : []),
        ],
        masking: [{ name: "contact", columns: ["customers.email"], strategy: "redact" }],
        recording: { storeRef: { name: EVIDENCE_STORE } },
        defaultAction: "deny",
      },
    },
  ];
}

interface Deployment {
  apiVersion: string;
  kind: string;
  metadata: object;
  spec: { replicas: number; selector: object; template: { metadata: object; spec: object } };
}

export function demoAgentDeployment(): Deployment {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: DEMO_AGENT, namespace: DEMO_NAMESPACE },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: DEMO_AGENT } },
      template: {
        metadata: { labels: { app: DEMO_AGENT } },
        spec: {
          serviceAccountName: DEMO_AGENT,
          terminationGracePeriodSeconds: 2,
          containers: [
            {
              name: "agent",
              image: imageNamed("portcullis-demo-agent"),
              imagePullPolicy: "Never",
              securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
            },
          ],
        },
      },
    },
  };
}
