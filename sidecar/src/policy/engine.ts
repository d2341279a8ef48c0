// Decides what happens to a classified request under the AccessPolicies that
// govern a Resource, for every protocol: ordered rules, each with the
// protocol's matcher and an optional CEL `when`; the first rule that holds
// decides within a policy, the most restrictive decision across policies and
// items wins. Policies are compiled once per configuration (their CEL `when`
// expressions above all) and then decide per request. Every path that is not
// a clear allow ends in a deny with a message naming the policy and rule: no
// policy, a request that could not be classified, a broken policy, a `when`
// that fails at run time.
import { parseDuration } from "@portcullis/common/durations";
import { compileWhen, type IdentityFacts, type ResourceFacts, type WhenContext } from "@portcullis/common/policy/cel";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import type { Classified, PolicyRule, ProtocolMatcher, RuleAction } from "./protocol-matcher.js";

export interface Decision {
  action: "allow" | "deny" | "requireApproval";
  /** The AccessPolicy that decided; "" when none did (no policy, unclassifiable request, empty query). */
  policy: string;
  /** The rule that decided, or "(default)", "(no policy)", "(parse error)", "(policy error)", "(empty query)". */
  rule: string;
  message: string;
  approval?: { reviewers: { users: string[]; groups: string[] }; timeoutMs: number; grantScope: "once" | "session" | "window"; grantWindowMs?: number };
  /** Which item decided (the statement of a multi-statement query). */
  index?: number;
}

export interface DecideOptions {
  /**
   * Decides whether some request with these facts could be allowed, for lists (an MCP server's
   * tools): a rule's `when` may read what only the real request has, so a deny rule with a `when`
   * may not apply and an allow or requireApproval rule with one may.
   */
  possible?: boolean;
}

export interface PolicySet<F> {
  decide(request: Classified<F>, identity: IdentityFacts, resource: ResourceFacts, options?: DecideOptions): Decision;
}

type Rule = PolicyRule;

interface CompiledRule<F> {
  name: string;
  action: RuleAction;
  message?: string;
  matches: (facts: F) => boolean;
  when?: (context: WhenContext) => boolean;
  approval?: Decision["approval"];
}

type CompiledPolicy<F> =
  | { name: string; broken: false; rules: CompiledRule<F>[]; defaultAction: "allow" | "deny" }
  | { name: string; broken: true; rule: string; message: string };

const RESTRICTIVENESS: Record<Decision["action"], number> = { allow: 0, requireApproval: 1, deny: 2 };

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

function compileRule<F>(rule: Rule, matcher: ProtocolMatcher<F>): CompiledRule<F> {
  const compiled: CompiledRule<F> = { name: rule.name, action: rule.action, matches: matcher.compile(rule.match, rule.action) };
  if (rule.message !== undefined) compiled.message = rule.message;
  if (rule.when !== undefined) {
    const when = compileWhen(rule.when, { protocols: [matcher.protocol] });
    if (!when.ok) throw new RuleError(rule.name, `its when expression does not compile: ${when.message}`);
    compiled.when = (context) => when.evaluate(context);
  }
  if (rule.action === "requireApproval") compiled.approval = compileApproval(rule);
  return compiled;
}

/** One broken rule breaks the whole policy: skipping it would let later, looser rules decide. */
function compilePolicy<F>(policy: BrokeredPolicy, matcher: ProtocolMatcher<F>): CompiledPolicy<F> {
  if (policy.error !== undefined) return { name: policy.name, broken: true, rule: "(policy error)", message: `the policy cannot be enforced: ${policy.error}` };
  try {
    return { name: policy.name, broken: false, rules: (policy.spec.rules ?? []).map((rule) => compileRule(rule, matcher)), defaultAction: policy.spec.defaultAction ?? "deny" };
  } catch (error) {
    const rule = error instanceof RuleError ? error.rule : "(policy error)";
    return { name: policy.name, broken: true, rule, message: `the policy cannot be enforced: ${errorMessage(error)}` };
  }
}

function ruleDecision<F>(policy: string, rule: CompiledRule<F>, described: string, index: number): Decision {
  const fallback = { allow: "is allowed", deny: "is denied", requireApproval: "needs a reviewer's approval" }[rule.action];
  const decision: Decision = { action: rule.action, policy, rule: rule.name, message: rule.message ?? `${described} ${fallback} by this rule`, index };
  if (rule.approval) decision.approval = rule.approval;
  return decision;
}

