// A trigger runs a function the CREATE TRIGGER statement only names; its body
// lives in the server's catalog. The guard looks it up (catalog.ts) and
// the trigger is judged with what its function runs: a trigger whose function
// deletes is a statement that stores a DELETE (sql.commands), with the tables
// the function touches. Every function of that name the server could resolve
// counts (an unqualified name may be in any schema on the search path); one
// the gateway cannot read refuses the trigger.
import type { SqlFacts } from "@portcullis/common/policy/cel";
import type { TriggerFunction } from "./trigger-function-name.js";
import { classifySql } from "./classify.js";

/** A function as the catalog holds it. */
export interface FunctionSource {
  schema: string;
  language: string;
  /** Its CREATE FUNCTION statement, as pg_get_functiondef writes it (a SQL-standard body included). */
  definition: string;
}

/**
 * The facts of what the functions run, or why the gateway cannot know them. The server's own trigger
 * functions (language internal, in pg_catalog: tsvector_update_trigger, suppress_redundant_updates_trigger)
 * change only the row they are given.
 */
export function functionCode(named: TriggerFunction, sources: readonly FunctionSource[]): { code: SqlFacts[] } | { refusal: string } {
  const shown = named.schema === undefined ? named.name : `${named.schema}.${named.name}`;
  if (sources.length === 0) return { refusal: `the trigger runs ${shown}(), which the gateway cannot find in the catalog; create the function in an earlier query` };
  const code: SqlFacts[] = [];
  for (const { schema, language, definition } of sources) {
    if (language === "internal" && schema === "pg_catalog") continue;
    if (language !== "plpgsql" && language !== "sql") return { refusal: `the trigger runs ${shown}(), written in ${language}, which the gateway cannot read` };
    const classification = classifySql(definition);
    if (!classification.ok) return { refusal: `the trigger runs ${shown}(), whose code cannot be classified: ${classification.error}` };
    code.push(...classification.statements);
  }
  return { code };
}

/** The CREATE TRIGGER statement with what its function runs, reads and writes. */
export function withTriggerCode(statement: SqlFacts, code: readonly SqlFacts[]): SqlFacts {
  const union = (pick: (facts: SqlFacts) => readonly string[]): string[] => [...new Set([statement, ...code].flatMap(pick))];
  const changes = code.filter((facts) => facts.commands.includes("UPDATE") || facts.commands.includes("DELETE"));
  return {
    ...statement,
    commands: union((facts) => facts.commands),
    tables: union((facts) => facts.tables),
    tablesRead: union((facts) => facts.tablesRead),
    tablesWritten: union((facts) => facts.tablesWritten),
    functions: union((facts) => facts.functions),
    dangerous: union((facts) => facts.dangerous),
    hasWhere: changes.length > 0 ? changes.every((facts) => facts.hasWhere) : statement.hasWhere,
  };
}
