// What a Kubernetes API request asks for, read from its canonical path, query
// and Content-Type the way the API server's RequestInfoFactory reads them
// before authorization: verb, group, version, resource, subresource, namespace
// and name, plus the query facts policies look at (dryRun, fieldManager,
// selectors) and the patch type. Rules judge these facts, so they must be the
// server's reading and nothing else. Where the server would guess, or where
// servers disagree, the request is refused instead: methods without a verb,
// watch or dryRun values the server reads leniently, repeated parameters,
// unknown patch types, and names holding escapes the server would decode.
// Two deliberate differences from RBAC: exec, attach and portforward
// subresources get their own verbs, and so does …/proxy, whatever the method.
import type { KubernetesFacts } from "@portcullis/common/policy/cel";

export interface KubernetesRequestInput {
  /** Upper case, e.g. "GET". */
  method: string;
  /** Already canonical: starts with "/", no dot segments, no duplicate or trailing slashes, escapes normalised. */
  path: string;
  /** The query's pairs, decoded, in order. */
  query: ReadonlyArray<[string, string]>;
  /** The request's Content-Type header. */
  contentType: string | undefined;
}

export type KubernetesRequestResult = { ok: true; facts: KubernetesFacts } | { ok: false; message: string };

/** Words that, as the first part after the version, are the verb rather than a resource. */
const SPECIAL_VERBS = new Set(["watch", "proxy"]);
/** Subresources of a namespace, which keep "namespaces" as the resource. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);
const METHOD_VERBS: ReadonlyMap<string, string> = new Map([
  ["POST", "create"],
  ["GET", "get"],
  ["HEAD", "get"],
  ["PUT", "update"],
  ["PATCH", "patch"],
  ["DELETE", "delete"],
]);
/** Subresources that open a stream or a tunnel: our verb is the subresource, whatever the method. */
const CONNECT_SUBRESOURCES = new Set(["exec", "attach", "portforward", "proxy"]);
/** Parameters that some servers read first-wins and others last-wins, so they may be given once. */
const SINGLE_PARAMETERS = new Set([
  "watch",
  "dryRun",
  "fieldManager",
  "labelSelector",
  "fieldSelector",
  "resourceVersion",
  "timeoutSeconds",
  "allowWatchBookmarks",
  "continue",
  "limit",
]);

const PATCH_TYPES: ReadonlyMap<string, string> = new Map([
  ["application/json-patch+json", "json"],
  ["application/merge-patch+json", "merge"],
  ["application/strategic-merge-patch+json", "strategic-merge"],
  ["application/apply-patch+yaml", "apply"],
  ["application/apply-patch+cbor", "apply"],
]);

class Refusal extends Error {}

/** Where a resource request points: what the server calls its parts, before the verb is known. */
interface ApiLocation {
  apiGroup: string;
  apiVersion: string;
  /** The parts after the version, never empty. */
  rest: string[];
}

interface ObjectParts {
  namespace: string;
  resource: string;
  name: string;
  subresource: string;
}

/** Facts for discovery and other non-resource paths: the method as the verb, the path, nothing else. */
function nonResourceFacts(input: KubernetesRequestInput): KubernetesFacts {
  return {
    verb: input.method.toLowerCase(),
    resourceRequest: false,
    path: input.path,
    apiGroup: "",
    apiVersion: "",
    resource: "",
    subresource: "",
    namespace: "",
    name: "",
    patchType: "",
    dryRun: false,
    fieldManager: "",
    labelSelector: "",
    fieldSelector: "",
  };
}

/** Group, version and the remaining parts of /api/{v}/… or /apis/{g}/{v}/…; undefined for a non-resource path. */
function apiLocation(path: string): ApiLocation | undefined {
  const parts = path.split("/").filter((part) => part !== "");
  if (parts.length < 3) return undefined;
  if (parts[0] === "api") return { apiGroup: "", apiVersion: parts[1] ?? "", rest: parts.slice(2) };
  if (parts[0] === "apis" && parts.length >= 4) return { apiGroup: parts[1] ?? "", apiVersion: parts[2] ?? "", rest: parts.slice(3) };
  return undefined;
}

