// Compiles the masking rules of the AccessPolicies that govern one Resource
// into a Masker the PostgreSQL gateway asks for a plan per result set. Every
// problem is found here, before any session starts: a pattern RE2 cannot run
// safely, a hash rule without its key, an unknown detector or strategy. Each
// throws MaskingConfigError and the gateway refuses the Resource's sessions
// rather than serve them with a rule quietly missing.
//
// Rules that name only jsonPaths are for HTTP bodies and do not apply to
// query results. A rule that names columns and jsonPaths but no detectors
// masks those columns whole: masking inside JSON values by path is not done
// for PostgreSQL, and masking more is the safe side.
import { MAX_POLICY_PATTERN_COST } from "@portcullis/common/policy/validate";
import { checkRegex, estimateRegexCost } from "@portcullis/common/policy/regex";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { type ColumnMatcher, columnPatternProblem, compileColumnPattern } from "./column-patterns.js";
import { detect, isDetectorName } from "./detectors.js";
import type { MaskRule, TextFinder } from "./mask-rule.js";
import { PATTERN_WINDOW, compileRe2, findSpans } from "./re2-search.js";
import { type ResultMaskPlan, planResult } from "./result-plan.js";
import type { ResultColumn } from "./result-columns.js";
import { type MaskStrategy, hash, nullify, partial, redact } from "./strategies.js";
import { parseJsonPath } from "@portcullis/common/policy/json-path";
import { maskLiteral } from "./literal-masking.js";
import { BodyMasker } from "./body-masking.js";

/** The masking configuration cannot be run as written; the message names the policy, the rule and the field. */
export class MaskingConfigError extends Error {
  override readonly name = "MaskingConfigError";
}

export interface Masker {
  /** False when no rule applies to this Resource's SQL results: the gateway can skip masking altogether. */
  readonly active: boolean;
  /** What to mask in a result with these columns; undefined when nothing in it can be masked. */
  planFor(columns: readonly ResultColumn[]): ResultMaskPlan | undefined;
  /** Masking of HTTP bodies (JSON paths, detectors and patterns). */
  readonly body: BodyMasker;
  /** A value a statement carries, as the rules mask the values of `column` (or of any column); null for SQL NULL. */
  literal(value: string, column?: ResultColumn): string | null;
}

type MaskingSpec = NonNullable<BrokeredPolicy["spec"]["masking"]>[number];

/** The CRD's bounds for keepLast. */
const KEEP_LAST = { min: 1, max: 16 };
/** An HMAC key shorter than this could be guessed, and with it every masked value. */
const MIN_HASH_KEY_BYTES = 16;

/** The masking rules of the policies that govern `resourceName`, in policy and rule order. */
export function compileMasking(policies: readonly BrokeredPolicy[], resourceName: string): Masker {
  const rules = policies.filter((policy) => policy.spec.resources.includes(resourceName)).flatMap(compilePolicy);
  // Rules that name only JSON paths say nothing about SQL results; rules that name only columns nothing about bodies.
  const sqlRules = rules.filter((rule) => rule.columns !== undefined || rule.finders.length > 0);
  return {
    active: sqlRules.length > 0,
    planFor: (columns) => (sqlRules.length > 0 ? planResult(sqlRules, columns) : undefined),
    body: new BodyMasker(rules.filter((rule) => rule.jsonPaths !== undefined || rule.finders.length > 0)),
    literal: (value, column) => maskLiteral(sqlRules, value, column),
  };
}

function compilePolicy(policy: BrokeredPolicy): MaskRule[] {
  const masking = policy.spec.masking ?? [];
  const cost = masking.flatMap((rule) => rule.patterns ?? []).reduce((sum, pattern) => sum + estimateRegexCost(pattern), 0);
  if (cost > MAX_POLICY_PATTERN_COST) {
    throw new MaskingConfigError(
      `AccessPolicy "${policy.name}" (spec.masking): the masking patterns are too large together (estimated size ${cost}, at most ${MAX_POLICY_PATTERN_COST})`,
    );
  }
  return masking.flatMap((rule, index) => compileRule(policy, rule, index) ?? []);
}

/** Throws MaskingConfigError for `field` of one masking rule. */
type Fail = (field: string, problem: string) => never;

