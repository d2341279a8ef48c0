// Decides whether a rule's match.sql fits a classified statement. Matching
// leans towards the strict outcome: deny and requireApproval rules match as
// broadly as the statement allows, while an allow rule must cover the whole
// statement — every table it touches, and, for a statement that reaches
// outside plain data (a dangerous tag), an explicit WRITE — so a rule written
// for reads does not let `SELECT pg_read_file(…)` or `SET ROLE` through.
import type { SqlFacts } from "@portcullis/common/policy/cel";
import type { PolicyRule as Rule, ProtocolMatcher, RuleAction } from "../../../policy/protocol-matcher.js";

const DDL_COMMANDS = new Set(["CREATE", "ALTER", "DROP", "TRUNCATE"]);
const WRITE_COMMANDS = new Set([...DDL_COMMANDS, "INSERT", "UPDATE", "DELETE", "MERGE", "GRANT", "REVOKE", "DO", "CALL"]);
// Tags that add nothing to "is it a write": data-modifying-cte's statement already carries the writing
// command, and client-encoding only tells the guard which setting a SET changes.
const MAX_LISTED_TABLES = 5;
const HARMLESS_TAGS = new Set(["data-modifying-cte", "client-encoding"]);

/** A statement that reaches outside plain table data: server files, server control, roles, code it cannot see. */
export function isDangerous(facts: SqlFacts): boolean {
  return facts.dangerous.some((tag) => !HARMLESS_TAGS.has(tag));
}

/** The WRITE alias: data changes (COPY FROM writes a table), DDL, privileges, code, and anything dangerous. */
export function isWrite(facts: SqlFacts): boolean {
  return WRITE_COMMANDS.has(facts.command) || facts.tablesWritten.length > 0 || isDangerous(facts);
}

/**
 * A deny or requireApproval rule matches any command the statement runs or stores (sql.commands: a DO
 * block that drops, a rule that deletes, a MERGE that deletes); an allow rule matches the statement's
 * own command, and WRITE covers what code inside it does.
 */
function commandMatches(command: string, facts: SqlFacts, broad: boolean): boolean {
  if (command === "WRITE") return isWrite(facts);
  const candidates = broad ? facts.commands : [facts.command];
  if (command === "DDL") return candidates.some((candidate) => DDL_COMMANDS.has(candidate));
  return candidates.includes(command);
}

interface TablePattern {
  schema?: RegExp;
  table: RegExp;
}

function globToRegExp(glob: string): RegExp {
  const source = glob
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${source}$`, "i");
}

function compileTablePattern(pattern: string): TablePattern {
  const dot = pattern.indexOf(".");
  if (dot < 0) return { table: globToRegExp(pattern) };
  return { schema: globToRegExp(pattern.slice(0, dot)), table: globToRegExp(pattern.slice(dot + 1)) };
}

/**
 * A pattern without a schema matches the table in any schema. An unqualified
 * table may live in any schema on the search_path, so a schema pattern matches
 * it only when the caller wants the broad reading (deny and approval rules).
 */
function tableMatches(pattern: TablePattern, table: string, broad: boolean): boolean {
  const dot = table.indexOf(".");
  const schema = dot < 0 ? undefined : table.slice(0, dot);
  const name = dot < 0 ? table : table.slice(dot + 1);
  if (!pattern.table.test(name)) return false;
  if (!pattern.schema) return true;
  return schema === undefined ? broad : pattern.schema.test(schema);
}

export type SqlMatcher = (facts: SqlFacts) => boolean;

/** Compiles a rule's match for SQL statements. A rule without match matches everything. */
export function compileSqlMatch(match: Rule["match"], action: RuleAction): SqlMatcher {
  if (!match) return () => true;
  const sql = match.sql;
  // A rule for HTTP or Kubernetes requests never applies to SQL.
  if (!sql) return () => false;
  const broad = action !== "allow";
  const commands = sql.commands;
  const objectTypes = sql.objectTypes?.map((type) => type.toUpperCase());
  const subcommands = sql.subcommands;
  const tables = sql.tables?.map(compileTablePattern);
  const matchesTable = (table: string): boolean => (tables ?? []).some((pattern) => tableMatches(pattern, table, broad));
  return (facts) => {
    if (commands) {
      const allowed = broad || !isDangerous(facts) ? commands.some((command) => commandMatches(command, facts, broad)) : commands.includes("WRITE");
      if (!allowed) return false;
    }
    if (objectTypes && !objectTypes.includes(facts.objectType)) return false;
    if (subcommands) {
      // A deny needs one subcommand to match; an allow must name every one the statement has.
      const named = (subcommand: string): boolean => subcommands.includes(subcommand);
      const covered = broad ? facts.subcommands.some(named) : facts.subcommands.length > 0 && facts.subcommands.every(named);
      if (!covered) return false;
    }
    if (tables) {
      // A deny needs one table to match; an allow must cover every table the statement touches.
      const covered = broad ? facts.tables.some(matchesTable) : facts.tables.length > 0 && facts.tables.every(matchesTable);
      if (!covered) return false;
    }
    return true;
  };
}

/** Readable words for a statement in messages, e.g. "DROP TABLE on orders". */
function describe(facts: SqlFacts): string {
  const object = facts.objectType ? ` ${facts.objectType}` : "";
  const listed = facts.tables.slice(0, MAX_LISTED_TABLES).join(", ");
  const more = facts.tables.length > MAX_LISTED_TABLES ? ", …" : "";
  const tables = listed ? ` on ${listed}${more}` : "";
  const dangers = facts.dangerous.length > 0 ? ` [${facts.dangerous.join(", ")}]` : "";
  return `${facts.command}${object}${tables}${dangers}`;
}

/** How AccessPolicy rules apply to PostgreSQL statements. */
export const SQL_MATCHER: ProtocolMatcher<SqlFacts> = {
  protocol: "postgres",
  noun: "statement",
  compile: compileSqlMatch,
  describe,
  whenFacts: (sql) => ({ sql }),
};
