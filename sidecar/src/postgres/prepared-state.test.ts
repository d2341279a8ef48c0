import { describe, expect, it } from "@jest/globals";
import type { FrontendMessage } from "./frontend.js";
import { PreparedState } from "./prepared-state.js";

const parse = (name: string, text: string): FrontendMessage => ({ type: "Parse", name, text, parameterTypes: [] });
const bind = (portal: string, statement: string, values: string[] = []): FrontendMessage => ({
  type: "Bind",
  portal,
  statement,
  parameters: values.map((value) => ({ format: 0, value: Buffer.from(value) })),
  resultFormats: [],
});
const execute = (portal: string): FrontendMessage => ({ type: "Execute", portal, maxRows: 0 });
const close = (target: "S" | "P", name: string): FrontendMessage => ({ type: "Close", target, name });
const sync: FrontendMessage = { type: "Sync" };

/** A state in which `name` holds `text`, as the server confirmed. */
function prepared(name: string, text: string): PreparedState {
  const state = new PreparedState();
  state.parseSent(name, text)(true);
  return state;
}

const texts = (state: PreparedState, batch: FrontendMessage[]): string[] => state.plan(batch).checks.map((check) => check.refusal ?? check.text);

describe("PreparedState.plan", () => {
  it("checks each Execute against the text its portal was bound from, even if the statement is replaced later in the batch", () => {
    const plan = new PreparedState().plan([parse("", "DELETE FROM t"), bind("p", ""), parse("", "SELECT 1"), bind("", ""), execute("p"), execute(""), sync]);
    expect(plan.checks.map((check) => check.text)).toEqual(["DELETE FROM t", "SELECT 1"]);
    expect([...plan.checked]).toEqual([4, 5]);
  });

  it("stops where the server would refuse a second statement or portal of the same name", () => {
    expect(texts(prepared("s", "SELECT 1"), [parse("s", "DELETE FROM t"), bind("", "s"), execute(""), sync])).toEqual([]);
    const state = prepared("s", "SELECT 1");
    state.bindSent("p", "s", [])(true);
    expect(texts(state, [bind("p", "s"), execute("p"), sync])).toEqual([]);
  });

  it("refuses a Bind of a statement it never saw parsed, or one the batch closed", () => {
    expect(texts(new PreparedState(), [bind("", "q"), execute(""), sync])).toEqual([expect.stringMatching(/^prepared statement "q" was not prepared with Parse/)]);
    expect(texts(prepared("s", "SELECT 1"), [close("S", "s"), bind("", "s"), execute(""), sync])).toEqual([expect.stringMatching(/^prepared statement "s" was not prepared/)]);
  });

  it("refuses to use a name whose change the server has not answered yet", () => {
    const state = new PreparedState();
    state.parseSent("s", "DELETE FROM t");
    expect(texts(state, [bind("", "s"), execute(""), sync])).toEqual([expect.stringMatching(/^prepared statement "s" is still being changed/)]);
    expect(texts(state, [parse("s", "SELECT 1"), sync])).toEqual([expect.stringMatching(/^prepared statement "s" is still being changed/)]);
  });

  it("hands each check the values its portal was bound with", () => {
    const plan = new PreparedState().plan([parse("", "DELETE FROM t WHERE id = $1"), bind("", "", ["5"]), execute(""), sync]);
    expect(plan.checks[0]?.parameters?.map((parameter) => parameter.value?.toString())).toEqual(["5"]);
  });

  it("lets an unknown portal through unchecked: a cursor opened by DECLARE, checked when declared", () => {
    const plan = new PreparedState().plan([execute("c"), sync]);
    expect(plan.checks).toEqual([]);
  });
});

describe("PreparedState changes", () => {
  it("counts a Parse, Bind or Close only when the server confirms it", () => {
    const state = prepared("s", "DELETE FROM t");
    state.closeSent("S", "s")(false);
    expect(state.statement("s")).toBe("DELETE FROM t");
    state.parseSent("s2", "SELECT 1")(false);
    expect(state.statement("s2")).toBeUndefined();
    state.closeSent("S", "s")(true);
    expect(state.statement("s")).toBeUndefined();
    expect(state.unsettled("statement", "s")).toBe(false);
  });

  it("binds the text the statement had when the server bound it, and forgets portals when the transaction ends", () => {
    const state = prepared("", "DELETE FROM t");
    const bound = state.bindSent("p", "", []);
    bound(true);
    state.parseSent("", "SELECT 1")(true);
    expect(state.portal("p")).toEqual({ statement: "", text: "DELETE FROM t", parameters: [] });
    state.transactionEnded();
    expect(state.portal("p")).toBeUndefined();
  });

  it("drops the unnamed statement and portal when a simple query is sent", () => {
    const state = prepared("", "SELECT 1");
    state.bindSent("", "", [])(true);
    state.simpleQuerySent();
    expect(state.statement("")).toBeUndefined();
    expect(state.portal("")).toBeUndefined();
  });
});
