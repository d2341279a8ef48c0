// Operator mode: the gateway's client of the operator's broker API (see
// operator/src/broker/server.ts). It authenticates with the pod's projected
// ServiceAccount token, re-read for every request because the kubelet rotates
// it, and verifies the broker's certificate against the CA the injector mounts.
// The sidecar has no Kubernetes client of its own: this is its only way in.
import type { IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { ApprovalAsk, ApprovalView } from "@portcullis/common/approvals";
import { CA_FILE, IDENTITY_MOUNT_PATH, TOKEN_FILE } from "@portcullis/common/injection-names";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { BrokerError } from "./broker-error.js";
import { parseApprovalCreated, parseApprovalView, parseConfigBundle, parseWatchEvent, type ApprovalCreated, type WatchEvent } from "./broker-responses.js";
import { ConfigError } from "./config-error.js";
import { errorMessage } from "./error-message.js";
import { LineSplitter } from "./ndjson.js";
import { DEFAULT_BACKOFF, planReconnect, type BackoffPolicy, type StreamOutcome } from "./reconnect.js";

export { BrokerError } from "./broker-error.js";

export interface BrokerSettings {
  /** HTTPS base URL of the broker. */
  url: string;
  /** The projected ServiceAccount token (audience portcullis). */
  tokenFile: string;
  /** PEM bundle of the CA that signs the broker's certificate. */
  caFile: string;
}

/** The environment variables the injector sets on the gateway container (operator/src/webhooks/inject/containers.ts). */
export const BROKER_ENV = {
  url: "PORTCULLIS_BROKER_URL",
  tokenFile: "PORTCULLIS_TOKEN_FILE",
  caFile: "PORTCULLIS_BROKER_CA_FILE",
} as const;

/** The longest long-poll the broker accepts (MAX_WAIT_SECONDS in operator/src/broker/server.ts). */
export const BROKER_MAX_WAIT_SECONDS = 60;

/** The broker writes a heartbeat every 15 s; three missed ones mean the stream is dead even if the socket is not. */
const STREAM_IDLE_TIMEOUT_MS = 45_000;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/** Where the injected sidecar finds the broker, its token and CA; the files default to the injector's mount paths. */
export function brokerSettingsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): BrokerSettings {
  const url = env[BROKER_ENV.url] ?? "";
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed?.protocol !== "https:") {
    throw new ConfigError([
      url === ""
        ? `${BROKER_ENV.url} is not set: the gateway is not running under the Portcullis operator (use --manifests for standalone mode)`
        : `${BROKER_ENV.url} must be an https:// URL, got "${url}"`,
    ]);
  }
  return {
    url,
    tokenFile: env[BROKER_ENV.tokenFile] || `${IDENTITY_MOUNT_PATH}/${TOKEN_FILE}`,
    caFile: env[BROKER_ENV.caFile] || `${IDENTITY_MOUNT_PATH}/${CA_FILE}`,
  };
}

export interface WatchOptions {
  signal: AbortSignal;
  /** Every failure and every line that is not a valid event; the watch goes on (reconnecting when needed). */
  onError?: (error: Error) => void;
}

export interface BrokerClientOptions {
  backoff?: BackoffPolicy;
  random?: () => number;
}

interface Exchange {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Socket inactivity after which the exchange fails. */
  idleTimeoutMs: number;
}

async function readLimited(response: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) {
      response.destroy();
      throw new BrokerError(response.statusCode, `the broker's answer is larger than ${maxBytes} bytes`);
    }
    parts.push(chunk);
  }
  return Buffer.concat(parts, total);
}

async function readJson(response: IncomingMessage): Promise<unknown> {
  const text = (await readLimited(response, MAX_ANSWER_BYTES)).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new BrokerError(response.statusCode, `the broker's answer (HTTP ${response.statusCode ?? "?"}) is not JSON`);
  }
}

/** A non-2xx answer as a BrokerError carrying the broker's own message ({"error": "..."}). */
async function refusal(response: IncomingMessage): Promise<BrokerError> {
  const status = response.statusCode ?? 0;
  let body: unknown;
  try {
    body = await readJson(response);
  } catch {
    body = undefined;
  }
  const message = (body as { error?: unknown } | undefined)?.error;
  return new BrokerError(status, typeof message === "string" ? message : `the broker answered HTTP ${status}`);
}

/** The event on a line, or nothing when the line is not one (reported, then skipped). */
function parsedOrReported(line: string, report: (error: unknown) => void): WatchEvent[] {
  try {
    return [parseWatchEvent(line)];
  } catch (error) {
    report(error);
    return [];
  }
}

export class BrokerClient {
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;

  constructor(
    private readonly settings: BrokerSettings,
    options: BrokerClientOptions = {},
  ) {
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
    this.random = options.random ?? Math.random;
  }

  /** The current bundle (GET /v1/config). */
  async fetchConfig(): Promise<ConfigBundle> {
    const value = await this.json({ method: "GET", path: "v1/config", idleTimeoutMs: REQUEST_TIMEOUT_MS });
    return this.understood(() => parseConfigBundle(value));
  }

