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
import type { ResultMasking, SessionGuard, StatementCheck } from "./ports.js";
import type { ServerStream } from "./server-stream.js";

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
  server: ServerStream;
  guard: SessionGuard;
  masking: ResultMasking;
  signal: AbortSignal;
  onTerminate: () => void;
}

export class ClientStream {
  private batch: Pending[] = [];
  /** Prepared statements by name, with their text, as the server knows them. */
  private readonly statements = new Map<string, string>();
  /** Portals by name, with the prepared statement they were bound from. */
  private readonly portals = new Map<string, string>();
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

  private async query(text: string, raw: Buffer): Promise<void> {
    if (this.batch.length) await this.runBatch();
    const { expected, toServer, guard, signal } = this.options;
    const verdict = await guard.check([{ text, protocol: "simple" }], this.notify, signal);
    if (verdict.ok) {
      expected.push({ kind: "query", record: newRecord(verdict.ids[0]) });
      toServer.add(raw);
    } else {
      expected.push({ kind: "query", replaceError: errorResponse(verdict.error) });
      toServer.add(serialize.query(DENIAL_PLACEHOLDER));
    }
    toServer.flush();
  }

  private statementOf(portal: string, staged: Map<string, string>, stagedPortals: Map<string, string>): string | undefined {
    const statement = stagedPortals.get(portal) ?? this.portals.get(portal);
    return statement === undefined ? undefined : (staged.get(statement) ?? this.statements.get(statement));
  }

  /** The statements the batch would execute, in order. */
  private checksOf(batch: readonly Pending[]): StatementCheck[] {
    const staged = new Map<string, string>();
    const stagedPortals = new Map<string, string>();
    const checks: StatementCheck[] = [];
    for (const { message } of batch) {
      if (message.type === "Parse") staged.set(message.name, message.text);
      else if (message.type === "Bind") stagedPortals.set(message.portal, message.statement);
      else if (message.type === "Execute") {
        const text = this.statementOf(message.portal, staged, stagedPortals);
        // An unknown portal is a cursor opened by DECLARE, whose query was checked when it was declared.
        if (text !== undefined) checks.push({ text, protocol: "extended", statementName: stagedPortals.get(message.portal) ?? this.portals.get(message.portal) ?? "" });
      }
    }
    return checks;
  }

  private async runBatch(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    const checks = this.checksOf(batch);
    const verdict = checks.length ? await this.options.guard.check(checks, this.notify, this.options.signal) : { ok: true as const, ids: [] };
    if (verdict.ok) this.forward(batch, [...verdict.ids]);
    else this.deny(batch, errorResponse(verdict.error));
    this.options.toServer.flush();
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

  private forward(batch: readonly Pending[], ids: string[]): void {
    const described = new Set<string>();
    for (const { message, raw } of batch) {
      if (message.type === "Execute") this.beforeExecute(message.portal, described);
      this.track(message, described, ids);
      this.options.toServer.add(raw);
    }
  }

  /** Masking needs the columns of every result; when the client did not ask for them, the gateway does and keeps the answer to itself. */
  private beforeExecute(portal: string, described: Set<string>): void {
    const { masking, server, expected, toServer } = this.options;
    if (!masking.active || described.has(portal) || server.knowsPortal(portal)) return;
    expected.push({ kind: "describe-portal", portal, swallow: true });
    toServer.add(serialize.describe({ type: "P", name: portal }));
    described.add(portal);
  }

  private knowsText(portal: string): boolean {
    const statement = this.portals.get(portal);
    return statement !== undefined && this.statements.has(statement);
  }

  private track(message: FrontendMessage, described: Set<string>, ids: string[]): void {
    const { expected, server } = this.options;
    switch (message.type) {
      case "Parse":
        this.statements.set(message.name, message.text);
        return expected.push({ kind: "parse" });
      case "Bind":
        this.portals.set(message.portal, message.statement);
        server.forgetPortal(message.portal);
        described.delete(message.portal);
        return expected.push({ kind: "bind" });
      case "Describe":
        if (message.target === "S") return expected.push({ kind: "describe-statement" });
        described.add(message.name);
        return expected.push({ kind: "describe-portal", portal: message.name, swallow: false });
      case "Execute":
        return expected.push({ kind: "execute", portal: message.portal, record: newRecord(this.knowsText(message.portal) ? ids.shift() : undefined) });
      case "Close":
        if (message.target === "S") this.statements.delete(message.name);
        else {
          this.portals.delete(message.name);
          server.forgetPortal(message.name);
        }
        return expected.push({ kind: "close" });
      case "Sync":
        return expected.push({ kind: "sync" });
      default:
        return;
    }
  }
}
