// The operator's informer on a real kube-apiserver: it syncs what exists,
// follows changes, survives the API server restarting mid-watch (ending with
// the server's state and events for what changed meanwhile), and recovers from
// 410 Gone by listing again. This suite restarts its API server, so it runs
// its own control plane rather than disturbing the shared one.
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1ConfigMap } from "@kubernetes/client-node";
import { CRD_DIR, EXAMPLES_DIR, readManifests } from "@portcullis/crds";
import { stringify } from "yaml";
import { loadKubeConfig } from "@portcullis/operator/kube/client";
import { apiServerTransport, Informer, type InformerHooks, type InformerOptions, type InformerTransport } from "@portcullis/operator/kube/informer";
import { silentLogger } from "@portcullis/operator/kube/logger";
import { ControlPlane } from "./controlplane/controlplane.js";
import { kubectlOk } from "./jest/environment.js";

let plane: ControlPlane;
let kubeConfig: KubeConfig;
let core: CoreV1Api;
const informers: Informer<KubernetesObject>[] = [];

beforeAll(async () => {
  plane = await ControlPlane.start({ ownerPid: process.pid });
  kubeConfig = loadKubeConfig(plane.state.adminKubeconfig);
  core = kubeConfig.makeApiClient(CoreV1Api);
});

afterEach(async () => {
  await Promise.all(informers.splice(0).map((informer) => informer.stop()));
});

afterAll(async () => {
  await plane?.stop();
});

async function namespace(name: string): Promise<string> {
  await core.createNamespace({ body: { metadata: { name } } });
  return name;
}

const configMap = (namespace: string, name: string, data: Record<string, string> = {}, labels: Record<string, string> = {}): Promise<V1ConfigMap> =>
  core.createNamespacedConfigMap({ namespace, body: { metadata: { name, labels }, data } });

async function updateConfigMap(namespace: string, name: string, data: Record<string, string>): Promise<V1ConfigMap> {
  const current = await core.readNamespacedConfigMap({ name, namespace });
  return core.replaceNamespacedConfigMap({ name, namespace, body: { ...current, data } });
}

async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface Recorder {
  events: string[];
  relists: string[];
  errors: string[];
  hooks: InformerHooks;
}

function recorder(): Recorder {
  const r: Recorder = { events: [], relists: [], errors: [], hooks: {} };
  r.hooks = { onRelist: (reason) => r.relists.push(reason), onError: (_, phase) => r.errors.push(phase) };
  return r;
}

function informerFor<T extends KubernetesObject>(path: string, rec: Recorder, options: Partial<InformerOptions<T>> = {}): Informer<T> {
  const informer = new Informer<T>({ path, kubeConfig, hooks: rec.hooks, logger: silentLogger, backoff: { initialMs: 200, maxMs: 2_000 }, ...options });
  const name = (o: T): string => o.metadata?.name ?? "?";
  informer.on("add", (o) => void rec.events.push(`add ${name(o)}`));
  informer.on("update", (o, old) => {
    if (o.metadata?.resourceVersion !== old.metadata?.resourceVersion) rec.events.push(`update ${name(o)}`);
  });
  informer.on("delete", (o) => void rec.events.push(`delete ${name(o)}`));
  informers.push(informer as unknown as Informer<KubernetesObject>);
  return informer;
}

/** name → resourceVersion, as the server lists it and as the informer caches it. */
async function serverState(ns: string): Promise<Record<string, string>> {
  const list = await core.listNamespacedConfigMap({ namespace: ns });
  return Object.fromEntries(
    list.items.filter((cm) => cm.metadata?.name !== "kube-root-ca.crt").map((cm): [string, string] => [cm.metadata?.name ?? "", cm.metadata?.resourceVersion ?? ""]),
  );
}

function cacheState(informer: Informer<V1ConfigMap>): Record<string, string> {
  return Object.fromEntries(
    informer
      .list()
      .filter((cm) => cm.metadata?.name !== "kube-root-ca.crt")
      .map((cm) => [cm.metadata?.name ?? "", cm.metadata?.resourceVersion ?? ""]),
  );
}

