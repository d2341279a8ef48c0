// The values a Bind supplies for a prepared statement's $1, $2, …: what the
// server really runs, so reviewers see them, approvals are bound to them and
// the evidence records them. Kept as views into the Bind message and rendered
// only when a statement is checked.

export interface BoundParameter {
  /** 0 text, 1 binary. */
  format: 0 | 1;
  /** null for SQL NULL. */
  value: Buffer | null;
}

/** Longer values are cut in what reviewers and the evidence see (the approval still binds the whole value). */
const MAX_SHOWN_CHARACTERS = 256;

/** Masks the text of the n-th parameter (1-based) as the policies mask values; null for SQL NULL. */
export type ParameterMasker = (value: string, n: number) => string | null;

const quote = (value: string | null): string => (value === null ? "NULL" : `'${value.replace(/'/g, "''")}'`);

function literal(parameter: BoundParameter, n: number, mask: ParameterMasker | undefined): string {
  if (parameter.value === null) return "NULL";
  // Binary values cannot be scanned for what masking looks for: while masking applies, only their size is shown.
  if (parameter.format === 1) return mask ? `(binary, ${parameter.value.length} bytes)` : `'\\x${parameter.value.toString("hex")}' (binary)`;
  const text = parameter.value.toString("utf8");
  return quote(mask ? mask(text, n) : text);
}

/** `$1 = '5'`, `$2 = NULL`, …, each masked when `mask` is given and cut to a readable length. */
export function renderParameters(parameters: readonly BoundParameter[], mask?: ParameterMasker): string[] {
  return parameters.map((parameter, index) => {
    const shown = literal(parameter, index + 1, mask);
    const cut = shown.length > MAX_SHOWN_CHARACTERS ? `${shown.slice(0, MAX_SHOWN_CHARACTERS)}… (${shown.length} characters)` : shown;
    return `$${index + 1} = ${cut}`;
  });
}

/** The exact values, for binding an approval to them (not cut). */
export function parameterIdentity(parameters: readonly BoundParameter[]): string[] {
  return parameters.map((parameter) => (parameter.value === null ? "null" : `${parameter.format}:${parameter.value.toString("base64")}`));
}
