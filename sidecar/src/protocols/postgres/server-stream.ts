// Server → client. Every frame is forwarded as is unless it belongs to a
// result that is masked (DataRow rewritten), to a message the gateway added
// itself (swallowed), or to a result the gateway refuses to deliver (a masked
// column in binary format: the rows are dropped and the client gets an error
// instead). Completed statements are reported to the guard for evidence.
import type { RowDescriptionMessage } from "pg-protocol/dist/messages.js";
import { BackendDecoder, dataRow, errorResponse, splitDataRow, SQLSTATE, type ErrorFields } from "./backend.js";
import { type ExecutionRecord, type Expectation, type ExpectationQueue, newRecord, settle } from "./expectations.js";
import type { Frame } from "./frames.js";
import type { Output } from "./output.js";
import type { MaskPlan, ResultField, ResultMasking, SessionGuard } from "./ports.js";
import type { ReadingSettings } from "./reading-settings.js";

interface Current {
  /** Whether the result set's plan has been looked up. */
  started?: boolean;
  /** The mask plan of the result set being received (simple query or execute). */
  plan?: MaskPlan | undefined;
  /** The result is refused: drop rows, turn its end into an error, then drop until ReadyForQuery. */
  refusal?: string | undefined;
}

const EXECUTE_ENDS = ["C", "I", "s"];
// The frames that end what the gateway expects of each other message while a batch's tail is discarded.
const QUIET_ENDS: Partial<Record<string, string[]>> = {
  parse: ["1"],
  bind: ["2"],
  close: ["3"],
  "describe-statement": ["T", "n"],
  "describe-portal": ["T", "n"],
};
const RESULT_NOT_PASSED_ON = "it ran, but its result was not passed on: an earlier result of the same batch was withheld";

export class ServerStream {
  /** The transaction status from the server's last ReadyForQuery. */
  status = "I";
  private readonly decoder = new BackendDecoder();
  private readonly portalPlans = new Map<string, MaskPlan | undefined>();
  private current: Current = {};
  private discardUntilReady = false;

  constructor(
    private readonly expected: ExpectationQueue,
    private readonly toClient: Output,
    private readonly masking: ResultMasking,
    private readonly guard: SessionGuard,
    private readonly reading: ReadingSettings,
    /** Every portal is gone (ReadyForQuery, idle). */
    private readonly onTransactionEnd: () => void,
  ) {}

  /** Handles one frame; returns a promise only when it must wait (a mask plan is being prepared). */
  handle(frame: Frame): Promise<void> | void {
    // A setting the server reports comes just before ReadyForQuery, so inside a discarded result's tail too.
    if (this.discardUntilReady && frame.type !== "Z" && frame.type !== "S") {
      this.completeQuietly(frame);
      return;
    }
    const handler = this.handlers[frame.type];
    if (handler) return handler(frame);
    // ParameterDescription, notices, notifications, COPY IN responses: as is.
    this.toClient.add(frame.raw);
  }

  private readonly handlers: Record<string, (frame: Frame) => Promise<void> | void> = {
    T: (frame) => this.rowDescription(frame),
    D: (frame) => this.row(frame),
    C: (frame) => this.resultEnd(frame),
    I: (frame) => this.resultEnd(frame),
    s: (frame) => this.resultEnd(frame),
    E: (frame) => this.error(frame),
    Z: (frame) => this.ready(frame),
    n: (frame) => this.noData(frame),
    S: (frame) => this.parameterStatus(frame),
    H: (frame) => this.copyOut(frame),
    d: (frame) => this.copyData(frame),
    c: (frame) => this.copyData(frame),
    "1": (frame) => this.complete(frame),
    "2": (frame) => this.complete(frame),
    "3": (frame) => this.complete(frame),
  };

  private complete(frame: Frame): void {
    this.expected.complete();
    this.toClient.add(frame.raw);
  }

  /** COPY data of a refused COPY TO is dropped; otherwise it passes. */
  private copyData(frame: Frame): void {
    if (this.current.refusal === undefined) this.toClient.add(frame.raw);
  }

  /**
   * After a withheld result the client has its error, and nothing more of the batch reaches it; the server
   * still runs the rest, so what each statement did (rows, tags, errors) is recorded all the same.
   */
  private completeQuietly(frame: Frame): void {
    const head = this.expected.head;
    if (!head) return;
    const record = this.recordOfHead();
    if (frame.type === "D") {
      if (record) record.rows += 1;
      return;
    }
    if (frame.type === "C" && record) record.tags.push(commandTag(frame.body));
    if (frame.type === "E") return this.failedQuietly(frame, head);
    if (head.kind === "execute" && EXECUTE_ENDS.includes(frame.type)) {
      this.expected.shift();
      this.finish({ ...head.record, error: head.record.error ?? { code: "", message: RESULT_NOT_PASSED_ON } });
      return;
    }
    if (QUIET_ENDS[head.kind]?.includes(frame.type)) this.expected.complete();
  }

