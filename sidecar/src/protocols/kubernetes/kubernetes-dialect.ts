// The kubernetes protocol's dialect of the HTTP gateway: rules see the
// request as the API server reads it (verb, group, resource, namespace,
// name); refusals are Status objects; the agent may not ask the API server to
// act as someone else (Impersonate-*); the audit log names the agent in the
// User-Agent the gateway sends; responses that can hold Secrets or fall under
// masking rules are asked for as JSON and masked object by object (a watch
// event by event); only exec, attach and port-forward upgrade, over WebSocket.
import type { KubernetesFacts } from "@portcullis/common/policy/cel";
import type { DialectRequest, DialectSession, HttpDialect, ResponseMasking } from "../http/dialect.js";
import { isJson, unmaskableResponse } from "../http/http-dialect.js";
import { BodyMasker } from "../../masking/body-masking.js";
import { KUBERNETES_MATCHER, describeKubernetes } from "./kubernetes-match.js";
import { MASKED_SECRET_TEXT, type MaskContext, maskKubernetesDocument, masksResponses, SECRET_MASK_COUNT } from "./object-masking.js";
import { honoursDryRun, kubernetesRequest } from "./request-info.js";
import { statusRefusal } from "./status.js";
import { relaySpdy } from "./spdy-relay.js";
import { channelContent } from "./stream-channels.js";

const UNMASKED = new BodyMasker([]);

/** Verbs whose requests may upgrade (to a WebSocket stream of the container or port). */
const STREAM_VERBS = new Set(["exec", "attach", "portforward"]);
/** Terminal streams' subprotocols whose messages the evidence can read (stream-channels.ts). */
const RECORDABLE_TERMINAL = /^(?:v[1-5]\.)?channel\.k8s\.io$/;
/** A WebSocket subprotocol that carries a bearer token (client-go's way of authenticating a browser socket). */
const BEARER_SUBPROTOCOL = /^base64url\.bearer\.authorization\.k8s\.io\./i;
/** Headers only a front proxy the API server trusts may set (requestheader authentication). */
const FRONT_PROXY_HEADERS = /^x-remote-(user|group|extra-)/;
const MASKED_MARKERS = [MASKED_SECRET_TEXT, Buffer.from(MASKED_SECRET_TEXT).toString("base64")];

/** The agent's Accept with only its JSON media ranges (Table and discovery variants included); JSON when none is left. */
export function jsonOnlyAccept(accept: string | undefined): string {
  const kept = (accept ?? "")
    .split(",")
    .map((range) => range.trim())
    .filter((range) => (range.split(";")[0] ?? "").trim().toLowerCase() === "application/json");
  return kept.length ? kept.join(",") : "application/json";
}

/** The User-Agent the API server records in its audit log: the agent, its pod and session first, then the client's own. */
export function auditedUserAgent(session: DialectSession, clientAgent: string | undefined): string {
  const { identity } = session;
  const pod = identity.pod ? `; pod ${identity.namespace}/${identity.pod}` : "";
  const tag = `portcullis (agent ${identity.username}${pod}; session ${session.id})`;
  return clientAgent ? `${tag} ${clientAgent}` : tag;
}

const isSecrets = (facts: KubernetesFacts): boolean => facts.resourceRequest && facts.apiGroup === "" && facts.resource === "secrets";

function maskContext(facts: KubernetesFacts, session: DialectSession): MaskContext {
  const tokenRequest = facts.apiGroup === "" && facts.resource === "serviceaccounts" && facts.subresource === "token";
  return { secrets: isSecrets(facts), tokenRequest, masker: session.masker };
}

/** Whether the response is read and masked: a resource request that can hold Secrets, or any under masking rules. */
function masked(facts: KubernetesFacts, session: DialectSession): MaskContext | undefined {
  if (!facts.resourceRequest || STREAM_VERBS.has(facts.verb) || facts.verb === "proxy") return undefined;
  const context = maskContext(facts, session);
  return masksResponses(context) ? context : undefined;
}

/**
 * A Status refusing a request about Secrets as invalid quotes the values it found invalid (a JSON patch
 * could have copied a Secret's value where validation fails on it): its message is withheld.
 */
function withheldInvalidStatus(document: { value: unknown }): number {
  const status = document.value as { kind?: unknown; code?: unknown; message?: unknown; details?: { causes?: Array<Record<string, unknown>> } } | null;
  if (status === null || typeof status !== "object" || status.kind !== "Status" || (status.code !== 400 && status.code !== 422)) return 0;
  status.message = "the API server refused the request as invalid; its message is withheld because it can quote a Secret's values";
  for (const cause of status.details?.causes ?? []) delete cause.message;
  return 1;
}

