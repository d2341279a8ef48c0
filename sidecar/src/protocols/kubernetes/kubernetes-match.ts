// How AccessPolicy rules apply to Kubernetes API requests. Like the other
// matchers it leans towards the strict outcome: deny and requireApproval
// rules match broadly (without case; `pods` also covers pods/exec and
// pods/log; no verbs means every verb; namespaces and names also cover a
// collection across all of them, like `kubectl get configmaps -A`, which
// would return theirs too; without paths, non-resource paths too), while an
// allow rule matches exactly (`pods` is the pods themselves, pods/exec must
// be named; the connect verbs exec, attach, portforward and proxy only when
// the rule lists them; non-resource paths only when it names them).
import type { KubernetesFacts } from "@portcullis/common/policy/cel";
import type { PolicyRule, ProtocolMatcher, RuleAction } from "../../policy/protocol-matcher.js";
import { pathPattern } from "../http/http-match.js";

type Kubernetes = NonNullable<NonNullable<PolicyRule["match"]>["kubernetes"]>;

/** Verbs that open a stream to a container or a port, or reach through to one: never allowed by a rule that does not name them. */
export const CONNECT_VERBS: ReadonlySet<string> = new Set(["exec", "attach", "portforward", "proxy"]);

const fold = (text: string, broad: boolean): string => (broad ? text.toLowerCase() : text);

/** Verbs that act on a collection: with no namespace or name they reach every namespace's or object's members. */
const COLLECTION_VERBS: ReadonlySet<string> = new Set(["list", "watch", "deletecollection"]);

/** With `collections`, a broad rule about some namespaces (or names) also covers a collection request across all of them (""). */
function listMatcher(values: readonly string[] | undefined, broad: boolean, collections = false): ((value: string, facts: KubernetesFacts) => boolean) | undefined {
  if (!values) return undefined;
  if (values.includes("*")) return () => true;
  const set = new Set(values.map((value) => fold(value, broad)));
  const acrossAll = broad && collections;
  return (value, facts) => set.has(fold(value, broad)) || (acrossAll && value === "" && COLLECTION_VERBS.has(facts.verb));
}

/** `pods` (for a broad rule also its subresources), `pods/log`, `pods/*`, `*\/scale`, `*`. */
function resourceMatcher(patterns: readonly string[] | undefined, broad: boolean): ((facts: KubernetesFacts) => boolean) | undefined {
  if (!patterns) return undefined;
  const compiled = patterns.map((pattern) => {
    const [resource = "", subresource] = fold(pattern, broad).split("/", 2);
    return { resource, subresource };
  });
  return (facts) => {
    const resource = fold(facts.resource, broad);
    const subresource = fold(facts.subresource, broad);
    return compiled.some((pattern) => {
      if (pattern.resource !== "*" && pattern.resource !== resource) return false;
      if (pattern.subresource === undefined) return pattern.resource === "*" || broad || subresource === "";
      return pattern.subresource === "*" || pattern.subresource === subresource;
    });
  };
}

function compileKubernetesMatch(match: PolicyRule["match"], action: RuleAction): (facts: KubernetesFacts) => boolean {
  if (!match) return (facts) => action !== "allow" || (facts.resourceRequest && !CONNECT_VERBS.has(facts.verb));
  const kubernetes: Kubernetes | undefined = match.kubernetes;
  if (!kubernetes) return () => false;
  const broad = action !== "allow";
  const verbs = kubernetes.verbs;
  const groups = listMatcher(kubernetes.apiGroups, broad);
  const resources = resourceMatcher(kubernetes.resources, broad);
  const namespaces = listMatcher(kubernetes.namespaces, broad, true);
  const names = listMatcher(kubernetes.names, broad, true);
  const paths = kubernetes.paths?.map((glob) => pathPattern(glob, broad));
  // Without paths, an allow rule is about API resources only: /logs, /metrics or /debug/pprof must be named to be allowed.
  const resourceOnly = !broad || Boolean(kubernetes.resources || kubernetes.apiGroups || kubernetes.namespaces || kubernetes.names);
  return (facts) => {
    if (verbs ? !verbs.includes(facts.verb as (typeof verbs)[number]) : !broad && CONNECT_VERBS.has(facts.verb)) return false;
    if (paths) return !facts.resourceRequest && paths.some((pattern) => pattern.test(facts.path));
    if (resourceOnly && !facts.resourceRequest) return false;
    return (
      (!groups || groups(facts.apiGroup, facts)) &&
      (!resources || resources(facts)) &&
      (!namespaces || namespaces(facts.namespace, facts)) &&
      (!names || names(facts.name, facts))
    );
  };
}

/** "delete deployments.apps/web in prod", "get /version". */
export function describeKubernetes(facts: KubernetesFacts): string {
  if (!facts.resourceRequest) return `${facts.verb} ${facts.path}`;
  const type = `${facts.resource}${facts.apiGroup ? `.${facts.apiGroup}` : ""}`;
  const object = facts.name ? `${type}/${facts.name}` : type;
  // exec pods/web, not exec pods/web exec: the connect verbs are their subresource.
  const sub = facts.subresource && facts.subresource !== facts.verb ? ` ${facts.subresource}` : "";
  return `${facts.verb} ${object}${sub}${facts.namespace ? ` in ${facts.namespace}` : ""}`;
}

export const KUBERNETES_MATCHER: ProtocolMatcher<KubernetesFacts> = {
  protocol: "kubernetes",
  noun: "request",
  compile: compileKubernetesMatch,
  describe: describeKubernetes,
  whenFacts: (kubernetes) => ({ kubernetes }),
};
