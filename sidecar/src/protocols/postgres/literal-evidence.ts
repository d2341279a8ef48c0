// A statement as the evidence and a reviewer see it when masking applies to
// its Resource: each constant it carries (a string or a number) masked as the
// policies mask results — as the values of the column it is compared with or
// written to (sql/value-columns.ts says which), and by the rules that scan
// every value — and its bound parameters likewise, through the columns their
// $n stand for. A string or number tied to no column (in a function's
// arguments, a subquery, a DO block, text the parser rejects) is masked by
// every rule that names a column, as it could be any column's value: what the
// walk does not follow is hidden, not shown. Comments are scanned. Constants
// are found in PostgreSQL's own parse tree and replaced where their tokens
// are — found in JavaScript for plain text (sql/literal-form.ts), where each
// constant of the tree must sit on a token holding its value, else by
// PostgreSQL's scanner — so the rest of the text stays as sent. Text that
// cannot even be scanned is withheld. Pure, apart from the parser and a
// cache of where the constants of each literal form sit.
import { Buffer } from "node:buffer";
import type { ResultColumn } from "../../masking/result-columns.js";
import { renderParameters } from "./parameters.js";
import type { StatementCheck } from "./ports.js";
import { type Classification, summarize, type TextForm } from "./sql/classify.js";
import { parseStatements, scanTokens, type ScannedToken } from "./sql/parser.js";
import { type FormToken, literalForm } from "./sql/literal-form.js";
import { ANY_COLUMN, valueColumns, type Constant, type ParameterColumns, type ValueColumns } from "./sql/value-columns.js";

/**
 * Masks one value as the rules do for the values of `column` (ANY_COLUMN: a value tied to no column, which any rule that
 * names a column masks), or scans text that is no value (a comment) when `column` is undefined; null makes it SQL NULL.
 */
export type LiteralMasker = (value: string, column?: ResultColumn) => string | null;

export interface MaskedStatement {
  text: string;
  /** The column each $n stands for, where the statement says. */
  parameterColumns: ParameterColumns;
}

export interface ShownStatement {
  text: string;
  parameters?: string[];
  /** The classification's summary (or, for text the parser rejects, its error) as shown: masked as the text is. */
  summary: string;
}

/**
 * What the evidence and a reviewer are shown of a statement: its text, bound values and summary, masked when `mask` is
 * given. The summary keeps comments and the constants of utility statements (EXECUTE's arguments): when masking changed
 * the text, it is made again from the masked text. Text with a backslash read with standard_conforming_strings off (or
 * not known to be on) is withheld: its string tokens end where the server says, not where the scanner here would.
 */
export function shownStatement(check: Pick<StatementCheck, "text" | "parameters" | "reading">, classification: Classification, mask: LiteralMasker | undefined): ShownStatement {
  const parameters = check.parameters?.length ? check.parameters : undefined;
  const summary = classification.ok ? classification.summary : `unparseable: ${classification.error}`;
  if (mask === undefined) return { text: check.text, ...(parameters ? { parameters: renderParameters(parameters) } : {}), summary };
  // Without a backslash, a text's strings end in the same places whatever standard_conforming_strings says.
  const standard = check.reading.standardConformingStrings === true || !check.text.includes("\\");
  const masked: MaskedStatement = standard ? maskStatementLiterals(check.text, mask, classification.ok ? classification.form : undefined) : { text: withheld(check.text, `standard_conforming_strings is ${check.reading.standardConformingStrings === false ? "off" : "not known to be on"}`), parameterColumns: new Map() };
  return {
    text: masked.text,
    ...(parameters ? { parameters: renderParameters(parameters, (value, n) => mask(value, masked.parameterColumns.get(n) ?? ANY_COLUMN)) } : {}),
    summary: !classification.ok || !standard ? maskedParserError(summary, mask) : masked.text === check.text ? summary : summarize(masked.text, classification.statements),
  };
}

/**
 * A parser error quotes the text near the error ("at or near \"…\"", which may hold quotes of its own): everything from
 * its first quote to its last is masked as one value tied to no column.
 */
function maskedParserError(message: string, mask: LiteralMasker): string {
  return message.replace(/"[\s\S]*"/, (quote) => `"${mask(quote.slice(1, -1), ANY_COLUMN) ?? "NULL"}"`);
}

/**
 * The statement with its constants masked, and the columns of its parameters. Text with a literal form (plain text:
 * sql/literal-form.ts) is tokenised in JavaScript, where the parse tree's constants sit exactly on its tokens; a
 * text classified as its form (`form`) is parsed here only once per form, since its texts' trees differ only in
 * their constants' values. Other text goes through PostgreSQL's scanner.
 */
