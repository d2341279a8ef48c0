// The operator on a real API server, running with exactly its own RBAC:
// injection through the mutating webhook (TLS verified with the caBundle the
// operator patched in), validation, approval decisions by real identities,
// reconcilers, the broker, and metrics.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SignJWT, importPKCS8 } from "jose";
import { stringify } from "yaml";
import { OPERATOR_NAMESPACE } from "./operator/install.js";
import { OperatorFixture } from "./operator/fixture.js";
import { httpsRequest, streamLines } from "./operator/https-client.js";
import type { OperatorProcess } from "./operator/process.js";

const NS = "agents";
let fixture: OperatorFixture;
let operator: OperatorProcess;

const manifests = (objects: object[]): string => objects.map((o) => stringify(o)).join("---\n");

const agentSetup = [
  { apiVersion: "v1", kind: "Namespace", metadata: { name: NS, labels: { "portcullis.dev/injection": "enabled" } } },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "report-bot", namespace: NS } },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: NS } },
  {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name: "orders-db", namespace: NS },
    spec: {
      protocol: "postgres",
      endpoint: { host: "orders-db.data.svc.cluster.local", port: 5432, tls: { mode: "disable" } },
      listener: { port: 15432 },
      credentials: { secretRef: { name: "orders-db-credentials" } },
    },
  },
  {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name: "no-destructive-changes", namespace: NS },
    spec: {
      subjects: { podSelector: { matchLabels: { app: "report-bot" } }, serviceAccounts: ["report-bot"] },
      resources: ["orders-db"],
      rules: [
        { name: "block-drop", match: { sql: { commands: ["DROP"] } }, action: "deny" },
        { name: "writes", match: { sql: { commands: ["WRITE"] } }, action: "requireApproval", approval: { reviewers: { groups: ["dba"] }, timeout: "1m" } },
      ],
      defaultAction: "allow",
    },
  },
];

const agentPod = (name: string, labels: Record<string, string>, extra: object = {}): object => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: NS, labels },
  spec: { serviceAccountName: "report-bot", containers: [{ name: "agent", image: "agent:1" }], ...extra },
});

interface PodJson {
  metadata: { uid: string; annotations?: Record<string, string> };
  spec: {
    initContainers?: { name: string; restartPolicy?: string; volumeMounts?: { name: string }[] }[];
    containers: { name: string; env?: { name: string; value?: string }[]; volumeMounts?: { name: string }[] }[];
    volumes?: { name: string; projected?: { sources: { serviceAccountToken?: { audience: string } }[] } }[];
  };
}

const getPod = async (name: string, ns = NS): Promise<PodJson> => JSON.parse(await fixture.kubectlOk(["get", "pod", name, "-n", ns, "-o", "json"])) as PodJson;

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  operator = await fixture.startOperator("op-a", ["--approval-retention-seconds=4", "--lease-duration-seconds=4", "--resync-seconds=30"]);
  // The agent gets the role too, so the test reaches the webhook, which must refuse its self-approval.
  await fixture.grantReviewerRole([
    { kind: "Group", name: "dba" },
    { kind: "User", name: "bob" },
    { kind: "ServiceAccount", name: "report-bot", namespace: NS },
  ]);
  await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests(agentSetup) });
  await fixture.waitFor(["get", "lease", "portcullis-operator", "-n", OPERATOR_NAMESPACE], "{.spec.holderIdentity}", "op-a");
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

describe("webhook TLS", () => {
  it("patches the CA bundle from its Secret into every webhook", async () => {
    const bundle = await fixture.kubectlOk(["get", "secret", "portcullis-operator-tls", "-n", OPERATOR_NAMESPACE, "-o", "jsonpath={.data.ca-bundle\\.crt}"]);
    expect(bundle.length).toBeGreaterThan(100);
    const mutating = await fixture.kubectlOk(["get", "mutatingwebhookconfiguration", "portcullis", "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}"]);
    const validating = await fixture.kubectlOk(["get", "validatingwebhookconfiguration", "portcullis", "-o", "jsonpath={.webhooks[*].clientConfig.caBundle}"]);
    // Every webhook of operator/deploy/webhooks.yaml, the CA probes among them.
    expect(mutating.split(" ")).toEqual([bundle, bundle, bundle, bundle]);
    expect(validating.split(" ")).toEqual([bundle, bundle, bundle, bundle, bundle]);
  });
});

