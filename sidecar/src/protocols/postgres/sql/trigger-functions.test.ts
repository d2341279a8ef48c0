import { beforeAll, describe, expect, it } from "@jest/globals";
import { classifySql, initClassifier } from "./classify.js";
import { functionCode, withTriggerCode } from "./trigger-functions.js";

beforeAll(async () => {
  await initClassifier();
});

const definition = (body: string, language = "plpgsql"): string =>
  `CREATE OR REPLACE FUNCTION public.f()\n RETURNS trigger\n LANGUAGE ${language}\nAS $function$${body}$function$\n`;

function trigger(): ReturnType<typeof classifySql> & { ok: true } {
  const classification = classifySql("CREATE TRIGGER t AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION f()");
  if (!classification.ok) throw new Error(classification.error);
  return classification;
}

describe("the function a CREATE TRIGGER names", () => {
  it("is read from the statement", () => {
    expect(trigger().triggerFunctions).toEqual([{ name: "f", event: false }]);
    const event = classifySql('CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION "Audit".log_ddl()');
    expect(event.ok && event.triggerFunctions).toEqual([{ schema: "Audit", name: "log_ddl", event: true }]);
  });

  it("adds what the function runs to the trigger: commands, tables, bounds", () => {
    const found = functionCode({ name: "f", event: false }, [{ schema: "public", language: "plpgsql", definition: definition(" BEGIN DELETE FROM audit; RETURN NEW; END ") }]);
    if (!("code" in found)) throw new Error(found.refusal);
    expect(withTriggerCode(trigger().statements[0]!, found.code)).toMatchObject({
      command: "CREATE",
      objectType: "TRIGGER",
      commands: expect.arrayContaining(["CREATE", "DELETE"]),
      tablesWritten: expect.arrayContaining(["orders", "audit"]),
      hasWhere: false,
    });
  });

  it("counts every function of that name the server could resolve", () => {
    const found = functionCode({ name: "f", event: false }, [
      { schema: "public", language: "sql", definition: definition(" INSERT INTO log VALUES (1) ", "sql") },
      { schema: "other", language: "plpgsql", definition: definition(" BEGIN UPDATE ledger SET n = 0 WHERE id = 1; RETURN NEW; END ") },
    ]);
    expect("code" in found && withTriggerCode(trigger().statements[0]!, found.code)).toMatchObject({ tablesWritten: expect.arrayContaining(["log", "ledger"]), hasWhere: true });
  });

  it.each([
    [[], /cannot find in the catalog/],
    [[{ schema: "public", language: "c", definition: "CREATE FUNCTION public.f() RETURNS trigger LANGUAGE c AS 'lib', 'f'" }], /written in c, which the gateway cannot read/],
    [[{ schema: "public", language: "plpgsql", definition: definition(" BEGIN EXECUTE 'x' END ") }], /whose code cannot be classified/],
  ])("refuses what it cannot read: %j", (sources, reason) => {
    const found = functionCode({ name: "f", event: false }, sources);
    expect("refusal" in found && found.refusal).toMatch(reason);
  });

  it("takes the server's own trigger functions as changing only their row", () => {
    expect(functionCode({ name: "suppress_redundant_updates_trigger", event: false }, [{ schema: "pg_catalog", language: "internal", definition: "" }])).toEqual({ code: [] });
  });
});
