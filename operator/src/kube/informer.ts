// A local cache of one kind of Kubernetes object, kept current by a watch, and
// events to handlers when objects appear, change or go. It lists (in pages),
// then watches from the list's resourceVersion. A watch that ends is resumed
// from the last resourceVersion seen (bookmarks keep it fresh); one the API
// server can no longer serve from there (410 Gone: etcd compacted the history,
// or a restarted API server's watch cache starts later) is replaced by a fresh
// list, and the differences to the cache are emitted as events, so handlers
// also hear about changes made while the watch was down. Everything else is
// retried with exponential backoff; the loop ends only with stop().
import { Watch, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import { Backoff, pause, type BackoffOptions } from "./backoff.js";
import { describeError, getJson, isStatus, type QueryParams } from "./client.js";
import { stderrLogger, type KubeLogger } from "./logger.js";

export type InformerEvent = "add" | "update" | "delete";
export type ObjectHandler<T> = (object: T) => void | Promise<void>;
export type UpdateHandler<T> = (object: T, old: T) => void | Promise<void>;

/** One page of a list answer, as the API server sends it. */
export interface ListPage<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** Calls a watch makes for each line: the event type (ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) and its object. */
export type WatchEventCallback = (type: string, object: unknown) => void;

/**
 * How the informer reaches the API server; apiServerTransport() is the real
 * one, tests inject their own to script lists, watch events and failures.
 */
export interface InformerTransport<T> {
  list(path: string, query: QueryParams, signal: AbortSignal): Promise<ListPage<T>>;
  /** Same contract as client-node's Watch.watch: `done` is called once, when the watch ends for any reason. */
  watch(path: string, query: QueryParams, onEvent: WatchEventCallback, done: (error: unknown) => void): Promise<AbortController>;
}

export function apiServerTransport<T>(kubeConfig: KubeConfig): InformerTransport<T> {
  const watcher = new Watch(kubeConfig);
  return {
    list: (path, query, signal) => getJson<ListPage<T>>(kubeConfig, path, query, signal),
    watch: (path, query, onEvent, done) => watcher.watch(path, query, onEvent, done),
  };
}

/** Counters for metrics; every hook is optional and must not throw. */
export interface InformerHooks {
  /** A full list replaced the cache; reason "initial", or "expired" after a 410 Gone. */
  onRelist?(reason: "initial" | "expired"): void;
  /** A list, a watch or a handler failed (the informer carries on). */
  onError?(error: unknown, phase: "list" | "watch" | "handler"): void;
  /** An event was delivered to the handlers. */
  onEvent?(event: InformerEvent): void;
}

export interface InformerOptions<T> {
  /** The collection, e.g. /api/v1/namespaces/NS/configmaps or /apis/portcullis.dev/v1alpha1/accesspolicies. */
  path: string;
  /** Needed unless a transport is given. */
  kubeConfig?: KubeConfig;
  transport?: InformerTransport<T>;
  labelSelector?: string;
  fieldSelector?: string;
  /** Objects per list page; default 500. */
  pageSize?: number;
  /** A list page that takes longer is abandoned and retried; default 60 s. */
  listTimeoutMs?: number;
  /** Every resyncMs, "update" is emitted for every cached object (object and old are the same); 0 (default) disables. */
  resyncMs?: number;
  backoff?: BackoffOptions;
  /** A watch that stays open this long (or delivers an event) counts as healthy and resets the backoff; default 5 s. */
  healthyWatchMs?: number;
  /**
   * The server ends each watch after this many seconds (a random value in
   * [min, max] per watch), sending a bookmark first. Kept below client-node's
   * 30 s inactivity limit so that quiet watches end cleanly; default [20, 28].
   */
  watchTimeoutSeconds?: { min: number; max: number };
  hooks?: InformerHooks;
  logger?: KubeLogger;
}

interface WatchOutcome {
  /** 410 Gone: the resourceVersion is too old; only a new list helps. */
  gone: boolean;
  healthy: boolean;
  error?: unknown;
}

/** A watch ERROR event that is not 410, as an error carrying the Status code. */
export class WatchStatusError extends Error {
  constructor(
    readonly code: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = "WatchStatusError";
  }
}

function objectKey(object: KubernetesObject): string {
  return `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
}

function resourceVersionOf(object: KubernetesObject): string | undefined {
  return object.metadata?.resourceVersion;
}

export class Informer<T extends KubernetesObject> {
  private cache = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, UpdateHandler<T>[]> = { add: [], update: [], delete: [] };
  private readonly transport: InformerTransport<T>;
  private readonly backoff: Backoff;
  private readonly logger: KubeLogger;
  private readonly hooks: InformerHooks;
  private lifecycle = new AbortController();
  private running: Promise<void> | undefined;
  private currentWatch: AbortController | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private resourceVersion: string | undefined;
  private synced = false;
  private syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];

  constructor(private readonly options: InformerOptions<T>) {
    if (options.transport) this.transport = options.transport;
    else if (options.kubeConfig) this.transport = apiServerTransport<T>(options.kubeConfig);
    else throw new Error(`informer for ${options.path}: give a kubeConfig or a transport`);
    this.backoff = new Backoff(options.backoff);
    this.logger = options.logger ?? stderrLogger;
    this.hooks = options.hooks ?? {};
  }

  /** Registers a handler; returns a function that removes it. */
  on(event: "add" | "delete", handler: ObjectHandler<T>): () => void;
  on(event: "update", handler: UpdateHandler<T>): () => void;
  on(event: InformerEvent, handler: UpdateHandler<T>): () => void {
    this.handlers[event].push(handler);
    return () => {
      this.handlers[event] = this.handlers[event].filter((h) => h !== handler);
    };
  }

  /** Starts listing and watching in the background; errors are retried, never thrown. */
  start(): void {
    if (this.running) throw new Error(`informer for ${this.options.path} is already started`);
    this.lifecycle = new AbortController();
    this.running = this.run(this.lifecycle.signal);
    const resyncMs = this.options.resyncMs ?? 0;
    if (resyncMs > 0) this.resyncTimer = setInterval(() => this.resync(), resyncMs);
  }

  /** Aborts the watch and waits for the loop to end; the cache is kept. */
  async stop(): Promise<void> {
    this.lifecycle.abort();
    this.currentWatch?.abort();
    clearInterval(this.resyncTimer);
    this.resyncTimer = undefined;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const waiter of waiters) waiter.reject(new Error(`informer for ${this.options.path} stopped before it synced`));
    await this.running;
    this.running = undefined;
  }

  /** Whether the first list has been loaded into the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list is in the cache; rejects on stop() or after timeoutMs. */
  waitForSync(timeoutMs?: number): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = {
        resolve: (): void => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error): void => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.syncWaiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
          reject(new Error(`informer for ${this.options.path} did not sync within ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** The cached object; namespace is undefined (or "") for cluster-scoped objects. */
  get(namespace: string | undefined, name: string): T | undefined {
    return this.cache.get(`${namespace ?? ""}/${name}`);
  }

  /** Cached objects, all or those in one namespace. */
  list(namespace?: string): T[] {
    const all = [...this.cache.values()];
    return namespace === undefined ? all : all.filter((object) => object.metadata?.namespace === namespace);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let relistReason: "initial" | "expired" | undefined = "initial";
    while (!signal.aborted) {
      try {
        if (relistReason) {
          await this.relist(signal);
          this.hooks.onRelist?.(relistReason);
          relistReason = undefined;
        }
        const outcome = await this.watchOnce(signal);
        if (signal.aborted) break;
        if (outcome.healthy) this.backoff.reset();
        if (outcome.gone) {
          relistReason = "expired";
          this.logger.info("watch expired (410 Gone); listing again", { path: this.options.path, resourceVersion: this.resourceVersion });
        } else if (outcome.error !== undefined && outcome.error !== null) {
          this.report(outcome.error, "watch");
        }
      } catch (error) {
        if (signal.aborted) break;
        // A continue token can expire between pages (410); the next list starts over.
        this.report(error, "list");
      }
      await pause(this.backoff.next(), signal);
    }
  }

  private report(error: unknown, phase: "list" | "watch" | "handler"): void {
    this.hooks.onError?.(error, phase);
    this.logger.warn(`informer ${phase} failed; retrying`, { path: this.options.path, error: describeError(error) });
  }

  private baseQuery(): QueryParams {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.transport.list(
        this.options.path,
        { ...this.baseQuery(), limit: this.options.pageSize ?? 500, continue: continueToken },
        AbortSignal.any([signal, AbortSignal.timeout(this.options.listTimeoutMs ?? 60_000)]),
      );
      for (const item of page.items) {
        const object = this.withTypeMeta(item, page);
        fresh.set(objectKey(object), object);
      }
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken && !signal.aborted);
    if (signal.aborted) return;
    this.resourceVersion = resourceVersion;
    this.replaceCache(fresh);
    this.markSynced();
  }

  /** List items lack apiVersion and kind (the list carries them); handlers get whole objects either way. */
  private withTypeMeta(item: T, page: ListPage<T>): T {
    if (item.apiVersion && item.kind) return item;
    const kind = page.kind?.endsWith("List") ? page.kind.slice(0, -"List".length) : undefined;
    return { apiVersion: page.apiVersion, kind, ...item };
  }

  /** Swaps in a fresh list and emits what changed since the cache was last current. */
  private replaceCache(fresh: Map<string, T>): void {
    const previous = this.cache;
    this.cache = new Map(fresh);
    for (const [key, old] of previous) if (!fresh.has(key)) this.emit("delete", old, old);
    for (const [key, object] of fresh) {
      const old = previous.get(key);
      if (!old) this.emit("add", object, object);
      else if (resourceVersionOf(old) !== resourceVersionOf(object)) this.emit("update", object, old);
    }
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private watchQuery(): QueryParams {
    const { min, max } = this.options.watchTimeoutSeconds ?? { min: 20, max: 28 };
    return {
      ...this.baseQuery(),
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds: Math.round(min + Math.random() * Math.max(0, max - min)),
    };
  }

  /** One watch, from the current resourceVersion until it ends; never rejects. */
  private watchOnce(signal: AbortSignal): Promise<WatchOutcome> {
    return new Promise((resolve) => {
      const startedAt = Date.now();
      const healthyAfterMs = this.options.healthyWatchMs ?? 5_000;
      let controller: AbortController | undefined;
      let established = false;
      let delivered = 0;
      let settled = false;
      const settle = (outcome: Omit<WatchOutcome, "healthy">): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        controller?.abort();
        if (this.currentWatch === controller) this.currentWatch = undefined;
        const healthy = established && (delivered > 0 || Date.now() - startedAt >= healthyAfterMs);
        resolve({ ...outcome, healthy });
      };
      const onAbort = (): void => settle({ gone: false });
      const done = (error: unknown): void => settle({ gone: isStatus(error, 410), error });
      const onEvent: WatchEventCallback = (type, object) => {
        if (settled) return;
        if (type === "ERROR") {
          const status = object as { code?: number; message?: string } | undefined;
          if (status?.code === 410) settle({ gone: true });
          else settle({ gone: false, error: new WatchStatusError(status?.code, `watch ERROR event: ${status?.message ?? JSON.stringify(object)}`) });
          return;
        }
        delivered += 1;
        this.applyEvent(type, object as T);
      };
      // stop() must not wait for a watch request still connecting.
      signal.addEventListener("abort", onAbort, { once: true });
      this.transport.watch(this.options.path, this.watchQuery(), onEvent, done).then(
        (watchController) => {
          controller = watchController;
          if (settled || signal.aborted) {
            watchController.abort();
            settle({ gone: false });
            return;
          }
          established = true;
          this.currentWatch = watchController;
        },
        (error: unknown) => settle({ gone: isStatus(error, 410), error }),
      );
    });
  }

  private applyEvent(type: string, object: T): void {
    const key = objectKey(object);
    const old = this.cache.get(key);
    switch (type) {
      case "ADDED":
      case "MODIFIED":
        this.cache.set(key, object);
        if (!old) this.emit("add", object, object);
        // A resumed watch can repeat what a list already brought in; same version, nothing new.
        else if (resourceVersionOf(old) !== resourceVersionOf(object)) this.emit("update", object, old);
        break;
      case "DELETED":
        this.cache.delete(key);
        this.emit("delete", object, old ?? object);
        break;
      case "BOOKMARK":
        break;
      default:
        this.logger.warn("ignoring a watch event of unknown type", { path: this.options.path, type });
        return;
    }
    const resourceVersion = resourceVersionOf(object);
    if (resourceVersion) this.resourceVersion = resourceVersion;
  }

  private resync(): void {
    if (!this.synced) return;
    for (const object of [...this.cache.values()]) this.emit("update", object, object);
  }

  private emit(event: InformerEvent, object: T, old: T): void {
    this.hooks.onEvent?.(event);
    for (const handler of this.handlers[event]) {
      try {
        const result = handler(object, old);
        if (result instanceof Promise) result.catch((error: unknown) => this.handlerFailed(event, object, error));
      } catch (error) {
        this.handlerFailed(event, object, error);
      }
    }
  }

  private handlerFailed(event: InformerEvent, object: T, error: unknown): void {
    this.hooks.onError?.(error, "handler");
    this.logger.error(`informer ${event} handler failed`, {
      path: this.options.path,
      object: objectKey(object),
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