  /**
   * Follows GET /v1/config?watch=true, calling onBundle with each new bundle,
   * and reconnects with backoff whenever the stream fails or ends, until the
   * signal aborts; then it resolves. It never rejects on broker failures: they
   * go to onError, and the gateway keeps the last bundle it had.
   */
  async watchConfig(onBundle: (bundle: ConfigBundle) => void, options: WatchOptions): Promise<void> {
    const { signal } = options;
    const report = (error: unknown): void => options.onError?.(error instanceof Error ? error : new Error(errorMessage(error)));
    let failures = 0;
    while (!signal.aborted) {
      const outcome: StreamOutcome = { delivered: false, reconnectRequested: false };
      try {
        await this.followStream(onBundle, outcome, signal, report);
        if (!outcome.reconnectRequested && !signal.aborted) report(new BrokerError(undefined, "the broker ended the configuration stream"));
      } catch (error) {
        if (!signal.aborted) report(error instanceof BrokerError ? error : new BrokerError(undefined, `the configuration stream failed: ${errorMessage(error)}`));
      }
      if (signal.aborted) break;
      const plan = planReconnect(failures, outcome, this.random, this.backoff);
      failures = plan.failures;
      await sleep(plan.delayMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Asks for a human decision (POST /v1/approvals); the broker takes reviewers and timeout from the AccessPolicy, not from here. */
  async requestApproval(ask: ApprovalAsk): Promise<ApprovalCreated> {
    const value = await this.json({ method: "POST", path: "v1/approvals", body: ask, idleTimeoutMs: REQUEST_TIMEOUT_MS });
    return this.understood(() => parseApprovalCreated(value));
  }

  /** The request's state; with waitSeconds > 0 the broker holds the answer until it is decided or the wait ends. */
  async getApproval(name: string, waitSeconds: number, signal?: AbortSignal): Promise<ApprovalView> {
    if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > BROKER_MAX_WAIT_SECONDS) {
      throw new RangeError(`waitSeconds must be a whole number from 0 to ${BROKER_MAX_WAIT_SECONDS}, got ${waitSeconds}`);
    }
    const path = `v1/approvals/${encodeURIComponent(name)}?waitSeconds=${waitSeconds}`;
    const value = await this.json({ method: "GET", path, idleTimeoutMs: waitSeconds * 1000 + REQUEST_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    return this.understood(() => parseApprovalView(value));
  }

  private understood<T>(parse: () => T): T {
    try {
      return parse();
    } catch (error) {
      throw new BrokerError(undefined, errorMessage(error));
    }
  }

  private async followStream(onBundle: (bundle: ConfigBundle) => void, outcome: StreamOutcome, signal: AbortSignal, report: (error: unknown) => void): Promise<void> {
    const response = await this.open({ method: "GET", path: "v1/config?watch=true", signal, idleTimeoutMs: STREAM_IDLE_TIMEOUT_MS });
    const splitter = new LineSplitter();
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        for (const event of splitter.push(chunk).flatMap((line) => parsedOrReported(line, report))) {
          if (event.type === "config") {
            outcome.delivered = true;
            onBundle(event.bundle);
          } else if (event.type === "reconnect") {
            outcome.reconnectRequested = true;
            return;
          } else if (event.type === "error") {
            throw event.error;
          }
        }
      }
    } finally {
      response.destroy();
    }
  }

  private async json(exchange: Exchange): Promise<unknown> {
    return readJson(await this.open(exchange));
  }

  /** Sends the request and resolves with a 2xx response; anything else is a BrokerError. */
  private async open(exchange: Exchange): Promise<IncomingMessage> {
    const { token, ca } = await this.credentials();
    const base = this.settings.url.endsWith("/") ? this.settings.url : `${this.settings.url}/`;
    const body = exchange.body === undefined ? undefined : Buffer.from(JSON.stringify(exchange.body), "utf8");
    const headers: Record<string, string | number> = { authorization: `Bearer ${token}`, accept: "application/json" };
    if (body) Object.assign(headers, { "content-type": "application/json", "content-length": body.length });
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpsRequest(new URL(exchange.path, base), {
        method: exchange.method,
        headers,
        ca,
        timeout: exchange.idleTimeoutMs,
        ...(exchange.signal ? { signal: exchange.signal } : {}),
      });
      request.once("timeout", () => request.destroy(new Error(`no data from the broker for ${exchange.idleTimeoutMs} ms`)));
      // `on`, not `once`: a second error after the response (a timeout, a reset) must not go unhandled.
      request.on("error", (error) => reject(new BrokerError(undefined, `the broker at ${this.settings.url} could not be reached: ${errorMessage(error)}`)));
      request.once("response", resolve);
      request.end(body);
    });
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) throw await refusal(response);
    return response;
  }

  private async credentials(): Promise<{ token: string; ca: string }> {
    const read = async (path: string, what: string): Promise<string> => {
      try {
        return await readFile(path, "utf8");
      } catch (error) {
        throw new BrokerError(undefined, `cannot read the ${what} at ${path}: ${errorMessage(error)}`);
      }
    };
    const [token, ca] = await Promise.all([read(this.settings.tokenFile, "broker token"), read(this.settings.caFile, "broker CA bundle")]);
    if (token.trim() === "") throw new BrokerError(undefined, `the broker token at ${this.settings.tokenFile} is empty`);
    return { token: token.trim(), ca };
  }
}
