import type { V1Pod } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { labelSelectorMatches, podServiceAccount, policySelectsPod, selectPolicies, selectResources } from "./select.js";

type Subjects = IAccessPolicy["spec"]["subjects"];

function policy(name: string, subjects: Subjects, resources: string[] = ["db"], namespace = "agents"): IAccessPolicy {
  return { apiVersion: "portcullis.dev/v1alpha1", kind: "AccessPolicy", metadata: { name, namespace }, spec: { subjects, resources } };
}

function resource(name: string, namespace = "agents"): IResource {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace },
    spec: { protocol: "postgres", endpoint: { host: `${name}.svc`, port: 5432 }, listener: { port: 15432 } },
  };
}

function pod(labels: Record<string, string>, serviceAccountName?: string, namespace = "agents"): V1Pod {
  return { metadata: { name: "p", namespace, labels }, spec: { serviceAccountName, containers: [] } };
}

describe("labelSelectorMatches", () => {
  const labels = { app: "bot", tier: "prod" };
  it.each([
    ["the empty selector", {}, true],
    ["matching matchLabels", { matchLabels: { app: "bot" } }, true],
    ["matchLabels with a wrong value", { matchLabels: { app: "web" } }, false],
    ["In with the value", { matchExpressions: [{ key: "tier", operator: "In" as const, values: ["prod", "dev"] }] }, true],
    ["In without the label", { matchExpressions: [{ key: "team", operator: "In" as const, values: ["x"] }] }, false],
    ["NotIn with another value", { matchExpressions: [{ key: "tier", operator: "NotIn" as const, values: ["dev"] }] }, true],
    ["NotIn with the value", { matchExpressions: [{ key: "tier", operator: "NotIn" as const, values: ["prod"] }] }, false],
    ["NotIn without the label", { matchExpressions: [{ key: "team", operator: "NotIn" as const, values: ["x"] }] }, true],
    ["Exists", { matchExpressions: [{ key: "app", operator: "Exists" as const }] }, true],
    ["Exists without the label", { matchExpressions: [{ key: "team", operator: "Exists" as const }] }, false],
    ["DoesNotExist", { matchExpressions: [{ key: "team", operator: "DoesNotExist" as const }] }, true],
    ["DoesNotExist with the label", { matchExpressions: [{ key: "app", operator: "DoesNotExist" as const }] }, false],
    [
      "matchLabels and an expression that fails",
      { matchLabels: { app: "bot" }, matchExpressions: [{ key: "tier", operator: "In" as const, values: ["dev"] }] },
      false,
    ],
  ])("%s", (_name, selector, expected) => {
    expect(labelSelectorMatches(selector, labels)).toBe(expected);
  });
});

describe("policySelectsPod", () => {
  it("needs every given part to match", () => {
    const both = policy("p", { podSelector: { matchLabels: { app: "bot" } }, serviceAccounts: ["bot"] });
    expect(policySelectsPod(both, pod({ app: "bot" }, "bot"))).toBe(true);
    expect(policySelectsPod(both, pod({ app: "bot" }, "other"))).toBe(false);
    expect(policySelectsPod(both, pod({ app: "web" }, "bot"))).toBe(false);
  });

  it("matches service accounts alone, with the default service account when the pod names none", () => {
    expect(policySelectsPod(policy("p", { serviceAccounts: ["default"] }), pod({}))).toBe(true);
    expect(policySelectsPod(policy("p", { serviceAccounts: ["bot"] }), pod({}))).toBe(false);
    expect(podServiceAccount(pod({}))).toBe("default");
  });

  it("matches every pod with an empty podSelector", () => {
    expect(policySelectsPod(policy("p", { podSelector: {} }), pod({}))).toBe(true);
  });

  it("selects no pod with only OIDC subjects (or an empty serviceAccounts list)", () => {
    const oidc = { oidc: [{ issuer: "https://issuer.example.com", audiences: ["portcullis"] }] };
    expect(policySelectsPod(policy("p", oidc), pod({}))).toBe(false);
    expect(policySelectsPod(policy("p", { ...oidc, serviceAccounts: [] }), pod({}))).toBe(false);
  });
});

describe("selectPolicies", () => {
  const policies = [
    policy("z-all", { podSelector: {} }),
    policy("a-bot", { serviceAccounts: ["bot"] }),
    policy("elsewhere", { podSelector: {} }, ["db"], "other"),
    policy("web", { podSelector: { matchLabels: { app: "web" } } }),
  ];

  it("keeps the pod's namespace's policies that select it, sorted by name", () => {
    expect(selectPolicies(pod({ app: "bot" }, "bot"), policies).map((p) => p.metadata?.name)).toEqual(["a-bot", "z-all"]);
  });

  it("takes the namespace from the admission request when the pod has none", () => {
    const noNamespace: V1Pod = { metadata: { labels: {} }, spec: { containers: [] } };
    expect(selectPolicies(noNamespace, policies).map((p) => p.metadata?.name)).toEqual([]);
    expect(selectPolicies(noNamespace, policies, "other").map((p) => p.metadata?.name)).toEqual(["elsewhere"]);
  });
});

describe("selectResources", () => {
  it("returns each named Resource once, from the policy's namespace, and names the missing ones", () => {
    const selected = selectResources(
      [policy("one", { podSelector: {} }, ["db", "api"]), policy("two", { podSelector: {} }, ["db", "ghost"])],
      [resource("db"), resource("api"), resource("ghost", "other")],
    );
    expect(selected.resources.map((r) => r.metadata?.name)).toEqual(["api", "db"]);
    expect(selected.missing).toEqual([
      'AccessPolicy "two" names Resource "ghost", which does not exist in namespace "agents"; the sidecar will not serve it',
    ]);
  });
});
