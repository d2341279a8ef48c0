// The Portcullis API on a real kube-apiserver: the CRDs install, document
// themselves, accept the examples, reject invalid objects with the messages
// the schema promises, keep status and spec apart, and print useful tables.
import { setTimeout as sleep } from "node:timers/promises";
import { CRD_DIR, EXAMPLES_DIR, readManifests, REFERENCE_DIR, type KubeObject } from "@portcullis/crds";
import { isAbsolute, join } from "node:path";
import { stringify } from "yaml";
import { kubectl, kubectlOk } from "./jest/environment.js";

const NAMESPACE = "crds-e2e";
const CRD_NAMES = ["accesspolicies.portcullis.dev", "approvalrequests.portcullis.dev", "resources.portcullis.dev"];

function example(file: string, kind: string): KubeObject {
  const found = readManifests(isAbsolute(file) ? file : join(EXAMPLES_DIR, file)).find((object) => object.kind === kind);
  if (!found) throw new Error(`${file} has no ${kind}`);
  return structuredClone(found);
}

type Json = Record<string, unknown>;

/**
 * An example object with its spec changed, named so each case is its own object.
 * Keys of `changes` are dotted paths under spec ("rules.3.approval.timeout");
 * undefined deletes the field.
 */
function variant(file: string, kind: string, name: string, changes: Record<string, unknown> = {}): KubeObject {
  const object = example(file, kind);
  object.metadata = { name };
  for (const [path, value] of Object.entries(changes)) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    const parent = keys.reduce((node: Json, key) => (node[key] ??= {}) as Json, object.spec as Json);
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  }
  return object;
}

const apply = (object: KubeObject | KubeObject[]): ReturnType<typeof kubectl> =>
  kubectl(["apply", "-n", NAMESPACE, "-f", "-"], {
    stdin: (Array.isArray(object) ? object : [object]).map((o) => stringify(o)).join("---\n"),
  });

beforeAll(async () => {
  await kubectlOk(["apply", "-f", CRD_DIR]);
  await kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", "--recursive=false", "-f", CRD_DIR]);
  // The API server publishes a new CRD's OpenAPI (what `kubectl explain` reads) a moment after Established.
  for (let attempt = 0; attempt < 120 && (await kubectl(["explain", "resources.portcullis.dev"])).code !== 0; attempt++) await sleep(250);
  await kubectlOk(["create", "namespace", NAMESPACE]);
});

describe("installation", () => {
  it("establishes all three CRDs with their names accepted", async () => {
    const out = await kubectlOk(["get", "crd", ...CRD_NAMES, "-o", "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Established\")].status} {.status.conditions[?(@.type==\"NamesAccepted\")].status}{\"\\n\"}{end}"]);
    expect(out.trim().split("\n").sort()).toEqual(CRD_NAMES.map((name) => `${name} True True`));
  });

  it("answers to short names and the portcullis category", async () => {
    for (const shortName of ["pres", "apol", "apr"]) await kubectlOk(["get", shortName, "-n", NAMESPACE]);
    const resources = await kubectlOk(["api-resources", "--api-group=portcullis.dev", "-o", "name", "--categories=portcullis"]);
    expect(resources.trim().split("\n").sort()).toEqual(CRD_NAMES);
  });
});

describe("kubectl explain", () => {
  it.each([
    ["resource.spec.transparent", "iptables rules that redirect the pod's"],
    ["accesspolicy.spec.rules.approval.timeout", "between 10s and 24h"],
    ["accesspolicy.spec.masking.strategy", "keyed HMAC"],
    ["approvalrequest.status.decidedBy", "as the API server authenticated them"],
    ["approvalrequest", "A listed reviewer decides with"],
  ])("%s shows its description", async (field, text) => {
    const out = await kubectlOk(["explain", field]);
    expect(out.replace(/\s+/g, " ")).toContain(text);
  });
});