describe("informer on a real API server", () => {
  it("syncs existing objects across list pages", async () => {
    const ns = await namespace("informer-sync");
    for (let i = 0; i < 7; i++) await configMap(ns, `cm-${i}`, { i: String(i) });
    const rec = recorder();
    const informer = informerFor<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`, rec, { pageSize: 3 });
    informer.start();
    await informer.waitForSync(20_000);

    expect(cacheState(informer)).toEqual(await serverState(ns));
    expect(informer.get(ns, "cm-4")).toMatchObject({ apiVersion: "v1", kind: "ConfigMap", data: { i: "4" } });
    expect(rec.events.filter((e) => e.startsWith("add cm-"))).toHaveLength(7);
    expect(rec.relists).toEqual(["initial"]);
  });

  it("emits add, update and delete as objects change, with the previous version on update", async () => {
    const ns = await namespace("informer-events");
    const rec = recorder();
    const informer = informerFor<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`, rec);
    const olds: string[] = [];
    informer.on("update", (_, old) => void olds.push(old.data?.v ?? ""));
    informer.start();
    await informer.waitForSync(20_000);
    rec.events.length = 0;

    await configMap(ns, "live", { v: "1" });
    await eventually(() => rec.events.includes("add live"), "the add event");
    await updateConfigMap(ns, "live", { v: "2" });
    await eventually(() => rec.events.includes("update live"), "the update event");
    expect(informer.get(ns, "live")?.data).toEqual({ v: "2" });
    expect(olds).toEqual(["1"]);
    await core.deleteNamespacedConfigMap({ name: "live", namespace: ns });
    await eventually(() => rec.events.includes("delete live"), "the delete event");
    expect(informer.get(ns, "live")).toBeUndefined();
    expect(rec.events).toEqual(["add live", "update live", "delete live"]);
  });

  it("sees only what its label selector selects, across all namespaces", async () => {
    const ns = await namespace("informer-selector");
    await configMap(ns, "chosen", {}, { "portcullis.dev/test": "selector" });
    await configMap(ns, "other", {});
    const rec = recorder();
    const informer = informerFor<V1ConfigMap>("/api/v1/configmaps", rec, { labelSelector: "portcullis.dev/test=selector" });
    informer.start();
    await informer.waitForSync(20_000);
    await configMap(ns, "chosen-later", {}, { "portcullis.dev/test": "selector" });
    await eventually(() => informer.list().length === 2, "the second selected object");
    expect(informer.list(ns).map((cm) => cm.metadata?.name).sort()).toEqual(["chosen", "chosen-later"]);
  });

  it("informs on custom resources", async () => {
    const ns = await namespace("informer-crds");
    const kubeconfig = plane.state.adminKubeconfig;
    await kubectlOk(["apply", "-f", CRD_DIR], { kubeconfig });
    await kubectlOk(["wait", "--for=condition=Established", "--timeout=30s", "--recursive=false", "-f", CRD_DIR], { kubeconfig });
    const rec = recorder();
    const informer = informerFor<KubernetesObject & { spec?: { resources?: string[] } }>("/apis/portcullis.dev/v1alpha1/accesspolicies", rec);
    informer.start();
    await informer.waitForSync(20_000);

    const policies = readManifests(join(EXAMPLES_DIR, "api-readonly-policy.yaml")).filter((o) => o.kind === "AccessPolicy");
    await kubectlOk(["apply", "-n", ns, "-f", "-"], { kubeconfig, stdin: policies.map((p) => stringify(p)).join("---\n") });
    await eventually(() => informer.get(ns, "support-bot-read-only") !== undefined, "the AccessPolicy in the cache");
    expect(informer.get(ns, "support-bot-read-only")?.spec?.resources).toEqual(["billing-api", "cluster-api"]);
  });

  it("recovers from an API server restart mid-watch: the cache ends equal to the server's list", async () => {
    const ns = await namespace("informer-restart");
    await configMap(ns, "kept", { v: "1" });
    await configMap(ns, "updated-meanwhile", { v: "1" });
    await configMap(ns, "deleted-meanwhile", { v: "1" });
    const rec = recorder();
    // Once the API server is back, the test changes objects before the informer may watch again: until then a
    // watch that gets through is cut at once, so these changes are certain to happen while it is not watching.
    let outage = false;
    const real = apiServerTransport<V1ConfigMap>(kubeConfig);
    const transport: InformerTransport<V1ConfigMap> = {
      list: (path, query, signal) => real.list(path, query, signal),
      watch: async (path, query, onEvent, done) => {
        if (!outage) return real.watch(path, query, onEvent, done);
        let failed = false;
        const controller = await real.watch(path, query, () => undefined, (error) => {
          failed = true;
          done(error);
        });
        if (!failed) {
          done(new Error("the API server is not back yet for this test"));
          controller.abort();
        }
        return controller;
      },
    };
    const informer = informerFor<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`, rec, { transport });
    informer.start();
    await informer.waitForSync(20_000);
    rec.events.length = 0;

    // A change right before the stop may or may not make it through the old watch.
    await configMap(ns, "created-before-stop", { v: "1" });
    outage = true;
    await plane.restartApiServer();
    await configMap(ns, "created-meanwhile", { v: "1" });
    await updateConfigMap(ns, "updated-meanwhile", { v: "2" });
    await core.deleteNamespacedConfigMap({ name: "deleted-meanwhile", namespace: ns });
    expect(rec.events).not.toContain("add created-meanwhile");
    outage = false;

    const expected = await serverState(ns);
    await eventually(() => isDeepStrictEqual(cacheState(informer), expected), "the cache to match the server", 30_000);
    expect(rec.events).toEqual(expect.arrayContaining(["add created-before-stop", "add created-meanwhile", "update updated-meanwhile", "delete deleted-meanwhile"]));
    expect(rec.events).not.toContain("delete kept");
    expect(rec.errors).toContain("watch");
    expect(informer.get(ns, "updated-meanwhile")?.data).toEqual({ v: "2" });

    // And it keeps watching afterwards.
    await configMap(ns, "created-after", {});
    await eventually(() => rec.events.includes("add created-after"), "an event after recovery");
    expect(cacheState(informer)).toEqual(await serverState(ns));
  }, 60_000);

  it("lists again on 410 Gone and emits what the expired watch missed", async () => {
    const ns = await namespace("informer-gone");
    await configMap(ns, "stays", { v: "1" });
    await configMap(ns, "goes", { v: "1" });
    const rec = recorder();
    const real = apiServerTransport<V1ConfigMap>(kubeConfig);
    let firstWatch = true;
    // The first watch asks for resourceVersion 1, long compacted out of the watch cache: the server answers 410.
    // Before it does, the world changes behind the informer's back.
    const transport: InformerTransport<V1ConfigMap> = {
      list: (path, query, signal) => real.list(path, query, signal),
      watch: async (path, query, onEvent, done) => {
        if (!firstWatch) return real.watch(path, query, onEvent, done);
        firstWatch = false;
        await core.deleteNamespacedConfigMap({ name: "goes", namespace: ns });
        await configMap(ns, "arrives", { v: "1" });
        await updateConfigMap(ns, "stays", { v: "2" });
        return real.watch(path, { ...query, resourceVersion: "1" }, onEvent, done);
      },
    };
    const informer = informerFor<V1ConfigMap>(`/api/v1/namespaces/${ns}/configmaps`, rec, { transport });
    informer.start();
    await informer.waitForSync(20_000);

    await eventually(() => rec.relists.includes("expired"), "a relist after 410 Gone");
    await eventually(async () => isDeepStrictEqual(cacheState(informer), await serverState(ns)), "the cache to match the server");
    expect(rec.events).toEqual(expect.arrayContaining(["delete goes", "add arrives", "update stays"]));
    expect(informer.get(ns, "stays")?.data).toEqual({ v: "2" });
  });
});
