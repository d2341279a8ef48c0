// What distinguishes one HTTP-borne protocol from another while the listener
// and the exchange stay the same: the facts rules see (an HTTP request's
// method, path and headers; a Kubernetes API request's verb, resource and
// namespace), how a refusal is written (a small JSON object; a Kubernetes
// Status), which upgrades may pass, what the backend gets besides the
// agent's headers, and how a response is masked (a whole body; a watch
// stream event by event).
import type http from "node:http";
import type { MessageData, RequestData } from "@portcullis/common/evidence/record";
import type { IdentityFacts } from "@portcullis/common/policy/cel";
import type { Dispatcher } from "undici";
import type { BodyMasker } from "../../masking/body-masking.js";
import type { Decision } from "../../policy/engine.js";
import type { ProtocolMatcher } from "../../policy/protocol-matcher.js";
import type { CanonicalTarget } from "./request-target.js";
import type { RefusalEncoder } from "./responses.js";
import type { RelayOutcome, UpgradeRelay } from "./upgrade.js";

/** What a dialect sees of a request. */
export interface DialectRequest {
  req: http.IncomingMessage;
  /** Upper case. */
  method: string;
  target: CanonicalTarget;
  /** The end-to-end headers without the agent's credentials (forwardedRequestHeaders). */
  headers: Record<string, string>;
}

export type MaskedText = { text: string; counts: Record<string, number> };

/** How responses to one request are masked. */
export interface ResponseMasking {
  /** Why this response cannot be masked as it is (compressed, a range, a type without masking), if so. */
  unmaskable(response: Dispatcher.ResponseData): string | undefined;
  /** whole: the body is read (up to the cap), masked and sent; lines: newline-delimited JSON masked and sent line by line as it arrives. */
  framing: "whole" | "lines";
  /** The masked text, or why it is withheld. */
  mask(text: string, contentType: string | undefined): MaskedText | string;
}

export interface DialectSession {
  identity: IdentityFacts;
  id: string;
  masker: BodyMasker;
}

export interface HttpDialect<F> {
  readonly protocol: "http" | "kubernetes";
  readonly matcher: ProtocolMatcher<F>;
  /** How refusals are written for this protocol's clients. */
  readonly encodeRefusal: RefusalEncoder;
  /** The request's facts (with its parsed body when one was read), or why they cannot be known: the request is then refused and recorded. */
  facts(request: DialectRequest, body: Buffer | undefined): F | string;
  /** Whether this request's facts depend on its body whatever the rules read (a Kubernetes DELETE's options). */
  factsNeedBody?(request: DialectRequest): boolean;
  /** Why the body a rule must read cannot be read as the backend will, if so. */
  bodyProblem?(request: DialectRequest): string | undefined;
  /** One line for evidence, approvals and logs, e.g. "GET /v1/customers/7" or "delete deployments web in prod". */
  summary(facts: F, request: DialectRequest): string;
  /** The protocol's details in the request record, beside the http ones. */
  details?(facts: F): Partial<RequestData>;
  /** Why an allowed protocol upgrade must still not pass, if so. */
  upgradeRefusal(facts: F, decision: Decision, request: DialectRequest): string | undefined;
  /** Why the request must be refused before it is decided (e.g. it asks the backend to act as someone else), if so. */
  requestProblem?(request: DialectRequest): string | undefined;
  /** Changes to the headers the backend gets, after the credential is set; `masking`: the response will be masked (responseMasking gave one). */
  upstreamHeaders?(headers: Record<string, string>, facts: F, session: DialectSession, masking: boolean): void;
  /** How the response is masked; undefined: it streams through untouched. */
  responseMasking(facts: F, session: DialectSession): ResponseMasking | undefined;
  /** The masker of an upgraded stream's messages; the session's when absent. */
  streamMasker?(session: DialectSession): BodyMasker;
  /** How a stream's messages are recorded beyond their size, by the subprotocol the backend chose. */
  readonly messageContent?: (subprotocol: string | undefined) => MessageContent | undefined;
  /** The relay of an allowed upgrade that is not a WebSocket (Kubernetes streams over SPDY); WebSocket when absent. */
  readonly upgradeRelay?: (request: DialectRequest) => ((relay: UpgradeRelay) => Promise<RelayOutcome>) | undefined;
}

/** What a stream message's record says about its payload (its channel and text). */
export type MessageContent = (payload: Buffer) => Pick<MessageData, "channel" | "text" | "truncated">;
