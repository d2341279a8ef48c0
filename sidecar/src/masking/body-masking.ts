// Masking of HTTP bodies with the same rules and strategies as SQL results:
// a rule's jsonPaths pick fields of a JSON body (whole values masked, or only
// what its detectors and patterns find there); a rule without jsonPaths scans
// every string of a JSON body, and a text body, with its detectors and
// patterns. A text body under a rule that names only JSON paths cannot be
// masked: the caller refuses it rather than pass it on.
import { selectJsonPath } from "@portcullis/common/policy/json-path";
import { type MaskRule, maskText } from "./mask-rule.js";

type Counts = Record<string, number>;
type Container = Record<string, unknown> | unknown[];

const count = (counts: Counts, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export class BodyMasker {
  constructor(private readonly rules: readonly MaskRule[]) {}

  /** False when no rule applies to bodies: responses stream through untouched. */
  get active(): boolean {
    return this.rules.length > 0;
  }

  private scanner: BodyMasker | undefined;

  /** The rules that scan every string (those without JSON paths): for what lies outside the fields a protocol names. */
  get scanning(): BodyMasker {
    this.scanner ??= new BodyMasker(this.rules.filter((rule) => !rule.jsonPaths));
    return this.scanner;
  }

  /** False when a rule names only JSON paths, so a body that is not JSON cannot be masked. */
  get masksText(): boolean {
    return this.rules.every((rule) => rule.finders.length > 0);
  }

  /** Masks `document` in place; returns the masked values per rule ("policy/rule"). */
  maskJson(document: { value: unknown }): Counts {
    const counts: Counts = {};
    for (const rule of this.rules) {
      if (!rule.jsonPaths) {
        document.value = this.scan(document.value, rule, counts);
        continue;
      }
      for (const { steps } of rule.jsonPaths) {
        for (const { parent, key } of selectJsonPath(document.value, steps)) {
          const slot = parent as Record<string | number, unknown>;
          slot[key] = rule.finders.length ? this.scan(slot[key], rule, counts) : this.whole(slot[key], rule, counts);
        }
      }
    }
    return counts;
  }

  /** The text masked by every rule's detectors and patterns, with counts; undefined when it cannot be masked (see masksText). */
  maskText(text: string): { text: string; counts: Counts } | undefined {
    if (!this.masksText) return undefined;
    const counts: Counts = {};
    let current = text;
    for (const rule of this.rules) {
      const masked = maskText(current, [rule]) ?? "";
      if (masked !== current) count(counts, rule.id);
      current = masked;
    }
    return { text: current, counts };
  }

  /** Every leaf under `value` masked whole with the rule's strategy (null stays null). */
  private whole(value: unknown, rule: MaskRule, counts: Counts): unknown {
    if (value === null) return null;
    if (typeof value === "object") return this.mapLeaves(value as Container, (leaf) => this.whole(leaf, rule, counts));
    count(counts, rule.id);
    return rule.strategy.maskPart(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** Every string under `value` with what the rule's finders recognise masked. */
  private scan(value: unknown, rule: MaskRule, counts: Counts): unknown {
    if (typeof value === "string") {
      const masked = maskText(value, [rule]);
      if (masked !== value) count(counts, rule.id);
      return masked;
    }
    if (value !== null && typeof value === "object") return this.mapLeaves(value as Container, (leaf) => this.scan(leaf, rule, counts));
    return value;
  }

  private mapLeaves(container: Container, map: (leaf: unknown) => unknown): Container {
    if (Array.isArray(container)) return container.map(map);
    for (const key of Object.keys(container)) container[key] = map(container[key]);
    return container;
  }
}
