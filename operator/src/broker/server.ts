// The broker's HTTP layer: authenticates every request, routes it, and turns
// failures into JSON errors. It fails closed — an error computing a bundle
// or reading an approval answers 5xx, never a partial or stale answer.
//
//   GET  /v1/config                 the sidecar's configuration bundle
//   GET  /v1/config?watch=true      the bundle, then every change, as NDJSON
//   POST /v1/approvals              ask for a human decision
//   GET  /v1/approvals/NAME         the decision (waitSeconds=N long-polls)
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AuthenticationV1Api, CustomObjectsApi, V1Pod } from "@kubernetes/client-node";
import type { IApprovalRequest } from "@portcullis/crds";
import { readBody, sendJson } from "../http/https-server.js";
import { statusObjectMessage } from "@portcullis/common/kube-status";
import { errorMessage } from "../log.js";
import type { OperatorMetrics } from "../metrics.js";
import {
  APPROVAL_GROUP,
  APPROVAL_PLURAL,
  APPROVAL_VERSION,
  BrokerRequestError,
  approvalRuleFor,
  approvalView,
  buildApprovalRequest,
  parseApprovalAsk,
  type ApprovalView,
} from "@portcullis/common/approvals";
import { BrokerAuthError, TokenReviewCache, authenticateSidecar, verifyPodBinding } from "./authenticate.js";
import { type SidecarIdentity } from "@portcullis/common/config/bundle";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { loadConfigBundle } from "./load-config.js";
import type { BrokerSources } from "./sources.js";

/** The logging calls the broker makes; a winston Logger fits. */
export interface BrokerLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

export interface BrokerHandlerOptions {
  sources: BrokerSources;
  authApi: Pick<AuthenticationV1Api, "createTokenReview">;
  customObjects: Pick<CustomObjectsApi, "createNamespacedCustomObject" | "getNamespacedCustomObject">;
  metrics: OperatorMetrics;
  log: BrokerLogger;
  now?: () => Date;
  /** Overrides for tests; the defaults are what production runs with. */
  timing?: { heartbeatMs?: number; pollMs?: number; streamLifetimeMs?: number };
}

export type BrokerHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Ends every open configuration stream (on shutdown; the sidecars reconnect to another replica). */
  close(): void;
  /** How many configuration streams are open on this handler. */
  readonly openStreams: number;
};

const MAX_BODY_BYTES = 128 * 1024;
const MAX_WAIT_SECONDS = 60;
const DEFAULT_TIMING = { heartbeatMs: 15_000, pollMs: 1_000, streamLifetimeMs: 10 * 60_000 };
const APPROVAL_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

type Endpoint = "config" | "config-watch" | "approvals-create" | "approvals-get";

interface Route {
  endpoint: Endpoint;
  run: (identity: SidecarIdentity, pod: V1Pod) => Promise<number>;
}

const OUTCOMES: Record<number, string> = {
  400: "bad_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  413: "too_large",
};
const outcomeOf = (status: number): string => (status < 400 ? "ok" : (OUTCOMES[status] ?? "error"));

/** An error the API server answered (client-node's ApiException), with the Status message when there is one. */
function apiError(error: unknown): { code: number; message: string } | undefined {
  if (typeof error !== "object" || error === null || typeof (error as { code?: unknown }).code !== "number") return undefined;
  const { code, body } = error as { code: number; body?: unknown };
  return { code, message: statusObjectMessage(body) ?? errorMessage(error) };
}

function bearerToken(req: IncomingMessage): string {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1] ?? "";
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const length = Number(req.headers["content-length"] ?? 0);
  if (length > MAX_BODY_BYTES) throw new BrokerRequestError(413, `request body over ${MAX_BODY_BYTES} bytes`);
  let text: string;
  try {
    text = (await readBody(req, MAX_BODY_BYTES)).toString("utf8");
  } catch (error) {
    throw new BrokerRequestError(413, errorMessage(error));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BrokerRequestError(400, "the body is not valid JSON");
  }
}

