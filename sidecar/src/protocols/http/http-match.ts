// How AccessPolicy rules apply to HTTP requests. Like SQL matching, it leans
// towards the strict outcome: deny and requireApproval rules match broadly
// (paths and values without case, one matching query value is enough), while
// an allow rule must match exactly (paths with case, every query value).
import type { HttpFacts } from "@portcullis/common/policy/cel";
import type { PolicyRule, ProtocolMatcher, RuleAction } from "../../policy/protocol-matcher.js";

const escape = (text: string): string => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");

/** `*` matches within one path segment, `**` any number of segments; a trailing `/**` also matches the parent itself. */
export function pathPattern(glob: string, ignoreCase: boolean): RegExp {
  const body = glob
    .split(/(\/\*\*$|\*\*|\*)/)
    .map((part) => (part === "/**" ? "(?:/.*)?" : part === "**" ? ".*" : part === "*" ? "[^/]*" : escape(part)))
    .join("");
  return new RegExp(`^${body}$`, ignoreCase ? "i" : "");
}

/** `*` matches one DNS label. */
function hostPattern(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map(escape).join("[^.]+")}$`, "i");
}

function valuePattern(glob: string, ignoreCase: boolean): RegExp {
  return new RegExp(`^${glob.split("*").map(escape).join(".*")}$`, ignoreCase ? "is" : "s");
}

type Http = NonNullable<NonNullable<PolicyRule["match"]>["http"]>;
type ValueMatch = { name: string; values: RegExp[] | undefined };

function headersMatch(headers: readonly ValueMatch[], facts: HttpFacts): boolean {
  return headers.every((header) => {
    const value = facts.headers[header.name];
    return value !== undefined && (!header.values || header.values.some((pattern) => pattern.test(value)));
  });
}

/** Every parameter present; with values, an allow needs every value to fit, a deny one. */
function queryMatches(query: readonly ValueMatch[], facts: HttpFacts, broad: boolean): boolean {
  return query.every((parameter) => {
    const values = facts.query[parameter.name];
    const patterns = parameter.values;
    if (!values) return false;
    if (!patterns) return true;
    const fits = (value: string): boolean => patterns.some((pattern) => pattern.test(value));
    return broad ? values.some(fits) : values.every(fits);
  });
}

function compileHttpMatch(match: PolicyRule["match"], action: RuleAction): (facts: HttpFacts) => boolean {
  if (!match) return () => true;
  const http: Http | undefined = match.http;
  if (!http) return () => false;
  const broad = action !== "allow";
  const methods = http.methods;
  const paths = http.paths?.map((glob) => pathPattern(glob, broad));
  const hosts = http.hosts?.map(hostPattern);
  const headers = http.headers?.map((header) => ({ name: header.name.toLowerCase(), values: header.values?.map((glob) => valuePattern(glob, broad)) }));
  const query = http.query?.map((parameter) => ({ name: parameter.name, values: parameter.values?.map((glob) => valuePattern(glob, broad)) }));
  return (facts) =>
    (!methods || methods.includes(facts.method as (typeof methods)[number])) &&
    (!paths || paths.some((pattern) => pattern.test(facts.path))) &&
    (!hosts || hosts.some((pattern) => pattern.test(facts.host))) &&
    headersMatch(headers ?? [], facts) &&
    queryMatches(query ?? [], facts, broad);
}

function describe(facts: HttpFacts): string {
  return `${facts.method} ${facts.path}`;
}

export const HTTP_MATCHER: ProtocolMatcher<HttpFacts> = {
  protocol: "http",
  noun: "request",
  compile: compileHttpMatch,
  describe,
  whenFacts: (http) => ({ http }),
};

/** Whether any rule's `when` reads the request body, so the gateway must read it (up to the cap) before deciding. */
export function rulesReadBody(rules: ReadonlyArray<{ when?: string }>): boolean {
  return rules.some((rule) => rule.when !== undefined && /\bbody\b/.test(rule.when));
}