describe("example manifests", () => {
  it("are all accepted and stored", async () => {
    await kubectlOk(["apply", "-n", NAMESPACE, "-f", EXAMPLES_DIR]);
    const stored = await kubectlOk(["get", "portcullis", "-n", NAMESPACE, "-o", "name"]);
    expect(stored.trim().split("\n").sort()).toEqual([
      "accesspolicy.portcullis.dev/no-destructive-changes",
      "accesspolicy.portcullis.dev/support-bot-read-only",
      "accesspolicy.portcullis.dev/support-bot-tools",
      "resource.portcullis.dev/billing-api",
      "resource.portcullis.dev/cluster-api",
      "resource.portcullis.dev/orders-db",
      "resource.portcullis.dev/support-tools",
    ]);
  });

  it("get their defaults filled in by the API server", async () => {
    const defaults = await kubectlOk(["get", "resource/billing-api", "-n", NAMESPACE, "-o", "jsonpath={.spec.transparent} {.spec.endpoint.tls.mode} {.spec.credentials.tokenKey}"]);
    expect(defaults).toBe("false  token");
    const tls = await kubectlOk(["get", "resource/cluster-api", "-n", NAMESPACE, "-o", "jsonpath={.spec.endpoint.tls.mode}"]);
    expect(tls).toBe("verify-full");
  });
});

const PG = "postgres-resource.yaml";
const POLICY = "no-destructive-changes-policy.yaml";
const APPROVAL = join(REFERENCE_DIR, "approvalrequest.yaml");

const invalid: [string, KubeObject, string][] = [
  ["an unknown protocol", variant(PG, "Resource", "bad-protocol", { protocol: "mysql" }), 'Unsupported value: "mysql"'],
  ["a missing endpoint", variant(PG, "Resource", "no-endpoint", { endpoint: undefined }), "spec.endpoint: Required value"],
  ["a privileged listener port", variant(PG, "Resource", "low-port", { "listener.port": 80 }), "spec.listener.port: Invalid value: 80: spec.listener.port in body should be greater than or equal to 1024"],
  ["http settings on a postgres Resource", variant(PG, "Resource", "mixed", { "http.credentialHeader.name": "X-Key" }), "spec.http may only be set when spec.protocol is http"],
  ["a transparent Resource that would redirect to itself", variant(PG, "Resource", "loop", { "listener.port": 5432 }), "redirected traffic would loop"],
  ["an http Resource with credentials but no header", variant("http-resource.yaml", "Resource", "no-header", { http: undefined }), "must set spec.http.credentialHeader"],
  ["mcp settings on an http Resource", variant("http-resource.yaml", "Resource", "http-mcp", { mcp: { unpinnedTools: "refuse" } }), "spec.mcp may only be set when spec.protocol is mcp"],
  ["an mcp Resource with credentials but no header", variant("mcp-resource.yaml", "Resource", "mcp-no-header", { http: undefined }), "an http or mcp Resource with credentials must set spec.http.credentialHeader"],
  ["a tool pin that is not a sha256", variant("mcp-resource.yaml", "Resource", "bad-pin", { "mcp.toolPins.0.fingerprint": "md5:abc" }), 'spec.mcp.toolPins[0].fingerprint: Invalid value: "md5:abc"'],
  ["two pins for one tool", variant("mcp-resource.yaml", "Resource", "two-pins", { "mcp.toolPins.1": { name: "refund_order", fingerprint: `sha256:${"0".repeat(64)}` } }), "Duplicate value"],
  [
    "an mcp rule naming tools and resources",
    variant("mcp-tools-policy.yaml", "AccessPolicy", "tools-and-resources", { "rules.1.match.mcp.resources": ["file:///*"] }),
    "match.mcp names tools, resources or prompts, not more than one of them",
  ],
  ["a kubernetes Resource without credentials", variant("kubernetes-resource.yaml", "Resource", "no-credentials", { credentials: undefined }), "a kubernetes Resource needs spec.credentials"],
  [
    "a client certificate without its key",
    variant("kubernetes-resource.yaml", "Resource", "cert-no-key", { "credentials.clientCertificateKey": "tls.crt" }),
    "clientCertificateKey and clientKeyKey are set together",
  ],
  [
    "a client certificate for a postgres backend",
    variant(PG, "Resource", "pg-cert", { "credentials.clientCertificateKey": "tls.crt", "credentials.clientKeyKey": "tls.key" }),
    "clientCertificateKey is only presented to kubernetes backends",
  ],
  [
    "non-resource paths combined with resources",
    variant("api-readonly-policy.yaml", "AccessPolicy", "paths-and-resources", { "rules.3.match.kubernetes.paths": ["/version"] }),
    "match.kubernetes.paths names non-resource requests",
  ],
  ["a requireApproval rule without approval", variant(POLICY, "AccessPolicy", "no-approval", { "rules.3.approval": undefined }), "a requireApproval rule must set approval (reviewers and timeout)"],
  ["approval settings on a deny rule", variant(POLICY, "AccessPolicy", "deny-approval", { "rules.0.approval": { reviewers: { users: ["bob"] }, timeout: "5m" } }), "only requireApproval rules may set it"],
  ["an approval without reviewers", variant(POLICY, "AccessPolicy", "no-reviewers", { "rules.3.approval.reviewers": { users: [] } }), "approval.reviewers must name at least one user or group"],
  ["an approval timeout over 24h", variant(POLICY, "AccessPolicy", "long-timeout", { "rules.3.approval.timeout": "48h" }), "approval.timeout must be between 10s and 24h"],
  ["an approval timeout that is not a duration", variant(POLICY, "AccessPolicy", "bad-timeout", { "rules.3.approval.timeout": "soon" }), 'spec.rules[3].approval.timeout: Invalid value: "soon"'],
  ["a window grant without its window", variant(POLICY, "AccessPolicy", "no-window", { "rules.3.approval.grantScope": "window" }), "grantWindow must be set when grantScope is window"],
  ["two rules with the same name", variant(POLICY, "AccessPolicy", "dup-rules", { "rules.1.name": "block-drop-and-truncate" }), 'spec.rules[1]: Duplicate value: {"name":"block-drop-and-truncate"}'],
  ["a rule matching two protocols", variant(POLICY, "AccessPolicy", "two-protocols", { "rules.0.match.http": { methods: ["GET"] } }), "match must set exactly one of sql, http, kubernetes or mcp"],
  ["an unknown SQL command", variant(POLICY, "AccessPolicy", "bad-command", { "rules.0.match.sql.commands": ["DESTROY"] }), 'Unsupported value: "DESTROY"'],
  ["a policy with no subjects", variant(POLICY, "AccessPolicy", "no-subjects", { subjects: {} }), "subjects must set at least one of podSelector, serviceAccounts or oidc"],
  ["an In selector without values", variant(POLICY, "AccessPolicy", "bad-selector", { "subjects.podSelector": { matchExpressions: [{ key: "app", operator: "In" }] } }), "values must be non-empty for In and NotIn"],
  ["partial masking without keepLast", variant(POLICY, "AccessPolicy", "no-keep", { "masking.0.keepLast": undefined }), "keepLast must be set when strategy is partial"],
  ["hash masking without a key", variant(POLICY, "AccessPolicy", "no-key", { "masking.0.strategy": "hash", "masking.0.keepLast": undefined }), "hashKeyRef must be set when strategy is hash"],
  ["a misspelt field", variant(POLICY, "AccessPolicy", "typo", { defaultActon: "allow" }), 'unknown field "spec.defaultActon"'],
  ["an ApprovalRequest with a malformed fingerprint", variant(APPROVAL, "ApprovalRequest", "bad-fp", { fingerprint: "md5:abc" }), 'spec.fingerprint: Invalid value: "md5:abc"'],
  ["an ApprovalRequest without reviewers", variant(APPROVAL, "ApprovalRequest", "nobody", { reviewers: {} }), "reviewers must name at least one user or group"],
];

