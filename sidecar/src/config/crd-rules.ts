// The CRDs' x-kubernetes-validations rules, evaluated the way the API server
// evaluates them on create: `self` is the (defaulted) value at the rule's
// place in the schema. Transition rules (those reading oldSelf) only apply to
// updates, and a manifests file is always a create, so they are skipped.
import { parse, type ParseResult } from "@marcbachmann/cel-js";
import type { FieldError } from "@portcullis/common/policy/validate";
import { errorMessage } from "./error-message.js";
import { childrenOf, type StructuralSchema, type ValidationRule } from "./crd-schema.js";

const compiled = new Map<string, ParseResult>();

function compile(rule: string): ParseResult {
  let program = compiled.get(rule);
  if (!program) {
    program = parse(rule);
    compiled.set(rule, program);
  }
  return program;
}

const isTransitionRule = (rule: string): boolean => /\boldSelf\b/.test(rule);

function check(rule: ValidationRule, self: unknown, path: string): FieldError | undefined {
  try {
    if (compile(rule.rule)({ self }) === true) return undefined;
  } catch (error) {
    // A rule that cannot be evaluated on this value does not admit it.
    return { field: path, message: `rule ${rule.rule} could not be evaluated: ${errorMessage(error)}` };
  }
  return { field: path, message: rule.message ?? `failed rule: ${rule.rule}` };
}

/** Every x-kubernetes-validations rule the value breaks, at the field the rule is declared on. */
export function ruleProblems(value: unknown, schema: StructuralSchema, path = ""): FieldError[] {
  const own = (schema["x-kubernetes-validations"] ?? [])
    .filter((rule) => !isTransitionRule(rule.rule))
    .flatMap((rule) => check(rule, value, path) ?? []);
  return [...own, ...childrenOf(value, schema, path).flatMap((child) => ruleProblems(child.value, child.schema, child.path))];
}
