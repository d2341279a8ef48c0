import { describe, expect, it } from "@jest/globals";
import type { KubernetesFacts } from "@portcullis/common/policy/cel";
import { kubernetesFacts } from "@portcullis/common/test-fixtures";
import type { PolicyRule } from "../../policy/protocol-matcher.js";
import { describeKubernetes, KUBERNETES_MATCHER } from "./kubernetes-match.js";

const facts = kubernetesFacts;
const nonResource = (path: string, verb = "get"): KubernetesFacts => facts({ verb, resourceRequest: false, path, apiVersion: "", resource: "", namespace: "", name: "" });
const matches = (match: PolicyRule["match"], action: PolicyRule["action"], request: KubernetesFacts): boolean => KUBERNETES_MATCHER.compile(match, action)(request);

describe("KUBERNETES_MATCHER", () => {
  it("matches verbs, groups, resources, namespaces and names", () => {
    const match = { kubernetes: { verbs: ["delete" as const], apiGroups: ["apps"], resources: ["deployments"], namespaces: ["prod"], names: ["web"] } };
    const request = facts({ verb: "delete", apiGroup: "apps", resource: "deployments" });
    expect(matches(match, "deny", request)).toBe(true);
    expect(matches(match, "deny", { ...request, namespace: "dev" })).toBe(false);
    expect(matches(match, "deny", { ...request, name: "api" })).toBe(false);
    expect(matches(match, "deny", { ...request, apiGroup: "" })).toBe(false);
    expect(matches(match, "deny", { ...request, verb: "patch" })).toBe(false);
  });

  it.each<[string, Partial<KubernetesFacts>, boolean, boolean]>([
    // pattern, request, allow matches, deny matches
    ["pods", {}, true, true],
    ["pods", { subresource: "log" }, false, true],
    ["pods/log", { subresource: "log" }, true, true],
    ["pods/log", {}, false, false],
    ["pods/*", { subresource: "status" }, true, true],
    ["*/scale", { resource: "deployments", subresource: "scale" }, true, true],
    ["*", { resource: "secrets", subresource: "" }, true, true],
    ["Pods", {}, false, true],
  ])("resource %s on %j: allow %s, deny %s", (pattern, request, allow, deny) => {
    const match = { kubernetes: { resources: [pattern] } };
    expect(matches(match, "allow", facts(request))).toBe(allow);
    expect(matches(match, "deny", facts(request))).toBe(deny);
  });

  it("never lets an allow rule open a stream unless it names the connect verb; deny rules cover them anyway", () => {
    const exec = facts({ verb: "exec", subresource: "exec" });
    expect(matches(undefined, "allow", exec)).toBe(false);
    expect(matches({ kubernetes: { resources: ["*"] } }, "allow", exec)).toBe(false);
    expect(matches({ kubernetes: { resources: ["pods/exec"] } }, "allow", exec)).toBe(false);
    expect(matches({ kubernetes: { verbs: ["exec"], resources: ["pods/exec"] } }, "allow", exec)).toBe(true);
    expect(matches({ kubernetes: { namespaces: ["prod"] } }, "deny", exec)).toBe(true);
    expect(matches(undefined, "deny", exec)).toBe(true);
  });

  it("matches non-resource paths only by paths, and resource rules never match them", () => {
    const discovery = { kubernetes: { verbs: ["get" as const], paths: ["/api", "/apis/**", "/version"] } };
    expect(matches(discovery, "allow", nonResource("/apis/apps/v1"))).toBe(true);
    expect(matches(discovery, "allow", nonResource("/version"))).toBe(true);
    expect(matches(discovery, "allow", nonResource("/healthz"))).toBe(false);
    expect(matches(discovery, "allow", nonResource("/version", "post"))).toBe(false);
    expect(matches(discovery, "allow", facts())).toBe(false);
    expect(matches({ kubernetes: { resources: ["*"] } }, "deny", nonResource("/version"))).toBe(false);
    // An allow rule without paths is about API resources: /logs, /metrics, /debug/pprof must be named.
    expect(matches({ kubernetes: { verbs: ["get" as const] } }, "allow", nonResource("/logs/"))).toBe(false);
    expect(matches(undefined, "allow", nonResource("/metrics"))).toBe(false);
    expect(matches({ kubernetes: { verbs: ["get" as const] } }, "deny", nonResource("/logs/"))).toBe(true);
  });

  it("lets a deny about some namespaces or names cover collections across all of them (kubectl get -A)", () => {
    const kubeSystem = { kubernetes: { namespaces: ["kube-system"] } };
    expect(matches(kubeSystem, "deny", facts({ verb: "list", namespace: "", name: "" }))).toBe(true);
    expect(matches(kubeSystem, "deny", facts({ verb: "watch", namespace: "", name: "" }))).toBe(true);
    expect(matches(kubeSystem, "deny", facts({ verb: "get", namespace: "", resource: "nodes", name: "n1" }))).toBe(false);
    expect(matches(kubeSystem, "allow", facts({ verb: "list", namespace: "", name: "" }))).toBe(false);
    const web = { kubernetes: { names: ["web"] } };
    expect(matches(web, "requireApproval", facts({ verb: "deletecollection", name: "" }))).toBe(true);
    expect(matches(web, "allow", facts({ verb: "list", name: "" }))).toBe(false);
    // "" is the core group, not every group.
    expect(matches({ kubernetes: { apiGroups: ["apps"] } }, "deny", facts({ verb: "list", name: "" }))).toBe(false);
  });

  it("compares without case for deny rules and exactly for allow rules", () => {
    const match = { kubernetes: { namespaces: ["kube-system"] } };
    expect(matches(match, "deny", facts({ namespace: "KUBE-SYSTEM" }))).toBe(true);
    expect(matches(match, "allow", facts({ namespace: "KUBE-SYSTEM" }))).toBe(false);
  });

  it("does not match rules of another protocol", () => {
    expect(matches({ http: { methods: ["GET"] } }, "deny", facts())).toBe(false);
  });

  it("describes requests as a reviewer reads them", () => {
    expect(describeKubernetes(facts({ verb: "delete", apiGroup: "apps", resource: "deployments" }))).toBe("delete deployments.apps/web in prod");
    expect(describeKubernetes(facts({ verb: "list", name: "" }))).toBe("list pods in prod");
    expect(describeKubernetes(facts({ verb: "exec", subresource: "exec" }))).toBe("exec pods/web in prod");
    expect(describeKubernetes(facts({ verb: "patch", resource: "deployments", apiGroup: "apps", subresource: "scale" }))).toBe("patch deployments.apps/web scale in prod");
    expect(describeKubernetes(facts({ verb: "get", resource: "nodes", namespace: "", name: "n1" }))).toBe("get nodes/n1");
    expect(describeKubernetes(nonResource("/version"))).toBe("get /version");
  });
});