/** The first rule whose match and when hold decides; none → the default action. */
function decideItem<F>(policy: Extract<CompiledPolicy<F>, { broken: false }>, matcher: ProtocolMatcher<F>, facts: F, context: WhenContext, index: number, possible: boolean): Decision {
  for (const rule of policy.rules) {
    if (!rule.matches(facts)) continue;
    if (rule.when && possible) {
      if (rule.action === "deny") continue;
    } else if (rule.when) {
      let holds: boolean;
      try {
        holds = rule.when(context);
      } catch (error) {
        return { action: "deny", policy: policy.name, rule: rule.name, message: `its when expression failed, so the ${matcher.noun} is refused: ${errorMessage(error)}`, index };
      }
      if (!holds) continue;
    }
    return ruleDecision(policy.name, rule, matcher.describe(facts), index);
  }
  const outcome = policy.defaultAction === "allow" ? "the default action allows it" : "the default action is deny";
  return { action: policy.defaultAction, policy: policy.name, rule: "(default)", message: `no rule matches ${matcher.describe(facts)}, and ${outcome}`, index };
}

/** The rule a denial names when the request could not be classified. */
export const PARSE_ERROR_RULE = "(parse error)";

/** Ties keep the earlier decision, so the earliest item names the reason. */
function mostRestrictive(decisions: readonly Decision[]): Decision | undefined {
  return decisions.reduce<Decision | undefined>((best, next) => (!best || RESTRICTIVENESS[next.action] > RESTRICTIVENESS[best.action] ? next : best), undefined);
}

class CompiledPolicySet<F> implements PolicySet<F> {
  constructor(
    private readonly resourceName: string,
    private readonly matcher: ProtocolMatcher<F>,
    private readonly policies: readonly CompiledPolicy<F>[],
  ) {}

  decide(request: Classified<F>, identity: IdentityFacts, resource: ResourceFacts, options: DecideOptions = {}): Decision {
    if (this.policies.length === 0) {
      return { action: "deny", policy: "", rule: "(no policy)", message: `no AccessPolicy names the Resource "${this.resourceName}", so nothing may be done on it` };
    }
    if (!request.ok) {
      return { action: "deny", policy: "", rule: PARSE_ERROR_RULE, message: `the ${this.matcher.noun} cannot be classified: ${request.error}` };
    }
    const decisions: Decision[] = this.policies.flatMap((policy) =>
      policy.broken ? [{ action: "deny" as const, policy: policy.name, rule: policy.rule, message: policy.message }] : [],
    );
    request.items.forEach((facts, index) => {
      const context: WhenContext = { identity, resource, ...this.matcher.whenFacts(facts) };
      for (const policy of this.policies) if (!policy.broken) decisions.push(decideItem(policy, this.matcher, facts, context, index, options.possible === true));
    });
    return mostRestrictive(decisions) ?? { action: "allow", policy: "", rule: "(empty query)", message: "the query has no statements" };
  }
}

/** The policies that govern one Resource, compiled for its protocol's requests. Never throws. */
export function compilePolicies<F>(policies: readonly BrokeredPolicy[], resource: { name: string }, matcher: ProtocolMatcher<F>): PolicySet<F> {
  const governing = policies.filter((policy) => Array.isArray(policy.spec?.resources) && policy.spec.resources.includes(resource.name));
  return new CompiledPolicySet(resource.name, matcher, governing.map((policy) => compilePolicy(policy, matcher)));
}

/** The text the client sees, e.g. `portcullis: denied by AccessPolicy "p" rule "r": …`. */
export function denialMessage(decision: Decision): string {
  const verb = { deny: "denied", requireApproval: "approval required", allow: "allowed" }[decision.action];
  if (decision.policy === "") return `portcullis: ${verb}: ${decision.message}`;
  const rule = decision.rule === "(default)" ? " (default action)" : decision.rule.startsWith("(") ? "" : ` rule "${decision.rule}"`;
  return `portcullis: ${verb} by AccessPolicy "${decision.policy}"${rule}: ${decision.message}`;
}