describe("invalid manifests", () => {
  it.each(invalid)("rejects %s", async (_case, object, message) => {
    const result = await apply(object);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
    const stored = await kubectl(["get", `${object.kind.toLowerCase()}/${object.metadata.name}`, "-n", NAMESPACE]);
    expect(stored.stderr).toContain("NotFound");
  });
});

describe("status subresource", () => {
  const condition = {
    type: "Ready",
    status: "False",
    reason: "SecretNotFound",
    message: "Secret billing-api-token not found",
    observedGeneration: 1,
    lastTransitionTime: "2026-11-25T10:00:00Z",
  };

  it("takes status through --subresource=status, and a spec update leaves it untouched", async () => {
    const object = variant("http-resource.yaml", "Resource", "status-split");
    expect((await apply(object)).code).toBe(0);
    const ref = ["resource/status-split", "-n", NAMESPACE];
    await kubectlOk(["patch", ...ref, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status: { observedGeneration: 1, conditions: [condition] } })]);

    await kubectlOk(["patch", ...ref, "--type=merge", "-p", JSON.stringify({ spec: { listener: { port: 18081 } }, status: { conditions: [] } })]);
    const after = JSON.parse(await kubectlOk(["get", ...ref, "-o", "json"])) as { metadata: { generation: number }; spec: { listener: { port: number } }; status: unknown };
    expect(after.metadata.generation).toBe(2);
    expect(after.spec.listener.port).toBe(18081);
    expect(after.status).toEqual({ observedGeneration: 1, conditions: [condition] });
  });

  it("ignores status written through the main resource", async () => {
    const object = { ...variant(PG, "Resource", "status-on-create"), status: { observedGeneration: 7 } };
    expect((await apply(object)).code).toBe(0);
    expect(await kubectlOk(["get", "resource/status-on-create", "-n", NAMESPACE, "-o", "jsonpath={.status}"])).toBe("");
  });
});

