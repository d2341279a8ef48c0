// What the admission webhook checks in AccessPolicies and Resources beyond the
// CRD schema: CEL that compiles, regexes RE2 can run safely, rules that fit the
// protocols of the Resources they govern, and listener ports one gateway can
// serve together. Objects referenced by name may not exist yet, because
// `kubectl apply -f dir/` applies in any order: those are warnings here, and the
// reconciler reports them in the Ready condition once it can tell for sure.
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { compileWhen, type WhenProtocol } from "./cel.js";
import { checkRegex, estimateRegexCost } from "./regex.js";
import { parseJsonPath } from "./json-path.js";

/** One problem, at the field it is in, e.g. spec.rules[2].when. */
export interface FieldError {
  field: string;
  message: string;
}

export interface ValidationResult {
  errors: FieldError[];
  /** Returned to the client as admission warnings; the object is still admitted. */
  warnings: string[];
}

export interface ValidationContext {
  /** The Resources in the namespace of the object being validated, as the informer sees them. */
  resources: readonly IResource[];
}

/**
 * The estimated compile cost of all masking patterns of one policy together
 * (see estimateRegexCost): the webhook compiles them on the API server's
 * clock, and the sidecar compiles them before it serves.
 */
export const MAX_POLICY_PATTERN_COST = 40_000;

type AccessPolicySpec = IAccessPolicy["spec"];
type Rule = NonNullable<AccessPolicySpec["rules"]>[number];
type MatchKind = "sql" | "http" | "kubernetes" | "mcp";

const MATCH_PROTOCOL: Record<MatchKind, WhenProtocol> = { sql: "postgres", http: "http", kubernetes: "kubernetes", mcp: "mcp" };

interface NamedResources {
  found: IResource[];
  missing: { name: string; index: number }[];
}

export function validateAccessPolicy(policy: IAccessPolicy, context: ValidationContext): ValidationResult {
  const spec = policy.spec;
  const named = resolveNamedResources(spec.resources, context.resources, policy.metadata?.namespace);
  const errors = [
    ...sharedListenerPorts(named.found).map((message) => ({ field: "spec.resources", message })),
    ...(spec.rules ?? []).flatMap((rule, index) => validateRule(rule, `spec.rules[${index}]`, named)),
    ...validateMaskingPatterns(spec.masking ?? []),
    ...validateJsonPaths(spec.masking ?? []),
  ];
  const namespace = policy.metadata?.namespace ?? "";
  const warnings = [
    ...named.missing.map(
      ({ name, index }) =>
        `spec.resources[${index}]: Resource "${name}" does not exist in namespace "${namespace}" yet; the policy applies to it once it is created`,
    ),
    ...unverifiedReferences(spec),
  ];
  return { errors, warnings };
}

/**
 * A Resource's listener port must be unique in its namespace: a pod's gateway
 * listens for every Resource its policies name, on 127.0.0.1 in one network
 * namespace. A transparent Resource's endpoint.host is not resolved here: the
 * init container resolves DNS names when the pod starts, and the schema already
 * limits the host to a name or address.
 */
export function validateResource(resource: IResource, context: ValidationContext): ValidationResult {
  const name = resource.metadata?.name ?? "";
  const namespace = resource.metadata?.namespace;
  const others = context.resources.filter(
    (other) => other.metadata?.name !== name && (namespace === undefined || other.metadata?.namespace === undefined || other.metadata.namespace === namespace),
  );
  const port = resource.spec.listener.port;
  const clashes = others.filter((other) => other.spec.listener.port === port).map(resourceName).sort();
  const errors = clashes.map((other) => ({
    field: "spec.listener.port",
    message: `Resource "${name}" and Resource "${other}" both use listener port ${port}${namespace ? ` in namespace "${namespace}"` : ""}; each Resource needs its own listener port, because one pod's gateway may serve both`,
  }));
  return { errors, warnings: sameTransparentEndpoint(resource, others) };
}

/** One line like kube's own: `AccessPolicy "x" is invalid: spec.rules[1].when: ...; spec.masking[0].patterns[0]: ...`. */
export function formatAdmissionDenial(kind: string, name: string, errors: readonly FieldError[]): string {
  return `${kind} "${name}" is invalid: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`;
}

function resolveNamedResources(names: readonly string[], resources: readonly IResource[], namespace: string | undefined): NamedResources {
  const byName = new Map<string, IResource>();
  for (const resource of resources) {
    const ns = resource.metadata?.namespace;
    if (namespace === undefined || ns === undefined || ns === namespace) byName.set(resourceName(resource), resource);
  }
  const named: NamedResources = { found: [], missing: [] };
  names.forEach((name, index) => {
    const resource = byName.get(name);
    if (resource) named.found.push(resource);
    else named.missing.push({ name, index });
  });
  return named;
}

function sharedListenerPorts(resources: readonly IResource[]): string[] {
  const byPort = new Map<number, string[]>();
  for (const resource of resources) {
    const port = resource.spec.listener.port;
    byPort.set(port, [...(byPort.get(port) ?? []), resourceName(resource)]);
  }
  return [...byPort.entries()]
    .filter(([, names]) => names.length > 1)
    .map(
      ([port, names]) =>
        `Resources ${listNames(names.sort())} named by this policy share listener port ${port}, so one pod's gateway cannot serve them all; give each Resource its own spec.listener.port`,
    );
}

