// The broker's HTTP layer over a loopback HTTP server, with the cluster faked:
// sources in memory, a fake TokenReview API and a fake CustomObjectsApi.
import { createServer, type Server } from "node:http";
import type { IApprovalRequest } from "@portcullis/crds";
import { listen } from "../http/https-server.js";
import { OperatorMetrics } from "../metrics.js";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { createBrokerHandler, type BrokerHandler, type BrokerLogger } from "./server.js";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { FakeSources, FakeTokenReviewer, NAMESPACE, POD_NAME, POD_UID, agentPod, exampleSources, fakeToken, podBoundReview, policy, postgresResource, secret } from "./test-fixtures.js";

const TOKEN = fakeToken("sidecar", Math.floor(Date.now() / 1000) + 3600);
const OTHER_POD_TOKEN = fakeToken("other", Math.floor(Date.now() / 1000) + 3600);
const FINGERPRINT = `sha256:${"b".repeat(64)}`;

class FakeCustomObjects {
  readonly objects = new Map<string, IApprovalRequest>();
  private counter = 0;

  createNamespacedCustomObject(param: { namespace: string; body: unknown }): Promise<unknown> {
    const body = structuredClone(param.body) as IApprovalRequest;
    const name = `${body.metadata?.generateName ?? ""}${(++this.counter).toString().padStart(5, "0")}`;
    body.metadata = { ...body.metadata, name, namespace: param.namespace };
    this.objects.set(name, body);
    return Promise.resolve(body);
  }

  getNamespacedCustomObject(param: { name: string }): Promise<unknown> {
    const found = this.objects.get(param.name);
    if (found) return Promise.resolve(structuredClone(found));
    return Promise.reject(Object.assign(new Error("HTTP-Code: 404"), { code: 404, body: JSON.stringify({ kind: "Status", message: `approvalrequests "${param.name}" not found` }) }));
  }
}

interface Harness {
  base: string;
  sources: FakeSources;
  objects: FakeCustomObjects;
  metrics: OperatorMetrics;
  logs: { level: string; message: string; meta?: Record<string, unknown> }[];
  handler: BrokerHandler;
  server: Server;
}

let harness: Harness;

async function start(timing: { streamLifetimeMs?: number } = {}): Promise<Harness> {
  const sources = exampleSources();
  const other = agentPod({ uid: "99999999-0000-0000-0000-000000000000" });
  other.metadata = { ...other.metadata, name: "other-pod" };
  sources.addPod(other);
  const reviewer = new FakeTokenReviewer();
  reviewer.reviews.set(TOKEN, podBoundReview());
  reviewer.reviews.set(OTHER_POD_TOKEN, podBoundReview({ podName: "other-pod", podUid: "99999999-0000-0000-0000-000000000000" }));
  const objects = new FakeCustomObjects();
  const metrics = new OperatorMetrics();
  const logs: Harness["logs"] = [];
  const log: BrokerLogger = {
    info: (message, meta) => logs.push({ level: "info", message, ...(meta ? { meta } : {}) }),
    warn: (message, meta) => logs.push({ level: "warn", message, ...(meta ? { meta } : {}) }),
    error: (message, meta) => logs.push({ level: "error", message, ...(meta ? { meta } : {}) }),
  };
  const handler = createBrokerHandler({ sources, authApi: reviewer, customObjects: objects, metrics, log, timing: { heartbeatMs: 50, pollMs: 20, ...timing } });
  const server = createServer(handler);
  const port = await listen(server, 0, "127.0.0.1");
  return { base: `http://127.0.0.1:${port}`, sources, objects, metrics, logs, handler, server };
}

beforeEach(async () => {
  harness = await start();
});

afterEach(async () => {
  harness.handler.close();
  harness.server.closeAllConnections();
  await new Promise((resolve) => harness.server.close(resolve));
});

const auth = (token = TOKEN): Record<string, string> => ({ authorization: `Bearer ${token}` });