  /** An error in a discarded tail: the server skips the rest of the batch, as after any error. */
  private failedQuietly(frame: Frame, head: Expectation): void {
    const { failure } = this.serverError(frame);
    if (head.kind === "query") (head.record ??= newRecord()).error ??= failure;
    else this.skipToSync(failure);
  }

  /**
   * The server's error as the client gets it — the values quoted in data errors withheld while masking
   * applies — and as it is recorded.
   */
  private serverError(frame: Frame): { toClient: Buffer; failure: { code: string; message: string } } {
    const fields = this.decoder.decode(frame.raw) as unknown as { code?: string; message: string };
    const reported = { code: fields.code ?? "", message: fields.message };
    const withheld = this.masking.active ? withholdValues(reported) : undefined;
    return withheld ? { toClient: errorResponse(withheld), failure: { code: withheld.code, message: withheld.message } } : { toClient: frame.raw, failure: reported };
  }

  private rowDescription(frame: Frame): Promise<void> | void {
    const head = this.expected.head;
    const describesPortal = head?.kind === "describe-portal";
    if (head?.kind === "describe-statement" || describesPortal) this.expected.shift();
    const swallow = describesPortal && head.swallow;
    if (!swallow) this.toClient.add(frame.raw);
    // A statement's description has no result formats yet (they come with Bind): no plan from it.
    if (!this.masking.active || head?.kind === "describe-statement") return;
    const fields = (this.decoder.decode(frame.raw) as RowDescriptionMessage).fields.map(
      (field): ResultField => ({ name: field.name, tableID: field.tableID, columnID: field.columnID, dataTypeID: field.dataTypeID, format: field.format === "binary" ? 1 : 0 }),
    );
    return this.masking.plan(fields).then((plan) => {
      if (describesPortal) this.portalPlans.set(head.portal, plan);
      else this.startResult(plan);
    });
  }

  private startResult(plan: MaskPlan | undefined): void {
    this.current = { started: true, plan, refusal: plan?.binaryConflict };
    const record = this.recordOfHead();
    if (plan && record) record.maskPlans.push(plan);
  }

  private recordOfHead(): ExecutionRecord | undefined {
    const head = this.expected.head;
    if (head?.kind === "execute") return head.record;
    if (head?.kind === "query") return (head.record ??= newRecord());
    return undefined;
  }

  private row(frame: Frame): void {
    const head = this.expected.head;
    if (head?.kind === "execute" && !this.current.started) this.enterExecute(head.portal);
    const record = this.recordOfHead();
    if (record) record.rows += 1;
    if (this.current.refusal !== undefined) return;
    const plan = this.current.plan;
    if (!plan) return this.toClient.add(frame.raw);
    const masked = plan.maskRow(splitDataRow(frame.body));
    this.toClient.add(masked.changed ? dataRow(masked.values) : frame.raw);
  }

  /** The first row of an Execute: use the plan its portal's description gave. */
  private enterExecute(portal: string): void {
    if (!this.masking.active) {
      this.current = { started: true };
      return;
    }
    if (!this.portalPlans.has(portal)) {
      this.current = { started: true, refusal: "the gateway could not see this result's columns, so it cannot mask them" };
      return;
    }
    this.startResult(this.portalPlans.get(portal));
  }

  private resultEnd(frame: Frame): void {
    const head = this.expected.head;
    const record = this.recordOfHead();
    const refusal = this.current.refusal;
    this.current = {};
    if (frame.type === "C" && record) record.tags.push(commandTag(frame.body));
    if (refusal !== undefined) {
      const message = `portcullis: result withheld: ${refusal}`;
      if (record) record.error = { code: SQLSTATE.featureNotSupported, message };
      this.toClient.add(errorResponse({ code: SQLSTATE.featureNotSupported, message, hint: "request results in text format (the default) for columns that masking rules cover" }));
      this.discardUntilReady = true;
    } else {
      this.toClient.add(frame.raw);
    }
    if (head?.kind === "execute") {
      this.expected.shift();
      this.finish(head.record);
    }
  }

