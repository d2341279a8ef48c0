// The informer against a scripted API server: a store with resourceVersions,
// paginated lists, and watches the test drives event by event, ends, or
// answers with 410 Gone.
import type { KubernetesObject } from "@kubernetes/client-node";
import { ApiException } from "@kubernetes/client-node";
import type { QueryParams } from "./client.js";
import { Informer, type InformerOptions, type InformerTransport, type ListPage, type WatchEventCallback } from "./informer.js";
import { silentLogger } from "./logger.js";

interface ConfigMap extends KubernetesObject {
  data?: Record<string, string>;
}

interface FakeWatch {
  query: QueryParams;
  send(type: string, object: unknown): void;
  end(error?: unknown): void;
  aborted: boolean;
}

class FakeApiServer implements InformerTransport<ConfigMap> {
  private objects = new Map<string, ConfigMap>();
  private version = 100;
  readonly listQueries: QueryParams[] = [];
  readonly watches: FakeWatch[] = [];
  listFailures: Error[] = [];
  watchFailures: Error[] = [];

  put(name: string, data: Record<string, string>): ConfigMap {
    this.version += 1;
    const object: ConfigMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "ns", resourceVersion: String(this.version) }, data };
    this.objects.set(name, object);
    return object;
  }

  remove(name: string): ConfigMap {
    const object = this.objects.get(name);
    if (!object) throw new Error(`no ${name}`);
    this.objects.delete(name);
    this.version += 1;
    return { ...object, metadata: { ...object.metadata, resourceVersion: String(this.version) } };
  }

  list(_path: string, query: QueryParams): Promise<ListPage<ConfigMap>> {
    this.listQueries.push(query);
    const failure = this.listFailures.shift();
    if (failure) return Promise.reject(failure);
    // Items of a list carry no apiVersion and kind; the list does.
    const all = [...this.objects.values()].map((object) => ({ metadata: object.metadata, data: object.data }));
    const start = Number(query.continue ?? 0);
    const limit = Number(query.limit);
    const end = start + limit;
    return Promise.resolve({
      apiVersion: "v1",
      kind: "ConfigMapList",
      metadata: { resourceVersion: String(this.version), continue: end < all.length ? String(end) : undefined },
      items: all.slice(start, end),
    });
  }

  watch(_path: string, query: QueryParams, onEvent: WatchEventCallback, done: (error: unknown) => void): Promise<AbortController> {
    const failure = this.watchFailures.shift();
    if (failure) {
      done(failure);
      return Promise.resolve(new AbortController());
    }
    const controller = new AbortController();
    let ended = false;
    const watch: FakeWatch = {
      query,
      aborted: false,
      send: (type, object) => {
        if (!ended) onEvent(type, object);
      },
      end: (error) => {
        if (ended) return;
        ended = true;
        done(error ?? null);
      },
    };
    controller.signal.addEventListener("abort", () => {
      watch.aborted = true;
      watch.end(new DOMException("aborted", "AbortError"));
    });
    this.watches.push(watch);
    return Promise.resolve(controller);
  }

  lastWatch(): FakeWatch {
    const watch = this.watches.at(-1);
    if (!watch) throw new Error("no watch yet");
    return watch;
  }
}

