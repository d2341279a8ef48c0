import { join } from "node:path";
import { EXAMPLES_DIR, readManifests, yamlFilesIn, type IAccessPolicy, type IResource } from "@portcullis/crds";
import { formatAdmissionDenial, MAX_POLICY_PATTERN_COST, validateAccessPolicy, validateResource } from "./validate.js";

type Spec = IAccessPolicy["spec"];

function resource(name: string, protocol: IResource["spec"]["protocol"], listenerPort: number, extra: Partial<IResource["spec"]> = {}, namespace = "data"): IResource {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace },
    spec: { protocol, endpoint: { host: `${name}.${namespace}.svc`, port: 5432 }, listener: { port: listenerPort }, ...extra },
  };
}

function policy(spec: Partial<Spec>): IAccessPolicy {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "AccessPolicy",
    metadata: { name: "bots", namespace: "data" },
    spec: { subjects: { serviceAccounts: ["report-bot"] }, resources: ["orders-db"], ...spec },
  };
}

const ordersDb = resource("orders-db", "postgres", 15432);
const usersDb = resource("users-db", "postgres", 15433);
const billingApi = resource("billing-api", "http", 18080);

describe("validateAccessPolicy", () => {
  it("accepts a valid policy without warnings", () => {
    const result = validateAccessPolicy(
      policy({
        resources: ["orders-db", "billing-api"],
        rules: [
          { name: "unbounded", match: { sql: { commands: ["DELETE"] } }, when: "!sql.hasWhere", action: "deny" },
          { name: "refunds", match: { http: { methods: ["POST"] } }, when: 'http.path.startsWith("/v1/refunds")', action: "deny" },
          { name: "anything", when: '"dba" in identity.groups', action: "allow" },
        ],
        masking: [{ name: "ssn", patterns: [String.raw`\d{3}-\d{2}-\d{4}`] }],
      }),
      { resources: [ordersDb, billingApi] },
    );
    expect(result).toEqual({ errors: [], warnings: [] });
  });

  it.each<[string, Partial<Spec>, { field: string; message: string }]>([
    [
      "a reviewer group every service account belongs to",
      { rules: [{ name: "writes", action: "requireApproval", approval: { reviewers: { groups: ["dba", "system:serviceaccounts:agents"] }, timeout: "15m" } }] },
      { field: "spec.rules[0].approval.reviewers.groups", message: 'group "system:serviceaccounts:agents" holds every user or service account of its kind' },
    ],
    [
      "a type error in when",
      { rules: [{ name: "ok", action: "allow" }, { name: "bad", when: "sql.command + 1 == 2", action: "deny" }] },
      { field: "spec.rules[1].when", message: "no such overload: string + int" },
    ],
    [
      "a when that compares a bool with a string",
      { rules: [{ name: "bad", when: 'sql.hasWhere == "yes"', action: "deny" }] },
      { field: "spec.rules[0].when", message: "no such overload: bool == string" },
    ],
    [
      "an unknown variable in when",
      { rules: [{ name: "bad", when: 'request.user == "x"', action: "deny" }] },
      { field: "spec.rules[0].when", message: "Unknown variable: request" },
    ],
    [
      "a when that reads http in a policy for postgres Resources",
      { rules: [{ name: "bad", when: 'http.method == "GET"', action: "deny" }] },
      { field: "spec.rules[0].when", message: "http is only set for http Resources, and this rule applies to postgres requests" },
    ],
    [
      "a when that reads sql in a rule matching http",
      { resources: ["orders-db", "billing-api"], rules: [{ name: "bad", match: { http: { methods: ["GET"] } }, when: "sql.hasWhere", action: "deny" }] },
      { field: "spec.rules[0].when", message: "Unknown variable: sql" },
    ],
    [
      "an http match in a policy naming only postgres Resources",
      { resources: ["orders-db", "users-db"], rules: [{ name: "web", match: { http: { methods: ["GET"] } }, action: "allow" }] },
      {
        field: "spec.rules[0].match.http",
        message: 'rule "web" matches http requests, but the policy names only postgres Resources ("orders-db" and "users-db"), so it can never apply',
      },
    ],
    [
      "a kubernetes match in a policy naming an http Resource",
      { resources: ["billing-api"], rules: [{ name: "pods", match: { kubernetes: { verbs: ["get"] } }, action: "allow" }] },
      { field: "spec.rules[0].match.kubernetes", message: "matches kubernetes requests, but the policy names only http Resources" },
    ],
    [
      "an mcp match in a policy naming an http Resource",
      { resources: ["billing-api"], rules: [{ name: "tools", match: { mcp: { tools: ["drop_*"] } }, action: "deny" }] },
      { field: "spec.rules[0].match.mcp", message: "matches mcp requests, but the policy names only http Resources" },
    ],
    [
      "an mcp match whose when reads http",
      { resources: ["tools-not-created-yet"], rules: [{ name: "tools", match: { mcp: { tools: ["refund"] } }, when: "http.body.amount > 5", action: "deny" }] },
      { field: "spec.rules[0].when", message: "http is only set for http Resources, and this rule applies to mcp requests" },
    ],
    [
      "a masking pattern with a backreference",
      { masking: [{ name: "ok", detectors: ["email"] }, { name: "bad", patterns: ["x", String.raw`(a)\1`] }] },
      { field: "spec.masking[1].patterns[1]", message: "RE2 syntax is required" },
    ],
    [
      "a masking pattern with lookahead",
      { masking: [{ name: "bad", patterns: ["(?=secret)"] }] },
      { field: "spec.masking[0].patterns[0]", message: "invalid perl operator: (?=" },
    ],
    [
      "masking patterns too large together",
      { masking: [{ name: "big", patterns: Array.from({ length: 5 }, (_, i) => `\\pL{4}|${i}`) }] },
      { field: "spec.masking", message: `at most ${MAX_POLICY_PATTERN_COST}` },
    ],
    [
      "two named Resources sharing a listener port",
      { resources: ["orders-db", "clash-db"] },
      { field: "spec.resources", message: 'Resources "clash-db" and "orders-db" named by this policy share listener port 15432' },
    ],
  ])("refuses %s", (_case, spec, expected) => {
    const clash = resource("clash-db", "postgres", 15432);
    const { errors } = validateAccessPolicy(policy(spec), { resources: [ordersDb, usersDb, billingApi, clash] });
    expect(errors).toEqual([{ field: expected.field, message: expect.stringContaining(expected.message) as unknown }]);
  });

  it("warns, without refusing, about Resources that do not exist yet", () => {
    const result = validateAccessPolicy(
      policy({ resources: ["orders-db", "later-api"], rules: [{ name: "web", match: { http: { methods: ["GET"] } }, when: 'http.method == "GET"', action: "allow" }] }),
      { resources: [ordersDb] },
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      'spec.resources[1]: Resource "later-api" does not exist in namespace "data" yet; the policy applies to it once it is created',
    ]);
  });

  it("compiles when against every protocol while the named Resources are unknown", () => {
    const result = validateAccessPolicy(policy({ rules: [{ name: "any", when: 'kubernetes.verb == "get"', action: "allow" }] }), { resources: [] });
    expect(result.errors).toEqual([]);
    expect(result.warnings).toHaveLength(1);
  });

  it("ignores Resources of other namespaces", () => {
    const elsewhere = resource("orders-db", "http", 15432, {}, "other");
    const result = validateAccessPolicy(policy({}), { resources: [elsewhere] });
    expect(result.warnings).toEqual([expect.stringContaining('Resource "orders-db" does not exist in namespace "data"')]);
  });

  it("warns that the hash key Secret and the recording store are checked later", () => {
    const result = validateAccessPolicy(
      policy({
        masking: [{ name: "emails", columns: ["email"], strategy: "hash", hashKeyRef: { name: "mask-key", key: "hmac" } }],
        recording: { storeRef: { name: "evidence-store" } },
      }),
      { resources: [ordersDb] },
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([
      'spec.masking[0].hashKeyRef: Secret "mask-key" (key "hmac") is not checked at admission; the policy\'s Ready condition reports whether it exists',
      'spec.recording.storeRef: ConfigMap "evidence-store" is not checked at admission; the policy\'s Ready condition reports whether it exists and names a usable store',
    ]);
  });

  it("accepts the example policies with the example Resources", () => {
    const manifests = yamlFilesIn(EXAMPLES_DIR).flatMap((file) => readManifests(join(file)));
    const resources = manifests.filter((m) => m.kind === "Resource") as unknown as IResource[];
    const policies = manifests.filter((m) => m.kind === "AccessPolicy") as unknown as IAccessPolicy[];
    expect(policies.length).toBeGreaterThan(0);
    for (const example of policies) {
      expect({ policy: example.metadata?.name, errors: validateAccessPolicy(example, { resources }).errors }).toEqual({
        policy: example.metadata?.name,
        errors: [],
      });
    }
  });
});