function objectMasking(context: MaskContext, framing: ResponseMasking["framing"]): ResponseMasking {
  return {
    framing,
    unmaskable: (response) => unmaskableResponse(response, isJson),
    mask: (text) => {
      let document: { value: unknown };
      try {
        document = { value: JSON.parse(text) as unknown };
      } catch {
        return "it says it is JSON but does not parse";
      }
      const counts = maskKubernetesDocument(document, context);
      if (context.secrets && withheldInvalidStatus(document)) counts[SECRET_MASK_COUNT] = (counts[SECRET_MASK_COUNT] ?? 0) + 1;
      return { text: JSON.stringify(document.value), counts };
    },
  };
}

/** Whether writing this body to a Secret could leak or destroy its values: copying them elsewhere (JSON patch copy, move, test), or writing back masked ones. */
export function secretWriteProblem(body: Buffer, contentType: string | undefined, patchType: string): string | undefined {
  const text = body.toString("utf8");
  if (MASKED_MARKERS.some((marker) => text.includes(marker))) return "the body holds values the gateway masked (portcullis:masked); writing them back would replace the Secret's real values";
  if (patchType !== "json") return undefined;
  let operations: unknown;
  try {
    operations = JSON.parse(text);
  } catch {
    return `the JSON patch (${contentType ?? ""}) does not parse`;
  }
  if (!Array.isArray(operations)) return "a JSON patch must be a list of operations";
  const underValues = (pointer: unknown): boolean => typeof pointer !== "string" || pointer === "" || /^\/(data|stringData)(\/|$)/.test(pointer);
  const reading = operations.find((operation: { op?: unknown; from?: unknown; path?: unknown }) => {
    if (operation?.op === "copy" || operation?.op === "move") return underValues(operation.from);
    return operation?.op === "test" && underValues(operation.path);
  }) as { op?: unknown } | undefined;
  return reading ? `a JSON patch may not ${String(reading.op)} a Secret's values: the agent would read them where they are not masked` : undefined;
}

/** The offered subprotocols the agent may use: never one carrying a token; for exec and attach only those the evidence can read. */
function offeredSubprotocols(offered: string, verb: string): string[] {
  return offered
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "" && !BEARER_SUBPROTOCOL.test(name))
    .filter((name) => verb === "portforward" || RECORDABLE_TERMINAL.test(name));
}

const hasBody = (request: DialectRequest): boolean =>
  request.req.headers["transfer-encoding"] !== undefined || Number(request.req.headers["content-length"] ?? "0") > 0;

/**
 * Whether a DELETE's body (DeleteOptions) makes it a dry run — the API server reads the options from the
 * body when there is one and ignores the query then; or why it cannot be read as the server will.
 */
export function deleteOptionsDryRun(body: Buffer, contentType: string | undefined): boolean | string {
  if (!isJson(contentType ?? "application/json")) return `a DELETE's options are read from its body, and this one is ${contentType ?? ""}: send them as JSON`;
  let options: unknown;
  try {
    options = JSON.parse(body.toString("utf8"));
  } catch {
    return "the DELETE's options (its body) do not parse as JSON";
  }
  const dryRun = options !== null && typeof options === "object" ? (options as { dryRun?: unknown }).dryRun : undefined;
  if (dryRun === undefined || dryRun === null) return false;
  if (!Array.isArray(dryRun) || dryRun.some((value) => value !== "All")) return 'the DELETE\'s dryRun option must be a list of "All"';
  return dryRun.length > 0;
}

/** Why the request must not reach the API server as it is, if so. */
function requestProblem(request: DialectRequest): string | undefined {
  const impersonating = Object.keys(request.req.headers).find((name) => name.startsWith("impersonate-"));
  if (impersonating) return `the ${impersonating} header is refused: the gateway acts with the Resource's credential and does not let the agent act as another user (kubectl --as)`;
  const proxied = Object.keys(request.req.headers).find((name) => FRONT_PROXY_HEADERS.test(name));
  if (proxied) return `the ${proxied} header is refused: only a front proxy the API server trusts may name a user`;
  return undefined;
}

const isSpdy = (request: DialectRequest): boolean => (request.req.headers.upgrade ?? "").toLowerCase() === "spdy/3.1";

