import { describe, expect, it } from "@jest/globals";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { EXAMPLES_DIR } from "@portcullis/crds";
import { BrokerError } from "./broker-error.js";
import { parseApprovalCreated, parseApprovalView, parseConfigBundle, parseWatchEvent } from "./broker-responses.js";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { bundleFromManifests } from "./manifests.js";

const identity = { username: "u", uid: "", groups: [], namespace: "default", serviceAccount: "", podName: "p", podUid: "1" };
const text = ["postgres-resource.yaml", "evidence-store.yaml", "no-destructive-changes-policy.yaml"].map((file) => readFileSync(join(EXAMPLES_DIR, file), "utf8")).join("\n---\n");
/** A real bundle, as the broker would serialise it. */
const bundle = JSON.parse(JSON.stringify(bundleFromManifests(text, "t.yaml", identity))) as ConfigBundle;

/** A copy of the bundle with one change; Object.assign lets the change break the types, as a bad answer would. */
const withChange = (change: (copy: ConfigBundle) => void): unknown => {
  const copy = structuredClone(bundle);
  change(copy);
  return copy;
};

describe("parseConfigBundle", () => {
  it("accepts what the broker sends", () => {
    expect(parseConfigBundle(bundle)).toEqual(bundle);
  });

  it.each([
    ["not an object", [], "not a configuration bundle: expected a JSON object"],
    ["a bad revision", withChange((b) => (b.revision = "1")), "revision: must be sha256: and 64 hex digits"],
    ["identity without groups", withChange((b) => Object.assign(b.identity, { groups: undefined })), "identity.groups: must be a list of strings"],
    ["policies that are not a list", withChange((b) => Object.assign(b, { policies: {} })), "policies: must be a list"],
    ["a policy spec that breaks the schema", withChange((b) => Object.assign(b.policies[0]?.spec.rules?.[0] ?? {}, { action: "maybe" })), 'policies[0].spec.rules[0].action: must be one of "allow", "deny", "requireApproval"'],
    ["a Resource spec that breaks the schema", withChange((b) => Object.assign(b.resources[0]?.spec?.endpoint ?? {}, { port: "5432" })), "resources[0].spec.endpoint.port: must be integer"],
    ["a Resource with neither spec nor error", withChange((b) => Object.assign(b.resources[0] ?? {}, { spec: undefined })), "resources[0]: has neither spec nor error"],
    ["half a credential", withChange((b) => Object.assign(b.resources[0] ?? {}, { credentials: { username: "a" } })), "resources[0].credentials: must be {username, password}, {token} or {clientCertificate, clientKey}"],
    ["hash keys that are not strings", withChange((b) => Object.assign(b.policies[0] ?? {}, { hashKeys: { k: 1 } })), "policies[0].hashKeys: must be a map of strings"],
  ])("refuses %s", (_case, value, message) => {
    expect(() => parseConfigBundle(value)).toThrow(message);
  });
});

describe("parseWatchEvent", () => {
  it.each([
    [JSON.stringify({ type: "config", config: bundle }), { type: "config", bundle }],
    ['{"type":"heartbeat"}', { type: "heartbeat" }],
    ['{"type":"reconnect","reason":"the broker is shutting down"}', { type: "reconnect", reason: "the broker is shutting down" }],
  ])("reads %s", (line, event) => {
    expect(parseWatchEvent(line)).toEqual(event);
  });

  it("turns an error line into a BrokerError with the broker's status and message", () => {
    const event = parseWatchEvent('{"type":"error","status":403,"error":"pod agents/x no longer exists"}');
    expect(event.type).toBe("error");
    const error = (event as { error: BrokerError }).error;
    expect(error).toBeInstanceOf(BrokerError);
    expect([error.status, error.message, error.transient]).toEqual([403, "pod agents/x no longer exists", false]);
  });

  it.each([
    ["{not json", "a configuration stream line is not JSON: {not json"],
    ["[1]", "a configuration stream line is not a JSON object"],
    ['{"type":"gossip"}', 'a configuration stream line has unknown type "gossip"'],
    ['{"type":"config","config":{"revision":"x"}}', "not a valid configuration bundle: revision"],
  ])("refuses %s", (line, message) => {
    expect(() => parseWatchEvent(line)).toThrow(message);
  });
});

describe("approval answers", () => {
  const view = { name: "pod-abc12", namespace: "agents", phase: "Approved", decidedBy: { username: "alice" }, reason: "ok", expiresAt: "2030-01-01T00:15:00Z", fingerprint: "sha256:00", grantScope: "window", grantWindow: "1h" };

  it("reads an ApprovalView and a created request", () => {
    expect(parseApprovalView(view)).toEqual(view);
    expect(parseApprovalCreated({ name: "pod-abc12", namespace: "agents", expiresAt: "2030-01-01T00:15:00Z" })).toEqual({ name: "pod-abc12", namespace: "agents", expiresAt: "2030-01-01T00:15:00Z" });
  });

  it.each([
    [{ ...view, phase: "Maybe" }, 'phase "Maybe" is not Pending, Approved, Denied or Expired'],
    [{ ...view, grantScope: "forever" }, 'grantScope "forever" is not once, session or window'],
    [{ ...view, expiresAt: "soon" }, "expiresAt must be a time"],
    [{ ...view, decidedBy: "alice" }, "decidedBy must name a username"],
  ])("refuses an ApprovalView with %j", (value, message) => {
    expect(() => parseApprovalView(value)).toThrow(message);
  });

  it("refuses a created request without a name", () => {
    expect(() => parseApprovalCreated({ namespace: "agents", expiresAt: "2030-01-01T00:15:00Z" })).toThrow("lacks name");
  });
});
