// The Kubernetes API gateway under the operator, against the real API
// server: a kubernetes Resource (the API server, reached with a token of a
// service account that has the rights) and a policy for an agent's service
// account that has none. The agent pod is injected (KUBECONFIG into the
// trust directory), the gateway runs with the injected environment, and the
// real kubectl and client-node go through it: reads, Secret values masked in
// every form (get, list, Table with objects, watch, the last-applied
// annotation, protobuf asked for), denials as Status objects kubectl prints,
// impersonation refused, a delete held until a reviewer approves it with
// kubectl, the audit log naming the agent, a table of path evasions, and the
// evidence of it all.
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { KubeConfig, Watch } from "@kubernetes/client-node";
import { stringify } from "yaml";
import { freePort } from "../controlplane/processes.js";
import { kubectl, kubectlOk } from "../jest/environment.js";
import type { CommandResult } from "../processes/child-process.js";
import { pendingApproval as pendingApprovalIn } from "../operator/cluster-waits.js";
import { OperatorFixture } from "../operator/fixture.js";
import { filesystemStoreManifests, storedSessions } from "./filesystem-evidence.js";
import { type InjectedPod, injectedEnv, startInjectedGateway } from "./injected-gateway.js";
import type { SidecarProcess } from "./sidecar-process.js";

const AGENTS = "ops-agents";
const PROD = "prod";
const AGENT_USER = `system:serviceaccount:${AGENTS}:ops-bot`;
const SECRET_VALUE = "hunter2-prod-db-password";
const MASKED_DATA = Buffer.from("portcullis:masked").toString("base64");

let fixture: OperatorFixture;
let gateway: SidecarProcess;
let dir: string;
let trustDir: string;
let kubeconfig: string;
let listenerPort: number;
let certListenerPort: number;

function clusterApiObjects(apiPort: number, caPem: string, token: string, certificate: { certPem: string; keyPem: string }): object[] {
  const endpoint = { host: "127.0.0.1", port: apiPort, tls: { mode: "verify-full", caBundleRef: { kind: "ConfigMap", name: "cluster-ca", key: "ca.crt" } } };
  return [
    { apiVersion: "v1", kind: "Secret", metadata: { name: "cluster-api-token", namespace: AGENTS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { token } },
    { apiVersion: "v1", kind: "Secret", type: "kubernetes.io/tls", metadata: { name: "cluster-api-cert", namespace: AGENTS, labels: { "portcullis.dev/credentials": "true" } }, stringData: { "tls.crt": certificate.certPem, "tls.key": certificate.keyPem } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cluster-ca", namespace: AGENTS }, data: { "ca.crt": caPem } },
    ...filesystemStoreManifests(join(dir, "store")).map((object) => ({ ...object, metadata: { ...(object as { metadata: object }).metadata, namespace: AGENTS } })),
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "cluster-api", namespace: AGENTS },
      spec: { protocol: "kubernetes", endpoint, listener: { port: listenerPort }, credentials: { secretRef: { name: "cluster-api-token" } } },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "cluster-api-cert", namespace: AGENTS },
      spec: {
        protocol: "kubernetes",
        endpoint,
        listener: { port: certListenerPort },
        credentials: { secretRef: { name: "cluster-api-cert" }, clientCertificateKey: "tls.crt", clientKeyKey: "tls.key" },
      },
    },
    {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "ops-bot", namespace: AGENTS },
      spec: {
        subjects: { serviceAccounts: ["ops-bot"] },
        resources: ["cluster-api", "cluster-api-cert"],
        rules: [
          { name: "discovery", match: { kubernetes: { verbs: ["get"], paths: ["/api", "/api/*", "/apis", "/apis/**", "/version", "/openapi/**"] } }, action: "allow" },
          { name: "not-kube-system", match: { kubernetes: { namespaces: ["kube-system"] } }, action: "deny" },
          { name: "reads", match: { kubernetes: { verbs: ["get", "list", "watch"] } }, action: "allow" },
          { name: "config-writes", match: { kubernetes: { verbs: ["create", "patch", "update"], resources: ["configmaps"] } }, action: "allow" },
          { name: "secret-patches", match: { kubernetes: { verbs: ["patch"], resources: ["secrets"], namespaces: [PROD] } }, action: "allow" },
          { name: "token-requests", match: { kubernetes: { verbs: ["create"], resources: ["serviceaccounts/token"], namespaces: [PROD] } }, action: "allow" },
          { name: "rehearsed-deletes", match: { kubernetes: { verbs: ["delete"], resources: ["configmaps"] } }, when: "kubernetes.dryRun", action: "allow" },
          {
            name: "deployment-deletes",
            match: { kubernetes: { verbs: ["delete"], apiGroups: ["apps"], resources: ["deployments"] } },
            action: "requireApproval",
            approval: { reviewers: { groups: ["ops-leads"] }, timeout: "1m", grantScope: "once" },
          },
        ],
        masking: [{ name: "api-keys", jsonPaths: ["$.data.apiKey"], strategy: "redact" }],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    },
  ];
}

