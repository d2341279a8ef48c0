// The gateway must read every statement as the server will. Two session
// settings change where the server's tokens end: standard_conforming_strings
// (off: '…' takes backslash escapes) and client_encoding (SJIS and friends
// have characters whose second byte is a backslash). Each route that changes
// them — SET, set_config, SET LOCAL, ALTER ROLE … SET, a pipeline — is tried
// against a real PostgreSQL with a text that hides a DROP or a DELETE behind
// a literal the two readings end in different places, in the simple and the
// extended protocol; the table must survive every time, and what changes back
// must be followed back.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "@jest/globals";
import { serialize } from "pg-protocol";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { databaseManifests } from "./database-manifests.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";
import { errorOf, rowOf, WireClient, type BackendMessage } from "./wire-client.js";

const VICTIM_ROWS = 3;
let server: RunningPostgres;
let gateway: SidecarProcess;
let client: WireClient;

const { parse, bind, execute, sync, query } = serialize;

/** With standard_conforming_strings off, a SELECT then DROP TABLE; with it on, one SELECT of two literals. */
const HIDDEN_DROP = "SELECT 'a\\', ' ; DROP TABLE victim; -- '";
/** One statement for the extended protocol: off, a data-modifying CTE that empties victim; on, a read of literals. */
const HIDDEN_DELETE = "WITH q AS (SELECT 'x\\' AS c, ' AS c), d AS (DELETE FROM victim RETURNING 1) SELECT count(*) FROM d, q --' AS e) SELECT * FROM q";
/** 0x95 0x5C is one SJIS character ending in the byte of a backslash: read as SJIS, the literal ends after it. */
const SJIS_CHARACTER = Buffer.from([0x95, 0x5c]);
const sjis = (before: string, after: string): Buffer => Buffer.concat([Buffer.from(before), SJIS_CHARACTER, Buffer.from(after)]);
const SJIS_HIDDEN_DROP = sjis("SELECT E'", "'; DROP TABLE victim; --'");
const SJIS_HIDDEN_DELETE = sjis("WITH q AS (SELECT E'", "' AS c), d AS (DELETE FROM victim RETURNING 1) SELECT count(*) FROM d --' AS c) SELECT * FROM q");

/** A Query message carrying raw bytes (serialize.query encodes its text as UTF-8). */
function rawQuery(text: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write("Q", 0, "latin1");
  header.writeInt32BE(4 + text.length + 1, 1);
  return Buffer.concat([header, text, Buffer.from([0])]);
}

/** A Parse of the unnamed statement carrying raw bytes. */
function rawParse(text: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([0]), text, Buffer.from([0, 0, 0])]);
  const header = Buffer.alloc(5);
  header.write("P", 0, "latin1");
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

const extended = (parseMessage: Buffer): Buffer[] => [parseMessage, bind({ portal: "", statement: "" }), execute({ portal: "" }), sync()];
const errors = (messages: BackendMessage[]): string[] => messages.filter((m) => m.type === "E").map((m) => `${errorOf(m).code} ${errorOf(m).message}`);
const DENIED = /^42501 portcullis: denied/;

beforeAll(async () => {
  server = await startPostgres({ tls: false });
  await server.psql(["-c", `CREATE TABLE public.contacts (email text); INSERT INTO contacts VALUES ('maria@example.com'); GRANT ALL ON public.contacts TO ${server.usersRole}`]);
  gateway = await startSidecar({
    manifests: [
      // masked-db: the same database where masking applies; a result the gateway withholds must not hide a setting's change.
      ...(await databaseManifests(server, "app-db", "masked-db")),
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "no-destructive-changes" },
        spec: {
          subjects: { serviceAccounts: ["agent"] },
          resources: ["app-db", "masked-db"],
          rules: [{ name: "block-destructive", match: { sql: { commands: ["DROP", "DELETE", "UPDATE", "TRUNCATE"] } }, action: "deny" }],
          defaultAction: "allow",
        },
      },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "masked" },
        spec: {
          subjects: { serviceAccounts: ["agent"] },
          resources: ["masked-db"],
          rules: [],
          defaultAction: "allow",
          masking: [{ name: "contact", columns: ["contacts.email"], strategy: "redact" }],
        },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  client?.close();
  await gateway?.stop();
  await server?.stop();
});

