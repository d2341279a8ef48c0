// Keeps one listener per Resource in step with the configuration, through the
// protocol gateway the registry holds for its protocol: a new revision swaps
// the runtime each listener hands to new sessions (open sessions keep the
// rules they started with), opens listeners for new Resources and closes
// those of Resources that are gone.
import type tls from "node:tls";
import type { BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { Logger } from "../observability/logger.js";
import { observeSessionEnd, setConfigRevision } from "../observability/metrics.js";
import { errorMessage } from "../config/error-message.js";
import type { ProtocolGateway, ProtocolListener, ProtocolRegistry, ResourceRuntime, RuntimeOrRefusal, RuntimeServices } from "./registry.js";

interface Served {
  port: number;
  protocol: string;
  key: string;
  listener: ProtocolListener;
  runtime: RuntimeOrRefusal<ResourceRuntime>;
}

const closeRuntime = (runtime: RuntimeOrRefusal<ResourceRuntime>): void => {
  if (typeof runtime !== "string") runtime.close?.();
};

export interface GatewayOptions {
  host: string;
  registry: ProtocolRegistry;
  services: RuntimeServices;
  log: Logger;
  tls?: tls.SecureContextOptions;
  /** A session ended: its evidence is complete (the uploader can take it). */
  onSessionEnded?: () => void;
}

export class Gateway {
  private readonly served = new Map<string, Served>();
  private revision = "";

  constructor(private readonly options: GatewayOptions) {}

  get configured(): boolean {
    return this.revision !== "";
  }

  /** The listeners' ports by Resource name. */
  ports(): Record<string, number> {
    return Object.fromEntries([...this.served].map(([name, served]) => [name, served.port]));
  }

  /** Applies a revision; rejects, naming each Resource, when a listener cannot be opened (the rest is applied). */
  async apply(bundle: ConfigBundle): Promise<void> {
    const { log, services, registry } = this.options;
    const wanted = new Set<string>();
    const failures: string[] = [];
    for (const resource of bundle.resources) {
      if (!resource.spec) {
        log.error("a Resource the policies name is missing", { resource: resource.name, error: resource.error });
        continue;
      }
      const protocol = resource.spec.protocol;
      const gateway = registry.get(protocol);
      if (!gateway) {
        log.warn("no gateway in this sidecar serves the Resource's protocol; the Resource is not served", { resource: resource.name, protocol, served: registry.protocols });
        continue;
      }
      wanted.add(resource.name);
      const failure = await this.serve(gateway, resource as BrokeredResource & { spec: NonNullable<BrokeredResource["spec"]> }, bundle);
      if (failure) failures.push(failure);
    }
    for (const name of [...this.served.keys()]) if (!wanted.has(name)) await this.close(name);
    this.revision = bundle.revision;
    setConfigRevision(services.metrics, bundle.revision);
    if (failures.length) {
      // Not "configuration applied": a Resource takes no sessions.
      log.error("configuration applied except for listeners that cannot be opened", { revision: bundle.revision, listeners: this.ports(), failures });
      throw new Error(failures.join("; "));
    }
    log.info("configuration applied", { revision: bundle.revision, listeners: this.ports() });
  }

  /** Swaps the Resource's runtime into its listener, or (re)opens the listener; the failure's message when it cannot listen. */
  private async serve(gateway: ProtocolGateway, resource: BrokeredResource & { spec: NonNullable<BrokeredResource["spec"]> }, bundle: ConfigBundle): Promise<string | undefined> {
    const runtime = gateway.runtime(bundle, resource, this.options.services);
    if (typeof runtime === "string") this.options.log.error("the Resource refuses sessions", { resource: resource.name, reason: runtime });
    const served = this.served.get(resource.name);
    const at = { port: resource.spec.listener.port, key: gateway.listenerKey?.(resource) ?? "" };
    if (served && served.port === at.port && served.protocol === gateway.protocol && served.key === at.key) {
      closeRuntime(served.runtime);
      served.runtime = runtime;
      return undefined;
    }
    if (served) await this.close(resource.name);
    try {
      await this.open(gateway, resource, at, runtime);
      return undefined;
    } catch (error) {
      // This Resource takes no sessions (fail closed); the others still get the new revision.
      closeRuntime(runtime);
      return errorMessage(error);
    }
  }

  async stop(): Promise<void> {
    for (const name of [...this.served.keys()]) await this.close(name);
  }

  private async open(
    gateway: ProtocolGateway,
    resource: BrokeredResource & { spec: NonNullable<BrokeredResource["spec"]> },
    at: { port: number; key: string },
    runtime: RuntimeOrRefusal<ResourceRuntime>,
  ): Promise<void> {
    const { log, services } = this.options;
    const { name } = resource;
    const { port, key } = at;
    const labels = { resource: name, protocol: gateway.protocol };
    const entry: Served = { port, protocol: gateway.protocol, key, runtime, listener: undefined as unknown as ProtocolListener };
    entry.listener = gateway.listener({
      host: this.options.host,
      port,
      resource,
      certificates: services.certificates,
      runtime: () => entry.runtime,
      ...(this.options.tls ? { tls: this.options.tls } : {}),
      hooks: {
        onSessionStart: () => services.metrics.activeSessions.inc(labels),
        onSessionEnd: (session, reason, error) => {
          services.metrics.activeSessions.dec(labels);
          this.options.onSessionEnded?.();
          observeSessionEnd(services.metrics, labels, error ? "failed" : "completed");
          if (error) log.warn("session ended with an error", { ...labels, session, reason, error: errorMessage(error) });
          else log.info("session ended", { ...labels, session, reason });
        },
        onRefused: (reason) => {
          observeSessionEnd(services.metrics, labels, "refused");
          log.info("session refused", { ...labels, reason });
        },
        onError: (error) => log.error("listener error", { ...labels, error: errorMessage(error) }),
      },
    });
    try {
      entry.port = await entry.listener.listen();
    } catch (error) {
      throw new Error(`Resource "${name}": cannot listen on ${this.options.host}:${port}: ${errorMessage(error)}`, { cause: error });
    }
    this.served.set(name, entry);
  }

  private async close(name: string): Promise<void> {
    const served = this.served.get(name);
    if (!served) return;
    this.served.delete(name);
    closeRuntime(served.runtime);
    await served.listener.close();
  }
}