function parseWaitSeconds(value: string | null): number {
  if (value === null) return 0;
  const seconds = Number(value);
  if (!/^\d+$/.test(value) || seconds > MAX_WAIT_SECONDS) throw new BrokerRequestError(400, `waitSeconds must be a whole number from 0 to ${MAX_WAIT_SECONDS}`);
  return seconds;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createBrokerHandler(options: BrokerHandlerOptions): BrokerHandler {
  const { sources, authApi, customObjects, metrics, log } = options;
  const now = options.now ?? ((): Date => new Date());
  const timing = { ...DEFAULT_TIMING, ...options.timing };
  const cache = new TokenReviewCache();
  const streams = new Set<() => void>();

  async function readOwnedApproval(identity: SidecarIdentity, name: string): Promise<ApprovalView> {
    const notFound = new BrokerRequestError(404, `ApprovalRequest "${name}" not found in namespace "${identity.namespace}"`);
    if (!APPROVAL_NAME.test(name)) throw notFound;
    let request: IApprovalRequest;
    try {
      request = (await customObjects.getNamespacedCustomObject({
        group: APPROVAL_GROUP,
        version: APPROVAL_VERSION,
        namespace: identity.namespace,
        plural: APPROVAL_PLURAL,
        name,
      })) as IApprovalRequest;
    } catch (error) {
      if (apiError(error)?.code === 404) throw notFound;
      throw error;
    }
    // Another pod's request is reported as absent, so its existence does not leak.
    if (request.spec?.pod?.uid !== identity.podUid) throw notFound;
    return approvalView(request, now());
  }

  async function getApproval(identity: SidecarIdentity, name: string, url: URL, res: ServerResponse): Promise<number> {
    const waitSeconds = parseWaitSeconds(url.searchParams.get("waitSeconds"));
    const deadline = Date.now() + waitSeconds * 1000;
    let gone = false;
    res.once("close", () => (gone = !res.writableFinished));
    let view = await readOwnedApproval(identity, name);
    while (view.phase === "Pending" && !gone && Date.now() < deadline) {
      await sleep(Math.min(timing.pollMs, deadline - Date.now()));
      view = await readOwnedApproval(identity, name);
    }
    if (!gone) sendJson(res, 200, view);
    return 200;
  }

  async function createApproval(identity: SidecarIdentity, pod: V1Pod, req: IncomingMessage, res: ServerResponse): Promise<number> {
    const ask = parseApprovalAsk(await readJson(req));
    const rule = approvalRuleFor(ask, pod, sources.accessPolicies(identity.namespace));
    const body = buildApprovalRequest(ask, identity, rule, now());
    let created: IApprovalRequest;
    try {
      created = (await customObjects.createNamespacedCustomObject({
        group: APPROVAL_GROUP,
        version: APPROVAL_VERSION,
        namespace: identity.namespace,
        plural: APPROVAL_PLURAL,
        body,
      })) as IApprovalRequest;
    } catch (error) {
      const refused = apiError(error);
      if (refused && (refused.code === 400 || refused.code === 422)) {
        throw new BrokerRequestError(400, `the API server refused the ApprovalRequest: ${refused.message}`);
      }
      throw error;
    }
    const name = created.metadata?.name ?? "";
    log.info("approval requested", { pod: `${identity.namespace}/${identity.podName}`, approval: name, policy: ask.policy, rule: ask.rule, resource: ask.resource });
    sendJson(res, 201, { name, namespace: identity.namespace, expiresAt: body.spec.expiresAt });
    return 201;
  }

  async function sendConfig(identity: SidecarIdentity, pod: V1Pod, res: ServerResponse): Promise<number> {
    const bundle = await loadConfigBundle(identity, pod, sources);
    res.setHeader("cache-control", "no-store");
    sendJson(res, 200, bundle);
    return 200;
  }

  async function streamConfig(identity: SidecarIdentity, pod: V1Pod, res: ServerResponse): Promise<number> {
    const podRef = `${identity.namespace}/${identity.podName}`;
    let started = false;
    let closed = false;
    let running = false;
    let pending = false;
    let revision = "";
    const write = (line: object): void => {
      if (!closed) res.write(`${JSON.stringify(line)}\n`);
    };
    const sendIfChanged = (bundle: ConfigBundle): void => {
      if (bundle.revision === revision) return;
      revision = bundle.revision;
      write({ type: "config", config: bundle });
    };
    const finish = (line?: object): void => {
      if (closed) return;
      if (line) write(line);
      res.end();
      cleanup();
    };
    // Changes are coalesced: while one recomputation runs, later notices make one more.
    const refresh = async (): Promise<void> => {
      if (running) return void (pending = true);
      running = true;
      try {
        do {
          pending = false;
          const bundle = await loadConfigBundle(identity, verifyPodBinding(identity, sources), sources);
          sendIfChanged(bundle);
        } while (pending && !closed);
      } catch (error) {
        const status = error instanceof BrokerAuthError ? error.status : 500;
        log.warn("config stream ended", { pod: podRef, outcome: outcomeOf(status), error: errorMessage(error) });
        finish({ type: "error", status, error: errorMessage(error) });
      } finally {
        running = false;
      }
    };
    const unsubscribe = sources.onChange((namespace) => {
      if (namespace !== identity.namespace || closed) return;
      if (started) void refresh();
      else pending = true;
    });
    const cleanup = (): void => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(timers.heartbeat);
      clearTimeout(timers.lifetime);
      streams.delete(finishStream);
      if (!started) return;
      metrics.connectedSidecars.dec();
      log.info("config stream closed", { pod: podRef });
    };
    const finishStream = (): void => finish({ type: "reconnect", reason: "the broker is shutting down" });
    // Started only once the stream is, and cleared by cleanup whenever it runs.
    const timers: { heartbeat?: NodeJS.Timeout; lifetime?: NodeJS.Timeout } = {};
    res.once("close", cleanup);
    let first: ConfigBundle;
    try {
      first = await loadConfigBundle(identity, pod, sources);
    } catch (error) {
      cleanup();
      throw error;
    }
    if (closed) return 200;
    res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store" });
    started = true;
    streams.add(finishStream);
    metrics.connectedSidecars.inc();
    log.info("config stream opened", { pod: podRef });
    sendIfChanged(first);
    timers.heartbeat = setInterval(() => write({ type: "heartbeat" }), timing.heartbeatMs);
    // Streams end before the token does, so a sidecar is re-authenticated with its refreshed token.
    const tokenLeft = identity.tokenExpiresAt ? identity.tokenExpiresAt.getTime() - now().getTime() : Infinity;
    const lifetimeMs = Math.max(0, Math.min(timing.streamLifetimeMs, tokenLeft));
    timers.lifetime = setTimeout(() => finish({ type: "reconnect", reason: "stream lifetime reached; reconnect with a current token" }), lifetimeMs);
    if (pending) void refresh();
    return 200;
  }

  function route(req: IncomingMessage, res: ServerResponse, url: URL): Route | undefined {
    const method = req.method ?? "GET";
    const allow = (expected: string): void => {
      if (method !== expected) throw new BrokerRequestError(405, `${method} is not allowed on ${url.pathname}; use ${expected}`);
    };
    if (url.pathname === "/v1/config") {
      allow("GET");
      const watch = url.searchParams.get("watch") === "true";
      return watch
        ? { endpoint: "config-watch", run: (identity, pod) => streamConfig(identity, pod, res) }
        : { endpoint: "config", run: (identity, pod) => sendConfig(identity, pod, res) };
    }
    if (url.pathname === "/v1/approvals") {
      allow("POST");
      return { endpoint: "approvals-create", run: (identity, pod) => createApproval(identity, pod, req, res) };
    }
    const approval = /^\/v1\/approvals\/([^/]+)$/.exec(url.pathname);
    if (approval?.[1]) {
      allow("GET");
      let name = "";
      try {
        name = decodeURIComponent(approval[1]);
      } catch {
        // Not a valid escape: no ApprovalRequest has that name, readOwnedApproval answers 404.
      }
      return { endpoint: "approvals-get", run: (identity) => getApproval(identity, name, url, res) };
    }
    return undefined;
  }

  function fail(res: ServerResponse, error: unknown): number {
    let status = 500;
    let message = `the broker failed, so the request is refused: ${errorMessage(error)}`;
    if (error instanceof BrokerAuthError || error instanceof BrokerRequestError) {
      status = error.status;
      message = error.message;
    } else if (apiError(error)) {
      message = `the broker failed, so the request is refused: ${apiError(error)?.message ?? ""}`;
    }
    if (!res.headersSent) sendJson(res, status, { error: message });
    else if (!res.writableEnded) res.end();
    return status;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const startedAt = Date.now();
    const url = new URL(req.url ?? "/", "https://broker.invalid");
    let endpoint = "unknown";
    let podRef: string | undefined;
    let status: number;
    try {
      const matched = route(req, res, url);
      if (!matched) throw new BrokerRequestError(404, `no broker endpoint at ${url.pathname}`);
      endpoint = matched.endpoint;
      const identity = await authenticateSidecar(bearerToken(req), { authApi, sources, cache, now });
      podRef = `${identity.namespace}/${identity.podName}`;
      status = await matched.run(identity, verifyPodBinding(identity, sources));
    } catch (error) {
      status = fail(res, error);
      const meta = { endpoint, pod: podRef, outcome: outcomeOf(status), status, error: errorMessage(error) };
      if (status >= 500) log.error("broker request failed", meta);
      else log.warn("broker request refused", meta);
      metrics.brokerRequests.inc({ endpoint, outcome: outcomeOf(status) });
      return;
    }
    metrics.brokerRequests.inc({ endpoint, outcome: outcomeOf(status) });
    if (endpoint !== "config-watch") log.info("broker request", { endpoint, pod: podRef, outcome: outcomeOf(status), status, durationMs: Date.now() - startedAt });
  }

  const handler = ((req: IncomingMessage, res: ServerResponse): void => {
    void handle(req, res);
  }) as BrokerHandler;
  handler.close = (): void => {
    for (const finish of [...streams]) finish();
  };
  Object.defineProperty(handler, "openStreams", { get: () => streams.size });
  return handler;
}