beforeEach(async () => {
  await server.psql(["-c", `DROP TABLE IF EXISTS victim; CREATE TABLE public.victim (id int); GRANT ALL ON public.victim TO ${server.usersRole}; INSERT INTO victim SELECT generate_series(1, ${VICTIM_ROWS})`]);
  client?.close();
  client = await WireClient.connect(gateway.ports["app-db"] as number, "agent", server.database);
});

async function victimRows(): Promise<number> {
  const result = await server.psql(["-At", "-c", "SELECT count(*) FROM victim"]);
  return Number(result.stdout.trim());
}

async function expectAllowed(frames: Buffer[]): Promise<BackendMessage[]> {
  const reply = await client.exchange(frames);
  expect(errors(reply)).toEqual([]);
  return reply;
}

describe("standard_conforming_strings off: the gateway reads backslashes as the server does", () => {
  it.each([
    ["SET", "SET standard_conforming_strings = off"],
    ["set_config", "SELECT set_config('standard_conforming_strings', 'off', false)"],
  ])("after %s, a DROP hidden behind '…\\' is seen and denied, in both protocols", async (_, change) => {
    await expectAllowed([query(change)]);
    const simple = await client.exchange([query(HIDDEN_DROP)]);
    expect(errors(simple)).toEqual([expect.stringMatching(/^42501 portcullis: denied by AccessPolicy "no-destructive-changes" rule "block-destructive"/)]);
    const batch = await client.exchange(extended(parse({ text: HIDDEN_DELETE })));
    expect(errors(batch)).toEqual([expect.stringMatching(/^42501 portcullis: denied by AccessPolicy "no-destructive-changes" rule "block-destructive"/)]);
    // What the server reads with the setting off, written as it reads it, is still allowed.
    const reply = await expectAllowed([query("SELECT 'it\\'s'")]);
    expect(reply.filter((m) => m.type === "D").map(rowOf)).toEqual([["it's"]]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("follows SET LOCAL into its transaction and back out when it ends", async () => {
    expect(errors(await client.exchange([query("BEGIN"), query("SET LOCAL standard_conforming_strings = off")], 2))).toEqual([]);
    expect(errors(await client.exchange([query(HIDDEN_DROP)]))).toEqual([expect.stringMatching(DENIED)]);
    await client.exchange([query("ROLLBACK")]);
    // Back on: the same text is one harmless SELECT of two literals, for the server as for the gateway.
    const reply = await expectAllowed([query(HIDDEN_DROP)]);
    expect(reply.filter((m) => m.type === "D").map(rowOf)).toEqual([["a\\", " ; DROP TABLE victim; -- "]]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("follows a setting the role brings at login (ALTER ROLE … SET)", async () => {
    const role = server.users.scram.username;
    await server.psql(["-c", `ALTER ROLE ${role} SET standard_conforming_strings = off`]);
    try {
      const session = await WireClient.connect(gateway.ports["app-db"] as number, "agent", server.database);
      try {
        expect(errors(await session.exchange([query(HIDDEN_DROP)]))).toEqual([expect.stringMatching(DENIED)]);
        expect(errors(await session.exchange(extended(parse({ text: HIDDEN_DELETE }))))).toEqual([expect.stringMatching(DENIED)]);
      } finally {
        session.close();
      }
    } finally {
      await server.psql(["-c", `ALTER ROLE ${role} RESET standard_conforming_strings`]);
    }
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("sees the setting change in a result it withholds (a masked column asked for in binary)", async () => {
    const masked = await WireClient.connect(gateway.ports["masked-db"] as number, "agent", server.database);
    try {
      const withheld = await masked.exchange([
        parse({ text: "SET standard_conforming_strings = off" }),
        bind({}),
        execute({}),
        parse({ text: "SELECT email FROM contacts" }),
        bind({ binary: true }),
        execute({}),
        sync(),
      ]);
      expect(errors(withheld)).toEqual([expect.stringMatching(/result withheld/)]);
      // The client hears of the change too (libpq escapes strings by it).
      expect(withheld.filter((m) => m.type === "S").map((m) => m.body.toString("utf8"))).toEqual(["standard_conforming_strings\u0000off\u0000"]);
      expect(errors(await masked.exchange([query(HIDDEN_DROP)]))).toEqual([expect.stringMatching(DENIED)]);
    } finally {
      masked.close();
    }
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it.each([
    ["a DO block run with the setting off", "SET standard_conforming_strings = off", "DO $$ BEGIN PERFORM 'a\\', ' ; DROP TABLE victim; -- '; END $$"],
    ["a function whose own SET clause turns it off", "SELECT 1", "CREATE FUNCTION hidden() RETURNS void LANGUAGE sql SET standard_conforming_strings = off AS $$ SELECT 'a\\', ' ; DROP TABLE victim; -- '; $$"],
  ])("refuses %s when its code reads differently with the setting off", async (_, before, code) => {
    await expectAllowed([query(before)]);
    expect(errors(await client.exchange([query(code)]))).toEqual([expect.stringMatching(/ends elsewhere when standard_conforming_strings is off/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("lets code whose backslash literal ends in the same place either way (a regular expression) through, and it runs", async () => {
    await expectAllowed([query("CREATE OR REPLACE FUNCTION digits_masked(t text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RETURN regexp_replace(t, '\\d+', 'N', 'g'); END $$")]);
    const answer = await client.exchange([query("SELECT digits_masked('order 1234')")]);
    expect(errors(answer)).toEqual([]);
    expect(rowOf(answer.find((m) => m.type === "D") as BackendMessage)).toEqual(["order N"]);
  });

  it("refuses a backslash literal pipelined behind a statement that may change the setting", async () => {
    const simple = await client.exchange([query("SET standard_conforming_strings = off"), query(HIDDEN_DROP)], 2);
    expect(errors(simple)).toEqual([expect.stringMatching(/may have changed standard_conforming_strings/)]);
    await client.exchange([query("RESET standard_conforming_strings")]);
    const batch = await client.exchange([parse({ text: "SET standard_conforming_strings = off" }), bind({}), execute({}), parse({ text: HIDDEN_DELETE }), bind({}), execute({}), sync()]);
    expect(errors(batch)).toEqual([expect.stringMatching(/may have changed standard_conforming_strings/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });
});

describe("client_encoding: text is judged as the server decodes it", () => {
  it.each([
    ["SET client_encoding", "SET client_encoding = 'SJIS'"],
    ["SET NAMES", "SET NAMES 'SJIS'"],
    ["set_config", "SELECT set_config('client_encoding', 'SJIS', false)"],
  ])("after %s to SJIS, a statement hidden behind a two-byte character is refused, in both protocols", async (_, change) => {
    await expectAllowed([query(change)]);
    expect(errors(await client.exchange([rawQuery(SJIS_HIDDEN_DROP)]))).toEqual([expect.stringMatching(/non-ASCII characters while client_encoding is SJIS/)]);
    expect(errors(await client.exchange(extended(rawParse(SJIS_HIDDEN_DELETE))))).toEqual([expect.stringMatching(/non-ASCII characters while client_encoding is SJIS/)]);
    // ASCII reads the same in every encoding.
    await expectAllowed([query("SELECT 1")]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it.each(["BIG5", "GBK", "GB18030", "UHC"])("refuses non-ASCII text while client_encoding is %s, and reads UTF-8 again once it is back", async (encoding) => {
    await expectAllowed([query(`SET client_encoding = '${encoding}'`)]);
    expect(errors(await client.exchange([rawQuery(SJIS_HIDDEN_DROP)]))).toEqual([expect.stringMatching(new RegExp(`while client_encoding is ${encoding}`))]);
    await expectAllowed([query("RESET client_encoding")]);
    const reply = await expectAllowed([query("SELECT 'café'")]);
    expect(reply.filter((m) => m.type === "D").map(rowOf)).toEqual([["café"]]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });

  it("refuses non-ASCII text pipelined behind a statement that may change the encoding", async () => {
    const reply = await client.exchange([query("SET client_encoding = 'SJIS'"), rawQuery(SJIS_HIDDEN_DROP)], 2);
    expect(errors(reply)).toEqual([expect.stringMatching(/may have changed client_encoding/)]);
    expect(await victimRows()).toBe(VICTIM_ROWS);
  });
});
