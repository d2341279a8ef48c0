import { describe, expect, it } from "@jest/globals";
import { serialize } from "pg-protocol";
import { parseFrontendMessage, type FrontendMessage } from "./frontend.js";
import { StatementNames } from "./statement-names.js";

const message = (raw: Buffer): FrontendMessage => parseFrontendMessage(String.fromCharCode(raw[0] as number), raw.subarray(5));
const renamed = (names: StatementNames, raw: Buffer): FrontendMessage => message(names.toServer(message(raw), raw));

describe("StatementNames", () => {
  const names = new StatementNames();

  it("prefixes named statements in Parse, Bind, Describe and Close, keeping every other byte", () => {
    const server = names.serverName("s1");
    expect(server).toMatch(/^portcullis_[0-9a-f]{16}_s1$/);
    expect(renamed(names, serialize.parse({ name: "s1", text: "SELECT $1", types: [23] }))).toEqual({ type: "Parse", name: server, text: "SELECT $1", parameterTypes: [23] });
    const bound = serialize.bind({ portal: "p", statement: "s1", values: ["7", null], binary: true });
    expect(renamed(names, bound)).toEqual({ ...message(bound), statement: server });
    expect(names.toServer(message(bound), bound).subarray(-12)).toEqual(bound.subarray(-12));
    expect(renamed(names, serialize.describe({ type: "S", name: "s1" }))).toEqual({ type: "Describe", target: "S", name: server });
    expect(renamed(names, serialize.close({ type: "S", name: "s1" }))).toEqual({ type: "Close", target: "S", name: server });
  });

  it("leaves the unnamed statement, portals and other messages alone", () => {
    for (const raw of [serialize.parse({ text: "SELECT 1" }), serialize.bind({ portal: "p" }), serialize.describe({ type: "P", name: "p" }), serialize.close({ type: "P", name: "p" }), serialize.sync()]) {
      expect(names.toServer(message(raw), raw)).toBe(raw);
    }
  });

  it("recognizes SQL that names its statements, and uses a new prefix per session", () => {
    expect(names.namedIn(`DEALLOCATE "${names.serverName("s1")}"`)).toBe(true);
    expect(names.namedIn("DEALLOCATE s1")).toBe(false);
    // Unquoted names fold to lower case.
    expect(names.namedIn(`EXECUTE ${names.serverName("s1").toUpperCase()}`)).toBe(true);
    expect(new StatementNames().prefix).not.toBe(names.prefix);
  });
});
