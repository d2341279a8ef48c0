import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { effectiveConfig, referencedObjects, type ConfigInputs } from "./bundle.js";
import { agentPod, approvalPolicy, configMap, httpResource, identity, NAMESPACE, policy, postgresResource, secret } from "../test-fixtures.js";

const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

function inputs(overrides: Partial<ConfigInputs> = {}): ConfigInputs {
  return {
    pod: agentPod(),
    policies: [approvalPolicy()],
    resources: [postgresResource("orders-db"), httpResource("billing-api")],
    secrets: new Map<string, V1Secret>([["orders-db-credentials", secret("orders-db-credentials", { username: "report_bot", password: "s3cret" })]]),
    configMaps: new Map<string, V1ConfigMap>([["orders-db-ca", configMap("orders-db-ca", { "ca.crt": CA_PEM })]]),
    ...overrides,
  };
}

const names = (items: { name: string }[]): string[] => items.map((item) => item.name);

describe("effectiveConfig: which policies and Resources a sidecar gets", () => {
  it("includes the policies that select the pod and only the Resources they name", () => {
    const bundle = effectiveConfig(identity(), inputs());
    expect(names(bundle.policies)).toEqual(["no-destructive-changes"]);
    // billing-api exists in the namespace but no selecting policy names it.
    expect(names(bundle.resources)).toEqual(["orders-db"]);
    expect(bundle.identity).toEqual({
      username: "system:serviceaccount:agents:report-bot",
      uid: "0b6d3f0e-8c1e-4f7a-9d59-1a2b3c4d5e6f",
      groups: ["system:serviceaccounts", "system:serviceaccounts:agents", "system:authenticated"],
      namespace: "agents",
      serviceAccount: "report-bot",
      podName: "report-bot-5d8f7c-x2k4q",
      podUid: "5f0c7a4e-2b1d-4c3e-8f9a-0a1b2c3d4e5f",
    });
  });

  it("leaves out policies whose selector, service accounts or namespace do not fit the pod", () => {
    const policies: IAccessPolicy[] = [
      policy("other-app", { resources: ["billing-api"], subjects: { podSelector: { matchLabels: { app: "crawler" } } } }),
      policy("other-sa", { resources: ["billing-api"], subjects: { serviceAccounts: ["crawler"] } }),
      policy("label-and-wrong-sa", { resources: ["billing-api"], subjects: { podSelector: {}, serviceAccounts: ["crawler"] } }),
      policy("oidc-only", { resources: ["billing-api"], subjects: { oidc: [{ issuer: "https://issuer.example", audiences: ["db"] }] } }),
      policy("elsewhere", { resources: ["billing-api"] }, "other-namespace"),
      policy("by-sa", { resources: ["orders-db"], subjects: { serviceAccounts: ["report-bot"] } }),
    ];
    const bundle = effectiveConfig(identity(), inputs({ policies }));
    expect(names(bundle.policies)).toEqual(["by-sa"]);
    expect(names(bundle.resources)).toEqual(["orders-db"]);
  });

  it("evaluates matchExpressions like Kubernetes label selectors", () => {
    const selecting = (matchExpressions: NonNullable<NonNullable<IAccessPolicy["spec"]["subjects"]["podSelector"]>["matchExpressions"]>): boolean =>
      effectiveConfig(identity(), inputs({ policies: [policy("p", { resources: ["orders-db"], subjects: { podSelector: { matchExpressions } } })] })).policies.length === 1;
    expect(selecting([{ key: "app", operator: "In", values: ["report-bot", "x"] }])).toBe(true);
    expect(selecting([{ key: "app", operator: "NotIn", values: ["report-bot"] }])).toBe(false);
    expect(selecting([{ key: "tier", operator: "Exists" }])).toBe(true);
    expect(selecting([{ key: "tier", operator: "DoesNotExist" }])).toBe(false);
    expect(selecting([{ key: "missing", operator: "NotIn", values: ["a"] }])).toBe(true);
    expect(selecting([{ key: "missing", operator: "In", values: ["a"] }])).toBe(false);
  });

  it("marks a Resource a policy names but that does not exist", () => {
    const bundle = effectiveConfig(identity(), inputs({ resources: [] }));
    expect(bundle.resources).toEqual([
      { name: "orders-db", error: 'Resource "orders-db" (named by AccessPolicy "no-destructive-changes") does not exist in namespace "agents"' },
    ]);
  });
});

