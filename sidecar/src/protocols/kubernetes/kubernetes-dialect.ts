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
import { type MaskContext, maskKubernetesDocument, masksResponses } from "./object-masking.js";
import { kubernetesRequest } from "./request-info.js";
import { statusRefusal } from "./status.js";
import { channelContent } from "./stream-channels.js";

const UNMASKED = new BodyMasker([]);

/** Verbs whose requests may upgrade (to a WebSocket stream of the container or port). */
const STREAM_VERBS = new Set(["exec", "attach", "portforward"]);

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

function maskContext(facts: KubernetesFacts, session: DialectSession): MaskContext {
  return { secrets: facts.apiGroup === "" && facts.resource === "secrets", masker: session.masker };
}

/** Whether the response is read and masked: a resource request that can hold Secrets, or any under masking rules. */
function masked(facts: KubernetesFacts, session: DialectSession): MaskContext | undefined {
  if (!facts.resourceRequest || STREAM_VERBS.has(facts.verb) || facts.verb === "proxy") return undefined;
  const context = maskContext(facts, session);
  return masksResponses(context) ? context : undefined;
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
      return { text: JSON.stringify(document.value), counts };
    },
  };
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
  return undefined;
}

function upgradeRefusal(facts: KubernetesFacts, _decision: unknown, request: DialectRequest): string | undefined {
  if (!STREAM_VERBS.has(facts.verb)) return `only exec, attach and port-forward upgrade to a stream; ${describeKubernetes(facts)} does not`;
  const upgrade = (request.req.headers.upgrade ?? "").toLowerCase();
  if (upgrade !== "websocket") return `the ${upgrade || "requested"} upgrade is refused: the gateway relays exec, attach and port-forward over WebSocket only (kubectl 1.30 and later use it; SPDY is not relayed)`;
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
      if (request.method !== "DELETE" || body === undefined || body.length === 0) return parsed.facts;
      const dryRun = deleteOptionsDryRun(body, request.req.headers["content-type"]);
      return typeof dryRun === "string" ? dryRun : { ...parsed.facts, dryRun };
    },
    // A DELETE's options (dryRun among them) are read from its body when it has one, and then its query is ignored.
    factsNeedBody: (request) => request.method === "DELETE" && hasBody(request),
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
    upstreamHeaders: (headers, facts, session) => {
      headers["user-agent"] = auditedUserAgent(session, headers["user-agent"]);
      // Protobuf and CBOR cannot be masked: responses that are masked are asked for as JSON.
      if (masked(facts, session)) headers.accept = jsonOnlyAccept(headers.accept);
    },
    responseMasking: (facts, session) => {
      const context = masked(facts, session);
      return context && objectMasking(context, facts.verb === "watch" ? "lines" : "whole");
    },
    // Masking rules describe API objects; a terminal's bytes are not one. A rule that allows exec allows reading what the container prints.
    streamMasker: () => UNMASKED,
    messageContent: channelContent,
  };
}