/** The verb from a special first part (/watch/…, /proxy/…), consuming it, or else from the method. */
function splitVerb(rest: string[], method: string): { verb: string; rest: string[] } {
  const first = rest[0] ?? "";
  if (SPECIAL_VERBS.has(first)) {
    if (rest.length < 2) throw new Refusal(`the path names no resource after "/${first}"`);
    return { verb: first, rest: rest.slice(1) };
  }
  const verb = METHOD_VERBS.get(method);
  if (verb === undefined) throw new Refusal(`the method ${method} has no Kubernetes verb (the API server would authorize it with an empty one)`);
  return { verb, rest };
}

/** Namespace, resource, name and subresource, as resource/name/subresource/… after an optional namespaces/{ns}/. */
function objectParts(rest: string[], verb: string): ObjectParts {
  let namespace = "";
  let parts = rest;
  if (parts[0] === "namespaces" && parts.length > 1) {
    namespace = parts[1] ?? "";
    // namespaces/{ns}/{resource}/… is a namespaced resource; namespaces/{ns}/status is the namespace's own.
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2] ?? "")) parts = parts.slice(2);
  }
  // The deprecated /proxy/ form has no subresource: what follows the name is the proxied path.
  const subresource = parts.length >= 3 && verb !== "proxy" ? (parts[2] ?? "") : "";
  return { namespace, resource: parts[0] ?? "", name: parts[1] ?? "", subresource };
}

/** Refuses a segment the server would read differently from its text: a dot segment or an escape it decodes. */
function checkSegment(what: string, segment: string): void {
  if (segment === "." || segment === "..") throw new Refusal(`the ${what} "${segment}" is a dot segment, which is not a valid Kubernetes name`);
  if (segment.includes("%")) throw new Refusal(`the ${what} "${segment}" holds a percent-encoded character, which the API server would decode into a different ${what}`);
}

function checkSegments(location: ApiLocation, object: ObjectParts): void {
  checkSegment("API group", location.apiGroup);
  checkSegment("API version", location.apiVersion);
  checkSegment("namespace", object.namespace);
  checkSegment("resource", object.resource);
  checkSegment("name", object.name);
  checkSegment("subresource", object.subresource);
}

/** The parameters that matter, each given at most once. */
function singleParameters(query: ReadonlyArray<[string, string]>): Map<string, string> {
  const values = new Map<string, string>();
  for (const [name, value] of query) {
    if (!SINGLE_PARAMETERS.has(name)) continue;
    if (values.has(name)) throw new Refusal(`the ${name} parameter is given more than once; API servers disagree on which one counts`);
    values.set(name, value);
  }
  return values;
}

/**
 * The watch parameter as a boolean. The server reads "0" and "false" in any case as false and every
 * other value (even "f" or "") as true; only "1" and "true" are taken as true here, the rest refused.
 */
function watchParameter(value: string | undefined): boolean {
  if (value === undefined || value === "0" || value.toLowerCase() === "false") return false;
  if (value === "1" || value.toLowerCase() === "true") return true;
  throw new Refusal(`the watch parameter "${value}" is neither true nor false`);
}

/**
 * Whether the server keeps a dry run dry for this subresource: the object itself, its status and its
 * scale are stored objects whose writes honour it; others (serviceaccounts/token, pods/eviction,
 * bindings) act whatever dryRun says, so for them the fact stays false.
 */
export function honoursDryRun(subresource: string): boolean {
  return subresource === "" || subresource === "status" || subresource === "scale";
}

/** True for dryRun=All, false without it; the server knows no other value. */
function dryRunParameter(value: string | undefined): boolean {
  if (value === undefined || value === "") return false;
  if (value === "All") return true;
  throw new Refusal(`the dryRun parameter "${value}" is not "All", the only value the API server knows`);
}

