import { describe, expect, it } from "@jest/globals";
import type { FrontendMessage } from "./frontend.js";
import { PreparedState } from "./prepared-state.js";
import type { SqlReading, SqlText } from "./ports.js";

const STANDARD: SqlReading = { standardConformingStrings: true, clientEncoding: "UTF8" };
const sql = (text: string): SqlText => ({ text, reading: STANDARD });
/** The settings as known now; unknown once the batch has run code. */
const reading = (afterRunning: boolean): SqlReading => (afterRunning ? {} : STANDARD);

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
  state.parseSent(name, sql(text))(true);
  return state;
}

const texts = (state: PreparedState, batch: FrontendMessage[]): string[] => state.plan(batch, reading).checks.map((check) => check.refusal ?? check.text);

describe("PreparedState.plan", () => {
  it("checks each Execute against the text its portal was bound from, even if the statement is replaced later in the batch", () => {
    const plan = new PreparedState().plan([parse("", "DELETE FROM t"), bind("p", ""), parse("", "SELECT 1"), bind("", ""), execute("p"), execute(""), sync], reading);
    expect(plan.checks.map((check) => check.text)).toEqual(["DELETE FROM t", "SELECT 1"]);
    expect([...plan.checked]).toEqual([4, 5]);
  });

  it("reads each text under the settings of its Parse: unknown once the batch has bound or executed anything", () => {
    const plan = new PreparedState().plan([parse("a", "SELECT 1"), parse("b", "SELECT 2"), bind("pa", "a"), parse("c", "SELECT 3"), bind("pb", "b"), bind("pc", "c"), execute("pa"), execute("pb"), execute("pc"), sync], reading);
    expect(plan.checks.map((check) => check.reading)).toEqual([STANDARD, STANDARD, {}]);
    expect(plan.parsed.get(3)).toEqual({ text: "SELECT 3", reading: {} });
  });

  it("keeps the settings a statement was parsed under for later batches", () => {
    const state = new PreparedState();
    state.parseSent("s", { text: "SELECT 'a\\'", reading: { standardConformingStrings: false, clientEncoding: "UTF8" } })(true);
    expect(state.plan([bind("", "s"), execute(""), sync], reading).checks[0]?.reading).toEqual({ standardConformingStrings: false, clientEncoding: "UTF8" });
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
    state.parseSent("s", sql("DELETE FROM t"));
    expect(texts(state, [bind("", "s"), execute(""), sync])).toEqual([expect.stringMatching(/^prepared statement "s" is still being changed/)]);
    expect(texts(state, [parse("s", "SELECT 1"), sync])).toEqual([expect.stringMatching(/^prepared statement "s" is still being changed/)]);
  });

  it("hands each check the values its portal was bound with", () => {
    const plan = new PreparedState().plan([parse("", "DELETE FROM t WHERE id = $1"), bind("", "", ["5"]), execute(""), sync], reading);
    expect(plan.checks[0]?.parameters?.map((parameter) => parameter.value?.toString())).toEqual(["5"]);
  });

  it("lets an unknown portal through unchecked: a cursor opened by DECLARE, checked when declared", () => {
    const plan = new PreparedState().plan([execute("c"), sync], reading);
    expect(plan.checks).toEqual([]);
  });
});

describe("PreparedState changes", () => {
  it("counts a Parse, Bind or Close only when the server confirms it", () => {
    const state = prepared("s", "DELETE FROM t");
    state.closeSent("S", "s")(false);
    expect(state.statement("s")).toEqual(sql("DELETE FROM t"));
    state.parseSent("s2", sql("SELECT 1"))(false);
    expect(state.statement("s2")).toBeUndefined();
    state.closeSent("S", "s")(true);
    expect(state.statement("s")).toBeUndefined();
    expect(state.unsettled("statement", "s")).toBe(false);
  });

  it("binds the text the statement had when the server bound it, and forgets portals when the transaction ends", () => {
    const state = prepared("", "DELETE FROM t");
    const bound = state.bindSent("p", "", []);
    bound(true);
    state.parseSent("", sql("SELECT 1"))(true);
    expect(state.portal("p")).toEqual({ statement: "", sql: sql("DELETE FROM t"), parameters: [] });
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
