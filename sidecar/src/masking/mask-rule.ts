// A masking rule as the sidecar runs it: compiled from an AccessPolicy's
// spec.masking entry, and applied to the text of one value. Rules that scan
// (detectors, patterns) replace only what they find; several scanning rules
// on one column apply in policy and rule order, each to what the previous
// one left.
import type { ColumnMatcher } from "./column-patterns.js";
import type { Span } from "./re2-search.js";
import type { MaskStrategy } from "./strategies.js";
import type { JsonPathStep } from "@portcullis/common/policy/json-path";

/** Finds the parts of a text a detector or pattern recognises. */
export type TextFinder = (text: string) => Span[];

export interface MaskRule {
  /** "policy/rule", as evidence names it. */
  id: string;
  strategy: MaskStrategy;
  /** The columns the rule names; undefined when it names none and scans every textual column. */
  columns?: readonly ColumnMatcher[];
  /** Its detectors and patterns; none means it masks whole values of its columns (or JSON paths). */
  finders: readonly TextFinder[];
  /** The fields of JSON bodies it names (HTTP responses); undefined when it names none. */
  jsonPaths?: ReadonlyArray<{ path: string; steps: readonly JsonPathStep[] }>;
}

/** `text` with every rule's findings masked in turn; null when a rule turns the value into SQL NULL. */
export function maskText(text: string, rules: readonly MaskRule[]): string | null {
  let current = text;
  for (const rule of rules) {
    const spans = mergeSpans(rule.finders.flatMap((find) => find(current)));
    if (spans.length === 0) continue;
    const masked = replaceSpans(current, spans, rule.strategy);
    if (masked === null) return null;
    current = masked;
  }
  return current;
}

/** Sorted, with overlapping findings (say an IP address inside something a pattern matched) joined into one. */
function mergeSpans(spans: Span[]): Span[] {
  if (spans.length < 2) return spans;
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const span of sorted) {
    const last = merged[merged.length - 1];
    if (last && span.start < last.end) last.end = Math.max(last.end, span.end);
    else merged.push({ ...span });
  }
  return merged;
}

function replaceSpans(text: string, spans: readonly Span[], strategy: MaskStrategy): string | null {
  const pieces: string[] = [];
  let from = 0;
  for (const span of spans) {
    const replacement = strategy.maskPart(text.slice(span.start, span.end));
    if (replacement === null) return null;
    pieces.push(text.slice(from, span.start), replacement);
    from = span.end;
  }
  pieces.push(text.slice(from));
  return pieces.join("");
}
