// Which AccessPolicies govern a pod, and so which Resources its sidecar
// serves. Only pod-based subjects (podSelector, serviceAccounts) are decided
// here; OIDC subjects are checked by the sidecar per connection, so a policy
// with only OIDC subjects adds nothing to a pod at injection time.
import type { V1Pod } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";

type Subjects = IAccessPolicy["spec"]["subjects"];
export type PodSelector = NonNullable<Subjects["podSelector"]>;
type Requirement = NonNullable<PodSelector["matchExpressions"]>[number];

function requirementMatches(requirement: Requirement, labels: Record<string, string>): boolean {
  const value = labels[requirement.key];
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case "In":
      return value !== undefined && values.includes(value);
    case "NotIn":
      // Kubernetes semantics: a pod without the label satisfies NotIn.
      return value === undefined || !values.includes(value);
    case "Exists":
      return value !== undefined;
    case "DoesNotExist":
      return value === undefined;
    default:
      // An operator this code does not know selects nothing rather than everything.
      return false;
  }
}

/** Kubernetes label-selector semantics: every matchLabels entry and every expression must hold; `{}` matches all. */
export function labelSelectorMatches(selector: PodSelector, labels: Record<string, string>): boolean {
  const exact = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  return exact && (selector.matchExpressions ?? []).every((requirement) => requirementMatches(requirement, labels));
}

/** The service account a pod runs as; the API server defaults it to "default". */
export function podServiceAccount(pod: V1Pod): string {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || "default";
}

/**
 * Whether the policy's subjects select the pod: each given part (podSelector, a non-empty serviceAccounts)
 * must match, and at least one of them must be given.
 */
export function policySelectsPod(policy: IAccessPolicy, pod: V1Pod): boolean {
  const { podSelector, serviceAccounts } = policy.spec.subjects;
  const accounts = serviceAccounts ?? [];
  if (podSelector === undefined && accounts.length === 0) return false;
  if (podSelector !== undefined && !labelSelectorMatches(podSelector, pod.metadata?.labels ?? {})) return false;
  return accounts.length === 0 || accounts.includes(podServiceAccount(pod));
}

function byName<T extends { metadata?: { name?: string } }>(a: T, b: T): number {
  return (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "");
}

/**
 * The AccessPolicies in the pod's namespace that select the pod, sorted by name. `namespace` is the
 * admission request's namespace; pods created from a template may not carry metadata.namespace yet.
 */
export function selectPolicies(
  pod: V1Pod,
  policies: IAccessPolicy[],
  namespace: string | undefined = pod.metadata?.namespace,
): IAccessPolicy[] {
  return policies
    .filter((policy) => namespace !== undefined && policy.metadata?.namespace === namespace)
    .filter((policy) => policySelectsPod(policy, pod))
    .sort(byName);
}

export interface SelectedResources {
  /** The Resources the policies name that exist in the policies' namespace, each once, sorted by name. */
  resources: IResource[];
  /** One message per name a policy gives that has no Resource. */
  missing: string[];
}

/** The Resources that the selected policies name, deduplicated. */
export function selectResources(policies: IAccessPolicy[], resources: IResource[]): SelectedResources {
  const chosen = new Map<string, IResource>();
  const missing: string[] = [];
  for (const policy of policies) {
    const namespace = policy.metadata?.namespace;
    for (const name of policy.spec.resources) {
      const resource = resources.find((r) => r.metadata?.name === name && r.metadata?.namespace === namespace);
      if (resource === undefined) {
        missing.push(
          `AccessPolicy "${policy.metadata?.name ?? ""}" names Resource "${name}", which does not exist in namespace "${namespace ?? ""}"; the sidecar will not serve it`,
        );
      } else {
        chosen.set(name, resource);
      }
    }
  }
  return { resources: [...chosen.values()].sort(byName), missing };
}
