import type { V1Pod } from "@kubernetes/client-node";
import { BrokerAuthError, TokenReviewCache, authenticateSidecar, tokenExpiry, type AuthenticateDeps } from "./authenticate.js";
import { FakeSources, FakeTokenReviewer, POD_UID, agentPod, fakeToken, podBoundReview } from "./test-fixtures.js";

const NOW = new Date("2030-01-01T00:00:00Z");
const nowSeconds = NOW.getTime() / 1000;
const TOKEN = fakeToken("sidecar", nowSeconds + 3600);

function setup(review = podBoundReview()): { deps: AuthenticateDeps & { now: () => Date }; reviewer: FakeTokenReviewer; sources: FakeSources; clock: { now: Date } } {
  const reviewer = new FakeTokenReviewer();
  reviewer.reviews.set(TOKEN, review);
  const sources = new FakeSources();
  sources.addPod(agentPod());
  const clock = { now: NOW };
  return { deps: { authApi: reviewer, sources, cache: new TokenReviewCache(), now: () => clock.now }, reviewer, sources, clock };
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof BrokerAuthError) return { status: error.status, message: error.message };
    throw error;
  }
  throw new Error("expected a BrokerAuthError");
}

describe("authenticateSidecar", () => {
  it("asks the API server to review the token for the portcullis audience and returns the pod-bound identity", async () => {
    const { deps, reviewer } = setup();
    const identity = await authenticateSidecar(TOKEN, deps);
    expect(reviewer.requests).toEqual([{ spec: { token: TOKEN, audiences: ["portcullis"] } }]);
    expect(identity).toEqual({
      username: "system:serviceaccount:agents:report-bot",
      uid: "0b6d3f0e-8c1e-4f7a-9d59-1a2b3c4d5e6f",
      groups: ["system:serviceaccounts", "system:serviceaccounts:agents", "system:authenticated"],
      namespace: "agents",
      serviceAccount: "report-bot",
      podName: "report-bot-5d8f7c-x2k4q",
      podUid: POD_UID,
      tokenExpiresAt: new Date((nowSeconds + 3600) * 1000),
    });
  });

  it("refuses a missing token with 401", async () => {
    expect(await refusal(authenticateSidecar("", setup().deps))).toMatchObject({ status: 401, message: expect.stringContaining("no bearer token") as unknown });
  });

  it("refuses a token the API server does not authenticate with 401 and its reason", async () => {
    const { deps } = setup({ authenticated: false, error: "token has expired" });
    expect(await refusal(authenticateSidecar(TOKEN, deps))).toEqual({ status: 401, message: "the token was not accepted by the API server: token has expired" });
  });

  it("refuses a token for another audience with 401", async () => {
    const { deps } = setup(podBoundReview({ audiences: ["https://kubernetes.default.svc"] }));
    expect(await refusal(authenticateSidecar(TOKEN, deps))).toEqual({ status: 401, message: 'the token is not valid for audience "portcullis"' });
  });

  it("refuses a service account token without a pod binding with 403", async () => {
    const review = podBoundReview();
    review.user = { ...review.user, extra: {} };
    const { deps } = setup(review);
    const { status, message } = await refusal(authenticateSidecar(TOKEN, deps));
    expect(status).toBe(403);
    expect(message).toContain("requires a pod-bound projected ServiceAccount token");
    expect(message).toContain("system:serviceaccount:agents:report-bot");
  });

  it("refuses a user that is not a service account with 403", async () => {
    const { deps } = setup(podBoundReview({ username: "alice@example.com" }));
    expect((await refusal(authenticateSidecar(TOKEN, deps))).status).toBe(403);
  });

  it("refuses when the pod no longer exists", async () => {
    const { deps, sources } = setup();
    sources.pods.clear();
    expect(await refusal(authenticateSidecar(TOKEN, deps))).toEqual({
      status: 403,
      message: "pod agents/report-bot-5d8f7c-x2k4q, to which the token is bound, does not exist",
    });
  });

  it("refuses a token of an earlier pod with the same name (UID mismatch)", async () => {
    const { deps, sources } = setup();
    sources.addPod(agentPod({ uid: "11111111-2222-3333-4444-555555555555" }));
    const { status, message } = await refusal(authenticateSidecar(TOKEN, deps));
    expect(status).toBe(403);
    expect(message).toContain("belongs to an earlier pod of that name");
  });

  it("refuses a pod that was not injected, naming it", async () => {
    const { deps, sources } = setup();
    sources.addPod(agentPod({ injected: false }));
    expect(await refusal(authenticateSidecar(TOKEN, deps))).toEqual({
      status: 403,
      message: "pod agents/report-bot-5d8f7c-x2k4q was not injected by Portcullis (annotation portcullis.dev/injected is missing), so it gets no configuration",
    });
  });

  it("refuses a pod whose annotation is forged: no gateway container, or the token volume in the agent", async () => {
    const { deps, sources } = setup();
    const forged = agentPod();
    if (forged.spec) forged.spec.initContainers = [];
    sources.addPod(forged);
    expect(await refusal(authenticateSidecar(TOKEN, deps))).toEqual({
      status: 403,
      message:
        'pod agents/report-bot-5d8f7c-x2k4q is not a Portcullis-injected pod: it carries annotation portcullis.dev/injected, but the recorded init container "portcullis-gateway" is missing, so it gets no configuration',
    });
    const leaky = agentPod();
    leaky.spec?.containers.push({ name: "agent-2", image: "agent:1", volumeMounts: [{ name: "portcullis-identity", mountPath: "/token" }] });
    sources.addPod(leaky);
    expect((await refusal(authenticateSidecar(TOKEN, deps))).message).toContain('container "agent-2" mounts volume "portcullis-identity"');
    const garbled = agentPod();
    if (garbled.metadata) garbled.metadata.annotations = { "portcullis.dev/injected": "yes" };
    sources.addPod(garbled);
    expect((await refusal(authenticateSidecar(TOKEN, deps))).message).toContain("annotation portcullis.dev/injected is not JSON");
  });

  it.each([
    ["a gateway whose image was changed after injection", (pod: V1Pod) => {
      const gateway = pod.spec?.initContainers?.[0];
      if (gateway) gateway.image = "evil:latest";
    }, "its seal does not match"],
    ["a record sealed with another key (hand-written, or copied from another cluster)", (pod: V1Pod) => {
      const record = JSON.parse(pod.metadata?.annotations?.["portcullis.dev/injected"] ?? "{}") as Record<string, unknown>;
      if (pod.metadata) pod.metadata.annotations = { "portcullis.dev/injected": JSON.stringify({ ...record, seal: "AAAA" }) };
    }, "its seal does not match"],
    ["an ephemeral container that targets the gateway", (pod: V1Pod) => {
      if (pod.spec) pod.spec.ephemeralContainers = [{ name: "debugger", image: "busybox", targetContainerName: "portcullis-gateway" }];
    }, 'cannot be protected: ephemeral container "debugger" (spec.ephemeralContainers[0]) targets portcullis-gateway'],
    ["an app container that mounts the evidence spool", (pod: V1Pod) => {
      pod.spec?.containers.push({ name: "agent-2", image: "agent:1", volumeMounts: [{ name: "portcullis-spool", mountPath: "/spool" }] });
    }, 'container "agent-2" (spec.containers[1]) mounts volume "portcullis-spool"'],
  ])("refuses %s", async (_name, change, message) => {
    const { deps, sources } = setup();
    const pod = agentPod();
    change(pod);
    sources.addPod(pod);
    const refused = await refusal(authenticateSidecar(TOKEN, deps));
    expect(refused.status).toBe(403);
    expect(refused.message).toContain(message);
  });

  it("refuses when the pod runs as another service account", async () => {
    const { deps, sources } = setup();
    sources.addPod(agentPod({ serviceAccount: "crawler" }));
    expect(await refusal(authenticateSidecar(TOKEN, deps))).toEqual({
      status: 403,
      message: 'pod agents/report-bot-5d8f7c-x2k4q runs as service account "crawler", but the token is for "report-bot"',
    });
  });

  it("propagates API failures as plain errors (answered 500, never accepted)", async () => {
    const { deps } = setup();
    deps.authApi = { createTokenReview: () => Promise.reject(new Error("connection refused")) };
    await expect(authenticateSidecar(TOKEN, deps)).rejects.toThrow("connection refused");
  });
});