export function maskStatementLiterals(text: string, mask: LiteralMasker, form?: TextForm): MaskedStatement {
  const tokens = form ?? literalForm(text);
  if (tokens?.ascii) {
    let plan = form ? formPlans.get(form.identity) : undefined;
    if (plan === undefined) {
      plan = formPlan(text, tokens.tokens);
      if (form) formPlans.set(form.identity, plan);
    }
    if (plan) return { text: maskTokens(text, scannedTokens(text, tokens.tokens), planConstants(text, tokens.tokens, plan), mask), parameterColumns: plan.parameterColumns };
  }
  return maskStatementLiteralsScanned(text, mask);
}

/** Where the constants of a plain text's tree sit among its tokens (the same for every text of its form), and the columns of its $n. */
interface FormPlan {
  constants: ReadonlyArray<{
    /** The constant's token, or the sign before its number. */
    token: number;
    column: ResultColumn | undefined;
    /** The value of a constant the form keeps as written (1.5): the same in every text of the form. */
    value?: string;
  }>;
  parameterColumns: ParameterColumns;
}

/** Plans by form (TextForm.identity), made from the first text of each form the masked view sees; null where the tokens and the tree disagree. */
const formPlans = new WeakMap<object, FormPlan | null>();

/**
 * The plan of a plain text: each constant of its tree starts where a token does and holds that token's value — a
 * number the form replaced (with the sign before it, which the parser folds in), a string, or a number the form
 * keeps as written (1.5, -1e3) — and each constant the form replaced is one of them; otherwise the plan is null
 * and the scanner decides.
 */
function formPlan(text: string, tokens: readonly FormToken[]): FormPlan | null {
  let constants: Constant[];
  let parameterColumns: ParameterColumns;
  try {
    ({ constants, parameters: parameterColumns } = treeValues(text));
  } catch {
    return null;
  }
  const byStart = new Map(tokens.map((token, index) => [token.start, index]));
  const planned: Array<FormPlan["constants"][number]> = [];
  // The replaced constants' tokens each constant spans: each one exactly once.
  const covered = new Set<number>();
  let spans = 0;
  for (const constant of constants) {
    const index = byStart.get(constant.location);
    if (index === undefined) return null;
    const at = valueTokens(text, tokens, index);
    if (at === undefined) return null;
    if (at.replaced !== undefined) {
      if (tokenValue(text, tokens, index) !== constant.value) return null;
      planned.push({ token: index, column: constant.column });
      covered.add(at.replaced);
      spans += 1;
    } else {
      // Only where the tree's value is the text as written (1.5, -1e3; not 0x1F): then the token is the whole constant.
      if (constant.value !== keptText(text, tokens, index)) return null;
      planned.push({ token: index, column: constant.column, value: constant.value });
    }
  }
  const replaced = tokens.filter((token) => token.constant !== undefined).length;
  return covered.size === replaced && spans === replaced ? { constants: planned, parameterColumns } : null;
}

const isNumberText = (token: string): boolean => /^\.?[0-9]/.test(token);

/**
 * What a constant starting at token `index` spans: that token, or a sign and the number after it. `replaced` is the
 * index of the token the form replaced in it (its value differs between texts of the form), undefined when the
 * value is written in the form (1.5, -1e3); no span at all for any other token.
 */
function valueTokens(text: string, tokens: readonly FormToken[], index: number): { replaced?: number } | undefined {
  const token = tokens[index] as FormToken;
  const written = text.slice(token.start, token.end);
  if (token.constant !== undefined) return { replaced: index };
  if (isNumberText(written)) return {};
  const next = tokens[index + 1];
  if ((written !== "-" && written !== "+") || next === undefined) return undefined;
  if (next.constant === "number") return { replaced: index + 1 };
  return next.constant === undefined && isNumberText(text.slice(next.start, next.end)) ? {} : undefined;
}

/** The text of a constant the form keeps, starting at token `index`: a number, or a sign and the number after it. */
function keptText(text: string, tokens: readonly FormToken[], index: number): string {
  const token = tokens[index] as FormToken;
  const next = tokens[index + 1];
  const written = text.slice(token.start, token.end);
  return isNumberText(written) || next === undefined ? written : `${written}${text.slice(next.start, next.end)}`;
}

/** The value the parser gives the constant at token `index`, whose span holds a token the form replaced. */
function tokenValue(text: string, tokens: readonly FormToken[], index: number): string {
  const token = tokens[index] as FormToken;
  const written = text.slice(token.start, token.end);
  if (token.constant === "string") return written.slice(1, -1).replaceAll("''", "'");
  if (token.constant === "number") return String(Number(written));
  const next = tokens[index + 1] as FormToken;
  return String(Number(`${written}${text.slice(next.start, next.end)}`));
}

function scannedTokens(text: string, tokens: readonly FormToken[]): ScannedToken[] {
  return tokens.map((token) => ({ text: text.slice(token.start, token.end), start: token.start, end: token.end }));
}

