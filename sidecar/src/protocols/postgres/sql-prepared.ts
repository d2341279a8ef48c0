// The session's SQL prepared statements, as the guard knows them: PREPARE is
// remembered with its statement's facts once the server has run it, and an
// EXECUTE of that name is judged as that statement (an EXECUTE of a prepared
// SELECT is a read, of a prepared unbounded DELETE an unbounded DELETE), with
// what its own arguments call and read added. DEALLOCATE and DISCARD ALL forget
// at once, before the server confirms, in the order of the statements sent, and
// cancel a PREPARE of that name still on its way: forgetting early only makes
// an EXECUTE judged more strictly. An EXECUTE of a name the gateway never saw
// prepared keeps the generic facts (execute-prepared, which only a WRITE allow
// covers).
import type { SqlFacts } from "@portcullis/common/policy/cel";
import type { PreparedUse } from "./sql/prepared-uses.js";

const PREPARE_TAG = "prepare";
const EXECUTE_TAG = "execute-prepared";
// A session with more names than this forgets the oldest; its EXECUTE is then judged generically.
const MAX_PREPARED = 1000;

const union = (...lists: ReadonlyArray<readonly string[]>): string[] => [...new Set(lists.flat())];

export class SqlPreparedStatements {
  private readonly prepared = new Map<string, SqlFacts>();
  /** PREPAREs sent and not yet answered, by the evidence id of their query. */
  private readonly pending = new Map<string, Map<string, SqlFacts>>();

  /** The facts to judge each statement by: EXECUTE of a known name as what it runs, plus its arguments. */
  judged(statements: readonly SqlFacts[], uses: readonly (PreparedUse | undefined)[]): SqlFacts[] {
    return statements.map((facts, index) => {
      const use = uses[index];
      const runs = use && "executes" in use ? this.prepared.get(use.executes) : undefined;
      if (!runs) return facts;
      return {
        ...runs,
        tables: union(runs.tables, facts.tables),
        tablesRead: union(runs.tablesRead, facts.tablesRead),
        functions: union(runs.functions, facts.functions),
        dangerous: union(runs.dangerous, facts.dangerous.filter((tag) => tag !== EXECUTE_TAG)),
        statementCount: facts.statementCount,
      };
    });
  }

  /** The statements of one query go to the server under `id`, in order. */
  sending(id: string, statements: readonly SqlFacts[], uses: readonly (PreparedUse | undefined)[]): void {
    uses.forEach((use, index) => {
      const facts = statements[index];
      if (!use) return;
      if ("prepares" in use && facts) {
        const waiting = this.pending.get(id) ?? new Map<string, SqlFacts>();
        waiting.set(use.prepares, facts);
        this.pending.set(id, waiting);
      } else if ("deallocates" in use) {
        this.prepared.delete(use.deallocates);
        for (const waiting of this.pending.values()) waiting.delete(use.deallocates);
      } else if ("deallocatesAll" in use) {
        this.prepared.clear();
        for (const waiting of this.pending.values()) waiting.clear();
      }
    });
  }

  /** The query sent under `id` finished; only a query that ran without error prepared its statements. */
  ran(id: string, ok: boolean): void {
    const waiting = this.pending.get(id);
    this.pending.delete(id);
    if (ok) for (const [name, facts] of waiting ?? []) this.remember(name, facts);
  }

  private remember(name: string, facts: SqlFacts): void {
    this.prepared.delete(name);
    if (this.prepared.size >= MAX_PREPARED) {
      const oldest = this.prepared.keys().next().value;
      if (oldest !== undefined) this.prepared.delete(oldest);
    }
    this.prepared.set(name, { ...facts, dangerous: facts.dangerous.filter((tag) => tag !== PREPARE_TAG) });
  }
}