function upgradeRefusal(facts: KubernetesFacts, _decision: unknown, request: DialectRequest): string | undefined {
  if (!STREAM_VERBS.has(facts.verb)) return `only exec, attach and port-forward upgrade to a stream; ${describeKubernetes(facts)} does not`;
  // SPDY streams (kubectl POSTs them) are recorded by what each stream's headers say it carries, whatever the stream protocol version.
  if (isSpdy(request)) return request.method === "GET" || request.method === "POST" ? undefined : `a stream upgrade must be a GET or POST, not ${request.method}`;
  if (request.method !== "GET") return `a WebSocket upgrade must be a GET, not ${request.method}`;
  const upgrade = (request.req.headers.upgrade ?? "").toLowerCase();
  if (upgrade !== "websocket") return `the ${upgrade || "requested"} upgrade is refused: the gateway relays exec, attach and port-forward over WebSocket or SPDY/3.1`;
  if (!offeredSubprotocols(String(request.req.headers["sec-websocket-protocol"] ?? ""), facts.verb).length) {
    return `the stream offers no subprotocol the gateway can record (${facts.verb === "portforward" ? "any" : "v5.channel.k8s.io, v4.channel.k8s.io or channel.k8s.io"})`;
  }
  return undefined;
}

export function kubernetesDialect(): HttpDialect<KubernetesFacts> {
  return {
    protocol: "kubernetes",
    matcher: KUBERNETES_MATCHER,
    encodeRefusal: statusRefusal,
    facts: (request, body) => {
      const parsed = kubernetesRequest({ method: request.method, path: request.target.path, query: request.target.query, contentType: request.req.headers["content-type"] });
      if (!parsed.ok) return parsed.message;
      const { facts } = parsed;
      if (body === undefined || body.length === 0) return facts;
      if (isSecrets(facts) && request.method !== "DELETE") return secretWriteProblem(body, request.req.headers["content-type"], facts.patchType) ?? facts;
      if (request.method !== "DELETE") return facts;
      const dryRun = deleteOptionsDryRun(body, request.req.headers["content-type"]);
      return typeof dryRun === "string" ? dryRun : { ...facts, dryRun: dryRun && honoursDryRun(facts.subresource) };
    },
    // A DELETE's options (dryRun among them) are read from its body when it has one, and then its query is ignored;
    // a write to a Secret is read so that it cannot copy the Secret's values where they are not masked.
    factsNeedBody: (request) => hasBody(request) && (request.method === "DELETE" || (request.method !== "GET" && /^\/api\/v1\/(namespaces\/[^/]+\/)?secrets(\/|$)/.test(request.target.path))),
    bodyProblem: (request) => {
      const encoding = request.req.headers["content-encoding"];
      return encoding !== undefined && encoding.toLowerCase() !== "identity" ? `the request body is encoded (${encoding}) and the gateway must read it: send it unencoded` : undefined;
    },
    summary: (facts, request) => {
      if (facts.verb !== "exec") return describeKubernetes(facts);
      // What a reviewer must see of an exec: the command it runs.
      const command = request.target.query.filter(([name]) => name === "command").map(([, value]) => value);
      return `${describeKubernetes(facts)}: ${command.join(" ")}`;
    },
    details: (facts) => ({
      kubernetes: {
        verb: facts.verb,
        ...(facts.resourceRequest
          ? { apiGroup: facts.apiGroup, apiVersion: facts.apiVersion, resource: facts.resource, subresource: facts.subresource, namespace: facts.namespace, name: facts.name }
          : { path: facts.path }),
        ...(facts.dryRun ? { dryRun: true } : {}),
        ...(facts.patchType ? { patchType: facts.patchType } : {}),
      },
    }),
    requestProblem,
    upgradeRefusal,
    upstreamHeaders: (headers, facts, session, masking) => {
      headers["user-agent"] = auditedUserAgent(session, headers["user-agent"]);
      if (headers["sec-websocket-protocol"] !== undefined) headers["sec-websocket-protocol"] = offeredSubprotocols(headers["sec-websocket-protocol"], facts.verb).join(", ");
      // Protobuf and CBOR cannot be masked: responses that are masked are asked for as JSON.
      if (masking) headers.accept = jsonOnlyAccept(headers.accept);
    },
    responseMasking: (facts, session) => {
      const context = masked(facts, session);
      return context && objectMasking(context, facts.verb === "watch" ? "lines" : "whole");
    },
    // Masking rules describe API objects; a terminal's bytes are not one. A rule that allows exec allows reading what the container prints.
    streamMasker: () => UNMASKED,
    messageContent: channelContent,
    upgradeRelay: (request) => (isSpdy(request) ? relaySpdy : undefined),
  };
}
