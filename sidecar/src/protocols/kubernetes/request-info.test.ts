// Kubernetes request facts as the API server's RequestInfoFactory reads them,
// with our connect verbs, and the ambiguous requests refused instead.
import { describe, expect, it } from "@jest/globals";
import type { KubernetesFacts } from "@portcullis/common/policy/cel";
import { kubernetesFacts } from "@portcullis/common/test-fixtures";
import { kubernetesRequest, type KubernetesRequestInput } from "./request-info.js";

const JSON_PATCH = "application/json-patch+json";

/** A request from a method and a target (path?query), the query decoded into pairs. */
function input(method: string, target: string, contentType?: string): KubernetesRequestInput {
  const question = target.indexOf("?");
  const path = question < 0 ? target : target.slice(0, question);
  const query = question < 0 ? [] : [...new URLSearchParams(target.slice(question + 1))];
  return { method, path, query, contentType };
}

describe("kubernetesRequest", () => {
  it.each<[string, string, string | undefined, Partial<KubernetesFacts>]>([
    // core reads
    ["GET", "/api/v1/namespaces/default/pods", undefined, { verb: "list", resource: "pods", namespace: "default", name: "" }],
    ["GET", "/api/v1/namespaces/default/pods?watch=true", undefined, { verb: "watch", resource: "pods", namespace: "default" }],
    ["GET", "/api/v1/namespaces/default/pods?watch=1", undefined, { verb: "watch", resource: "pods" }],
    ["GET", "/api/v1/namespaces/default/pods?watch=False", undefined, { verb: "list", resource: "pods" }],
    ["GET", "/api/v1/watch/namespaces/default/pods", undefined, { verb: "watch", resource: "pods", namespace: "default", name: "" }],
    ["GET", "/api/v1/watch/namespaces/default/pods/web", undefined, { verb: "watch", resource: "pods", namespace: "default", name: "web" }],
    ["GET", "/api/v1/namespaces/default/pods/web", undefined, { verb: "get", resource: "pods", namespace: "default", name: "web", subresource: "" }],
    ["HEAD", "/api/v1/namespaces/default/pods/web", undefined, { verb: "get", name: "web" }],
    ["GET", "/api/v1/namespaces/default/pods/web/log", undefined, { verb: "get", resource: "pods", name: "web", subresource: "log" }],
    // writes
    ["POST", "/api/v1/namespaces/default/configmaps", undefined, { verb: "create", resource: "configmaps", namespace: "default", name: "" }],
    ["PUT", "/api/v1/namespaces/default/configmaps/settings", undefined, { verb: "update", resource: "configmaps", name: "settings" }],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings", JSON_PATCH, { verb: "patch", name: "settings", patchType: "json" }],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings", "application/merge-patch+json", { verb: "patch", patchType: "merge" }],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings", "application/strategic-merge-patch+json; charset=utf-8", { verb: "patch", patchType: "strategic-merge" }],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings?fieldManager=kubectl", "Application/Apply-Patch+YAML", { verb: "patch", patchType: "apply", fieldManager: "kubectl" }],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings", "application/apply-patch+cbor", { verb: "patch", patchType: "apply" }],
    ["DELETE", "/api/v1/namespaces/default/configmaps/settings", undefined, { verb: "delete", name: "settings" }],
    ["DELETE", "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb", undefined, { verb: "deletecollection", name: "", labelSelector: "app=web" }],
    // cluster-scoped resources and namespaces themselves
    ["GET", "/api/v1/nodes", undefined, { verb: "list", resource: "nodes", namespace: "" }],
    ["GET", "/api/v1/nodes/worker-1", undefined, { verb: "get", resource: "nodes", name: "worker-1", namespace: "" }],
    ["GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/admin", undefined, { verb: "get", apiGroup: "rbac.authorization.k8s.io", resource: "clusterroles", name: "admin" }],
    ["GET", "/api/v1/namespaces", undefined, { verb: "list", resource: "namespaces", namespace: "", name: "" }],
    ["GET", "/api/v1/namespaces/foo", undefined, { verb: "get", resource: "namespaces", name: "foo", namespace: "foo", subresource: "" }],
    ["DELETE", "/api/v1/namespaces/foo", undefined, { verb: "delete", resource: "namespaces", name: "foo", namespace: "foo" }],
    ["PUT", "/api/v1/namespaces/foo/status", undefined, { verb: "update", resource: "namespaces", name: "foo", namespace: "foo", subresource: "status" }],
    ["PUT", "/api/v1/namespaces/foo/finalize", undefined, { verb: "update", resource: "namespaces", name: "foo", namespace: "foo", subresource: "finalize" }],
    // groups
    [
      "PUT",
      "/apis/apps/v1/namespaces/p/deployments/web/scale",
      undefined,
      { verb: "update", apiGroup: "apps", apiVersion: "v1", resource: "deployments", name: "web", namespace: "p", subresource: "scale" },
    ],
    ["GET", "/apis/apps/v1/deployments", undefined, { verb: "list", apiGroup: "apps", resource: "deployments", namespace: "" }],
    ["GET", "/apis/apps/v1/watch/namespaces/p/deployments", undefined, { verb: "watch", apiGroup: "apps", resource: "deployments", namespace: "p" }],
    // connect verbs, whatever the method
    ["POST", "/api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true", undefined, { verb: "exec", resource: "pods", name: "web", subresource: "exec" }],
    ["GET", "/api/v1/namespaces/default/pods/web/exec?command=ls", undefined, { verb: "exec", subresource: "exec" }],
    ["POST", "/api/v1/namespaces/default/pods/web/attach", undefined, { verb: "attach", subresource: "attach" }],
    ["GET", "/api/v1/namespaces/default/pods/web/portforward?ports=8080", undefined, { verb: "portforward", subresource: "portforward" }],
    ["GET", "/api/v1/namespaces/default/pods/web/proxy", undefined, { verb: "proxy", resource: "pods", name: "web", subresource: "proxy" }],
    ["POST", "/api/v1/namespaces/default/services/http:web:80/proxy/admin/reset", undefined, { verb: "proxy", resource: "services", name: "http:web:80", subresource: "proxy" }],
    ["GET", "/api/v1/nodes/worker-1/proxy/metrics", undefined, { verb: "proxy", resource: "nodes", name: "worker-1", subresource: "proxy" }],
    ["GET", "/api/v1/proxy/namespaces/default/pods/web/healthz", undefined, { verb: "proxy", resource: "pods", name: "web", namespace: "default", subresource: "" }],
    ["GET", "/api/v1/proxy/nodes/worker-1", undefined, { verb: "proxy", resource: "nodes", name: "worker-1", subresource: "" }],
    // query facts
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb", undefined, { verb: "list", name: "web", fieldSelector: "metadata.name=web" }],
    ["GET", "/api/v1/namespaces/default/pods?watch=true&fieldSelector=metadata.name%3D%3Dweb", undefined, { verb: "watch", name: "web" }],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=status.phase%3DRunning,metadata.name%3Dweb", undefined, { verb: "list", name: "web" }],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Dweb%5C,1", undefined, { verb: "list", name: "web,1" }],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name!%3Dweb", undefined, { verb: "list", name: "" }],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3D..", undefined, { verb: "list", name: "" }],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Da%3Db", undefined, { verb: "list", name: "" }],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=spec.nodeName%3Dworker-1", undefined, { verb: "list", name: "", fieldSelector: "spec.nodeName=worker-1" }],
    ["GET", "/api/v1/watch/namespaces/default/pods?fieldSelector=metadata.name%3Dweb", undefined, { verb: "watch", name: "" }],
    ["GET", "/api/v1/namespaces/default/pods?labelSelector=app%20in%20(web,api)", undefined, { verb: "list", labelSelector: "app in (web,api)" }],
    ["POST", "/api/v1/namespaces/default/configmaps?dryRun=All&fieldManager=deployer", undefined, { verb: "create", dryRun: true, fieldManager: "deployer" }],
    ["POST", "/api/v1/namespaces/default/configmaps", undefined, { verb: "create", dryRun: false, fieldManager: "" }],
    ["GET", "/api/v1/namespaces/default/pods?limit=500&continue=abc&resourceVersion=0", undefined, { verb: "list" }],
    // case is kept: the server is case-sensitive and will answer 404
    ["GET", "/api/v1/namespaces/default/Pods", undefined, { verb: "list", resource: "Pods" }],
  ])("%s %s (%s)", (method, target, contentType, facts) => {
    const result = kubernetesRequest(input(method, target, contentType));
    expect(result).toMatchObject({ ok: true, facts: { resourceRequest: true, path: target.split("?")[0], ...facts } });
  });

  it.each<[string, string]>([
    ["GET", "/api"],
    ["GET", "/api/v1"],
    ["GET", "/apis"],
    ["GET", "/apis/apps"],
    ["GET", "/apis/apps/v1"],
    ["GET", "/version"],
    ["GET", "/openapi/v3"],
    ["GET", "/openapi/v3/apis/apps/v1"],
    ["GET", "/healthz"],
    ["POST", "/healthz"],
    ["OPTIONS", "/api/v1"],
    ["GET", "/"],
  ])("%s %s is a non-resource request", (method, path) => {
    const nothing = { apiGroup: "", apiVersion: "", resource: "", subresource: "", namespace: "", name: "" };
    expect(kubernetesRequest(input(method, path))).toEqual({ ok: true, facts: kubernetesFacts({ verb: method.toLowerCase(), resourceRequest: false, path, ...nothing }) });
  });

  it("ignores the query of a non-resource request", () => {
    expect(kubernetesRequest(input("GET", "/openapi/v3?watch=yes&watch=no&dryRun=Some"))).toMatchObject({ ok: true, facts: { verb: "get", resourceRequest: false } });
  });

  it.each<[string, string, string | undefined, RegExp]>([
    ["GET", "/api/v1/namespaces/default/pods?watch=true&watch=false", undefined, /watch parameter is given more than once/],
    ["GET", "/api/v1/namespaces/default/pods?labelSelector=a&labelSelector=b", undefined, /labelSelector parameter is given more than once/],
    ["GET", "/api/v1/namespaces/default/pods?limit=1&limit=100000", undefined, /limit parameter is given more than once/],
    ["GET", "/api/v1/namespaces/default/pods?watch=yes", undefined, /the watch parameter "yes" is neither true nor false/],
    // The server reads "f" as true (only "0" and "false" are false): a list here would be a watch there.
    ["GET", "/api/v1/namespaces/default/pods?watch=f", undefined, /the watch parameter "f" is neither true nor false/],
    ["GET", "/api/v1/namespaces/default/pods?watch=T", undefined, /the watch parameter "T" is neither true nor false/],
    ["GET", "/api/v1/namespaces/default/pods?watch=", undefined, /the watch parameter "" is neither true nor false/],
    ["POST", "/api/v1/namespaces/default/configmaps?dryRun=Some", undefined, /the dryRun parameter "Some"/],
    ["POST", "/api/v1/namespaces/default/configmaps?dryRun=all", undefined, /the dryRun parameter "all"/],
    ["OPTIONS", "/api/v1/namespaces/default/pods", undefined, /the method OPTIONS has no Kubernetes verb/],
    ["CONNECT", "/api/v1/namespaces/default/pods/web/exec", undefined, /the method CONNECT has no Kubernetes verb/],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings", "application/json", /the patch type "application\/json"/],
    ["PATCH", "/api/v1/namespaces/default/configmaps/settings", undefined, /must carry a Content-Type/],
    ["GET", "/api/v1/watch", undefined, /no resource after "\/watch"/],
    ["GET", "/apis/apps/v1/proxy", undefined, /no resource after "\/proxy"/],
    ["GET", "/api/v1/namespaces/default/pods/a%3Ab", undefined, /the name "a%3Ab" holds a percent-encoded character/],
    ["GET", "/api/v1/namespaces/d%41fault/pods", undefined, /the namespace "d%41fault"/],
    ["GET", "/api/v1/namespaces/default/po%20ds", undefined, /the resource "po%20ds"/],
    ["GET", "/api/v1/namespaces/default/pods/web/st%20atus", undefined, /the subresource "st%20atus"/],
    ["GET", "/api/v1/namespaces/default/pods/..", undefined, /the name ".." is a dot segment/],
    ["GET", "/api/v1/namespaces/default/pods?fieldSelector=metadata.name%3Da,metadata.name%3Db", undefined, /more than one metadata.name/],
  ])("refuses %s %s (%s)", (method, target, contentType, message) => {
    const result = kubernetesRequest(input(method, target, contentType));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});
