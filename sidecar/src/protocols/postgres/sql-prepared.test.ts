import { beforeAll, describe, expect, it } from "@jest/globals";
import { classifySql, initClassifier } from "./sql/classify.js";
import { SqlPreparedStatements } from "./sql-prepared.js";
import type { PreparedUse } from "./sql/prepared-uses.js";
import type { SqlFacts } from "@portcullis/common/policy/cel";

beforeAll(async () => {
  await initClassifier();
});

function classified(text: string): { statements: SqlFacts[]; uses: Array<PreparedUse | undefined> } {
  const classification = classifySql(text);
  if (!classification.ok) throw new Error(classification.error);
  return { statements: classification.statements, uses: classification.preparedUses };
}

describe("SqlPreparedStatements", () => {
  function prepared(session: SqlPreparedStatements, id: string, text: string, ok = true): void {
    const { statements, uses } = classified(text);
    session.sending(id, statements, uses);
    session.ran(id, ok);
  }
  const judge = (session: SqlPreparedStatements, text: string): SqlFacts | undefined => {
    const execute = classified(text);
    return session.judged(execute.statements, execute.uses)[0];
  };

  it("judges EXECUTE as the statement the server prepared, without the prepare tag", () => {
    const session = new SqlPreparedStatements();
    prepared(session, "1", "PREPARE wipe AS DELETE FROM orders");
    expect(judge(session, "EXECUTE wipe")).toMatchObject({ command: "DELETE", hasWhere: false, tablesWritten: ["orders"], dangerous: [] });
  });

  it("adds what EXECUTE's own arguments call and read", () => {
    const session = new SqlPreparedStatements();
    prepared(session, "1", "PREPARE echo(text) AS SELECT $1");
    expect(judge(session, "EXECUTE echo(pg_read_file('/etc/hostname'))")).toMatchObject({ command: "SELECT", functions: ["pg_read_file"], dangerous: expect.arrayContaining(["server-file-function"]) });
  });

  it("remembers nothing of a query that failed, keeps the generic facts for unknown names, and forgets on DEALLOCATE and DISCARD ALL", () => {
    const session = new SqlPreparedStatements();
    prepared(session, "1", "PREPARE broken AS SELECT 1", false);
    expect(judge(session, "EXECUTE broken")).toMatchObject({ command: "UTILITY", dangerous: ["execute-prepared"] });
    prepared(session, "2", "PREPARE totals AS SELECT 1");
    prepared(session, "3", "PREPARE other AS SELECT 2");
    prepared(session, "4", "DEALLOCATE totals");
    expect(judge(session, "EXECUTE totals")).toMatchObject({ command: "UTILITY" });
    expect(judge(session, "EXECUTE other")).toMatchObject({ command: "SELECT" });
    prepared(session, "5", "DISCARD ALL");
    expect(judge(session, "EXECUTE other")).toMatchObject({ command: "UTILITY" });
  });

  it("follows the order of the statements sent: a DEALLOCATE after a PREPARE, in one query or pipelined, wins", () => {
    const session = new SqlPreparedStatements();
    prepared(session, "1", "PREPARE x AS SELECT 1; DEALLOCATE x");
    expect(judge(session, "EXECUTE x")).toMatchObject({ command: "UTILITY" });
    const first = classified("PREPARE y AS SELECT 1");
    const second = classified("DEALLOCATE y");
    session.sending("2", first.statements, first.uses);
    session.sending("3", second.statements, second.uses);
    session.ran("2", true);
    session.ran("3", true);
    expect(judge(session, "EXECUTE y")).toMatchObject({ command: "UTILITY" });
  });
});