async function call(path: string, init: RequestInit = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${harness.base}${path}`, init);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function counter(endpoint: string, outcome: string): Promise<number> {
  const { values } = await harness.metrics.brokerRequests.get();
  return values.find((value) => value.labels.endpoint === endpoint && value.labels.outcome === outcome)?.value ?? 0;
}

async function connected(): Promise<number> {
  return (await harness.metrics.connectedSidecars.get()).values[0]?.value ?? 0;
}

/** Reads NDJSON lines from a streaming response. */
function lines(response: Response): { next: () => Promise<Record<string, unknown> | undefined>; cancel: () => Promise<void> } {
  if (!response.body) throw new Error("no body");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  return {
    async next() {
      for (;;) {
        const newline = buffered.indexOf("\n");
        if (newline >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          return JSON.parse(line) as Record<string, unknown>;
        }
        const { done, value } = await reader.read();
        if (done) return undefined;
        buffered += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

async function nextOfType(stream: ReturnType<typeof lines>, type: string): Promise<Record<string, unknown> | undefined> {
  for (;;) {
    const line = await stream.next();
    if (!line || line.type === type) return line;
  }
}

async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error("condition not reached");
}

describe("broker authentication", () => {
  it("refuses requests without a token with 401 and a JSON error", async () => {
    expect(await call("/v1/config")).toEqual({ status: 401, body: { error: expect.stringContaining("no bearer token") as unknown } });
    expect(await counter("config", "unauthenticated")).toBe(1);
  });

  it("refuses a token the API server rejects, and never logs the token", async () => {
    expect((await call("/v1/config", { headers: auth("forged.token.value") })).status).toBe(401);
    expect(JSON.stringify(harness.logs)).not.toContain("forged.token.value");
  });

  it("refuses a pod that was not injected with 403", async () => {
    harness.sources.addPod(agentPod({ injected: false }));
    const { status, body } = await call("/v1/config", { headers: auth() });
    expect(status).toBe(403);
    expect(body.error).toContain("was not injected by Portcullis");
  });

  it("answers 404 for unknown paths and 405 for wrong methods", async () => {
    expect((await call("/v1/secrets", { headers: auth() })).status).toBe(404);
    expect((await call("/v1/config", { method: "POST", headers: auth() })).status).toBe(405);
  });
});

describe("GET /v1/config", () => {
  it("returns the bundle with the credentials the pod's policies need", async () => {
    const { status, body } = await call("/v1/config", { headers: auth() });
    expect(status).toBe(200);
    const bundle = body as unknown as ConfigBundle;
    expect(bundle.resources.map((resource) => [resource.name, resource.credentials])).toEqual([["orders-db", { username: "report_bot", password: "s3cret" }]]);
    expect(bundle.identity.podUid).toBe(POD_UID);
    expect(await counter("config", "ok")).toBe(1);
    expect(JSON.stringify(harness.logs)).not.toContain("s3cret");
    expect(harness.logs).toContainEqual({ level: "info", message: "broker request", meta: expect.objectContaining({ pod: `${NAMESPACE}/report-bot-5d8f7c-x2k4q`, outcome: "ok" }) as unknown });
  });

  it("serves a running pod only the Resources it was injected with: a policy that selects it later adds none, and its Secret is not read", async () => {
    harness.sources.resourceList.push(postgresResource("payments-db"));
    harness.sources.secrets.set("payments-db-credentials", secret("payments-db-credentials", { username: "payer", password: "p4y" }));
    harness.sources.policies.push(policy("payments", { resources: ["payments-db"], rules: [], defaultAction: "allow" }));
    const { status, body } = await call("/v1/config", { headers: auth() });
    expect(status).toBe(200);
    const bundle = body as unknown as ConfigBundle;
    expect(bundle.resources.find((resource) => resource.name === "payments-db")).toEqual({
      name: "payments-db",
      error: 'Resource "payments-db" is not served to this pod: it was injected with "orders-db", and a running pod gets no other (a new pod, e.g. a rollout, does)',
    });
    expect(bundle.resources.find((resource) => resource.name === "orders-db")?.credentials).toBeDefined();
    expect(harness.sources.secretReads).not.toContain("payments-db-credentials");
  });

  it("serves nothing (not the last bundle) once a Resource it serves turned transparent and a container could step around the redirect", async () => {
    const resource = harness.sources.resourceList[0] as { spec: { transparent?: boolean } };
    resource.spec.transparent = true;
    const pod = harness.sources.pod(NAMESPACE, POD_NAME) as V1Pod;
    const app = pod.spec?.containers[0] as V1Container;
    app.securityContext = { runAsUser: 1337, capabilities: { drop: ["ALL"] } };
    const { status, body } = await call("/v1/config", { headers: auth() });
    expect(status).toBe(200);
    const [served, ...others] = (body as unknown as ConfigBundle).resources;
    expect(others).toEqual([]);
    expect(served?.name).toBe("orders-db");
    expect(served?.spec).toBeUndefined();
    expect(served?.error).toMatch(/cannot be protected in transparent mode, so it is served no Resource: container "[^"]+" \(spec\.containers\[0\]\) runs as UID 1337, the gateway's UID/);
  });

  it("counts a kubectl debug container that keeps SETUID as a way around the redirect", async () => {
    const resource = harness.sources.resourceList[0] as { spec: { transparent?: boolean } };
    resource.spec.transparent = true;
    const pod = harness.sources.pod(NAMESPACE, POD_NAME) as V1Pod;
    for (const container of pod.spec?.containers ?? []) container.securityContext = { capabilities: { drop: ["ALL"] } };
    (pod.spec as { ephemeralContainers?: object[] }).ephemeralContainers = [{ name: "debugger", image: "busybox" }];
    const { body } = await call("/v1/config", { headers: auth() });
    expect(JSON.stringify((body as unknown as ConfigBundle).resources)).toMatch(/ephemeral container|spec\.ephemeralContainers\[0\]/);
  });

  it("fails closed with 500 when a source fails", async () => {
    harness.sources.secret = (): Promise<undefined> => Promise.reject(new Error("etcd unavailable"));
    const { status, body } = await call("/v1/config", { headers: auth() });
    expect(status).toBe(500);
    expect(body.error).toBe("the broker failed, so the request is refused: etcd unavailable");
    expect(await counter("config", "error")).toBe(1);
  });
});

describe("GET /v1/config?watch=true", () => {
  it("streams the bundle, then only changed bundles, with heartbeats, and cleans up on close", async () => {
    const response = await fetch(`${harness.base}/v1/config?watch=true`, { headers: auth() });
    expect(response.headers.get("content-type")).toBe("application/x-ndjson");
    const stream = lines(response);
    const first = await stream.next();
    expect(first?.type).toBe("config");
    const firstRevision = (first?.config as ConfigBundle).revision;
    expect(await connected()).toBe(1);

    // A change elsewhere or one that changes nothing sends no new bundle; a rotated password does.
    harness.sources.changed("other-namespace");
    harness.sources.changed();
    expect(await nextOfType(stream, "heartbeat")).toEqual({ type: "heartbeat" });
    harness.sources.secrets.set("orders-db-credentials", secret("orders-db-credentials", { username: "report_bot", password: "rotated" }));
    harness.sources.changed();
    const second = await nextOfType(stream, "config");
    const bundle = second?.config as ConfigBundle;
    expect(bundle.revision).not.toBe(firstRevision);
    expect(bundle.resources[0]?.credentials).toEqual({ username: "report_bot", password: "rotated" });

    await stream.cancel();
    await eventually(async () => (await connected()) === 0 && harness.sources.listenerCount === 0 && harness.handler.openStreams === 0);
  });

  it("ends the stream with an error line when the pod goes away", async () => {
    const stream = lines(await fetch(`${harness.base}/v1/config?watch=true`, { headers: auth() }));
    await stream.next();
    harness.sources.pods.delete(`${NAMESPACE}/report-bot-5d8f7c-x2k4q`);
    harness.sources.changed();
    expect(await nextOfType(stream, "error")).toEqual({ type: "error", status: 403, error: "pod agents/report-bot-5d8f7c-x2k4q, to which the token is bound, does not exist" });
    expect(await stream.next()).toBeUndefined();
    await eventually(async () => (await connected()) === 0);
  });

  it("ends a stream at its lifetime so the sidecar re-authenticates", async () => {
    harness.handler.close();
    harness.server.closeAllConnections();
    await new Promise((resolve) => harness.server.close(resolve));
    harness = await start({ streamLifetimeMs: 100 });
    const stream = lines(await fetch(`${harness.base}/v1/config?watch=true`, { headers: auth() }));
    expect(await nextOfType(stream, "reconnect")).toEqual({ type: "reconnect", reason: "stream lifetime reached; reconnect with a current token" });
    expect(await stream.next()).toBeUndefined();
  });

  it("tells open streams to reconnect when the handler closes", async () => {
    const stream = lines(await fetch(`${harness.base}/v1/config?watch=true`, { headers: auth() }));
    await stream.next();
    harness.handler.close();
    expect(await nextOfType(stream, "reconnect")).toMatchObject({ type: "reconnect" });
    expect(await stream.next()).toBeUndefined();
  });
});

describe("approvals", () => {
  const ask = { resource: "orders-db", policy: "no-destructive-changes", rule: "writes-need-approval", summary: "UPDATE orders ...", fingerprint: FINGERPRINT };
  const post = (body: unknown, token = TOKEN): Promise<{ status: number; body: Record<string, unknown> }> =>
    call("/v1/approvals", { method: "POST", headers: { ...auth(token), "content-type": "application/json" }, body: JSON.stringify(body) });

  it("creates an ApprovalRequest with the verified requester and the rule's reviewers", async () => {
    const { status, body } = await post(ask);
    expect(status).toBe(201);
    expect(body).toEqual({ name: "report-bot-5d8f7c-x2k4q-00001", namespace: NAMESPACE, expiresAt: expect.stringMatching(/Z$/) as unknown });
    const created = harness.objects.objects.get("report-bot-5d8f7c-x2k4q-00001");
    expect(created?.spec.requester.username).toBe("system:serviceaccount:agents:report-bot");
    expect(created?.spec.pod).toEqual({ name: "report-bot-5d8f7c-x2k4q", uid: POD_UID });
    expect(created?.spec.reviewers).toEqual({ groups: ["dba"] });
    expect(created?.metadata?.labels).toEqual({ "portcullis.dev/pod-uid": POD_UID, "portcullis.dev/resource": "orders-db" });
    expect(Date.parse(created?.spec.expiresAt ?? "") - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(await counter("approvals-create", "ok")).toBe(1);
  });

  it("refuses a rule that does not require approval, and a body naming a requester", async () => {
    expect(await post({ ...ask, rule: "reads" })).toEqual({
      status: 403,
      body: { error: 'rule "reads" of AccessPolicy "no-destructive-changes" has action allow, not requireApproval' },
    });
    expect((await post({ ...ask, requester: { username: "alice" } })).status).toBe(400);
    expect((await call("/v1/approvals", { method: "POST", headers: auth(), body: "{" })).body).toEqual({ error: "the body is not valid JSON" });
    expect((await post({ ...ask, summary: "x".repeat(200_000) })).status).toBe(413);
    expect(harness.objects.objects.size).toBe(0);
  });

  it("lets only the pod that asked read the request", async () => {
    const { body } = await post(ask);
    const path = `/v1/approvals/${String(body.name)}`;
    expect(await call(path, { headers: auth() })).toMatchObject({ status: 200, body: { phase: "Pending", fingerprint: FINGERPRINT } });
    expect(await call(path, { headers: auth(OTHER_POD_TOKEN) })).toEqual({
      status: 404,
      body: { error: `ApprovalRequest "${String(body.name)}" not found in namespace "agents"` },
    });
    expect((await call("/v1/approvals/does-not-exist", { headers: auth() })).status).toBe(404);
  });

  it("long-polls until the request is decided", async () => {
    const { body } = await post(ask);
    const name = String(body.name);
    const waiting = call(`/v1/approvals/${name}?waitSeconds=5`, { headers: auth() });
    await new Promise((resolve) => setTimeout(resolve, 60));
    const stored = harness.objects.objects.get(name);
    if (stored) stored.status = { phase: "Approved", reason: "ok", decidedBy: { username: "bob" }, decidedAt: new Date().toISOString() };
    expect(await waiting).toMatchObject({ status: 200, body: { phase: "Approved", decidedBy: { username: "bob" }, reason: "ok" } });
  });

  it("answers Pending when the wait runs out, and refuses waits over 60 seconds", async () => {
    const { body } = await post(ask);
    expect(await call(`/v1/approvals/${String(body.name)}?waitSeconds=1`, { headers: auth() })).toMatchObject({ status: 200, body: { phase: "Pending" } });
    expect((await call(`/v1/approvals/${String(body.name)}?waitSeconds=61`, { headers: auth() })).status).toBe(400);
  });
});