describe("injection", () => {
  it("injects a native sidecar holding the only projected token, and points the agent at it", async () => {
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([agentPod("agent-1", { app: "report-bot" })]) });
    const pod = await getPod("agent-1");
    const gateway = pod.spec.initContainers?.find((c) => c.name === "portcullis-gateway");
    expect(gateway?.restartPolicy).toBe("Always");
    const identity = pod.spec.volumes?.find((v) => v.name === "portcullis-identity");
    expect(identity?.projected?.sources.map((s) => s.serviceAccountToken?.audience).filter(Boolean)).toEqual(["portcullis"]);
    expect(gateway?.volumeMounts?.map((m) => m.name)).toContain("portcullis-identity");
    const agent = pod.spec.containers.find((c) => c.name === "agent");
    expect(agent?.volumeMounts?.map((m) => m.name) ?? []).not.toContain("portcullis-identity");
    expect(agent?.env).toEqual(expect.arrayContaining([{ name: "PGHOST", value: "127.0.0.1" }, { name: "PGPORT", value: "15432" }]));
    expect(pod.metadata.annotations?.["portcullis.dev/injected"]).toBeDefined();
  });

  it("leaves a pod that opts out alone", async () => {
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([agentPod("opted-out", { app: "report-bot", "portcullis.dev/inject": "false" })]) });
    expect((await getPod("opted-out")).spec.initContainers).toBeUndefined();
  });

  it("refuses a pod it cannot protect, saying why", async () => {
    const result = await fixture.kubectl(["apply", "-f", "-"], { stdin: manifests([agentPod("on-host", { app: "report-bot" }, { hostNetwork: true })]) });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('admission webhook "namespace-injection.portcullis.dev" denied the request');
    expect(result.stderr).toContain("hostNetwork");
  });

  it("injects a pod that opts in by label in a namespace that did not", async () => {
    await fixture.kubectlOk(["create", "namespace", "elsewhere"]);
    await fixture.kubectlOk(["create", "serviceaccount", "default", "-n", "elsewhere"]);
    const policy = { ...(agentSetup[4] as { spec: object }), metadata: { name: "p", namespace: "elsewhere" } };
    const resource = { ...(agentSetup[3] as { spec: object }), metadata: { name: "orders-db", namespace: "elsewhere" } };
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([resource, policy]) });
    const pod = { ...(agentPod("labelled", { app: "report-bot", "portcullis.dev/inject": "true" }) as { spec: object }), metadata: { name: "labelled", namespace: "elsewhere", labels: { app: "report-bot", "portcullis.dev/inject": "true" } } };
    (pod.spec as { serviceAccountName?: string }).serviceAccountName = "default";
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([{ ...pod, spec: { ...pod.spec, serviceAccountName: "default" } }]) });
    // The policy selects report-bot's service account only, so this pod matches no policy and is left alone.
    expect((await getPod("labelled", "elsewhere")).spec.initContainers).toBeUndefined();
  });
});

describe("validating webhooks", () => {
  const policyWith = (name: string, patch: object): string =>
    manifests([{ ...(agentSetup[4] as object), metadata: { name, namespace: NS }, spec: { ...(agentSetup[4] as { spec: object }).spec, ...patch } }]);

  it.each([
    ["a when expression that does not compile", { rules: [{ name: "r", action: "deny", when: "sql.command +" }] }, "spec.rules[0].when"],
    ["a masking regex that is not RE2", { masking: [{ name: "m", patterns: ["(a)\\1"], strategy: "redact" }] }, "RE2"],
  ])("refuses %s", async (_case, patch, message) => {
    const result = await fixture.kubectl(["apply", "-f", "-"], { stdin: policyWith("bad", patch) });
    expect(result.stderr).toContain('admission webhook "accesspolicies.portcullis.dev" denied the request');
    expect(result.stderr).toContain(message);
  });

  it("refuses a Resource whose listener port another Resource uses", async () => {
    const clash = { ...(agentSetup[3] as object), metadata: { name: "other-db", namespace: NS } };
    const result = await fixture.kubectl(["apply", "-f", "-"], { stdin: manifests([clash]) });
    expect(result.stderr).toContain("15432");
    expect(result.stderr).toContain("orders-db");
  });
});