/** Groups Kubernetes puts whole populations in; a prefix ending in ":" covers every group under it. */
const BROAD_GROUPS = ["system:authenticated", "system:unauthenticated", "system:serviceaccounts", "system:serviceaccounts:", "system:nodes", "system:masters"];

function validateRule(rule: Rule, field: string, named: NamedResources): FieldError[] {
  const errors: FieldError[] = [];
  const matchKind = matchKindOf(rule);
  const known = new Set(named.found.map((r) => r.spec.protocol));
  // Only when every named Resource exists is it certain which protocols the policy governs.
  const allKnown = named.missing.length === 0;
  if (matchKind && allKnown && !known.has(MATCH_PROTOCOL[matchKind])) {
    errors.push({
      field: `${field}.match.${matchKind}`,
      message: `rule "${rule.name}" matches ${MATCH_PROTOCOL[matchKind]} requests, but the policy names only ${[...known].sort().join(" and ")} Resources (${listNames(named.found.map(resourceName).sort())}), so it can never apply`,
    });
  }
  for (const group of rule.approval?.reviewers?.groups ?? []) {
    if (BROAD_GROUPS.some((broad) => group === broad || (broad.endsWith(":") && group.startsWith(broad)))) {
      errors.push({
        field: `${field}.approval.reviewers.groups`,
        message: `group "${group}" holds every user or service account of its kind, so agents and other workloads could approve requests; name the group of people who review`,
      });
    }
  }
  if (rule.when !== undefined) {
    const protocols: WhenProtocol[] | undefined = matchKind ? [MATCH_PROTOCOL[matchKind]] : allKnown ? [...known] : undefined;
    const compiled = compileWhen(rule.when, protocols ? { protocols } : {});
    if (!compiled.ok) errors.push({ field: `${field}.when`, message: `invalid CEL expression: ${compiled.message}` });
  }
  return errors;
}

function matchKindOf(rule: Rule): MatchKind | undefined {
  if (rule.match?.sql) return "sql";
  if (rule.match?.http) return "http";
  if (rule.match?.kubernetes) return "kubernetes";
  if (rule.match?.mcp) return "mcp";
  return undefined;
}

function validateJsonPaths(masking: NonNullable<AccessPolicySpec["masking"]>): FieldError[] {
  return masking.flatMap((rule, m) =>
    (rule.jsonPaths ?? []).flatMap((path, p) => {
      const parsed = parseJsonPath(path);
      return parsed.ok ? [] : [{ field: `spec.masking[${m}].jsonPaths[${p}]`, message: parsed.message }];
    }),
  );
}

function validateMaskingPatterns(masking: NonNullable<AccessPolicySpec["masking"]>): FieldError[] {
  const patterns = masking.flatMap((rule, m) => (rule.patterns ?? []).map((pattern, p) => ({ pattern, field: `spec.masking[${m}].patterns[${p}]` })));
  const total = patterns.reduce((sum, { pattern }) => sum + estimateRegexCost(pattern), 0);
  if (total > MAX_POLICY_PATTERN_COST) {
    // Compiling them all would hold the webhook (and later every sidecar) for seconds.
    return [
      {
        field: "spec.masking",
        message: `the masking patterns are too large together (estimated size ${total}, at most ${MAX_POLICY_PATTERN_COST}); use fewer patterns, fewer counted repetitions or fewer Unicode classes such as \\pL`,
      },
    ];
  }
  return patterns.flatMap(({ pattern, field }) => {
    const problem = checkRegex(pattern);
    return problem === undefined ? [] : [{ field, message: problem }];
  });
}

/** References the webhook cannot check (it does not read Secrets or ConfigMaps); the reconciler does. */
function unverifiedReferences(spec: AccessPolicySpec): string[] {
  const warnings = (spec.masking ?? []).flatMap((rule, m) =>
    rule.hashKeyRef
      ? [
          `spec.masking[${m}].hashKeyRef: Secret "${rule.hashKeyRef.name}" (key "${rule.hashKeyRef.key}") is not checked at admission; the policy's Ready condition reports whether it exists`,
        ]
      : [],
  );
  if (spec.recording) {
    warnings.push(
      `spec.recording.storeRef: ConfigMap "${spec.recording.storeRef.name}" is not checked at admission; the policy's Ready condition reports whether it exists and names a usable store`,
    );
  }
  return warnings;
}

/** Two transparent Resources for one address cannot both receive its redirected traffic in one pod. */
function sameTransparentEndpoint(resource: IResource, others: readonly IResource[]): string[] {
  if (!resource.spec.transparent) return [];
  const { host, port } = resource.spec.endpoint;
  return others
    .filter((other) => other.spec.transparent && other.spec.endpoint.host === host && other.spec.endpoint.port === port)
    .map(
      (other) =>
        `spec.endpoint: Resource "${resourceName(other)}" also intercepts ${host}:${port} transparently; a pod whose policies name both redirects that traffic to only one of them`,
    );
}

function resourceName(resource: IResource): string {
  return resource.metadata?.name ?? "";
}

function listNames(names: readonly string[]): string {
  const quoted = names.map((n) => `"${n}"`);
  if (quoted.length <= 1) return quoted.join("");
  return `${quoted.slice(0, -1).join(", ")} and ${quoted[quoted.length - 1]}`;
}
