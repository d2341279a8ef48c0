// The session's SQL prepared statements, as the guard knows them: PREPARE is
// remembered with its statement's facts once the server has run it, and an
// EXECUTE of that name is judged as that statement (an EXECUTE of a prepared
// SELECT is a read, of a prepared unbounded DELETE an unbounded DELETE).
// DEALLOCATE and DISCARD ALL forget at once, before the server confirms:
// forgetting early only makes an EXECUTE judged more strictly. An EXECUTE of a
// name the gateway never saw prepared keeps the generic facts
// (execute-prepared, which only a WRITE allow covers).
import type { SqlFacts } from "@portcullis/common/policy/cel";
import type { PreparedUse } from "./sql/prepared-uses.js";

const PREPARE_TAG = "prepare";
// A session with more names than this forgets the oldest; its EXECUTE is then judged generically.
const MAX_PREPARED = 1000;

export class SqlPreparedStatements {
  private readonly prepared = new Map<string, SqlFacts>();

  /** The facts to judge each statement by: EXECUTE of a known name as what it runs. */
  judged(statements: readonly SqlFacts[], uses: readonly (PreparedUse | undefined)[]): SqlFacts[] {
    return statements.map((facts, index) => {
      const use = uses[index];
      const runs = use && "executes" in use ? this.prepared.get(use.executes) : undefined;
      return runs ? { ...runs, statementCount: facts.statementCount } : facts;
    });
  }

  /** Before the statements go to the server: what they deallocate is forgotten. */
  sending(uses: readonly (PreparedUse | undefined)[]): void {
    for (const use of uses) {
      if (use && "deallocates" in use) this.prepared.delete(use.deallocates);
      if (use && "deallocatesAll" in use) this.prepared.clear();
    }
  }

  /** The server ran a PREPARE: its name now runs the statement with these facts. */
  remember(name: string, facts: SqlFacts): void {
    if (this.prepared.size >= MAX_PREPARED && !this.prepared.has(name)) {
      const oldest = this.prepared.keys().next().value;
      if (oldest !== undefined) this.prepared.delete(oldest);
    }
    this.prepared.set(name, { ...facts, dangerous: facts.dangerous.filter((tag) => tag !== PREPARE_TAG) });
  }
}
