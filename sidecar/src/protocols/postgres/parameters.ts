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

function literal(parameter: BoundParameter): string {
  if (parameter.value === null) return "NULL";
  if (parameter.format === 1) return `'\\x${parameter.value.toString("hex")}' (binary)`;
  return `'${parameter.value.toString("utf8").replace(/'/g, "''")}'`;
}

/** `$1 = '5'`, `$2 = NULL`, …, each cut to a readable length. */
export function renderParameters(parameters: readonly BoundParameter[]): string[] {
  return parameters.map((parameter, index) => {
    const shown = literal(parameter);
    const cut = shown.length > MAX_SHOWN_CHARACTERS ? `${shown.slice(0, MAX_SHOWN_CHARACTERS)}… (${shown.length} characters)` : shown;
    return `$${index + 1} = ${cut}`;
  });
}

/** The exact values, for binding an approval to them (not cut). */
export function parameterIdentity(parameters: readonly BoundParameter[]): string[] {
  return parameters.map((parameter) => (parameter.value === null ? "null" : `${parameter.format}:${parameter.value.toString("base64")}`));
}
