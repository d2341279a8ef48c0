// Decides what happens to a classified query under the AccessPolicies that
// govern a Resource. Policies are compiled once per configuration (their CEL
// `when` expressions above all) and then decide per query. Every path that is
// not a clear allow ends in a deny with a message naming the policy and rule:
// no policy, a query that could not be classified, a broken policy, a `when`
// that fails at run time.
import { parseDuration } from "@portcullis/common/durations";
import { compileWhen } from "@portcullis/common/policy/cel";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { IdentityFacts, ResourceFacts, SqlFacts } from "@portcullis/common/policy/cel";
import type { Classification } from "../protocols/postgres/sql/classify.js";
import { compileSqlMatch, type RuleAction, type SqlMatcher } from "../protocols/postgres/sql/sql-match.js";

export interface Decision {
  action: "allow" | "deny" | "requireApproval";
  /** The AccessPolicy that decided; "" when none did (no policy, unparseable query, empty query). */
  policy: string;
  /** The rule that decided, or "(default)", "(no policy)", "(parse error)", "(policy error)", "(empty query)". */
  rule: string;
  message: string;
  approval?: { reviewers: { users: string[]; groups: string[] }; timeoutMs: number; grantScope: "once" | "session" | "window"; grantWindowMs?: number };
  /** Which statement of a multi-statement query decided. */
  statementIndex?: number;
}

export interface PolicySet {
  decide(classification: Classification, identity: IdentityFacts, resource: ResourceFacts): Decision;
}

type Rule = NonNullable<BrokeredPolicy["spec"]["rules"]>[number];
type WhenContext = { sql: SqlFacts; identity: IdentityFacts; resource: ResourceFacts };

interface CompiledRule {
  name: string;
  action: RuleAction;
  message?: string;
  matches: SqlMatcher;
  when?: (context: WhenContext) => boolean;
  approval?: Decision["approval"];
}

type CompiledPolicy =
  | { name: string; broken: false; rules: CompiledRule[]; defaultAction: "allow" | "deny" }
  | { name: string; broken: true; rule: string; message: string };

const RESTRICTIVENESS: Record<Decision["action"], number> = { allow: 0, requireApproval: 1, deny: 2 };
const MAX_LISTED_TABLES = 5;

class RuleError extends Error {
  constructor(
    readonly rule: string,
    message: string,
  ) {
    super(message);
  }
}

const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function compileApproval(rule: Rule): Decision["approval"] {
  const approval = rule.approval;
  if (!approval) throw new RuleError(rule.name, "the rule requires approval but names no reviewers or timeout");
  try {
    const grantScope = approval.grantScope ?? "once";
    return {
      reviewers: { users: [...(approval.reviewers.users ?? [])], groups: [...(approval.reviewers.groups ?? [])] },
      timeoutMs: parseDuration(approval.timeout),
      grantScope,
      ...(grantScope === "window" ? { grantWindowMs: parseDuration(approval.grantWindow ?? "") } : {}),
    };
  } catch (error) {
    throw new RuleError(rule.name, `its approval settings are invalid: ${errorMessage(error)}`);
  }
}

function compileRule(rule: Rule): CompiledRule {
  const compiled: CompiledRule = { name: rule.name, action: rule.action, matches: compileSqlMatch(rule.match, rule.action) };
  if (rule.message !== undefined) compiled.message = rule.message;
  if (rule.when !== undefined) {
    const when = compileWhen(rule.when, { protocols: ["postgres"] });
    if (!when.ok) throw new RuleError(rule.name, `its when expression does not compile: ${when.message}`);
    compiled.when = (context) => when.evaluate(context);
  }
  if (rule.action === "requireApproval") compiled.approval = compileApproval(rule);
  return compiled;
}

/** One broken rule breaks the whole policy: skipping it would let later, looser rules decide. */
function compilePolicy(policy: BrokeredPolicy): CompiledPolicy {
  if (policy.error !== undefined) return { name: policy.name, broken: true, rule: "(policy error)", message: `the policy cannot be enforced: ${policy.error}` };
  try {
    return { name: policy.name, broken: false, rules: (policy.spec.rules ?? []).map(compileRule), defaultAction: policy.spec.defaultAction ?? "deny" };
  } catch (error) {
    const rule = error instanceof RuleError ? error.rule : "(policy error)";
    return { name: policy.name, broken: true, rule, message: `the policy cannot be enforced: ${errorMessage(error)}` };
  }
}