async function until(condition: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

type Recorded = [string, string, string?];

function harness(server: FakeApiServer, options: Partial<InformerOptions<ConfigMap>> = {}): { informer: Informer<ConfigMap>; events: Recorded[] } {
  const informer = new Informer<ConfigMap>({
    path: "/api/v1/namespaces/ns/configmaps",
    transport: server,
    pageSize: 2,
    backoff: { initialMs: 5, maxMs: 20 },
    logger: silentLogger,
    ...options,
  });
  const events: Recorded[] = [];
  const version = (object: ConfigMap): string => object.metadata?.resourceVersion ?? "";
  informer.on("add", (o) => void events.push(["add", o.metadata?.name ?? "", version(o)]));
  informer.on("update", (o) => void events.push(["update", o.metadata?.name ?? "", version(o)]));
  informer.on("delete", (o) => void events.push(["delete", o.metadata?.name ?? ""]));
  return { informer, events };
}

const names = (objects: ConfigMap[]): string[] => objects.map((o) => o.metadata?.name ?? "").sort();

let running: Informer<ConfigMap> | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

describe("Informer", () => {
  it("lists in pages, caches, syncs, then watches from the list's resourceVersion with bookmarks", async () => {
    const server = new FakeApiServer();
    for (const name of ["a", "b", "c"]) server.put(name, { n: name });
    const { informer, events } = harness(server, { labelSelector: "app=x" });
    running = informer;
    expect(informer.hasSynced()).toBe(false);
    informer.start();
    await informer.waitForSync(1_000);

    expect(server.listQueries.map((q) => q.continue)).toEqual([undefined, "2"]);
    expect(server.listQueries[0]).toMatchObject({ limit: 2, labelSelector: "app=x" });
    expect(names(informer.list())).toEqual(["a", "b", "c"]);
    expect(informer.get("ns", "b")).toMatchObject({ apiVersion: "v1", kind: "ConfigMap", data: { n: "b" } });
    expect(informer.list("elsewhere")).toEqual([]);
    expect(events.map((e) => e[0])).toEqual(["add", "add", "add"]);

    await until(() => server.watches.length === 1, "the watch");
    expect(server.lastWatch().query).toMatchObject({ resourceVersion: "103", allowWatchBookmarks: true, labelSelector: "app=x" });
  });

  it("applies watch events to the cache and the handlers", async () => {
    const server = new FakeApiServer();
    server.put("a", { v: "1" });
    const { informer, events } = harness(server);
    running = informer;
    informer.start();
    await until(() => server.watches.length === 1, "the watch");
    const watch = server.lastWatch();

    watch.send("ADDED", server.put("b", { v: "1" }));
    watch.send("MODIFIED", server.put("a", { v: "2" }));
    watch.send("DELETED", server.remove("b"));
    watch.send("BOOKMARK", { kind: "ConfigMap", metadata: { resourceVersion: "555" } });

    expect(events).toEqual([
      ["add", "a", "101"],
      ["add", "b", "102"],
      ["update", "a", "103"],
      ["delete", "b"],
    ]);
    expect(informer.get("ns", "a")?.data).toEqual({ v: "2" });
    expect(informer.get("ns", "b")).toBeUndefined();

    // The watch ends (server timeout): the next one resumes after the bookmark, without listing again.
    watch.end();
    await until(() => server.watches.length === 2, "a second watch");
    expect(server.lastWatch().query.resourceVersion).toBe("555");
    expect(server.listQueries).toHaveLength(1);
  });

  it("ignores a repeated event for a version it has already", async () => {
    const server = new FakeApiServer();
    const a = server.put("a", { v: "1" });
    const { informer, events } = harness(server);
    running = informer;
    informer.start();
    await until(() => server.watches.length === 1, "the watch");
    server.lastWatch().send("MODIFIED", a);
    expect(events).toEqual([["add", "a", "101"]]);
  });

  it.each([
    ["an ERROR event with code 410", (watch: FakeWatch): void => watch.send("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" })],
    ["an HTTP 410", (watch: FakeWatch): void => watch.end(Object.assign(new Error("Gone"), { statusCode: 410 }))],
  ])("on %s lists again and emits what changed meanwhile", async (_, expire) => {
    const server = new FakeApiServer();
    server.put("stays", { v: "1" });
    server.put("changes", { v: "1" });
    server.put("goes", { v: "1" });
    const relists: string[] = [];
    const { informer, events } = harness(server, { hooks: { onRelist: (reason) => relists.push(reason) } });
    running = informer;
    informer.start();
    await until(() => server.watches.length === 1, "the watch");
    events.length = 0;

    // Changes the watch never delivered.
    server.put("changes", { v: "2" });
    server.remove("goes");
    server.put("new", { v: "1" });
    expire(server.lastWatch());

    await until(() => server.watches.length === 2, "the watch after the relist");
    expect(relists).toEqual(["initial", "expired"]);
    expect(events).toEqual([
      ["delete", "goes"],
      ["update", "changes", "104"],
      ["add", "new", "106"],
    ]);
    expect(names(informer.list())).toEqual(["changes", "new", "stays"]);
    expect(server.lastWatch().query.resourceVersion).toBe("106");
  });

  it("reconnects with backoff after errors, from the last resourceVersion", async () => {
    const server = new FakeApiServer();
    server.put("a", { v: "1" });
    const errors: string[] = [];
    const { informer } = harness(server, { hooks: { onError: (_, phase) => errors.push(phase) } });
    running = informer;
    server.listFailures.push(new Error("connect ECONNREFUSED"));
    server.watchFailures.push(new Error("connect ECONNREFUSED"), new ApiException(503, "Service Unavailable", "", {}));
    informer.start();
    await until(() => server.watches.length === 1, "a watch that connects");
    expect(errors).toEqual(["list", "watch", "watch"]);
    expect(server.lastWatch().query.resourceVersion).toBe("101");

    server.lastWatch().send("ERROR", { kind: "Status", code: 500, message: "internal error" });
    await until(() => server.watches.length === 2, "a watch after the ERROR event");
    expect(errors).toEqual(["list", "watch", "watch", "watch"]);
    expect(server.listQueries).toHaveLength(2);
  });

  it("keeps going when handlers throw or reject", async () => {
    const server = new FakeApiServer();
    const failures: unknown[] = [];
    const { informer, events } = harness(server, { hooks: { onError: (error, phase) => phase === "handler" && failures.push(error) } });
    running = informer;
    informer.on("add", () => {
      throw new Error("sync failure");
    });
    informer.on("add", () => Promise.reject(new Error("async failure")));
    informer.start();
    await until(() => server.watches.length === 1, "the watch");
    server.lastWatch().send("ADDED", server.put("a", { v: "1" }));
    server.lastWatch().send("ADDED", server.put("b", { v: "1" }));
    await until(() => failures.length === 4, "four handler failures");
    expect(events.map((e) => e[1])).toEqual(["a", "b"]);
    expect(names(informer.list())).toEqual(["a", "b"]);
  });

  it("stops delivering to a handler that was removed", async () => {
    const server = new FakeApiServer();
    const { informer } = harness(server);
    running = informer;
    const seen: string[] = [];
    const off = informer.on("add", (o) => void seen.push(o.metadata?.name ?? ""));
    informer.start();
    await until(() => server.watches.length === 1, "the watch");
    server.lastWatch().send("ADDED", server.put("a", {}));
    off();
    server.lastWatch().send("ADDED", server.put("b", {}));
    expect(seen).toEqual(["a"]);
  });

  it("re-emits every cached object as an update on resync", async () => {
    const server = new FakeApiServer();
    server.put("a", {});
    server.put("b", {});
    const { informer, events } = harness(server, { resyncMs: 30 });
    running = informer;
    informer.start();
    await until(() => events.filter((e) => e[0] === "update").length >= 4, "two resyncs");
    expect(new Set(events.filter((e) => e[0] === "update").map((e) => e[1]))).toEqual(new Set(["a", "b"]));
  });

  it("stop() aborts the watch and rejects waiters that never synced", async () => {
    const server = new FakeApiServer();
    const { informer } = harness(server);
    informer.start();
    await until(() => server.watches.length === 1, "the watch");
    await informer.stop();
    expect(server.lastWatch().aborted).toBe(true);

    const neverSynced = new Informer<ConfigMap>({ path: "/x", transport: { list: (_path, _query, signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("aborted")))), watch: () => Promise.reject(new Error("unused")) }, logger: silentLogger });
    neverSynced.start();
    const waiting = neverSynced.waitForSync();
    const stopping = neverSynced.stop();
    await expect(waiting).rejects.toThrow("informer for /x stopped before it synced");
    await stopping;
  });

  it("fails waitForSync after its timeout", async () => {
    const informer = new Informer<ConfigMap>({ path: "/x", transport: new FakeApiServer(), logger: silentLogger });
    await expect(informer.waitForSync(10)).rejects.toThrow("did not sync within 10 ms");
  });
});
