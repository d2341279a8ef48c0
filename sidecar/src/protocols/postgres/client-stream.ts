// Client → server. Extended-protocol messages are gathered up to the Sync or
// Flush that ends them, so the statements a batch would execute are checked
// together before any of it reaches the server. A denied simple query or batch
// is replaced by a statement the server is sure to reject, whose error the
// gateway swaps for its own: the client then sees exactly what a server error
// looks like (the transaction is aborted, later messages up to Sync are
// skipped), and responses stay in order however deeply the client pipelines.
import { serialize } from "pg-protocol";
import { errorResponse, noticeResponse } from "./backend.js";
import { type ExpectationQueue, newRecord } from "./expectations.js";
import { type Frame, ProtocolError } from "./frames.js";
import { type FrontendMessage, parseFrontendMessage } from "./frontend.js";
import type { Output } from "./output.js";
import type { ResultMasking, SessionGuard, StatementCheck, Verdict } from "./ports.js";
import type { BatchPlan, PreparedState } from "./prepared-state.js";
import type { ReadingSettings } from "./reading-settings.js";
import { StatementNames } from "./statement-names.js";
import { whenReady } from "./when-ready.js";

/** Not SQL: the server answers it with a syntax error, which the gateway replaces by the denial. */
export const DENIAL_PLACEHOLDER = "PORTCULLIS DENIED THIS STATEMENT";

interface Pending {
  message: FrontendMessage;
  raw: Buffer;
}

export interface ClientStreamOptions {
  expected: ExpectationQueue;
  toServer: Output;
  toClient: Output;
  guard: SessionGuard;
  masking: ResultMasking;
  signal: AbortSignal;
  /** The session's prepared statements and portals, shared with the server side, which confirms changes. */
  prepared: PreparedState;
  /** How the server will read the texts sent next, shared with the server side, which hears of changes. */
  reading: ReadingSettings;
  onTerminate: () => void;
}

export class ClientStream {
  private batch: Pending[] = [];
  private readonly names = new StatementNames();
  /** A denied batch ended with Flush: the server skips up to the client's Sync, so the gateway drops those messages. */
  private skipUntilSync = false;

  constructor(private readonly options: ClientStreamOptions) {}

  handle(frame: Frame): Promise<void> | void {
    const message = parseFrontendMessage(frame.type, frame.body);
    switch (message.type) {
      case "CopyData":
      case "CopyDone":
      case "CopyFail":
        return this.options.toServer.add(frame.raw);
      case "Terminate":
        return this.options.onTerminate();
      case "Password":
        throw new ProtocolError("a password message outside authentication");
      default:
        break;
    }
    if (this.skipUntilSync) return this.skip(message, frame.raw);
    if (message.type === "Query") return this.query(message.text, frame.raw);
    if (message.type === "FunctionCall") return this.functionCall(message.functionOid);
    this.batch.push({ message, raw: frame.raw });
    if (message.type === "Sync" || message.type === "Flush") return this.runBatch();
  }

  private skip(message: FrontendMessage, raw: Buffer): void {
    if (message.type !== "Sync") return;
    this.skipUntilSync = false;
    this.options.expected.push({ kind: "sync" });
    this.options.toServer.add(raw);
  }

  private notify = (text: string): void => {
    // Written at once: NoticeResponse may arrive at any time, and the client is waiting.
    this.options.toClient.add(noticeResponse({ message: text }));
    this.options.toClient.flush();
  };

  /** SQL that names the gateway's own statements could replace one the gateway checked (statement-names.ts): refused. */
  private withNameCheck(check: StatementCheck): StatementCheck {
    return check.refusal === undefined && this.names.namedIn(check.text) ? { ...check, refusal: "the statement names the gateway's internal prepared statements" } : check;
  }

  private query(text: string, raw: Buffer): Promise<void> | void {
    if (this.batch.length) return whenReady(this.runBatch(), () => this.query(text, raw));
    const { guard, signal, reading } = this.options;
    return whenReady(guard.check([this.withNameCheck({ text, reading: reading.current(), protocol: "simple" })], this.notify, signal), (verdict) => this.sendQuery(verdict, raw));
  }

  private sendQuery(verdict: Verdict, raw: Buffer): void {
    const { expected, toServer, prepared, reading } = this.options;
    if (verdict.ok) {
      expected.push({ kind: "query", record: newRecord(verdict.ids[0]) });
      reading.codeSent();
      toServer.add(raw);
    } else {
      expected.push({ kind: "query", replaceError: errorResponse(verdict.error) });
      toServer.add(serialize.query(DENIAL_PLACEHOLDER));
    }
    prepared.simpleQuerySent();
    toServer.flush();
  }