/** Readable words for a statement in messages, e.g. "DROP TABLE on orders". */
function describe(facts: SqlFacts): string {
  const object = facts.objectType ? ` ${facts.objectType}` : "";
  const listed = facts.tables.slice(0, MAX_LISTED_TABLES).join(", ");
  const more = facts.tables.length > MAX_LISTED_TABLES ? ", …" : "";
  const tables = listed ? ` on ${listed}${more}` : "";
  const dangers = facts.dangerous.length > 0 ? ` [${facts.dangerous.join(", ")}]` : "";
  return `${facts.command}${object}${tables}${dangers}`;
}

function ruleDecision(policy: string, rule: CompiledRule, facts: SqlFacts, statementIndex: number): Decision {
  const fallback = { allow: "is allowed", deny: "is denied", requireApproval: "needs a reviewer's approval" }[rule.action];
  const decision: Decision = { action: rule.action, policy, rule: rule.name, message: rule.message ?? `${describe(facts)} ${fallback} by this rule`, statementIndex };
  if (rule.approval) decision.approval = rule.approval;
  return decision;
}

/** The first rule whose match and when hold decides; none → the default action. */
function decideStatement(policy: Extract<CompiledPolicy, { broken: false }>, context: WhenContext, statementIndex: number): Decision {
  for (const rule of policy.rules) {
    if (!rule.matches(context.sql)) continue;
    if (rule.when) {
      let holds: boolean;
      try {
        holds = rule.when(context);
      } catch (error) {
        return { action: "deny", policy: policy.name, rule: rule.name, message: `its when expression failed, so the statement is refused: ${errorMessage(error)}`, statementIndex };
      }
      if (!holds) continue;
    }
    return ruleDecision(policy.name, rule, context.sql, statementIndex);
  }
  const outcome = policy.defaultAction === "allow" ? "the default action allows it" : "the default action is deny";
  return { action: policy.defaultAction, policy: policy.name, rule: "(default)", message: `no rule matches ${describe(context.sql)}, and ${outcome}`, statementIndex };
}

/** Ties keep the earlier decision, so the earliest statement names the reason. */
function mostRestrictive(decisions: readonly Decision[]): Decision | undefined {
  return decisions.reduce<Decision | undefined>((best, next) => (!best || RESTRICTIVENESS[next.action] > RESTRICTIVENESS[best.action] ? next : best), undefined);
}

class CompiledPolicySet implements PolicySet {
  constructor(
    private readonly resourceName: string,
    private readonly policies: readonly CompiledPolicy[],
  ) {}

  decide(classification: Classification, identity: IdentityFacts, resource: ResourceFacts): Decision {
    if (this.policies.length === 0) {
      return { action: "deny", policy: "", rule: "(no policy)", message: `no AccessPolicy names the Resource "${this.resourceName}", so nothing may be done on it` };
    }
    if (!classification.ok) {
      return { action: "deny", policy: "", rule: "(parse error)", message: `the statement cannot be classified: ${classification.error}` };
    }
    const decisions: Decision[] = this.policies.flatMap((policy) =>
      policy.broken ? [{ action: "deny" as const, policy: policy.name, rule: policy.rule, message: policy.message }] : [],
    );
    classification.statements.forEach((sql, index) => {
      for (const policy of this.policies) if (!policy.broken) decisions.push(decideStatement(policy, { sql, identity, resource }, index));
    });
    return mostRestrictive(decisions) ?? { action: "allow", policy: "", rule: "(empty query)", message: "the query has no statements" };
  }
}

/** The policies that govern one Resource, compiled for its SQL statements. Never throws. */
export function compilePolicies(policies: readonly BrokeredPolicy[], resource: { name: string; protocol: string }): PolicySet {
  const governing = policies.filter((policy) => Array.isArray(policy.spec?.resources) && policy.spec.resources.includes(resource.name));
  return new CompiledPolicySet(resource.name, governing.map(compilePolicy));
}

/** The text the client sees, e.g. `portcullis: denied by AccessPolicy "p" rule "r": …`. */
export function denialMessage(decision: Decision): string {
  const verb = { deny: "denied", requireApproval: "approval required", allow: "allowed" }[decision.action];
  if (decision.policy === "") return `portcullis: ${verb}: ${decision.message}`;
  const rule = decision.rule === "(default)" ? " (default action)" : decision.rule.startsWith("(") ? "" : ` rule "${decision.rule}"`;
  return `portcullis: ${verb} by AccessPolicy "${decision.policy}"${rule}: ${decision.message}`;
}
