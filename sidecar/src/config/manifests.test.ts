import { describe, expect, it } from "@jest/globals";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1ConfigMap, V1Pod, V1Secret } from "@kubernetes/client-node";
import { EXAMPLES_DIR, type IAccessPolicy, type IResource, readManifests } from "@portcullis/crds";
import { effectiveConfig } from "@portcullis/common/config/bundle";
import { ConfigError, bundleFromManifests, bundleProblems, defaultStandaloneIdentity, loadManifestsFile, type StandaloneIdentity } from "./manifests.js";

const identity: StandaloneIdentity = {
  username: "standalone:dev",
  uid: "",
  groups: [],
  namespace: "default",
  serviceAccount: "",
  podName: "laptop",
  podUid: "11111111-2222-3333-4444-555555555555",
};

const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const b64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");
const example = (file: string): string => readFileSync(join(EXAMPLES_DIR, file), "utf8");

/** What the examples reference and the cluster provides: the API server's CA in every namespace. */
const SUPPORTING_OBJECTS = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: kube-root-ca.crt
binaryData:
  ca.crt: ${b64(CA_PEM)}
`;

/** The stand-in CA the postgres example ships. */
const EXAMPLE_CA = readManifests(join(EXAMPLES_DIR, "postgres-resource.yaml")).find((object) => object.kind === "ConfigMap")?.data as Record<string, string> | undefined;

const POSTGRES_AND_POLICY = [example("postgres-resource.yaml"), example("evidence-store.yaml"), example("no-destructive-changes-policy.yaml")].join("\n---\n");
const ALL_EXAMPLES = [
  example("postgres-resource.yaml"),
  example("http-resource.yaml"),
  example("kubernetes-resource.yaml"),
  example("mcp-resource.yaml"),
  example("evidence-store.yaml"),
  example("no-destructive-changes-policy.yaml"),
  example("api-readonly-policy.yaml"),
  example("mcp-tools-policy.yaml"),
  SUPPORTING_OBJECTS,
].join("\n---\n");

describe("bundleFromManifests: the repository's examples", () => {
  const bundle = bundleFromManifests(ALL_EXAMPLES, "examples.yaml", identity);

  it("applies every AccessPolicy in the file and resolves every credential, CA bundle and store", () => {
    expect(bundle.identity).toEqual(identity);
    expect(bundle.policies.map((policy) => [policy.name, policy.error])).toEqual([
      ["no-destructive-changes", undefined],
      ["support-bot-read-only", undefined],
      ["support-bot-tools", undefined],
    ]);
    expect(bundle.resources.map(({ name, credentials, caBundle, error }) => ({ name, credentials, caBundle, error }))).toEqual([
      { name: "billing-api", credentials: { token: "replace-with-the-api-token" }, caBundle: undefined, error: undefined },
      { name: "cluster-api", credentials: { token: "replace-with-a-service-account-token" }, caBundle: CA_PEM, error: undefined },
      { name: "orders-db", credentials: { username: "report_bot", password: "change-me" }, caBundle: EXAMPLE_CA?.["ca.crt"], error: undefined },
      { name: "support-tools", credentials: { token: "replace-with-the-mcp-server-token" }, caBundle: undefined, error: undefined },
    ]);
    expect(bundle.policies[0]?.recording).toMatchObject({ store: { type: "s3", bucket: "portcullis-evidence", prefix: "sessions" } });
    expect(bundleProblems(bundle)).toEqual([]);
    expect(bundle.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("fills in the CRD defaults, only inside the objects that are given", () => {
    const spec = (name: string): IResource["spec"] | undefined => bundle.resources.find((resource) => resource.name === name)?.spec;
    expect(spec("billing-api")?.transparent).toBe(false);
    expect(spec("billing-api")?.credentials?.tokenKey).toBe("token");
    // No tls object in billing-api, so no tls.mode either (the API server does the same).
    expect(spec("billing-api")?.endpoint.tls).toBeUndefined();
    expect(spec("cluster-api")?.endpoint.tls?.mode).toBe("verify-full");
    expect(spec("orders-db")?.credentials).toEqual({ secretRef: { name: "orders-db-credentials" }, usernameKey: "username", passwordKey: "password", tokenKey: "token" });
    const policy = bundle.policies.find((candidate) => candidate.name === "support-bot-read-only")?.spec;
    expect(policy?.defaultAction).toBe("deny");
    expect(policy?.masking?.[0]?.strategy).toBe("redact");
  });

  it("is the bundle the broker gives a pod its policy selects, for the objects the API server would store", () => {
    // The postgres example and its policy as `kubectl get -o yaml` shows them: defaults written out by hand.
    const resource: IResource = {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "orders-db", namespace: "default" },
      spec: {
        protocol: "postgres",
        endpoint: { host: "orders-db.data.svc.cluster.local", port: 5432, tls: { mode: "verify-full", caBundleRef: { kind: "ConfigMap", name: "orders-db-ca", key: "ca.crt" } } },
        listener: { port: 15432 },
        transparent: true,
        credentials: { secretRef: { name: "orders-db-credentials" }, usernameKey: "username", passwordKey: "password", tokenKey: "token" },
        postgres: { database: "orders" },
      },
    };
    const policy: IAccessPolicy = {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "no-destructive-changes", namespace: "default" },
      spec: {
        subjects: { podSelector: { matchLabels: { app: "report-bot" } }, serviceAccounts: ["report-bot"] },
        resources: ["orders-db"],
        rules: [
          { name: "block-drop-and-truncate", match: { sql: { commands: ["DROP", "TRUNCATE"] } }, action: "deny", message: "Destructive changes are made by the DBA team, not by agents." },
          { name: "block-unbounded-delete", match: { sql: { commands: ["DELETE", "UPDATE"] } }, when: "!sql.hasWhere", action: "deny" },
          { name: "reads", match: { sql: { commands: ["SELECT", "SHOW", "EXPLAIN", "SET", "TRANSACTION"] } }, action: "allow" },
          {
            name: "writes-need-approval",
            match: { sql: { commands: ["WRITE"] } },
            action: "requireApproval",
            approval: { reviewers: { groups: ["dba"] }, timeout: "15m", grantScope: "once" },
          },
        ],
        masking: [{ name: "personal-data", columns: ["email", "customers.phone"], detectors: ["creditCard", "usSSN"], strategy: "partial", keepLast: 4 }],
        recording: { storeRef: { name: "evidence-store" } },
        defaultAction: "deny",
      },
    };
    const pod: V1Pod = { metadata: { name: "laptop", namespace: "default", labels: { app: "report-bot" } }, spec: { serviceAccountName: "report-bot", containers: [] } };
    const store = readManifests(join(EXAMPLES_DIR, "evidence-store.yaml"));
    const storeSecret = store.find((object) => object.kind === "Secret")?.stringData as Record<string, string>;
    const secrets = new Map<string, V1Secret>([
      ["orders-db-credentials", { data: { username: b64("report_bot"), password: b64("change-me") } }],
      ["evidence-credentials", { data: Object.fromEntries(Object.entries(storeSecret).map(([key, value]) => [key, b64(value)])) }],
    ]);
    const configMaps = new Map<string, V1ConfigMap>([
      ["orders-db-ca", { data: EXAMPLE_CA ?? {} }],
      ["evidence-store", { data: store.find((object) => object.kind === "ConfigMap")?.data as Record<string, string> }],
    ]);
    const fromBroker = effectiveConfig({ ...identity, uid: "" }, { pod, policies: [policy], resources: [resource], secrets, configMaps });
    expect(bundleFromManifests(POSTGRES_AND_POLICY, "pg.yaml", identity)).toEqual(fromBroker);
  });
});

const POLICY = `apiVersion: portcullis.dev/v1alpha1
kind: AccessPolicy
metadata:
  name: reads