describe("authenticateSidecar caching", () => {
  it("reuses a successful review for 30 seconds, then asks again", async () => {
    const { deps, reviewer, clock } = setup();
    await authenticateSidecar(TOKEN, deps);
    clock.now = new Date(NOW.getTime() + 29_000);
    await authenticateSidecar(TOKEN, deps);
    expect(reviewer.requests).toHaveLength(1);
    clock.now = new Date(NOW.getTime() + 30_000);
    await authenticateSidecar(TOKEN, deps);
    expect(reviewer.requests).toHaveLength(2);
  });

  it("never caches past the token's expiry", async () => {
    const { deps, reviewer, clock } = setup();
    const shortLived = fakeToken("short", nowSeconds + 5);
    reviewer.reviews.set(shortLived, podBoundReview());
    await authenticateSidecar(shortLived, deps);
    clock.now = new Date(NOW.getTime() + 5_000);
    reviewer.reviews.set(shortLived, { authenticated: false, error: "token has expired" });
    expect((await refusal(authenticateSidecar(shortLived, deps))).status).toBe(401);
    expect(reviewer.requests).toHaveLength(2);
  });

  it("does not cache failures, and still checks the pod on a cached review", async () => {
    const { deps, reviewer, sources } = setup();
    await authenticateSidecar(TOKEN, deps);
    sources.pods.clear();
    expect((await refusal(authenticateSidecar(TOKEN, deps))).status).toBe(403);
    expect(reviewer.requests).toHaveLength(1);
    const bad = fakeToken("bad", nowSeconds + 3600);
    await refusal(authenticateSidecar(bad, deps));
    await refusal(authenticateSidecar(bad, deps));
    expect(reviewer.requests).toHaveLength(3);
  });

  it("keys the cache by a hash of the token, and bounds its size", () => {
    const cache = new TokenReviewCache(2);
    const id = { username: "u", uid: "", groups: [], namespace: "n", serviceAccount: "s", podName: "p", podUid: "x" };
    cache.set("a", id, 100, 0);
    cache.set("b", id, 100, 0);
    cache.set("c", id, 100, 0);
    expect(cache.size).toBe(2);
    expect(cache.get("a", 0)).toBeUndefined();
    expect(cache.get("c", 0)).toBe(id);
  });

  it("reads exp from a JWT and nothing from anything else", () => {
    expect(tokenExpiry(fakeToken("x", 1_900_000_000))).toEqual(new Date(1_900_000_000_000));
    expect(tokenExpiry("not-a-jwt")).toBeUndefined();
    expect(tokenExpiry("a.!!!.c")).toBeUndefined();
  });
});
