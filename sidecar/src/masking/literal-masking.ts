// Masking of the values a statement carries (its literals and bound
// parameters) before they are recorded or shown to a reviewer: the same rules
// as for results. A value written to or compared with a column a rule names
// is masked as that column's values are; every value is scanned by the rules
// that scan (detectors, patterns) for that column, or for every column.
import type { MaskRule } from "./mask-rule.js";
import { maskText } from "./mask-rule.js";
import type { ResultColumn } from "./result-columns.js";

/** The value as the rules mask it (null: the strategy makes it SQL NULL); the value itself when no rule touches it. */
export function maskLiteral(rules: readonly MaskRule[], value: string, column?: ResultColumn): string | null {
  const names = (rule: MaskRule): boolean => (column !== undefined && rule.columns?.some((matches) => matches(column))) ?? false;
  const whole = rules.find((rule) => rule.finders.length === 0 && names(rule));
  if (whole) return whole.strategy.maskPart(value);
  return maskText(
    value,
    rules.filter((rule) => rule.finders.length > 0 && (rule.columns === undefined || names(rule))),
  );
}