describe("reconcilers", () => {
  it("reports a missing Secret on the Resource, and clears it only once the Secret exists and is opted in with the label", async () => {
    const ref = ["get", "resource", "orders-db", "-n", NS];
    const message = (): Promise<string> => fixture.kubectlOk([...ref, "-o", 'jsonpath={.status.conditions[?(@.type=="Ready")].message}']);
    const unreadable =
      "Secret agents/orders-db-credentials named in spec.credentials.secretRef does not exist or is not labelled portcullis.dev/credentials=true (the operator reads only Secrets opted in for Portcullis)";
    await fixture.waitFor(ref, '{.status.conditions[?(@.type=="Ready")].reason}', "SecretNotFound");
    expect(await message()).toBe(unreadable);
    // A Secret without the label is not the operator's to read: the Resource stays not Ready.
    await fixture.kubectlOk(["create", "secret", "generic", "orders-db-credentials", "-n", NS, "--from-literal=username=report_bot", "--from-literal=password=s3cret-pw"]);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await message()).toBe(unreadable);
    await fixture.kubectlOk(["label", "secret", "orders-db-credentials", "-n", NS, "portcullis.dev/credentials=true"]);
    await fixture.waitFor(ref, '{.status.conditions[?(@.type=="Ready")].status}', "True");
    await fixture.waitFor(["get", "accesspolicy", "no-destructive-changes", "-n", NS], '{.status.conditions[?(@.type=="Ready")].status}', "True");
  });
});

const approvalRequest = (name: string, expiresInMs: number): object => ({
  apiVersion: "portcullis.dev/v1alpha1",
  kind: "ApprovalRequest",
  metadata: { name, namespace: NS },
  spec: {
    requester: { username: `system:serviceaccount:${NS}:report-bot` },
    pod: { name: "agent-1", uid: "uid-1" },
    resource: "orders-db",
    policy: "no-destructive-changes",
    rule: "writes",
    summary: "DELETE FROM orders WHERE id = $1",
    fingerprint: `sha256:${"a".repeat(64)}`,
    reviewers: { groups: ["dba"] },
    expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
  },
});

describe("approval decisions", () => {
  const decide = async (name: string, kubeconfig: string, phase: string): Promise<{ code: number; stderr: string }> =>
    fixture.kubectl(["patch", "approvalrequest", name, "-n", NS, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { phase, reason: "checked", decidedBy: { username: "mallory" } } })], { kubeconfig });

  beforeAll(async () => {
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([approvalRequest("refund-1", 600_000)]), kubeconfig: fixture.operatorKubeconfig });
    await fixture.waitFor(["get", "apr", "refund-1", "-n", NS], "{.status.phase}", "Pending");
  });

  it("are made only by the operator's creation", async () => {
    const result = await fixture.kubectl(["apply", "-f", "-"], { stdin: manifests([approvalRequest("forged", 600_000)]) });
    expect(result.stderr).toContain("denied the request");
    expect(result.stderr).toContain("operator");
  });

  it("refuse a user who is not a listed reviewer", async () => {
    const result = await decide("refund-1", await fixture.controlPlane.kubeconfigFor("bob"), "Approved");
    expect(result.stderr).toContain('"bob" is not a reviewer');
  });

  it("refuse the requester, even with the reviewer role", async () => {
    const token = (await fixture.kubectlOk(["create", "token", "report-bot", "-n", NS])).trim();
    const result = await decide("refund-1", fixture.controlPlane.kubeconfigForToken("report-bot", token), "Approved");
    expect(result.stderr).toContain(`"system:serviceaccount:${NS}:report-bot" requested this approval and cannot decide it`);
  });

  it("accept a reviewer in a listed group, stamping who decided from the API server's userInfo", async () => {
    const alice = await fixture.controlPlane.kubeconfigFor("alice", ["dba"]);
    expect((await decide("refund-1", alice, "Approved")).code).toBe(0);
    const status = JSON.parse(await fixture.kubectlOk(["get", "apr", "refund-1", "-n", NS, "-o", "jsonpath={.status}"])) as { phase: string; decidedBy: { username: string; groups: string[] }; decidedAt: string };
    expect(status.phase).toBe("Approved");
    expect(status.decidedBy.username).toBe("alice");
    expect(status.decidedBy.groups).toContain("dba");
    expect(Date.now() - Date.parse(status.decidedAt)).toBeLessThan(60_000);
    const events = await fixture.kubectlOk(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=refund-1", "-o", "jsonpath={.items[*].reason}"]);
    expect(events).toContain("Approved");

    const again = await decide("refund-1", alice, "Denied");
    expect(again.code).not.toBe(0);
  });

  it("expire when nobody decides in time, with an Event, and are deleted after retention", async () => {
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([approvalRequest("late", 2_000)]), kubeconfig: fixture.operatorKubeconfig });
    await fixture.waitFor(["get", "apr", "late", "-n", NS], "{.status.phase}", "Expired", 15_000);
    const events = await fixture.kubectlOk(["get", "events", "-n", NS, "--field-selector", "involvedObject.name=late", "-o", "jsonpath={.items[*].reason}"]);
    expect(events).toContain("Expired");
    // Retention is 4s in this suite.
    await fixture.waitFor(["get", "apr", "late", "-n", NS, "--ignore-not-found"], "{.metadata.name}", "", 15_000);
  });
});