  /**
   * FunctionCall runs a function by OID with no SQL for a policy to judge (libpq's large-object API uses
   * it): refused and recorded, and answered like a failed simple query (ErrorResponse, ReadyForQuery),
   * which is what the client waits for, so the session goes on.
   */
  private functionCall(oid: number): Promise<void> | void {
    if (this.batch.length) return whenReady(this.runBatch(), () => this.functionCall(oid));
    const { expected, toServer, guard, signal, prepared, reading } = this.options;
    const refusal = `the FunctionCall message (function OID ${oid}) is refused: it runs a function without SQL a policy could judge; libpq's large-object calls (lo_import, lo_export, \\lo_* in psql) send it, the SQL functions of the same names do not`;
    return whenReady(guard.check([{ text: `-- FunctionCall of the function with OID ${oid}`, reading: reading.current(), protocol: "simple", refusal }], this.notify, signal), (verdict) => {
      expected.push({ kind: "query", replaceError: errorResponse(verdict.ok ? { code: "42501", message: `portcullis: denied: ${refusal}` } : verdict.error) });
      toServer.add(serialize.query(DENIAL_PLACEHOLDER));
      prepared.simpleQuerySent();
      toServer.flush();
    });
  }

  private runBatch(): Promise<void> | void {
    const batch = this.batch;
    this.batch = [];
    const { reading } = this.options;
    const plan = this.options.prepared.plan(
      batch.map(({ message }) => message),
      (afterRunning) => reading.current(afterRunning),
    );
    const checks = plan.checks.map((check) => this.withNameCheck(check));
    const verdict: Verdict | Promise<Verdict> = checks.length ? this.options.guard.check(checks, this.notify, this.options.signal) : { ok: true, ids: [] };
    return whenReady(verdict, (decided) => {
      if (decided.ok) this.forward(batch, plan, [...decided.ids]);
      else this.deny(batch, errorResponse(decided.error));
      this.options.toServer.flush();
    });
  }

  private deny(batch: readonly Pending[], error: Buffer): void {
    const { expected, toServer } = this.options;
    expected.push({ kind: "parse", replaceError: error });
    toServer.add(serialize.parse({ text: DENIAL_PLACEHOLDER }));
    if (batch[batch.length - 1]?.message.type === "Sync") {
      expected.push({ kind: "sync" });
      toServer.add(serialize.sync());
    } else {
      toServer.add(serialize.flush());
      this.skipUntilSync = true;
    }
  }

  private forward(batch: readonly Pending[], plan: BatchPlan, ids: string[]): void {
    for (const [index, { message, raw }] of batch.entries()) {
      if (message.type === "Execute") this.describeBeforeExecute(message.portal, batch[index - 1]?.message);
      if (message.type === "Bind" || message.type === "Execute") this.options.reading.codeSent();
      this.track(message, index, plan, plan.checked.has(index) ? ids.shift() : undefined);
      this.options.toServer.add(this.names.toServer(message, raw));
    }
  }

  /**
   * Masking needs the columns of every result. Unless the client described this very portal just before
   * executing it, the gateway asks itself and keeps the answer: a portal name may since have been
   * closed and reused (SQL CLOSE, then DECLARE), so an older description cannot be trusted.
   */
  private describeBeforeExecute(portal: string, previous: FrontendMessage | undefined): void {
    const { masking, expected, toServer } = this.options;
    if (!masking.active || (previous?.type === "Describe" && previous.target === "P" && previous.name === portal)) return;
    expected.push({ kind: "describe-portal", portal, swallow: true });
    toServer.add(serialize.describe({ type: "P", name: portal }));
  }

  private track(message: FrontendMessage, index: number, plan: BatchPlan, id: string | undefined): void {
    const { expected, prepared, reading } = this.options;
    switch (message.type) {
      case "Parse": {
        // A Parse the plan did not reach is skipped by the server; its reading is then never used.
        const sql = plan.parsed.get(index) ?? { text: message.text, reading: reading.current(true) };
        return expected.push({ kind: "parse", settle: prepared.parseSent(message.name, sql) });
      }
      case "Bind":
        return expected.push({ kind: "bind", settle: prepared.bindSent(message.portal, message.statement, message.parameters) });
      case "Describe":
        if (message.target === "S") return expected.push({ kind: "describe-statement" });
        return expected.push({ kind: "describe-portal", portal: message.name, swallow: false });
      case "Execute":
        return expected.push({ kind: "execute", portal: message.portal, record: newRecord(id) });
      case "Close":
        return expected.push({ kind: "close", settle: prepared.closeSent(message.target, message.name) });
      case "Sync":
        return expected.push({ kind: "sync" });
      default:
        return;
    }
  }
}
