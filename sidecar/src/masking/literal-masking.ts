// Masking of the values a statement carries (its literals and bound
// parameters) before they are recorded or shown to a reviewer: the same rules
// as for results. A value written to or compared with a column a rule names
// is masked as that column's values are; every value is scanned by the rules
// that scan (detectors, patterns) for that column, or for every column.
import { maskText, type MaskRule } from "./mask-rule.js";
import type { ResultColumn } from "./result-columns.js";
import { rulesForColumn } from "./result-plan.js";

/** The value as the rules mask it (null: the strategy makes it SQL NULL); the value itself when no rule touches it. */
export function maskLiteral(rules: readonly MaskRule[], value: string, column?: ResultColumn): string | null {
  const applying = rulesForColumn(rules, column);
  return "whole" in applying ? applying.whole.strategy.maskPart(value) : maskText(value, applying.scans);
}