describe("broker", () => {
  let ca: string;
  let url: string;
  let token: string;

  const boundToken = async (pod: string, audience = "portcullis"): Promise<string> => {
    const uid = (await getPod(pod)).metadata.uid;
    return (await fixture.kubectlOk(["create", "token", "report-bot", "-n", NS, `--audience=${audience}`, "--bound-object-kind=Pod", `--bound-object-name=${pod}`, `--bound-object-uid=${uid}`])).trim();
  };

  beforeAll(async () => {
    ca = Buffer.from(await fixture.kubectlOk(["get", "secret", "portcullis-operator-tls", "-n", OPERATOR_NAMESPACE, "-o", "jsonpath={.data.ca-bundle\\.crt}"]), "base64").toString();
    url = `https://127.0.0.1:${operator.ports.broker}`;
    token = await boundToken("agent-1");
  });

  it("gives an injected pod its configuration and the credential, verified over TLS", async () => {
    const response = await httpsRequest(`${url}/v1/config`, { ca, token });
    expect(response.status).toBe(200);
    const bundle = JSON.parse(response.body) as { resources: { name: string; credentials?: { username: string; password: string } }[]; policies: { name: string }[] };
    expect(bundle.resources).toEqual([expect.objectContaining({ name: "orders-db", credentials: { username: "report_bot", password: "s3cret-pw" } })]);
    expect(bundle.policies.map((p) => p.name)).toEqual(["no-destructive-changes"]);
  });

  it("rejects a token for another audience", async () => {
    expect((await httpsRequest(`${url}/v1/config`, { ca, token: await boundToken("agent-1", "someone-else") })).status).toBe(401);
  });

  it("rejects the token of a pod that was not injected", async () => {
    const response = await httpsRequest(`${url}/v1/config`, { ca, token: await boundToken("opted-out") });
    expect(response.status).toBe(403);
    expect(response.body).toContain("opted-out");
  });

  it("rejects an expired token", async () => {
    const pod = await getPod("agent-1");
    const key = await importPKCS8(readFileSync(join(fixture.controlPlane.state.dir, "pki", "sa.key"), "utf8"), "ES256");
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = await new SignJWT({ "kubernetes.io": { namespace: NS, serviceaccount: { name: "report-bot", uid: "x" }, pod: { name: "agent-1", uid: pod.metadata.uid } } })
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(fixture.controlPlane.state.serviceAccountIssuer)
      .setAudience("portcullis")
      .setSubject(`system:serviceaccount:${NS}:report-bot`)
      .setIssuedAt(past - 600)
      .setNotBefore(past - 600)
      .setExpirationTime(past)
      .sign(key);
    expect((await httpsRequest(`${url}/v1/config`, { ca, token: expired })).status).toBe(401);
  });

  it("streams a policy change to the sidecar within seconds", async () => {
    const stream = streamLines(`${url}/v1/config?watch=true`, { ca, token });
    try {
      const first = JSON.parse(await stream.next(10_000)) as { type: string; config: { revision: string } };
      expect(first.type).toBe("config");
      await fixture.kubectlOk(["patch", "accesspolicy", "no-destructive-changes", "-n", NS, "--type=merge", "-p", '{"spec":{"defaultAction":"deny"}}']);
      const started = Date.now();
      let next = JSON.parse(await stream.next(10_000)) as { type: string; config?: { revision: string; policies: { spec: { defaultAction: string } }[] } };
      while (next.type !== "config") next = JSON.parse(await stream.next(10_000)) as typeof next;
      expect(next.config?.revision).not.toBe(first.config.revision);
      expect(next.config?.policies[0]?.spec.defaultAction).toBe("deny");
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      stream.close();
    }
  });

  it("asks for an approval with the verified identity and waits for the decision", async () => {
    const created = await httpsRequest(`${url}/v1/approvals`, {
      ca,
      token,
      method: "POST",
      body: { resource: "orders-db", policy: "no-destructive-changes", rule: "writes", summary: "UPDATE orders SET status = $1", fingerprint: `sha256:${"b".repeat(64)}` },
    });
    expect(created.status).toBe(201);
    const { name } = JSON.parse(created.body) as { name: string };
    expect(await fixture.kubectlOk(["get", "apr", name, "-n", NS, "-o", "jsonpath={.spec.requester.username} {.spec.reviewers.groups[0]}"])).toBe(`system:serviceaccount:${NS}:report-bot dba`);
    const waiting = httpsRequest(`${url}/v1/approvals/${name}?waitSeconds=20`, { ca, token });
    await sleep(500);
    const alice = await fixture.controlPlane.kubeconfigFor("alice", ["dba"]);
    await fixture.kubectlOk(["patch", "apr", name, "-n", NS, "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Approved"}}'], { kubeconfig: alice });
    const decided = await waiting;
    expect(JSON.parse(decided.body)).toMatchObject({ phase: "Approved", decidedBy: { username: "alice" } });
  });

  it("keeps an injected pod's gateway as injected: no swapped image, no debug container targeting it", async () => {
    await fixture.kubectlOk(["apply", "-f", "-"], { stdin: manifests([agentPod("guarded", { app: "report-bot" })]) });
    expect((await httpsRequest(`${url}/v1/config`, { ca, token: await boundToken("guarded") })).status).toBe(200);
    const swapped = await fixture.kubectl(["set", "image", "pod/guarded", "-n", NS, "portcullis-gateway=registry.example.com/not-the-gateway:1"]);
    expect(swapped.code).not.toBe(0);
    expect(swapped.stderr).toContain('Portcullis protects pod "guarded": the containers and volumes Portcullis injected cannot be changed');
    const debugged = await fixture.kubectl(["debug", "pod/guarded", "-n", NS, "--image=busybox:1.37", "--target=portcullis-gateway", "--container=peek"]);
    expect(debugged.code).not.toBe(0);
    expect(debugged.stderr).toContain('ephemeral container "peek" (spec.ephemeralContainers[0]) targets portcullis-gateway');
    const harmless = await fixture.kubectl(["debug", "pod/guarded", "-n", NS, "--image=busybox:1.37", "--target=agent", "--container=look"]);
    expect(harmless.stderr).not.toContain("Portcullis protects");
    expect(harmless.code).toBe(0);
  });
});

describe("observability", () => {
  it("exposes metrics, health and readiness", async () => {
    expect((await operator.health("/healthz")).status).toBe(200);
    expect((await operator.health("/readyz")).status).toBe(200);
    const metrics = (await operator.health("/metrics")).body;
    expect(metrics).toMatch(/portcullis_admissions_total\{webhook="\/mutate\/pods\/opted-in-namespace",outcome="mutated"\} [1-9]/);
    expect(metrics).toMatch(/portcullis_admissions_total\{webhook="\/mutate\/pods\/opted-in-namespace",outcome="denied"\} [1-9]/);
    expect(metrics).toContain("portcullis_webhook_duration_seconds_bucket");
    expect(metrics).toMatch(/portcullis_leader 1/);
    expect(metrics).toMatch(/portcullis_reconciles_total\{controller="resources",result="success"\} [1-9]/);
  });
});