describe("effectiveConfig: credentials", () => {
  it("resolves a postgres Resource's user name and password and its CA bundle", () => {
    const [resource] = effectiveConfig(identity(), inputs()).resources;
    expect(resource?.credentials).toEqual({ username: "report_bot", password: "s3cret" });
    expect(resource?.caBundle).toBe(CA_PEM);
    expect(resource?.spec?.listener.port).toBe(15432);
    expect(resource?.error).toBeUndefined();
  });

  it("resolves an http Resource's token from its tokenKey and a CA bundle from a Secret", () => {
    const api = httpResource("billing-api");
    api.spec.endpoint.tls = { caBundleRef: { kind: "Secret", name: "billing-ca", key: "ca.crt" } };
    const bundle = effectiveConfig(
      identity(),
      inputs({
        policies: [policy("api", { resources: ["billing-api"] })],
        resources: [api],
        secrets: new Map([
          ["billing-api-token", secret("billing-api-token", { "api-key": "k-123" })],
          ["billing-ca", secret("billing-ca", { "ca.crt": CA_PEM })],
        ]),
      }),
    );
    expect(bundle.resources[0]).toMatchObject({ name: "billing-api", credentials: { token: "k-123" }, caBundle: CA_PEM });
  });

  it("resolves a kubernetes Resource's client certificate and key instead of a token", () => {
    const cluster: IResource = {
      apiVersion: "portcullis.dev/v1alpha1",
      kind: "Resource",
      metadata: { name: "cluster-api", namespace: NAMESPACE },
      spec: {
        protocol: "kubernetes",
        endpoint: { host: "kubernetes.default.svc", port: 443 },
        listener: { port: 16443 },
        credentials: { secretRef: { name: "cluster-api-cert" }, clientCertificateKey: "tls.crt", clientKeyKey: "tls.key" },
      },
    };
    const certificate = secret("cluster-api-cert", { "tls.crt": "CERT", "tls.key": "KEY", token: "unused" });
    const bundle = effectiveConfig(identity(), inputs({ policies: [policy("ops", { resources: ["cluster-api"] })], resources: [cluster], secrets: new Map([["cluster-api-cert", certificate]]) }));
    expect(bundle.resources[0]?.credentials).toEqual({ clientCertificate: "CERT", clientKey: "KEY" });
    const missing = effectiveConfig(identity(), inputs({ policies: [policy("ops", { resources: ["cluster-api"] })], resources: [cluster], secrets: new Map([["cluster-api-cert", secret("cluster-api-cert", { "tls.crt": "CERT" })]]) }));
    expect(missing.resources[0]).toMatchObject({ error: expect.stringContaining('has no key "tls.key"') as unknown });
  });

  it("uses custom username and password keys", () => {
    const db = postgresResource("orders-db");
    db.spec.credentials = { secretRef: { name: "orders-db-credentials" }, usernameKey: "user", passwordKey: "pass" };
    const bundle = effectiveConfig(identity(), inputs({ resources: [db], secrets: new Map([["orders-db-credentials", secret("orders-db-credentials", { user: "u", pass: "p" })]]) }));
    expect(bundle.resources[0]?.credentials).toEqual({ username: "u", password: "p" });
  });

  it("includes a Resource whose Secret is missing with an error and no credentials", () => {
    const bundle = effectiveConfig(
      identity(),
      inputs({ policies: [policy("both", { resources: ["orders-db", "billing-api"] })], secrets: new Map([["billing-api-token", secret("billing-api-token", { "api-key": "k" })]]) }),
    );
    const db = bundle.resources.find((resource) => resource.name === "orders-db");
    expect(db?.error).toBe('Secret "orders-db-credentials" (spec.credentials.secretRef of Resource "orders-db") was not found');
    expect(db?.credentials).toBeUndefined();
    expect(db?.spec?.protocol).toBe("postgres");
    // The other Resource is unaffected.
    expect(bundle.resources.find((resource) => resource.name === "billing-api")?.credentials).toEqual({ token: "k" });
  });

  it("names the missing key, and hands out nothing half-resolved", () => {
    const bundle = effectiveConfig(identity(), inputs({ secrets: new Map([["orders-db-credentials", secret("orders-db-credentials", { username: "report_bot" })]]) }));
    expect(bundle.resources[0]?.error).toBe('Secret "orders-db-credentials" (spec.credentials.passwordKey of Resource "orders-db") has no key "password"');
    expect(bundle.resources[0]?.credentials).toBeUndefined();
  });

  it("reports a missing CA ConfigMap", () => {
    const bundle = effectiveConfig(identity(), inputs({ configMaps: new Map() }));
    expect(bundle.resources[0]?.error).toBe('ConfigMap "orders-db-ca" (spec.endpoint.tls.caBundleRef of Resource "orders-db") was not found');
  });

  it("needs no Secret for a Resource without credentials", () => {
    const open: IResource = { ...httpResource("status-page"), spec: { ...httpResource("status-page").spec, credentials: undefined, http: undefined } };
    const bundle = effectiveConfig(identity(), inputs({ policies: [policy("p", { resources: ["status-page"] })], resources: [open] }));
    expect(bundle.resources[0]).toEqual({ name: "status-page", spec: open.spec });
  });
});

