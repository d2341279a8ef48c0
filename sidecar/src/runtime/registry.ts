// The protocol gateways the sidecar can run, keyed by Resource.spec.protocol.
// Each owns its listener, its request classification and its error encoding;
// the runtime only opens, swaps and closes them as the configuration changes.
import type tls from "node:tls";
import type { BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { ApprovalService } from "../approvals/approval-service.js";
import type { GrantCache } from "../approvals/grants.js";
import type { EvidenceSpool } from "../evidence/spool.js";
import type { GatewayMetrics } from "../observability/metrics.js";
import type { BufferBudget } from "./byte-budget.js";
import type { PodCertificates } from "./pod-certificates.js";

/** What every protocol's sessions share: the evidence spool, metrics, approvals and grants. */
export interface RuntimeServices {
  spool: EvidenceSpool;
  metrics: GatewayMetrics;
  approvals: ApprovalService;
  grants: GrantCache;
  /** The pod's CA, for TLS towards the agent where it expects the backend's own TLS (transparent HTTPS). */
  certificates: PodCertificates;
  /** The bytes of bodies all sessions may hold in memory at once. */
  buffers: BufferBudget;
}

/** Everything one Resource needs under one configuration revision; built once per revision. */
export interface ResourceRuntime {
  /** The revision is replaced: release what the runtime holds (connections it keeps for itself). */
  close?(): void;
}

/** A Resource's runtime, or why it takes no sessions (its listener refuses every session with this message). */
export type RuntimeOrRefusal<R extends ResourceRuntime> = R | string;

export interface ListenerHooks {
  onSessionStart(): void;
  onSessionEnd(session: string, reason: string, error?: unknown): void;
  onRefused(reason: string): void;
  onError(error: unknown): void;
}

export interface ListenerOptions<R extends ResourceRuntime> {
  host: string;
  port: number;
  /** The Resource as it was when the listener opened (what listenerKey read from it stays fixed for the listener's life). */
  resource: BrokeredResource & { spec: NonNullable<BrokeredResource["spec"]> };
  /** The pod's CA, for listeners that speak TLS to the agent with a certificate of the backend's names. */
  certificates: PodCertificates;
  /** The runtime for new sessions: swapped when a revision is applied, open sessions keep theirs. */
  runtime: () => RuntimeOrRefusal<R>;
  hooks: ListenerHooks;
  /** Offer TLS to clients with this certificate (--tls-cert). */
  tls?: tls.SecureContextOptions;
}

export interface ProtocolListener {
  /** Resolves with the port it listens on. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

export interface ProtocolGateway<R extends ResourceRuntime = ResourceRuntime> {
  /** The Resource.spec.protocol it serves. */
  readonly protocol: string;
  runtime(bundle: ConfigBundle, resource: BrokeredResource, services: RuntimeServices): RuntimeOrRefusal<R>;
  listener(options: ListenerOptions<R>): ProtocolListener;
  /** What about a Resource fixes its listener beyond the port (e.g. whether it speaks TLS to the agent): a change reopens it. */
  listenerKey?(resource: BrokeredResource): string;
}

export class ProtocolRegistry {
  private readonly gateways = new Map<string, ProtocolGateway>();

  constructor(gateways: readonly ProtocolGateway[]) {
    for (const gateway of gateways) this.gateways.set(gateway.protocol, gateway);
  }

  get(protocol: string): ProtocolGateway | undefined {
    return this.gateways.get(protocol);
  }

  get protocols(): string[] {
    return [...this.gateways.keys()];
  }
}
