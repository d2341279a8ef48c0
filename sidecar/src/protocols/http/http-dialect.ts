// The http protocol's dialect: rules see the method, canonical path, host,
// headers, query and (when a rule reads it) the JSON body; refusals are a
// small JSON object; an upgrade passes only when the rule that allowed it
// names the Upgrade header; a response under masking is read whole and
// masked as JSON or text.
import type { HttpFacts } from "@portcullis/common/policy/cel";
import type { Dispatcher } from "undici";
import type { BodyMasker } from "../../masking/body-masking.js";
import type { Decision } from "../../policy/engine.js";
import type { DialectRequest, HttpDialect, ResponseMasking } from "./dialect.js";
import { HTTP_MATCHER } from "./http-match.js";
import { jsonRefusal } from "./responses.js";

export const isJson = (contentType: string | undefined): boolean => /^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(contentType ?? "");
const isText = (contentType: string | undefined): boolean => /^text\//i.test(contentType ?? "");

/** A charset other than UTF-8 (or none) would be read differently by the backend than by the gateway. */
export const nonUtf8 = (contentType: string | undefined): boolean => {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? "")?.[1];
  return charset !== undefined && !/^utf-?8$/i.test(charset);
};

export function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Why a response cannot be masked as it is, if so: compressed, a range, not UTF-8, or not of `maskable` type. */
export function unmaskableResponse(response: Dispatcher.ResponseData, maskable: (contentType: string | undefined) => boolean): string | undefined {
  const contentType = firstValue(response.headers["content-type"]);
  const encoding = firstValue(response.headers["content-encoding"]);
  if (encoding !== undefined && encoding.toLowerCase() !== "identity") return `it is compressed (${encoding})`;
  if (response.statusCode === 206) return "it is a partial range of a body";
  if (nonUtf8(contentType)) return `its charset is not UTF-8 (${contentType ?? ""})`;
  if (!maskable(contentType)) return `a ${contentType ?? "body without a Content-Type"} cannot be masked`;
  return undefined;
}

/** The body as rules read it: parsed JSON, null when empty or not JSON; a string when declared JSON does not parse. */
function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0 || !isJson(contentType)) return null;
  try {
    return JSON.parse(body.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

function bodyMasking(masker: BodyMasker): ResponseMasking {
  return {
    framing: "whole",
    unmaskable: (response) => unmaskableResponse(response, (type) => isJson(type) || (isText(type) && masker.masksText)),
    mask: (text, contentType) => {
      if (!isJson(contentType)) return masker.maskText(text) ?? "it is not JSON and a masking rule names only JSON paths";
      let document: { value: unknown };
      try {
        document = { value: JSON.parse(text) as unknown };
      } catch {
        return "masking rules apply and it says it is JSON but does not parse";
      }
      const counts = masker.maskJson(document);
      return { text: JSON.stringify(document.value), counts };
    },
  };
}

/** Upgrades pass only as a GET and when the rule that allowed them names the Upgrade header: an allow written for plain requests does not open a tunnel. */
function upgradeRefusal(rules: ReadonlySet<string>) {
  return (_facts: HttpFacts, decision: Decision, request: DialectRequest): string | undefined => {
    if (request.method !== "GET") return `a protocol upgrade must be a GET, not ${request.method}`;
    return rules.has(`${decision.policy}/${decision.rule}`)
      ? undefined
      : `protocol upgrades (${request.req.headers.upgrade ?? ""}) are relayed only when the rule that allows them names the Upgrade header in match.http.headers`;
  };
}

/** The dialect for one http Resource; `upgradeRules` are the "policy/rule" names whose match names the Upgrade header. */
export function httpDialect(factsHost: string, upgradeRules: ReadonlySet<string>): HttpDialect<HttpFacts> {
  return {
    protocol: "http",
    matcher: HTTP_MATCHER,
    encodeRefusal: jsonRefusal,
    facts: (request, body) => {
      const query: Record<string, string[]> = {};
      for (const [name, value] of request.target.query) (query[name] ??= []).push(value);
      // Upgrade is hop-by-hop, never forwarded as a header, but a rule must see it to allow a WebSocket.
      const upgrade = request.req.headers.upgrade;
      const headers = upgrade === undefined ? request.headers : { ...request.headers, upgrade };
      const facts: HttpFacts = { method: request.method, path: request.target.path, host: factsHost, headers, query };
      if (body === undefined) return facts;
      const parsed = parseJsonBody(body, request.req.headers["content-type"]);
      // Declared JSON that does not parse: a backend's lenient parser could read something the policy did not.
      if (parsed === undefined) return "the request body says it is JSON but does not parse";
      return { ...facts, body: parsed };
    },
    bodyProblem: (request) => {
      const encoding = request.req.headers["content-encoding"];
      if (encoding !== undefined && encoding.toLowerCase() !== "identity") return `the request body is encoded (${encoding}), and a rule must read it: send it unencoded`;
      if (nonUtf8(request.req.headers["content-type"])) return `the request body's charset is not UTF-8 (${request.req.headers["content-type"] ?? ""}), and a rule must read it`;
      return undefined;
    },
    summary: (_facts, request) => `${request.method} ${request.target.path}`,
    upgradeRefusal: upgradeRefusal(upgradeRules),
    responseMasking: (_facts, session) => (session.masker.active ? bodyMasking(session.masker) : undefined),
  };
}