describe("validateResource", () => {
  it("accepts a Resource with its own listener port", () => {
    expect(validateResource(usersDb, { resources: [ordersDb, billingApi] })).toEqual({ errors: [], warnings: [] });
  });

  it("refuses a listener port another Resource in the namespace uses, naming both", () => {
    const clash = resource("clash-db", "postgres", 15432);
    expect(validateResource(clash, { resources: [ordersDb, usersDb] }).errors).toEqual([
      {
        field: "spec.listener.port",
        message:
          'Resource "clash-db" and Resource "orders-db" both use listener port 15432 in namespace "data"; each Resource needs its own listener port, because one pod\'s gateway may serve both',
      },
    ]);
  });

  it("does not compare a Resource with its own stored version on update", () => {
    const updated = resource("orders-db", "postgres", 15432, { transparent: true });
    expect(validateResource(updated, { resources: [ordersDb] }).errors).toEqual([]);
  });

  it("ignores Resources of other namespaces", () => {
    const elsewhere = resource("orders-db", "postgres", 15432, {}, "other");
    expect(validateResource(resource("mine", "postgres", 15432), { resources: [elsewhere] }).errors).toEqual([]);
  });

  it("warns when two transparent Resources intercept the same address", () => {
    const a = resource("a", "postgres", 15500, { transparent: true, endpoint: { host: "db.data.svc", port: 5432 } });
    const b = resource("b", "postgres", 15501, { transparent: true, endpoint: { host: "db.data.svc", port: 5432 } });
    expect(validateResource(b, { resources: [a] })).toEqual({
      errors: [],
      warnings: [expect.stringContaining('Resource "a" also intercepts db.data.svc:5432 transparently') as unknown],
    });
  });
});

describe("formatAdmissionDenial", () => {
  it("joins the errors like kube's own messages", () => {
    expect(
      formatAdmissionDenial("AccessPolicy", "x", [
        { field: "spec.rules[1].when", message: "Unknown variable: foo" },
        { field: "spec.masking[0].patterns[0]", message: "not RE2" },
      ]),
    ).toBe('AccessPolicy "x" is invalid: spec.rules[1].when: Unknown variable: foo; spec.masking[0].patterns[0]: not RE2');
  });
});

describe("masking jsonPaths", () => {
  it("refuses a JSONPath the gateway cannot apply, naming the field", () => {
    const policy = {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "AccessPolicy",
      metadata: { name: "p", namespace: "agents" },
      spec: { subjects: { serviceAccounts: ["bot"] }, resources: [], masking: [{ name: "m", jsonPaths: ["$.items[*].email", "$.items[?(@.x)]"] }] },
    } as unknown as IAccessPolicy;
    const result = validateAccessPolicy(policy, { resources: [] });
    expect(result.errors.map((error) => error.field)).toEqual(["spec.masking[0].jsonPaths[1]"]);
    expect(result.errors[0]?.message).toMatch(/not supported/);
  });
});
