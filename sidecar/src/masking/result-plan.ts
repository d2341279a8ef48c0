// Decides, once per result set, which columns the masking rules touch and
// how, then masks DataRow values column by column. Columns no rule can touch
// are never decoded: their Buffers pass through as they are.
//
// Binary results: a column the plan would mask or scan that the client asked
// for in binary format (format code 1) sets binaryConflict, and the gateway
// refuses the result. Masking rewrites a value's text form; rewriting a binary
// int8 or jsonb (or an array) safely needs a codec per type, and passing the
// value unmasked would leak it. Clients get text unless they ask otherwise in
// Bind, so in practice this hits only drivers that request binary results.
import { type MaskRule, maskText } from "./mask-rule.js";
import { type ResultColumn, isTextual } from "./result-columns.js";

export interface MaskedRow {
  values: Array<Buffer | null>;
  changed: boolean;
}

export interface ResultMaskPlan {
  /** Set when a column to mask or scan is in binary format: the gateway must refuse the result with this message. */
  readonly binaryConflict?: string;
  /** The names of the columns the plan masks or scans, in result order. */
  readonly maskedColumns: string[];
  /** For evidence: by column name, the rules ("policy/rule") that apply to it. */
  readonly rulesByColumn: Record<string, string[]>;
  /**
   * Masks one DataRow. The returned array holds new Buffers (or null) only
   * where a value changed, the very same Buffers elsewhere; when nothing
   * changed it is `values` itself. Throws when binaryConflict is set or the
   * row does not have one value per column.
   */
  maskRow(values: Array<Buffer | null>): MaskedRow;
  /** How many values were masked so far, by column name. */
  counts(): Record<string, number>;
}

interface ColumnMasking {
  index: number;
  name: string;
  rules: readonly MaskRule[];
  /** Returns `value` itself when nothing in it is masked. */
  mask(value: Buffer): Buffer | null;
}

/** The plan for a result with these columns, or undefined when no rule touches any of them. */
export function planResult(rules: readonly MaskRule[], columns: readonly ResultColumn[]): ResultMaskPlan | undefined {
  const masked = columns.flatMap((column, index) => planColumn(rules, column, index) ?? []);
  return masked.length === 0 ? undefined : new RowMasker(masked, columns);
}

/**
 * The rules for the values of `column`: one that masks them whole, which wins (scanning what it already hid would
 * change nothing), or else those that scan them — the ones naming the column, and those naming none when the column is
 * textual. Without a column (a value a statement carries that meets none), only the rules naming none.
 */
export function rulesForColumn(rules: readonly MaskRule[], column: ResultColumn | undefined): { whole: MaskRule } | { scans: MaskRule[] } {
  const names = (rule: MaskRule): boolean => (column !== undefined && rule.columns?.some((matches) => matches(column))) ?? false;
  const whole = rules.find((rule) => rule.finders.length === 0 && names(rule));
  if (whole) return { whole };
  return { scans: rules.filter((rule) => rule.finders.length > 0 && (rule.columns === undefined ? column === undefined || isTextual(column) : names(rule))) };
}

function planColumn(rules: readonly MaskRule[], column: ResultColumn, index: number): ColumnMasking | undefined {
  const applying = rulesForColumn(rules, column);
  if ("whole" in applying) {
    const { whole } = applying;
    return { index, name: column.name, rules: [whole], mask: (value) => whole.strategy.maskValue(value) };
  }
  const { scans } = applying;
  if (scans.length === 0) return undefined;
  return { index, name: column.name, rules: scans, mask: (value) => scanValue(value, scans) };
}

function scanValue(value: Buffer, rules: readonly MaskRule[]): Buffer | null {
  const text = value.toString("utf8");
  const masked = maskText(text, rules);
  if (masked === null) return null;
  return masked === text ? value : Buffer.from(masked, "utf8");
}

class RowMasker implements ResultMaskPlan {
  readonly binaryConflict?: string;
  readonly maskedColumns: string[];
  readonly rulesByColumn: Record<string, string[]> = {};
  private readonly tally: Record<string, number> = {};

  constructor(
    private readonly masked: readonly ColumnMasking[],
    private readonly columns: readonly ResultColumn[],
  ) {
    this.maskedColumns = [...new Set(masked.map((column) => column.name))];
    for (const { name, rules } of masked) {
      this.tally[name] = 0;
      this.rulesByColumn[name] = [...new Set([...(this.rulesByColumn[name] ?? []), ...rules.map((rule) => rule.id)])];
    }
    const binary = masked.find((column) => columns[column.index]?.format === 1);
    if (binary) {
      this.binaryConflict =
        `column "${binary.name}" is masked by ${binary.rules.map((rule) => `"${rule.id}"`).join(", ")} but was requested in binary format; ` +
        "masking works on the text format only, so the result is refused: request text results for it";
    }
  }

  maskRow(values: Array<Buffer | null>): MaskedRow {
    if (this.binaryConflict !== undefined) throw new Error(this.binaryConflict);
    if (values.length !== this.columns.length) {
      throw new Error(`a DataRow has ${values.length} values but its RowDescription has ${this.columns.length} columns`);
    }
    let output: Array<Buffer | null> | undefined;
    for (const column of this.masked) {
      const value = values[column.index];
      if (!value) continue;
      const masked = column.mask(value);
      if (masked === value) continue;
      output ??= [...values];
      output[column.index] = masked;
      this.tally[column.name] = (this.tally[column.name] ?? 0) + 1;
    }
    return output ? { values: output, changed: true } : { values, changed: false };
  }

  counts(): Record<string, number> {
    return { ...this.tally };
  }
}