  private error(frame: Frame): void {
    const head = this.expected.head;
    const replacement = head?.kind === "query" || head?.kind === "parse" ? head.replaceError : undefined;
    this.current = {};
    if (replacement) {
      this.toClient.add(replacement);
      if (head?.kind === "parse") this.expected.dropUntilSync();
      return;
    }
    const { toClient, failure } = this.serverError(frame);
    this.toClient.add(toClient);
    if (head?.kind === "query") (head.record ??= newRecord()).error = failure;
    else this.skipToSync(failure);
  }

  /** Extended protocol: after an error the server skips everything up to the next Sync. */
  private skipToSync(failure: { code: string; message: string }): void {
    let first = true;
    for (const skipped of this.expected.dropUntilSync()) {
      if (skipped.kind !== "execute") continue;
      skipped.record.error = first ? failure : { code: failure.code, message: "not run: an earlier message of the same batch failed" };
      first = false;
      this.finish(skipped.record);
    }
  }

  /** COPY … TO STDOUT sends rows the gateway cannot map to columns, so with masking active it is refused, however the statement was written. */
  private copyOut(frame: Frame): void {
    if (!this.masking.active) return this.toClient.add(frame.raw);
    this.current = { started: true, refusal: "COPY output cannot be masked, and masking rules apply to this Resource" };
  }

  /** A setting the server reports: the ones that change how it reads text are followed (reading-settings.ts). */
  private parameterStatus(frame: Frame): void {
    const nameEnd = frame.body.indexOf(0);
    const valueEnd = frame.body.indexOf(0, nameEnd + 1);
    if (nameEnd >= 0 && valueEnd >= 0) this.reading.reported(frame.body.toString("utf8", 0, nameEnd), frame.body.toString("utf8", nameEnd + 1, valueEnd));
    this.toClient.add(frame.raw);
  }

  private noData(frame: Frame): void {
    const head = this.expected.head;
    if (head?.kind === "describe-portal") {
      this.portalPlans.set(head.portal, undefined);
      this.expected.shift();
      if (head.swallow) return;
    } else if (head?.kind === "describe-statement") this.expected.shift();
    this.toClient.add(frame.raw);
  }

  private ready(frame: Frame): void {
    this.discardUntilReady = false;
    this.current = {};
    this.status = String.fromCharCode(frame.body[0] ?? 73);
    // Whatever the server skipped after an error ends here too.
    for (let head = this.expected.shift(); head; head = this.expected.shift()) {
      settle(head, false);
      if (head.kind === "execute") this.finish({ ...head.record, error: head.record.error ?? { code: "", message: "not run: an earlier message of the same batch failed" } });
      if (head.kind === "query" && head.record) this.finish(head.record);
      if (head.kind === "sync" || head.kind === "query") break;
    }
    this.reading.ready(this.expected.size > 0);
    this.toClient.add(frame.raw);
    // Every Execute is described just before it runs (client-stream.ts), so plans are only kept until
    // the transaction ends, where the server drops its portals too.
    if (this.status === "I") {
      this.portalPlans.clear();
      this.onTransactionEnd();
    }
  }

  private finish(record: ExecutionRecord): void {
    if (record.id === undefined) return;
    const masked: Record<string, number> = {};
    for (const plan of record.maskPlans) for (const [column, count] of Object.entries(plan.counts())) masked[column] = (masked[column] ?? 0) + count;
    this.guard.result(record.id, {
      rowsReturned: record.rows,
      commandTags: record.tags,
      ...(record.error ? { error: record.error } : {}),
      masked,
      durationMs: performance.now() - record.startedAt,
    });
  }
}

/**
 * Errors about data quote the values that caused them ("invalid input syntax for type integer:
 * "maria@example.com"", "Key (email)=(…) already exists."). Where masking applies, those values may be
 * masked ones, so such errors reach the client with quoted values replaced and without their detail.
 */
function withholdValues(error: { code: string; message: string }): ErrorFields | undefined {
  const dataClass = error.code.startsWith("22") || error.code.startsWith("23");
  if (!dataClass) return undefined;
  return {
    code: error.code,
    message: error.message.replace(/"(?:[^"]|"")*"/g, '"***"').replace(/\((?:[^()]|\([^()]*\))*\)=\((?:[^()]|\([^()]*\))*\)/g, "(***)=(***)"),
    hint: "portcullis: values in this error are withheld because masking rules apply to this Resource",
  };
}

function commandTag(body: Buffer): string {
  const end = body.indexOf(0);
  return body.toString("utf8", 0, end < 0 ? body.length : end);
}
