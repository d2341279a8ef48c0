// What the broker sends, checked before the gateway uses it. The broker is
// trusted, but a truncated line, a version skew or a proxy's error page must
// become a clear error rather than a crash deep in the policy engine, so
// every answer is checked against the shape server.ts produces.
import type { ApprovalView } from "@portcullis/common/approvals";
import { specProblems } from "./admission.js";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { BrokerError } from "./broker-error.js";
import { isPlainObject } from "./crd-schema.js";

/** One line of GET /v1/config?watch=true. */
export type WatchEvent =
  | { type: "config"; bundle: ConfigBundle }
  | { type: "heartbeat" }
  | { type: "reconnect"; reason: string }
  | { type: "error"; error: BrokerError };

export interface ApprovalCreated {
  name: string;
  namespace: string;
  expiresAt: string;
}

const isString = (value: unknown): value is string => typeof value === "string";
const isStringMap = (value: unknown): value is Record<string, string> => isPlainObject(value) && Object.values(value).every(isString);
const IDENTITY_FIELDS = ["username", "uid", "namespace", "serviceAccount", "podName", "podUid"] as const;

function problem(condition: boolean, message: string): string[] {
  return condition ? [] : [message];
}

function identityProblems(identity: unknown): string[] {
  if (!isPlainObject(identity)) return ["identity: must be an object"];
  return [
    ...IDENTITY_FIELDS.flatMap((field) => problem(isString(identity[field]), `identity.${field}: must be a string`)),
    ...problem(Array.isArray(identity.groups) && identity.groups.every(isString), "identity.groups: must be a list of strings"),
  ];
}

function specErrors(kind: "Resource" | "AccessPolicy", spec: unknown, at: string): string[] {
  return specProblems(kind, spec).map((error) => `${at}.${error.field}: ${error.message}`);
}

function recordingProblems(recording: unknown, at: string): string[] {
  if (recording === undefined) return [];
  const valid = isPlainObject(recording) && isStringMap(recording.store) && (recording.credentials === undefined || isStringMap(recording.credentials));
  return problem(valid, `${at}.recording: must hold a store map and optional credentials map of strings`);
}

function policyProblems(policy: unknown, index: number): string[] {
  const at = `policies[${index}]`;
  if (!isPlainObject(policy)) return [`${at}: must be an object`];
  return [
    ...problem(isString(policy.name), `${at}.name: must be a string`),
    ...specErrors("AccessPolicy", policy.spec, at),
    ...problem(policy.hashKeys === undefined || isStringMap(policy.hashKeys), `${at}.hashKeys: must be a map of strings`),
    ...recordingProblems(policy.recording, at),
    ...problem(policy.error === undefined || isString(policy.error), `${at}.error: must be a string`),
  ];
}

function credentialsValid(credentials: unknown): boolean {
  if (credentials === undefined) return true;
  if (!isPlainObject(credentials)) return false;
  return (
    isString(credentials.token) ||
    (isString(credentials.username) && isString(credentials.password)) ||
    (isString(credentials.clientCertificate) && isString(credentials.clientKey))
  );
}

function resourceProblems(resource: unknown, index: number): string[] {
  const at = `resources[${index}]`;
  if (!isPlainObject(resource)) return [`${at}: must be an object`];
  return [
    ...problem(isString(resource.name), `${at}.name: must be a string`),
    // The broker leaves spec out only for a Resource that does not exist, and then says so in error.
    ...(resource.spec === undefined ? problem(isString(resource.error), `${at}: has neither spec nor error`) : specErrors("Resource", resource.spec, at)),
    ...problem(credentialsValid(resource.credentials), `${at}.credentials: must be {username, password}, {token} or {clientCertificate, clientKey}`),
    ...problem(resource.caBundle === undefined || isString(resource.caBundle), `${at}.caBundle: must be a string`),
    ...problem(resource.error === undefined || isString(resource.error), `${at}.error: must be a string`),
  ];
}