function compileRule(policy: BrokeredPolicy, rule: MaskingSpec, index: number): MaskRule | undefined {
  const fail: Fail = (field, problem) => {
    throw new MaskingConfigError(`AccessPolicy "${policy.name}" masking rule "${rule.name}" (spec.masking[${index}].${field}): ${problem}`);
  };
  const columns = rule.columns?.length ? compileColumns(rule.columns, fail) : undefined;
  const jsonPaths = rule.jsonPaths?.length ? compileJsonPaths(rule.jsonPaths, fail) : undefined;
  const finders = [...detectorFinders(rule.detectors ?? [], fail), ...patternFinders(rule.patterns ?? [], fail)];
  if (!columns && !jsonPaths && finders.length === 0) return undefined;
  return { id: `${policy.name}/${rule.name}`, strategy: compileStrategy(policy, rule, fail), ...(columns ? { columns } : {}), ...(jsonPaths ? { jsonPaths } : {}), finders };
}

function compileColumns(patterns: readonly string[], fail: Fail): ColumnMatcher[] {
  return patterns.map((pattern, i) => {
    const problem = columnPatternProblem(pattern);
    return problem === undefined ? compileColumnPattern(pattern) : fail(`columns[${i}]`, problem);
  });
}

function compileJsonPaths(paths: readonly string[], fail: Fail): NonNullable<MaskRule["jsonPaths"]> {
  return paths.map((path, i) => {
    const parsed = parseJsonPath(path);
    return parsed.ok ? { path, steps: parsed.steps } : fail(`jsonPaths[${i}]`, parsed.message);
  });
}

function detectorFinders(names: readonly string[], fail: Fail): TextFinder[] {
  return names.map((name, i) => {
    if (!isDetectorName(name)) return fail(`detectors[${i}]`, `unknown detector "${name}"`);
    return (text: string) => detect(name, text);
  });
}

function patternFinders(patterns: readonly string[], fail: Fail): TextFinder[] {
  return patterns.map((pattern, i) => {
    // The operator's own check: RE2 syntax, and a compiled size the fixed WASM heap can hold.
    const problem = checkRegex(pattern);
    if (problem !== undefined) return fail(`patterns[${i}]`, problem);
    const re = compileRe2(pattern);
    re.lastIndex = 0;
    if (re.exec("") !== null) return fail(`patterns[${i}]`, `pattern "${pattern}" matches the empty string, so it would match everywhere`);
    return (text: string) => findSpans(re, text, PATTERN_WINDOW);
  });
}

function compileStrategy(policy: BrokeredPolicy, rule: MaskingSpec, fail: Fail): MaskStrategy {
  const strategy: string = rule.strategy ?? "redact";
  switch (strategy) {
    case "redact":
      return redact;
    case "null":
      return nullify;
    case "partial": {
      const keepLast = rule.keepLast;
      if (keepLast === undefined || !Number.isInteger(keepLast) || keepLast < KEEP_LAST.min || keepLast > KEEP_LAST.max) {
        return fail("keepLast", `strategy partial needs keepLast, a whole number from ${KEEP_LAST.min} to ${KEEP_LAST.max}`);
      }
      return partial(keepLast);
    }
    case "hash":
      return hash(hashKey(policy, rule, fail));
    default:
      return fail("strategy", `unknown strategy "${strategy}"; use redact, partial, hash or null`);
  }
}

function hashKey(policy: BrokeredPolicy, rule: MaskingSpec, fail: Fail): Buffer {
  const encoded = policy.hashKeys?.[rule.name];
  if (encoded === undefined) {
    const secret = rule.hashKeyRef ? `key "${rule.hashKeyRef.key}" of Secret "${rule.hashKeyRef.name}"` : "no hashKeyRef is set";
    const reason = policy.error ? `; the policy reports: ${policy.error}` : "";
    return fail("hashKeyRef", `no HMAC key was delivered for strategy hash (${secret})${reason}`);
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length < MIN_HASH_KEY_BYTES) {
    return fail("hashKeyRef", `the HMAC key is ${key.length} bytes long; at least ${MIN_HASH_KEY_BYTES} are needed`);
  }
  return key;
}
