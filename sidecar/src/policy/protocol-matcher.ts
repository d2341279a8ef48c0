// What the policy engine needs from a protocol: how a rule's `match` applies
// to that protocol's request facts, how a request reads in a message, and
// which CEL variable carries its facts. Each protocol supplies one; the
// engine, its precedence, decisions and approvals are the same for all.
import type { IAccessPolicy } from "@portcullis/crds";
import type { WhenContext, WhenProtocol } from "@portcullis/common/policy/cel";

export type PolicyRule = NonNullable<IAccessPolicy["spec"]["rules"]>[number];
export type RuleAction = PolicyRule["action"];

export interface ProtocolMatcher<F> {
  readonly protocol: WhenProtocol;
  /** What one classified item is called in messages, e.g. "statement" or "request". */
  readonly noun: string;
  /** A rule's match for this protocol's items; a rule that names another protocol never matches. A rule without match matches everything. */
  compile(match: PolicyRule["match"], action: RuleAction): (facts: F) => boolean;
  /** Readable words for messages, e.g. "DROP TABLE on orders" or "DELETE /v1/customers/7". */
  describe(facts: F): string;
  /** The protocol's CEL variable for these facts, e.g. { sql: facts }. */
  whenFacts(facts: F): Omit<WhenContext, "identity" | "resource">;
}

/** A request as its protocol classified it: one or more items (statements of a query; one HTTP request), or why it could not be. */
export type Classified<F> = { ok: true; items: readonly F[] } | { ok: false; error: string };