const listProblems = (value: unknown, name: string, check: (item: unknown, index: number) => string[]): string[] =>
  Array.isArray(value) ? value.flatMap((item: unknown, index) => check(item, index)) : [`${name}: must be a list`];

/** A configuration bundle (GET /v1/config), or an Error naming every field that is wrong. */
export function parseConfigBundle(value: unknown): ConfigBundle {
  if (!isPlainObject(value)) throw new Error("not a configuration bundle: expected a JSON object");
  const problems = [
    ...problem(isString(value.revision) && /^sha256:[0-9a-f]{64}$/.test(value.revision), "revision: must be sha256: and 64 hex digits"),
    ...identityProblems(value.identity),
    ...listProblems(value.policies, "policies", policyProblems),
    ...listProblems(value.resources, "resources", resourceProblems),
  ];
  if (problems.length) throw new Error(`not a valid configuration bundle: ${problems.join("; ")}`);
  return value as unknown as ConfigBundle;
}

function parseJson(line: string, what: string): unknown {
  try {
    return JSON.parse(line) as unknown;
  } catch {
    throw new Error(`${what} is not JSON: ${line.length > 80 ? `${line.slice(0, 80)}…` : line}`);
  }
}

/** One NDJSON line of the configuration stream; an Error for a line that is none of the events server.ts writes. */
export function parseWatchEvent(line: string): WatchEvent {
  const event = parseJson(line, "a configuration stream line");
  if (!isPlainObject(event)) throw new Error("a configuration stream line is not a JSON object");
  switch (event.type) {
    case "config":
      return { type: "config", bundle: parseConfigBundle(event.config) };
    case "heartbeat":
      return { type: "heartbeat" };
    case "reconnect":
      return { type: "reconnect", reason: isString(event.reason) ? event.reason : "the broker asked to reconnect" };
    case "error": {
      const status = typeof event.status === "number" ? event.status : undefined;
      return { type: "error", error: new BrokerError(status, isString(event.error) ? event.error : "the broker ended the stream with an error") };
    }
    default:
      throw new Error(`a configuration stream line has unknown type ${JSON.stringify(event.type)}`);
  }
}

/** The answer to POST /v1/approvals. */
export function parseApprovalCreated(value: unknown): ApprovalCreated {
  if (isPlainObject(value) && isString(value.name) && value.name !== "" && isString(value.namespace) && isString(value.expiresAt) && !Number.isNaN(Date.parse(value.expiresAt))) {
    return { name: value.name, namespace: value.namespace, expiresAt: value.expiresAt };
  }
  throw new Error("the broker's answer to an approval request lacks name, namespace or a valid expiresAt");
}

const PHASES = new Set(["Pending", "Approved", "Denied", "Expired"]);
const GRANT_SCOPES = new Set(["once", "session", "window"]);

const optional = (value: unknown, check: (value: unknown) => boolean): boolean => value === undefined || check(value);

/** The answer to GET /v1/approvals/NAME. */
export function parseApprovalView(value: unknown): ApprovalView {
  if (!isPlainObject(value)) throw new Error("the broker's approval status is not a JSON object");
  const problems = [
    ...problem(isString(value.name) && isString(value.namespace), "name and namespace must be strings"),
    ...problem(PHASES.has(value.phase as string), `phase ${JSON.stringify(value.phase)} is not Pending, Approved, Denied or Expired`),
    ...problem(GRANT_SCOPES.has(value.grantScope as string), `grantScope ${JSON.stringify(value.grantScope)} is not once, session or window`),
    ...problem(isString(value.expiresAt) && !Number.isNaN(Date.parse(value.expiresAt)), "expiresAt must be a time"),
    ...problem(isString(value.fingerprint), "fingerprint must be a string"),
    ...problem(optional(value.reason, isString) && optional(value.grantWindow, isString), "reason and grantWindow must be strings"),
    ...problem(optional(value.decidedBy, (by) => isPlainObject(by) && isString(by.username)), "decidedBy must name a username"),
  ];
  if (problems.length) throw new Error(`the broker's approval status is not valid: ${problems.join("; ")}`);
  return value as unknown as ApprovalView;
}