describe("effectiveConfig: masking keys and recording", () => {
  const masked = (): IAccessPolicy =>
    policy("masked", {
      resources: ["orders-db"],
      masking: [
        { name: "emails", columns: ["email"], strategy: "hash", hashKeyRef: { name: "masking-keys", key: "hmac" } },
        { name: "phones", columns: ["phone"], strategy: "redact" },
      ],
      recording: { storeRef: { name: "evidence-store" } },
    });
  const storeInputs = (extra: Partial<ConfigInputs> = {}): ConfigInputs =>
    inputs({
      policies: [masked()],
      secrets: new Map([
        ["orders-db-credentials", secret("orders-db-credentials", { username: "u", password: "p" })],
        ["masking-keys", secret("masking-keys", { hmac: "key-bytes" })],
        ["evidence-s3", secret("evidence-s3", { accessKeyId: "AK", secretAccessKey: "SK" })],
      ]),
      configMaps: new Map([
        ["orders-db-ca", configMap("orders-db-ca", { "ca.crt": CA_PEM })],
        ["evidence-store", configMap("evidence-store", { type: "s3", bucket: "evidence", credentialsSecret: "evidence-s3" })],
      ]),
      ...extra,
    });

  it("hands out the HMAC keys by masking rule and the recording store with its credentials", () => {
    const [resolved] = effectiveConfig(identity(), storeInputs()).policies;
    expect(resolved?.hashKeys).toEqual({ emails: Buffer.from("key-bytes").toString("base64") });
    expect(resolved?.recording).toEqual({
      store: { type: "s3", bucket: "evidence", credentialsSecret: "evidence-s3" },
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
    });
    expect(resolved?.error).toBeUndefined();
  });

  it("marks the policy when its masking key Secret is missing", () => {
    const input = storeInputs();
    const secrets = new Map(input.secrets);
    secrets.delete("masking-keys");
    const [resolved] = effectiveConfig(identity(), { ...input, secrets }).policies;
    expect(resolved?.error).toBe('Secret "masking-keys" (spec.masking[emails].hashKeyRef of AccessPolicy "masked") was not found');
    expect(resolved?.hashKeys).toBeUndefined();
    expect(resolved?.spec.resources).toEqual(["orders-db"]);
  });

  it("marks the policy when its recording ConfigMap or the store's credentials Secret is missing", () => {
    const input = storeInputs();
    const withoutStore = effectiveConfig(identity(), { ...input, configMaps: new Map([["orders-db-ca", configMap("orders-db-ca", { "ca.crt": CA_PEM })]]) });
    expect(withoutStore.policies[0]?.error).toBe('ConfigMap "evidence-store" (spec.recording.storeRef of AccessPolicy "masked") was not found');
    const secrets = new Map(input.secrets);
    secrets.delete("evidence-s3");
    const withoutCredentials = effectiveConfig(identity(), { ...input, secrets });
    expect(withoutCredentials.policies[0]?.error).toBe(
      'Secret "evidence-s3" (named under credentialsSecret in ConfigMap "evidence-store", the recording store of AccessPolicy "masked") was not found',
    );
    expect(withoutCredentials.policies[0]?.recording).toBeUndefined();
  });

  it("lists exactly the Secrets and ConfigMaps to fetch, including the store's credentials once the ConfigMap is known", () => {
    const input = storeInputs();
    expect(referencedObjects(input.pod, input.policies, input.resources)).toEqual({
      secrets: ["masking-keys", "orders-db-credentials"],
      configMaps: ["evidence-store", "orders-db-ca"],
    });
    expect(referencedObjects(input.pod, input.policies, input.resources, input.configMaps).secrets).toEqual(["evidence-s3", "masking-keys", "orders-db-credentials"]);
  });
});

describe("effectiveConfig: revision", () => {
  it("is stable for the same content, whatever the order of keys and objects", () => {
    const first = effectiveConfig(identity(), inputs());
    const reordered = inputs();
    const again = effectiveConfig(identity(), { ...reordered, resources: [...reordered.resources].reverse() });
    expect(again.revision).toBe(first.revision);
    expect(first.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it("changes when a referenced Secret changes", () => {
    const before = effectiveConfig(identity(), inputs());
    const after = effectiveConfig(
      identity(),
      inputs({ secrets: new Map([["orders-db-credentials", secret("orders-db-credentials", { username: "report_bot", password: "rotated" })]]) }),
    );
    expect(after.revision).not.toBe(before.revision);
  });

  it("changes when a policy changes and not when the token's expiry does", () => {
    const before = effectiveConfig(identity(), inputs());
    const changed = approvalPolicy();
    changed.spec.defaultAction = "allow";
    expect(effectiveConfig(identity(), inputs({ policies: [changed] })).revision).not.toBe(before.revision);
    expect(effectiveConfig(identity({ tokenExpiresAt: new Date(0) }), inputs()).revision).toBe(before.revision);
  });
});