/** What the admin puts in the cluster: the namespaces, the gateway's own service account with rights, and the objects the agent works on. */
function clusterObjects(): object[] {
  const labels = { "portcullis.dev/injection": "enabled" };
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: AGENTS, labels } },
    { apiVersion: "v1", kind: "Namespace", metadata: { name: PROD } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "ops-bot", namespace: AGENTS } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "cluster-api-gateway", namespace: AGENTS } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "e2e-cluster-api-gateway" },
      rules: [{ apiGroups: ["", "apps"], resources: ["*"], verbs: ["*"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "e2e-cluster-api-gateway" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "e2e-cluster-api-gateway" },
      subjects: [
        { kind: "ServiceAccount", name: "cluster-api-gateway", namespace: AGENTS },
        { kind: "User", name: "cluster-api-gateway-cert", apiGroup: "rbac.authorization.k8s.io" },
      ],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: PROD }, data: { mode: "blue", apiKey: "sk-live-123" } },
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "deployer", namespace: PROD } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cluster-settings", namespace: "kube-system" }, data: { key: "kube-system-only" } },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace: PROD },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "web:1" }] } },
      },
    },
    { apiVersion: "v1", kind: "Secret", metadata: { name: "hidden", namespace: "kube-system" }, stringData: { key: "kube-system-only" } },
  ];
}

const agentPod = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "ops-agent", namespace: AGENTS },
  spec: { serviceAccountName: "ops-bot", containers: [{ name: "agent", image: "agent:1" }] },
};

const yaml = (objects: object[]): string => objects.map((o) => stringify(o)).join("---\n");
const admin = (args: string[], stdin?: string): Promise<string> => fixture.kubectlOk(args, stdin === undefined ? {} : { stdin });
/** kubectl as the agent runs it: the kubeconfig the gateway wrote, nothing else. */
const agent = (args: string[], stdin?: string): Promise<CommandResult> => kubectl(args, { kubeconfig, ...(stdin === undefined ? {} : { stdin }) });
const kubectlAgentOk = (args: string[]): Promise<string> => kubectlOk(args, { kubeconfig });

const injectedPod = (): InjectedPod => ({ fixture, namespace: AGENTS, name: agentPod.metadata.name, serviceAccount: "ops-bot" });