/** A field selector split at its unescaped commas, as the server splits it. */
function selectorTerms(selector: string): string[] {
  const terms: string[] = [];
  let start = 0;
  let escaped = false;
  for (let index = 0; index < selector.length; index++) {
    const char = selector[index];
    if (escaped) escaped = false;
    else if (char === "\\") escaped = true;
    else if (char === ",") {
      terms.push(selector.slice(start, index));
      start = index + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms.filter((term) => term !== "");
}

/** A selector value with its escapes (\\, \, and \=) resolved; undefined where the server would reject it. */
function unescapeSelectorValue(value: string): string | undefined {
  let result = "";
  let escaped = false;
  for (const char of value) {
    if (escaped) {
      if (char !== "\\" && char !== "," && char !== "=") return undefined;
      result += char;
      escaped = false;
    } else if (char === "\\") escaped = true;
    else if (char === "," || char === "=") return undefined;
    else result += char;
  }
  return escaped ? undefined : result;
}

interface SelectorTerm {
  field: string;
  operator: string;
  value: string;
}

/** One term split at its first operator (!=, == or =), its value unescaped; undefined where the server would reject it. */
function selectorTerm(term: string): SelectorTerm | undefined {
  // At each position "!=" before "==" before "=", as the server scans.
  const operator = /!=|==|=/.exec(term);
  if (!operator) return undefined;
  const value = unescapeSelectorValue(term.slice(operator.index + operator[0].length));
  return value === undefined ? undefined : { field: term.slice(0, operator.index), operator: operator[0], value };
}

/** Whether a name from a selector could be a path segment (the server's IsValidPathSegmentName). */
function validPathSegmentName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/") && !name.includes("%");
}

/** The name a fieldSelector requires (metadata.name=X or ==X), if it is a valid name; "" otherwise. */
function selectedName(selector: string): string {
  const names = new Set<string>();
  for (const text of selectorTerms(selector)) {
    const term = selectorTerm(text);
    // The server rejects the whole selector, and takes no name from it, if any term is malformed.
    if (term === undefined) return "";
    if (term.field === "metadata.name" && term.operator !== "!=") names.add(term.value);
  }
  if (names.size > 1) throw new Refusal(`the fieldSelector requires more than one metadata.name (${[...names].map((name) => `"${name}"`).join(", ")})`);
  const [name = ""] = names;
  return validPathSegmentName(name) ? name : "";
}

/** The patch type from the Content-Type's media type, refusing one the server would not apply. */
function patchType(contentType: string | undefined): string {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  const type = PATCH_TYPES.get(mediaType);
  if (type === undefined) throw new Refusal(mediaType === "" ? "a patch must carry a Content-Type naming its patch type" : `the patch type "${mediaType}" is not one the API server knows`);
  return type;
}

/** The final verb: connect subresources by name, get without a name as list or watch, delete without one as deletecollection. */
function finalVerb(verb: string, object: ObjectParts, watch: boolean): string {
  if (CONNECT_SUBRESOURCES.has(object.subresource)) return object.subresource;
  if (object.name !== "") return verb;
  if (verb === "get") return watch ? "watch" : "list";
  if (verb === "delete") return "deletecollection";
  return verb;
}

function resourceFacts(input: KubernetesRequestInput, location: ApiLocation): KubernetesFacts {
  const split = splitVerb(location.rest, input.method);
  const object = objectParts(split.rest, split.verb);
  checkSegments(location, object);
  const parameters = singleParameters(input.query);
  const watch = watchParameter(parameters.get("watch"));
  const fieldSelector = parameters.get("fieldSelector") ?? "";
  const verb = finalVerb(split.verb, object, watch);
  // Like the server, only a get turned list or watch takes its name from the fieldSelector.
  const name = object.name === "" && split.verb === "get" ? selectedName(fieldSelector) : object.name;
  return {
    ...nonResourceFacts(input),
    verb,
    resourceRequest: true,
    apiGroup: location.apiGroup,
    apiVersion: location.apiVersion,
    resource: object.resource,
    subresource: object.subresource,
    namespace: object.namespace,
    name,
    patchType: verb === "patch" ? patchType(input.contentType) : "",
    dryRun: dryRunParameter(parameters.get("dryRun")) && honoursDryRun(object.subresource),
    fieldManager: parameters.get("fieldManager") ?? "",
    labelSelector: parameters.get("labelSelector") ?? "",
    fieldSelector,
  };
}

/** The Kubernetes facts of a request, or why it is refused. */
export function kubernetesRequest(input: KubernetesRequestInput): KubernetesRequestResult {
  try {
    const location = apiLocation(input.path);
    return { ok: true, facts: location ? resourceFacts(input, location) : nonResourceFacts(input) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, message: error.message };
    throw error;
  }
}
