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
  it("judges EXECUTE as the statement the server prepared, without the prepare tag", () => {
    const session = new SqlPreparedStatements();
    const prepare = classified("PREPARE wipe AS DELETE FROM orders");
    session.remember("wipe", prepare.statements[0]!);
    const execute = classified("EXECUTE wipe");
    expect(session.judged(execute.statements, execute.uses)[0]).toMatchObject({ command: "DELETE", hasWhere: false, tablesWritten: ["orders"], dangerous: [] });
  });

  it("keeps the generic facts for a name it never saw prepared, and forgets on DEALLOCATE and DISCARD ALL", () => {
    const session = new SqlPreparedStatements();
    session.remember("totals", classified("PREPARE totals AS SELECT 1").statements[0]!);
    session.remember("other", classified("PREPARE other AS SELECT 2").statements[0]!);
    const generic = (name: string): SqlFacts | undefined => {
      const execute = classified(`EXECUTE ${name}`);
      return session.judged(execute.statements, execute.uses)[0];
    };
    expect(generic("unknown")).toMatchObject({ command: "UTILITY", dangerous: ["execute-prepared"] });
    expect(generic("totals")).toMatchObject({ command: "SELECT" });
    session.sending(classified("DEALLOCATE totals").uses);
    expect(generic("totals")).toMatchObject({ command: "UTILITY" });
    expect(generic("other")).toMatchObject({ command: "SELECT" });
    session.sending(classified("DISCARD ALL").uses);
    expect(generic("other")).toMatchObject({ command: "UTILITY" });
  });
});