spec:
  subjects:
    serviceAccounts: [agent]
  resources: [orders-db]
  rules:
    - name: reads
      match:
        sql:
          commands: [SELECT]
      action: allow`;

const resourceYaml = (name: string, port: number, listener: number, extra = ""): string => `apiVersion: portcullis.dev/v1alpha1
kind: Resource
metadata:
  name: ${name}
spec:
  protocol: postgres
  endpoint:
    host: db.example
    port: ${port}
  listener:
    port: ${listener}${extra}`;

const SECRET = `apiVersion: v1
kind: Secret
metadata:
  name: orders-db-credentials
stringData:
  username: u
  password: p`;

const CREDENTIALS = `
  credentials:
    secretRef:
      name: orders-db-credentials`;

const GOOD_RESOURCE = resourceYaml("orders-db", 5432, 15432, CREDENTIALS);
const file = (...documents: string[]): string => documents.join("\n---\n");

/** The message bundleFromManifests throws, or the bundle's problems when it builds. */
function problemsOf(text: string): string {
  try {
    return bundleProblems(bundleFromManifests(text, "gw.yaml", identity)).join("\n");
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
}

describe("bundleFromManifests: files the gateway refuses", () => {
  it.each([
    ["a YAML syntax error", file(SECRET, "kind: [Resource"), "gw.yaml: document 2 (line 9), invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 9, column 16"],
    ["a document that is not an object", file(SECRET, "- just\n- a list", GOOD_RESOURCE, POLICY), "gw.yaml: document 2 (line 9), is not a Kubernetes object: expected a mapping with apiVersion, kind and metadata.name"],
    [
      "an unknown kind",
      file(SECRET, "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web", GOOD_RESOURCE, POLICY),
      'gw.yaml: document 2 (line 9), unsupported kind "Deployment" (apiVersion "apps/v1"): a manifests file holds Resource and AccessPolicy (portcullis.dev/v1alpha1), Secret and ConfigMap (v1)',
    ],
    ["a port out of range", file(SECRET, resourceYaml("orders-db", 70000, 15432, CREDENTIALS), POLICY), 'gw.yaml: document 2 (line 9), Resource "orders-db": spec.endpoint.port: must be <= 65535'],
    ["a missing required field", file(SECRET, resourceYaml("orders-db", 5432, 15432).replace(/ {2}listener:\n {4}port: 15432/, ""), POLICY), 'gw.yaml: document 2 (line 9), Resource "orders-db": spec.listener: required value'],
    ["an unsupported enum value", file(SECRET, GOOD_RESOURCE.replace("protocol: postgres", "protocol: mysql"), POLICY), 'gw.yaml: document 2 (line 9), Resource "orders-db": spec.protocol: must be one of "postgres", "http", "kubernetes"'],
    ["a misspelt field", file(SECRET, GOOD_RESOURCE, POLICY.replace("  rules:", "  defaultActon: allow\n  rules:")), 'gw.yaml: document 3 (line 24), AccessPolicy "reads": spec.defaultActon: unknown field'],
    [
      "a CRD validation rule",
      file(SECRET, GOOD_RESOURCE, POLICY.replace("action: allow", "action: requireApproval")),
      'gw.yaml: document 3 (line 24), AccessPolicy "reads": spec.rules[0]: a requireApproval rule must set approval (reviewers and timeout), and only requireApproval rules may set it',
    ],
    [
      "CEL that does not compile",
      file(SECRET, GOOD_RESOURCE, POLICY.replace("action: allow", 'when: "sql.command =="\n      action: allow')),
      'gw.yaml: document 3 (line 24), AccessPolicy "reads": spec.rules[0].when: invalid CEL expression: Unexpected token: EOF at column 15',
    ],
    [
      "a pattern RE2 cannot run",
      file(SECRET, GOOD_RESOURCE, `${POLICY}\n  masking:\n    - name: ids\n      patterns: ["(?=secret)\\\\w+"]`),
      'gw.yaml: document 3 (line 24), AccessPolicy "reads": spec.masking[0].patterns[0]: pattern "(?=secret)\\w+" is not a valid RE2 regular expression: invalid perl operator: (?=; RE2 syntax is required (no backreferences or lookaround; see https://github.com/google/re2/wiki/Syntax)',
    ],
    ["a Secret the Resource names but the file lacks", file(GOOD_RESOURCE, POLICY), 'Secret "orders-db-credentials" (spec.credentials.secretRef of Resource "orders-db") was not found'],
    ["a Resource the policy names but the file lacks", file(POLICY), 'Resource "orders-db" (named by AccessPolicy "reads") does not exist in namespace "default"'],
    ["a duplicate name", file(SECRET, GOOD_RESOURCE, POLICY, SECRET), 'gw.yaml: document 4 (line 39), Secret "orders-db-credentials": metadata.name: duplicate: Secret "orders-db-credentials" is already defined in document 1'],
    [
      "two Resources on one listener port",
      file(SECRET, GOOD_RESOURCE, resourceYaml("replica-db", 5433, 15432), POLICY),
      'gw.yaml: document 3 (line 24), Resource "replica-db": spec.listener.port: Resource "replica-db" and Resource "orders-db" both use listener port 15432; each Resource needs its own listener port, because one pod\'s gateway may serve both',
    ],
    [
      "an object in another namespace",
      file(SECRET.replace("  name: orders-db-credentials", "  name: orders-db-credentials\n  namespace: prod"), GOOD_RESOURCE, POLICY),
      'gw.yaml: document 1 (line 1), Secret "orders-db-credentials": metadata.namespace: "prod" is not "default": the gateway runs in namespace "default" and every object in the file belongs to it; remove metadata.namespace or run the gateway in that namespace',
    ],
    ["Secret data that is not base64", file(SECRET.replace("stringData:\n  username: u", "data:\n  username: not base64!\nstringData:"), GOOD_RESOURCE, POLICY), 'gw.yaml: document 1 (line 1), Secret "orders-db-credentials": data.username: is not valid base64 (put plain text under stringData instead)'],
    ["a Secret value YAML reads as a number", file(SECRET.replace("password: p", "password: 1234"), GOOD_RESOURCE, POLICY), 'gw.yaml: document 1 (line 1), Secret "orders-db-credentials": stringData.password: must be a string (quote it in YAML), got number'],
    ["no AccessPolicy", file(SECRET, GOOD_RESOURCE), "gw.yaml: holds no AccessPolicy, so the gateway would refuse everything; add the AccessPolicies that govern its Resources"],
  ])("%s", (_case, text, message) => {
    expect(problemsOf(text)).toContain(message);
    // The message is the whole story on one line: it starts where the problem is.
    expect(problemsOf(text).split("\n")).toHaveLength(1);
  });

  it("lists every problem, one per line, in file order", () => {
    const text = file(SECRET, resourceYaml("orders-db", 70000, 80, CREDENTIALS), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p", POLICY);
    expect(problemsOf(text).split("\n")).toEqual([
      'gw.yaml: document 2 (line 9), Resource "orders-db": spec.endpoint.port: must be <= 65535',
      'gw.yaml: document 2 (line 9), Resource "orders-db": spec.listener.port: must be >= 1024',
      'gw.yaml: document 3 (line 24), unsupported kind "Pod" (apiVersion "v1"): a manifests file holds Resource and AccessPolicy (portcullis.dev/v1alpha1), Secret and ConfigMap (v1)',
    ]);
  });

  it("skips empty documents and keeps counting them", () => {
    const bundle = bundleFromManifests(`---\n${file(SECRET, "", GOOD_RESOURCE, POLICY)}`, "gw.yaml", identity);
    expect(bundle.resources.map((resource) => resource.credentials)).toEqual([{ username: "u", password: "p" }]);
    expect(problemsOf(file(SECRET, "", "kind: Nope"))).toContain('gw.yaml: document 3 (line 11), unsupported kind "Nope" (apiVersion none)');
  });

  it("lets stringData win over data for the same key, as the API server does", () => {
    const both = SECRET.replace("stringData:", `data:\n  username: ${b64("from-data")}\nstringData:`);
    expect(bundleFromManifests(file(both, GOOD_RESOURCE, POLICY), "gw.yaml", identity).resources[0]?.credentials).toEqual({ username: "u", password: "p" });
  });
});

describe("loadManifestsFile", () => {
  it("reads the file and names it in messages", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-manifests-"));
    const path = join(dir, "gateway.yaml");
    writeFileSync(path, file(SECRET, GOOD_RESOURCE, POLICY));
    expect((await loadManifestsFile(path, identity)).resources.map((resource) => resource.name)).toEqual(["orders-db"]);
    writeFileSync(path, file(SECRET, "kind: Nope"));
    await expect(loadManifestsFile(path, identity)).rejects.toThrow(`${path}: document 2 (line 9), unsupported kind "Nope"`);
  });

  it("turns an unreadable file into a ConfigError", async () => {
    const error = await loadManifestsFile("/nonexistent/gateway.yaml", identity).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^\/nonexistent\/gateway\.yaml: cannot be read: ENOENT/);
  });
});

describe("defaultStandaloneIdentity", () => {
  it("names the local user, the default namespace and a pod UID of its own", () => {
    const first = defaultStandaloneIdentity();
    expect(first.username).toMatch(/^standalone:\S+$/);
    expect(first).toMatchObject({ uid: "", groups: [], namespace: "default", serviceAccount: "" });
    expect(first.podName).toBe(first.podName.toLowerCase());
    expect(first.podUid).not.toBe(defaultStandaloneIdentity().podUid);
  });
});