describe("ApprovalRequest decisions", () => {
  const decide = (name: string, status: Record<string, unknown>): ReturnType<typeof kubectl> =>
    kubectl(["patch", `approvalrequest/${name}`, "-n", NAMESPACE, "--subresource=status", "--type=merge", "-p", JSON.stringify({ status })]);
  const approved = { phase: "Approved", reason: "refund agreed with finance", decidedAt: "2026-11-25T10:05:00Z", decidedBy: { username: "alice" } };

  beforeAll(async () => {
    const requests = ["decided", "undated", "immutable"].map((name) => variant(APPROVAL, "ApprovalRequest", name));
    expect((await apply(requests)).code).toBe(0);
  });

  it("records a decision, which is then final", async () => {
    expect((await decide("decided", { phase: "Pending" })).code).toBe(0);
    expect((await decide("decided", approved)).code).toBe(0);
    expect(await kubectlOk(["get", "apr/decided", "-n", NAMESPACE, "-o", "jsonpath={.status.phase} {.status.decidedBy.username}"])).toBe("Approved alice");

    for (const change of [{ phase: "Pending" }, { phase: "Denied" }, { reason: "changed my mind" }]) {
      const result = await decide("decided", change);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("a decision is final");
    }
  });

  it("refuses a decision without a decision time", async () => {
    const result = await decide("undated", { phase: "Denied" });
    expect(result.stderr).toContain("status.decidedAt must be set once status.phase is Approved, Denied or Expired");
  });

  it("refuses changes to the request itself", async () => {
    const result = await kubectl(["patch", "apr/immutable", "-n", NAMESPACE, "--type=merge", "-p", JSON.stringify({ spec: { summary: "SELECT 1" } })]);
    expect(result.stderr).toContain("spec is immutable");
  });
});

describe("printer columns", () => {
  const header = async (kind: string, wide = false): Promise<string[]> => {
    const out = await kubectlOk(["get", kind, "-n", NAMESPACE, ...(wide ? ["-o", "wide"] : [])]);
    return (out.split("\n")[0] ?? "").trim().split(/\s{2,}/);
  };

  it("shows what a reviewer needs in `kubectl get approvalrequests`", async () => {
    expect(await header("approvalrequests")).toEqual(["NAME", "REQUESTER", "RESOURCE", "SUMMARY", "PHASE", "EXPIRES", "AGE"]);
    expect(await header("approvalrequests", true)).toContain("REVIEWER");
    const row = await kubectlOk(["get", "apr/decided", "-n", NAMESPACE, "--no-headers", "-o", "wide"]);
    for (const cell of ["system:serviceaccount:agents:report-bot", "orders-db", "UPDATE orders SET status", "Approved", "alice", "2030-01-01T00:15:00Z"]) {
      expect(row).toContain(cell);
    }
  });

  it("shows Resources and AccessPolicies with their readiness", async () => {
    expect(await header("resources")).toEqual(["NAME", "PROTOCOL", "HOST", "PORT", "LISTENER", "TRANSPARENT", "READY", "AGE"]);
    expect(await header("accesspolicies")).toEqual(["NAME", "RESOURCES", "DEFAULT", "READY", "REASON", "AGE"]);
    const row = await kubectlOk(["get", "resource/status-split", "-n", NAMESPACE, "--no-headers"]);
    expect(row.split(/\s+/).slice(0, 7)).toEqual(["status-split", "http", "billing.internal.example.com", "443", "18081", "false", "False"]);
  });
});