function planConstants(text: string, tokens: readonly FormToken[], plan: FormPlan): Constant[] {
  return plan.constants.map((constant) => ({
    location: (tokens[constant.token] as FormToken).start,
    value: constant.value ?? tokenValue(text, tokens, constant.token),
    ...(constant.column ? { column: constant.column } : {}),
  }));
}

/** The constants of every statement of the text's tree with the columns they meet, and the columns of its $n; throws what the parser or the walk throws. */
function treeValues(text: string): ValueColumns {
  const found: ValueColumns = { constants: [], parameters: new Map() };
  for (const statement of parseStatements(text)) {
    const values = valueColumns(statement.node);
    found.constants.push(...values.constants);
    for (const [n, column] of values.parameters) found.parameters.set(n, column);
  }
  return found;
}

/** maskStatementLiterals with every text scanned by PostgreSQL's scanner: for text without a usable form, and what the JavaScript path is held to in tests. */
export function maskStatementLiteralsScanned(text: string, mask: LiteralMasker): MaskedStatement {
  let constants: Constant[] = [];
  let parameterColumns: ParameterColumns = new Map();
  try {
    ({ constants, parameters: parameterColumns } = treeValues(text));
  } catch (error) {
    // Text the parser rejects keeps its tokens, each masked below as tied to no column; a tree too deep to walk is not recorded at all.
    if (error instanceof RangeError) return { text: withheld(text, "its constants could not be found to mask them"), parameterColumns: new Map() };
  }
  let tokens: ScannedToken[];
  try {
    tokens = scanTokens(text);
  } catch {
    return { text: withheld(text, "its constants could not be found to mask them"), parameterColumns: new Map() };
  }
  return { text: maskTokens(text, tokens, constants, mask), parameterColumns };
}

function withheld(text: string, why: string): string {
  return `-- statement withheld (${Buffer.byteLength(text)} bytes): ${why}`;
}

const quoted = (value: string | null): string => (value === null ? "NULL" : `'${value.replaceAll("'", "''")}'`);

/** The value inside a string token: '…', E'…', N'…', U&'…', B'…', X'…' or $tag$…$tag$ (escapes left as written: the rules scan it as text). */
function stringTokenValue(token: string): string | undefined {
  const dollar = /^(\$[^$]*\$)([\s\S]*)\1$/.exec(token);
  if (dollar) return dollar[2];
  const quote = /^(?:[EeNnBbXx]|[Uu]&)?'([\s\S]*)'$/.exec(token);
  return quote ? (quote[1] ?? "").replaceAll("''", "'") : undefined;
}

const isNumberToken = (token: string): boolean => /^\.?[0-9]/.test(token);

/**
 * The text with each constant masked where its token is (a sign before a number goes with it), every other string
 * and number token masked as tied to no column, and every comment scanned by the rules that scan every value.
 */
function maskTokens(text: string, tokens: readonly ScannedToken[], constants: readonly Constant[], mask: LiteralMasker): string {
  const bytes = Buffer.from(text, "utf8");
  const atStart = new Map(constants.map((constant) => [constant.location, constant]));
  const pieces: string[] = [];
  let from = 0;
  for (let index = 0; index < tokens.length; index++) {
    const token = tokens[index] as ScannedToken;
    pieces.push(maskBlanksAndComments(bytes.subarray(from, token.start).toString("utf8"), mask));
    const constant = atStart.get(token.start);
    const next = tokens[index + 1];
    const signed = (token.text === "-" || token.text === "+") && constant !== undefined && next !== undefined && isNumberToken(next.text);
    const masked = maskedToken(token.text, constant, mask);
    from = masked !== undefined && signed ? next.end : token.end;
    if (masked !== undefined && signed) index += 1;
    pieces.push(masked ?? token.text);
  }
  pieces.push(maskBlanksAndComments(bytes.subarray(from).toString("utf8"), mask));
  return pieces.join("");
}

/** What lies between tokens is blanks and comments, and a comment can hold what a rule looks for. */
function maskBlanksAndComments(between: string, mask: LiteralMasker): string {
  if (between.trim() === "") return between;
  return mask(between) ?? " /* masked */ ";
}

/** The token's replacement, or undefined when it is kept: a constant masked for its column, any other string or number as tied to no column, a comment scanned. */
function maskedToken(token: string, constant: Constant | undefined, mask: LiteralMasker): string | undefined {
  if (token.startsWith("--") || token.startsWith("/*")) {
    const comment = mask(token);
    return comment === token ? undefined : (comment ?? "/* masked */");
  }
  const value = constant?.value ?? stringTokenValue(token) ?? (isNumberToken(token) ? token : undefined);
  if (value === undefined) return undefined;
  const masked = mask(value, constant?.column ?? ANY_COLUMN);
  return masked === value ? undefined : quoted(masked);
}