/** A raw HTTPS request to the gateway as the agent's pod would send it, trusting the pod's CA. */
async function raw(path: string, headers: Record<string, string> = {}, method = "GET", body?: string): Promise<{ status: number; body: string; contentType: string }> {
  const ca = await readFile(join(trustDir, "pod-ca.crt"), "utf8");
  return new Promise((resolve, reject) => {
    // Node sends a DELETE's body without framing unless told its length.
    const framing = body === undefined ? {} : { "content-length": String(Buffer.byteLength(body)) };
    const request = https.request({ host: "127.0.0.1", port: listenerPort, method, path, headers: { ...headers, ...framing }, ca, servername: "localhost", agent: false }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, contentType: String(response.headers["content-type"] ?? "") }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  const operator = await fixture.startOperator("operator-kubernetes");
  listenerPort = await freePort();
  certListenerPort = await freePort();
  dir = await mkdtemp(join(tmpdir(), "portcullis-kubernetes-"));
  trustDir = join(dir, "trust");
  await fixture.grantReviewerRole([{ kind: "Group", name: "ops-leads" }]);
  await admin(["apply", "-f", "-"], yaml(clusterObjects()));
  // The Secret as `kubectl apply` leaves it: its values also in the last-applied annotation.
  await admin(["apply", "-f", "-"], yaml([{ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: PROD }, stringData: { password: SECRET_VALUE } }]));
  const token = (await admin(["create", "token", "cluster-api-gateway", "-n", AGENTS, "--duration=2h"])).trim();
  const apiPort = Number(new URL(fixture.controlPlane.state.server).port);
  const certificate = await fixture.controlPlane.issueClientCertificate("cluster-api-gateway-cert");
  await admin(["apply", "-f", "-"], yaml(clusterApiObjects(apiPort, fixture.controlPlane.caPem, token, certificate)));
  await fixture.waitFor(["get", "accesspolicy", "ops-bot", "-n", AGENTS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
  await admin(["apply", "-f", "-"], yaml([agentPod]));
  await mkdir(trustDir);
  expect((await injectedEnv(injectedPod(), "portcullis-gateway")).PORTCULLIS_TRUST_DIR).toBe("/var/run/portcullis-trust");
  // The trust directory the pod would mount, here a local one.
  gateway = await startInjectedGateway(injectedPod(), operator, dir, { PORTCULLIS_TRUST_DIR: trustDir });
  kubeconfig = join(trustDir, "kubeconfig");
}, 180_000);

afterAll(async () => {
  await gateway?.stop();
  await fixture?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the Kubernetes API gateway", () => {
  it("gives the agent container KUBECONFIG, and the gateway writes it: the listener on loopback, the pod's CA, the pod's namespace", async () => {
    const env = await injectedEnv(injectedPod(), "agent");
    expect(env.KUBECONFIG).toBe("/var/run/portcullis-trust/kubeconfig");
    expect(env.PORTCULLIS_CLUSTER_API_URL).toBe(`https://127.0.0.1:${listenerPort}`);
    const config = JSON.parse(await readFile(kubeconfig, "utf8")) as { clusters: Array<{ cluster: Record<string, string> }>; contexts: Array<{ context: { namespace: string } }> };
    expect(config.clusters[0]?.cluster).toEqual({ server: `https://127.0.0.1:${listenerPort}`, "certificate-authority": join(trustDir, "pod-ca.crt") });
    expect(config.contexts[0]?.context.namespace).toBe(AGENTS);
  });

  it("lets kubectl read with the Resource's credential though the agent's service account has no RBAC at all", async () => {
    const direct = await kubectl(["auth", "can-i", "list", "deployments", "-n", PROD, `--as=${AGENT_USER}`]);
    expect(direct.stdout.trim()).toBe("no");
    const result = await agent(["get", "deployments", "-n", PROD]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^NAME\s+READY/);
    expect(result.stdout).toContain("web");
    // A non-resource path the discovery rule allows, answered as the API server answers it directly.
    expect(JSON.parse(await kubectlAgentOk(["get", "--raw", "/version"]))).toEqual(JSON.parse(await admin(["get", "--raw", "/version"])));
  });

  it("masks Secret values in get -o yaml and -o json, in lists, and in the last-applied annotation", async () => {
    const yamlOut = await agent(["get", "secret", "db", "-n", PROD, "-o", "yaml"]);
    expect(yamlOut.code).toBe(0);
    expect(yamlOut.stdout).toContain(`password: ${MASKED_DATA}`);
    const list = await agent(["get", "secrets", "-n", PROD, "-o", "json"]);
    const items = (JSON.parse(list.stdout) as { items: Array<{ metadata: { name: string; annotations?: Record<string, string> }; data?: Record<string, string> }> }).items;
    const db = items.find((item) => item.metadata.name === "db");
    expect(db?.data).toEqual({ password: MASKED_DATA });
    expect(JSON.parse(db?.metadata.annotations?.["kubectl.kubernetes.io/last-applied-configuration"] ?? "{}")).toMatchObject({ stringData: { password: "portcullis:masked" } });
    for (const output of [yamlOut.stdout, list.stdout]) {
      expect(output).not.toContain(SECRET_VALUE);
      expect(output).not.toContain(Buffer.from(SECRET_VALUE).toString("base64"));
    }
  });

  it("masks Secret values in Tables with objects, and answers JSON when the agent asks for protobuf", async () => {
    const table = await raw(`/api/v1/namespaces/${PROD}/secrets?includeObject=Object`, { accept: "application/json;as=Table;v=v1;g=meta.k8s.io,application/json" });
    expect(table.status).toBe(200);
    expect(JSON.parse(table.body)).toMatchObject({ kind: "Table" });
    const protobuf = await raw(`/api/v1/namespaces/${PROD}/secrets/db`, { accept: "application/vnd.kubernetes.protobuf" });
    expect(protobuf.status).toBe(200);
    expect(protobuf.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(protobuf.body)).toMatchObject({ data: { password: MASKED_DATA } });
    for (const body of [table.body, protobuf.body]) {
      expect(body).not.toContain(SECRET_VALUE);
      expect(body).not.toContain(Buffer.from(SECRET_VALUE).toString("base64"));
    }
    // The kubectl table output itself still works.
    const sorted = await agent(["get", "secrets", "-n", PROD, "--sort-by=.metadata.name"]);
    expect(sorted.code).toBe(0);
    expect(sorted.stdout).toContain("db");
  });

  it("masks a client-node watch event by event, without waiting for the stream to end", async () => {
    const config = new KubeConfig();
    config.loadFromFile(kubeconfig);
    const events: Array<{ type: string; data?: Record<string, string>; name: string }> = [];
    const watch = new Watch(config);
    const controller = await watch.watch(
      `/api/v1/namespaces/${PROD}/secrets`,
      { resourceVersion: "0" },
      (type: string, object: { metadata: { name: string }; data?: Record<string, string> }) => events.push({ type, name: object.metadata.name, ...(object.data ? { data: object.data } : {}) }),
      () => undefined,
    );
    try {
      await admin(["create", "secret", "generic", "watched", "-n", PROD, `--from-literal=token=${SECRET_VALUE}`]);
      const deadline = Date.now() + 15_000;
      while (!events.some((event) => event.name === "watched") && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(events.find((event) => event.name === "watched")).toEqual({ type: "ADDED", name: "watched", data: { token: MASKED_DATA } });
      expect(events.find((event) => event.name === "db")?.data).toEqual({ password: MASKED_DATA });
    } finally {
      controller.abort();
    }
  });

  it("applies the policy's masking rules to each object: a ConfigMap's apiKey in get and list", async () => {
    const one = JSON.parse((await agent(["get", "configmap", "settings", "-n", PROD, "-o", "json"])).stdout) as { data: Record<string, string> };
    expect(one.data).toEqual({ mode: "blue", apiKey: "***" });
    const list = JSON.parse((await agent(["get", "configmaps", "-n", PROD, "-o", "json"])).stdout) as { items: Array<{ metadata: { name: string }; data?: Record<string, string> }> };
    expect(list.items.find((item) => item.metadata.name === "settings")?.data).toEqual({ mode: "blue", apiKey: "***" });
  });

  it("lets kubectl apply a ConfigMap the policy allows writing, and apply it again (a strategic-merge patch)", async () => {
    const notes = (note: string): string => yaml([{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "agent-notes" }, data: { note } }]);
    const created = await agent(["apply", "-n", PROD, "-f", "-"], notes("hello"));
    expect(created.stderr).toBe("");
    expect(created.stdout).toContain("configmap/agent-notes created");
    const patched = await agent(["apply", "-n", PROD, "-f", "-"], notes("hello again"));
    expect(patched.stderr).toBe("");
    expect(patched.stdout).toContain("configmap/agent-notes configured");
    expect(await admin(["get", "configmap", "agent-notes", "-n", PROD, "-o", "jsonpath={.data.note}"])).toBe("hello again");
  });

  it("decides on the query's facts in when: a server-side dry run of a delete passes, the delete itself does not", async () => {
    const rehearsal = await agent(["delete", "configmap", "agent-notes", "-n", PROD, "--dry-run=server"]);
    expect(rehearsal.stderr).toBe("");
    expect(rehearsal.stdout).toContain("(server dry run)");
    const real = await agent(["delete", "configmap", "agent-notes", "-n", PROD]);
    expect(real.stderr).toContain("Error from server (Forbidden)");
    // The server reads a DELETE's options from its body and then ignores the query: dryRun=All in the query is no dry run.
    const disguised = await raw(`/api/v1/namespaces/${PROD}/configmaps/agent-notes?dryRun=All`, { "content-type": "application/json" }, "DELETE", JSON.stringify({ propagationPolicy: "Background" }));
    expect(disguised.status).toBe(403);
    expect(await admin(["get", "configmap", "agent-notes", "-n", PROD, "-o", "name"])).toContain("agent-notes");
  });

  it("denies with a Status kubectl prints as it is, naming the policy and rule", async () => {
    const kubeSystem = await agent(["get", "secrets", "-n", "kube-system"]);
    expect(kubeSystem.code).not.toBe(0);
    expect(kubeSystem.stderr).toContain('Error from server (Forbidden): portcullis: denied by AccessPolicy "ops-bot" rule "not-kube-system": list secrets in kube-system');
    const deleteConfig = await agent(["delete", "configmap", "settings", "-n", PROD]);
    expect(deleteConfig.code).not.toBe(0);
    expect(deleteConfig.stderr).toContain("Error from server (Forbidden)");
    expect(deleteConfig.stderr).toContain("default");
    expect(await admin(["get", "configmap", "settings", "-n", PROD, "-o", "name"])).toContain("settings");
    const exec = await agent(["exec", "-n", AGENTS, agentPod.metadata.name, "--", "true"]);
    expect(exec.code).not.toBe(0);
    expect(exec.stderr).toMatch(/Forbidden|denied/);
  });

  it("refuses impersonation: the agent cannot make the gateway's credential act as another user", async () => {
    const result = await agent(["get", "pods", "-n", PROD, "--as=system:admin"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("the impersonate-user header is refused");
  });

  it("holds a Deployment delete until a reviewer approves it with kubectl; the audit log names the agent", async () => {
    const running = agent(["delete", "deployment", "web", "-n", PROD, "--wait=false"]);
    const approval = await pendingApprovalIn((args) => fixture.kubectl(args), AGENTS);
    expect(approval.spec).toMatchObject({ requester: { username: AGENT_USER }, resource: "cluster-api", policy: "ops-bot", rule: "deployment-deletes", summary: `delete deployments.apps/web in ${PROD}` });
    expect(await admin(["get", "deployment", "web", "-n", PROD, "-o", "name"])).toContain("web");
    const lead = await fixture.controlPlane.kubeconfigFor("dana", ["ops-leads"]);
    await fixture.kubectlOk(["patch", "approvalrequest", approval.name, "-n", AGENTS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase: "Approved", reason: "rollout finished" } })], { kubeconfig: lead });
    const result = await running;
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain('deployment.apps "web" deleted');
    const deleted = fixture.controlPlane.auditEvents().find((event) => event.verb === "delete" && event.objectRef?.resource === "deployments" && event.objectRef.name === "web");
    expect(deleted?.user.username).toBe(`system:serviceaccount:${AGENTS}:cluster-api-gateway`);
    expect(deleted?.userAgent).toMatch(new RegExp(`^portcullis \\(agent ${AGENT_USER}; pod ${AGENTS}/ops-agent; session [^)]+\\) kubectl`));
  });

  it("presents a client certificate where the Resource's Secret holds one: the second context of the kubeconfig", async () => {
    const result = await agent(["--context", "cluster-api-cert", "get", "configmap", "settings", "-n", PROD, "-o", "jsonpath={.data.mode}"]);
    expect(result.stderr).toBe("");
    expect(result.stdout).toBe("blue");
    const read = fixture.controlPlane.auditEvents().filter((event) => event.verb === "get" && event.objectRef?.name === "settings" && event.user.username === "cluster-api-gateway-cert");
    expect(read.at(-1)?.userAgent).toMatch(new RegExp(`^portcullis \\(agent ${AGENT_USER};`));
  });

  it.each([
    ["a dot segment", "/api/v1/namespaces/kube-system/./secrets"],
    ["a climb", "/api/v1/namespaces/prod/../kube-system/secrets"],
    ["duplicate slashes", "//api//v1/namespaces/kube-system/secrets"],
    ["a trailing slash", "/api/v1/namespaces/kube-system/secrets/"],
    ["percent-encoded letters", "/api/v1/namespaces/kube%2Dsystem/secrets"],
    ["the watch prefix", "/api/v1/watch/namespaces/kube-system/secrets"],
    ["a watch parameter", "/api/v1/namespaces/kube-system/secrets?watch=1&timeoutSeconds=1"],
    ["a field selector for one name", "/api/v1/namespaces/kube-system/secrets?fieldSelector=metadata.name%3Dhidden"],
  ])("denies a kube-system read hidden behind %s", async (_name, path) => {
    const result = await raw(path);
    expect(result.status).toBe(403);
    expect(JSON.parse(result.body)).toMatchObject({ kind: "Status", reason: "Forbidden", code: 403 });
    expect(result.body).not.toContain("kube-system-only");
  });

  it("keeps Secret values from leaking through writes: no JSON patch copies them, no masked value is written back", async () => {
    const copy = await raw(`/api/v1/namespaces/${PROD}/secrets/db?dryRun=All`, { "content-type": "application/json-patch+json" }, "PATCH", JSON.stringify([{ op: "copy", from: "/data/password", path: "/metadata/labels/leak" }]));
    expect(copy.status).toBe(403);
    expect(JSON.parse(copy.body)).toMatchObject({ kind: "Status", message: expect.stringContaining("may not copy a Secret's values") as unknown });
    expect(copy.body).not.toContain(Buffer.from(SECRET_VALUE).toString("base64"));
    // What kubectl get shows is masked; sending it back would replace the real values with the mask.
    const shown = (await agent(["get", "secret", "db", "-n", PROD, "-o", "json"])).stdout;
    const writeBack = await agent(["apply", "-n", PROD, "-f", "-"], shown);
    expect(writeBack.code).not.toBe(0);
    expect(writeBack.stderr).toContain("holds values the gateway masked");
    const stored = await admin(["get", "secret", "db", "-n", PROD, "-o", "jsonpath={.data.password}"]);
    expect(Buffer.from(stored, "base64").toString()).toBe(SECRET_VALUE);
    // A patch the policy allows, of a value the agent chose, passes.
    const rotated = await agent(["patch", "secret", "db", "-n", PROD, "--type=merge", "-p", JSON.stringify({ stringData: { rotatedBy: "agent" } })]);
    expect(rotated.stderr).toBe("");
    expect(Buffer.from(await admin(["get", "secret", "db", "-n", PROD, "-o", "jsonpath={.data.rotatedBy}"]), "base64").toString()).toBe("agent");
  });

  it("masks the token a TokenRequest returns: it would reach the API server around the gateway", async () => {
    const created = await agent(["create", "token", "deployer", "-n", PROD, "-o", "json"]);
    expect(created.stderr).toBe("");
    expect(JSON.parse(created.stdout)).toMatchObject({ kind: "TokenRequest", status: { token: "portcullis:masked" } });
  });

  it("applies a deny about a namespace to requests across all namespaces (kubectl get -A)", async () => {
    const all = await agent(["get", "configmaps", "-A"]);
    expect(all.code).not.toBe(0);
    expect(all.stderr).toContain('rule "not-kube-system": list configmaps');
    expect(all.stdout).not.toContain("cluster-settings");
  });

  it("does not let a rule without paths allow non-resource paths (/metrics, /logs)", async () => {
    for (const path of ["/metrics", "/logs/"]) {
      const result = await raw(path);
      expect(result.status).toBe(403);
      expect(JSON.parse(result.body)).toMatchObject({ kind: "Status", reason: "Forbidden" });
    }
  });

  it.each([
    ["an encoded slash", "/api/v1/namespaces/kube-system%2Fsecrets"],
    ["a watch value the API server reads as true", "/api/v1/namespaces/prod/configmaps?watch=f"],
    ["a lenient watch value", "/api/v1/namespaces/prod/secrets?watch=yes"],
    ["a repeated parameter", "/api/v1/namespaces/prod/secrets?watch=false&watch=true"],
  ])("refuses a request the API server could read differently: %s", async (_name, path) => {
    const result = await raw(path);
    expect(result.status).toBe(400);
    expect(JSON.parse(result.body)).toMatchObject({ kind: "Status", reason: "BadRequest", code: 400 });
  });

  it("records each request with its verb, resource and decision, and the masked values", async () => {
    const deadline = Date.now() + 20_000;
    let requests: Array<{ data: Record<string, unknown> }> = [];
    while (Date.now() < deadline) {
      const sessions = await storedSessions(join(dir, "store")).catch(() => []);
      requests = sessions.flat().filter((record) => record.type === "request");
      if (requests.some((record) => record.data.summary === `delete deployments.apps/web in ${PROD}`)) break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(requests.find((record) => record.data.summary === `delete deployments.apps/web in ${PROD}`)?.data).toMatchObject({
      protocol: "kubernetes",
      decision: { action: "requireApproval", policy: "ops-bot", rule: "deployment-deletes" },
      kubernetes: { verb: "delete", apiGroup: "apps", apiVersion: "v1", resource: "deployments", namespace: PROD, name: "web" },
    });
    expect(requests.find((record) => record.data.summary === "list secrets in kube-system")?.data).toMatchObject({ decision: { action: "deny", rule: "not-kube-system" } });
    const sessions = await storedSessions(join(dir, "store"));
    const results = sessions.flat().filter((record) => record.type === "result") as unknown as Array<{ data: { masked: Record<string, number> } }>;
    expect(results.some((record) => (record.data.masked["(secret data)"] ?? 0) > 0)).toBe(true);
  });
});
