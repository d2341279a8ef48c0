// What the gateway asks the server's catalog, on a connection of its own (one
// per database, opened on first need, queries one at a time): the names of the
// tables and columns behind a result, for masking rules written as
// table.column (RowDescription carries only the table's OID and the column's
// number; the answer is cached, OIDs are stable for the life of a table), and
// the code of the function a CREATE TRIGGER names (never cached: a function
// can be replaced).
import { serialize } from "pg-protocol";
import { splitDataRow } from "./backend.js";
import { BackendDecoder } from "./backend.js";
import type { FunctionSource } from "./sql/trigger-functions.js";
import { connectUpstream, type UpstreamConnection, type UpstreamTarget, UpstreamError } from "./upstream.js";

export interface ColumnName {
  /** "schema.table" */
  table: string;
  column: string;
}

const CACHE_MAX_TABLES = 10_000;

export class TableCatalog {
  private connection?: Promise<UpstreamConnection>;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tables = new Map<number, Map<number, ColumnName>>();
  private readonly decoder = new BackendDecoder();

  constructor(private readonly target: () => UpstreamTarget) {}

  /** Column names by "tableOid:columnNumber" for the given OIDs (0 = not a table column, skipped). */
  async resolve(tableOids: readonly number[]): Promise<(tableOid: number, column: number) => ColumnName | undefined> {
    const missing = [...new Set(tableOids.filter((oid) => oid > 0 && !this.tables.has(oid)))];
    if (missing.length) await this.serialized(() => this.load(missing));
    return (tableOid, column) => this.tables.get(tableOid)?.get(column);
  }

  /**
   * The definition (CREATE FUNCTION, as pg_get_functiondef writes it) of every function the server could resolve the name to: in its schema, or in any schema when
   * unqualified (the session's search path is not the catalog connection's). Trigger functions take no
   * declared arguments.
   */
  async functionSources(named: { schema?: string; name: string }): Promise<FunctionSource[]> {
    // The names come from the client's text: written as hex, they cannot end the literal whatever the settings.
    const text = (value: string): string => `convert_from(decode('${Buffer.from(value, "utf8").toString("hex")}', 'hex'), 'UTF8')`;
    const sql =
      "SELECT n.nspname, l.lanname, pg_catalog.pg_get_functiondef(p.oid) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace " +
      `JOIN pg_catalog.pg_language l ON l.oid = p.prolang WHERE p.proname = ${text(named.name)} AND p.pronargs = 0` +
      (named.schema === undefined ? "" : ` AND n.nspname = ${text(named.schema)}`);
    const rows = await this.serialized(() => this.query(sql));
    return rows.map(([schema, language, definition]) => ({ schema: schema ?? "", language: language ?? "", definition: definition ?? "" }));
  }

  close(): void {
    void this.connection?.then((connection) => connection.socket.destroy(), () => undefined);
    this.connection = undefined;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(oids: number[]): Promise<void> {
    const wanted = oids.filter((oid) => !this.tables.has(oid));
    if (!wanted.length) return;
    // The OIDs are integers from the server's own RowDescription: safe to write into the text.
    const sql =
      "SELECT a.attrelid, n.nspname, c.relname, a.attnum, a.attname FROM pg_catalog.pg_attribute a " +
      "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
      `WHERE a.attrelid IN (${wanted.map((oid) => String(Math.trunc(oid))).join(",")}) AND a.attnum > 0`;
    const rows = await this.query(sql);
    if (this.tables.size + wanted.length > CACHE_MAX_TABLES) this.tables.clear();
    for (const oid of wanted) this.tables.set(oid, new Map());
    for (const [relid, schema, table, attnum, column] of rows) {
      this.tables.get(Number(relid))?.set(Number(attnum), { table: `${schema ?? ""}.${table ?? ""}`, column: column ?? "" });
    }
  }

  private async query(sql: string): Promise<Array<Array<string | undefined>>> {
    this.connection ??= connectUpstream(this.target());
    let connection: UpstreamConnection;
    try {
      connection = await this.connection;
    } catch (error) {
      this.connection = undefined;
      throw error;
    }
    try {
      return await this.exchange(connection, sql);
    } catch (error) {
      this.close();
      throw error;
    }
  }

  private exchange(connection: UpstreamConnection, sql: string): Promise<Array<Array<string | undefined>>> {
    const { socket, splitter } = connection;
    const rows: Array<Array<string | undefined>> = [];
    let failure: Error | undefined;
    return new Promise((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        splitter.push(chunk);
        for (let frame = splitter.next(); frame; frame = splitter.next()) {
          if (frame.type === "D") rows.push(splitDataRow(frame.body).map((value) => value?.toString("utf8")));
          else if (frame.type === "E") failure = new UpstreamError(`the catalog query failed: ${(this.decoder.decode(frame.raw) as unknown as { message: string }).message}`);
          else if (frame.type === "Z") {
            done();
            return failure ? reject(failure) : resolve(rows);
          }
        }
      };
      const onClose = (): void => {
        done();
        reject(new UpstreamError("the catalog connection closed"));
      };
      const done = (): void => {
        socket.off("data", onData);
        socket.off("close", onClose);
        socket.pause();
      };
      socket.on("data", onData);
      socket.once("close", onClose);
      socket.resume();
      socket.write(serialize.query(sql));
    });
  }
}
