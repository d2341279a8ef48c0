// The SessionGuard of one PostgreSQL session: classifies each statement with
// PostgreSQL's parser, lets the AccessPolicies decide, holds statements that
// need a human until an ApprovalRequest is decided, and writes the evidence
// record of every statement before the gateway forwards (or refuses) it.
// Whatever goes wrong inside — a parse failure, a policy that cannot be
// evaluated, a broker that cannot be reached — ends as a denial, recorded.
import type { IdentityFacts, ResourceFacts, SqlFacts } from "@portcullis/common/policy/cel";
import type { EvidenceRecord, RequestData } from "@portcullis/common/evidence/record";
import type { SessionRecorder } from "../../evidence/session-recorder.js";
import { type GatewayMetrics, observeRequest, type RequestDecision } from "../../observability/metrics.js";
import { classifySql, type Classification, classifiedStatements } from "./sql/classify.js";
import { type Decision, denialMessage, PARSE_ERROR_RULE, type PolicySet } from "../../policy/engine.js";
import { type ErrorFields, SQLSTATE } from "./backend.js";
import { shownStatement, type LiteralMasker, type ShownStatement } from "./literal-evidence.js";
import { statementApproval } from "./approval-binding.js";
import type { SessionGuard, StatementCheck, StatementOutcome, Verdict } from "./ports.js";
import type { ApprovalGate } from "../../approvals/approval-flow.js";
import { errorMessage } from "../../config/error-message.js";
import { SqlPreparedStatements } from "./sql-prepared.js";
import { type FunctionSource, functionCode, withTriggerCode } from "./sql/trigger-functions.js";
import type { TriggerFunction } from "./sql/trigger-function-name.js";

export interface GuardOptions {
  resource: ResourceFacts;
  identity: IdentityFacts;
  policies: PolicySet<SqlFacts>;
  recorder: SessionRecorder;
  approvals: ApprovalGate;
  /** Masking applies to this Resource: COPY … TO, whose rows it cannot mask, is refused. */
  maskingActive: boolean;
  /** While masking applies: how the values statements carry are masked before they are recorded or shown to a reviewer. */
  literals?: LiteralMasker;
  metrics: GatewayMetrics;
  /** Where the code of the function a CREATE TRIGGER names is looked up. */
  functions: { functionSources(named: TriggerFunction): Promise<FunctionSource[]> };
}

/** Per statement of a check, what the function its CREATE TRIGGER names runs, or why that cannot be known. */
type TriggerCode = Array<{ code: SqlFacts[] } | { refusal: string } | undefined>;

interface Checked {
  check: StatementCheck;
  classification: Classification;
  /** The statements as judged: an EXECUTE of a known prepared statement as the statement it runs. */
  judged: SqlFacts[];
  decision: Decision;
}

/**
 * What a Resource with masking refuses whatever the policies allow, because masking cannot cover it:
 * COPY … TO (rows it cannot map to columns), the planner statistics views (samples of column values),
 * and a client_encoding change (masking reads values as UTF-8).
 */
const MASKING_REFUSALS: ReadonlyArray<[(statement: SqlFacts) => boolean, string]> = [
  [(s) => s.command === "COPY" && s.tablesWritten.length === 0, "COPY … TO is refused on this Resource because masking rules apply to it and COPY output cannot be masked; use SELECT"],
  [
    (s) => s.tablesRead.some((table) => /(^|\.)pg_stats(_ext(_exprs)?)?$/.test(table)),
    "reading the planner statistics views (pg_stats) is refused on this Resource because masking rules apply to it and they hold samples of column values",
  ],
  [(s) => s.dangerous.includes("client-encoding"), "changing client_encoding is refused on this Resource because masking rules apply to it and read values as UTF-8"],
];

/**
 * What the client is told. A text PostgreSQL's parser rejects is refused as the server would refuse it —
 * its SQLSTATE (42601 for a syntax error), message and position — so psql draws its LINE 1: … ^ and drivers
 * act on it as usual; every other refusal is 42501 with the policy's reason.
 */
function refusalError({ classification, decision }: Checked): ErrorFields {
  if (decision.rule === PARSE_ERROR_RULE && !classification.ok && classification.parserError) return classification.parserError;
  return { code: SQLSTATE.insufficientPrivilege, message: denialMessage(decision) };
}

const namesTriggerFunction = (classification: Classification): boolean => classification.ok && classification.triggerFunctions.some((named) => named !== undefined);

/** How long a session's end waits for the check in flight to record its outcome (an aborted approval wait records at once). */
const CHECK_RECORDS_GRACE_MS = 5_000;

export class PostgresGuard implements SessionGuard {
  /** Evidence seq of the statement record, by the id handed to the protocol layer. */
  private readonly statementSeqs = new Map<string, number>();
  private readonly sqlPrepared = new SqlPreparedStatements();
  /** The latest check, which may still be recording when the session ends. */
  private inFlight: Promise<Verdict> | undefined;
  private fatal: (error: unknown) => void = () => undefined;

  constructor(private readonly options: GuardOptions) {}

  /**
   * Decides and records a request's statements. Synchronous unless the catalog must be read (a CREATE TRIGGER's
   * function) or a reviewer asked (a statement that needs approval): the statements the caches decide go to the
   * server in the same turn as they arrived.
   */
  check(statements: readonly StatementCheck[], notify: (message: string) => void, signal: AbortSignal): Verdict | Promise<Verdict> {
    const classifications = statements.map((check) => classifySql(check.text, check.reading));
    if (!classifications.some(namesTriggerFunction)) return this.judge(statements.map((check, index) => this.decide(check, classifications[index] as Classification, [])), notify, signal);
    // Only a CREATE TRIGGER makes the guard wait for the catalog.
    const checking = Promise.all(classifications.map((classification) => this.triggerCode(classification))).then((triggers) =>
      this.judge(
        statements.map((check, index) => this.decide(check, classifications[index] as Classification, triggers[index] ?? [])),
        notify,
        signal,
      ),
    );
    this.inFlight = checking;
    return checking;
  }

  private judge(checked: readonly Checked[], notify: (message: string) => void, signal: AbortSignal): Verdict | Promise<Verdict> {
    const denied = checked.find((entry) => entry.decision.action === "deny");
    if (denied) return this.refuse(checked, denied);
    if (!checked.some((entry) => entry.decision.action === "requireApproval")) return this.forward(checked, new Map());
    const approving = this.approve(checked, notify, signal);
    this.inFlight = approving;
    return approving;
  }

  /** Holds each statement that needs approval until it is decided: recorded once, as requireApproval; its approval records and its result refer to that record. */
  private async approve(checked: readonly Checked[], notify: (message: string) => void, signal: AbortSignal): Promise<Verdict> {
    const held = new Map<Checked, EvidenceRecord>();
    for (const entry of checked) {
      if (entry.decision.action !== "requireApproval") continue;
      // What the evidence records of it is what the reviewer is shown.
      const shown = this.shown(entry);
      const statement = this.record(entry, "requireApproval", shown);
      held.set(entry, statement);
      const outcome = await this.options.approvals.obtain({ ...statementApproval(entry.check, entry.classification, shown), decision: entry.decision, requestSeq: statement.seq }, notify, signal);
      this.count(outcome.approved ? "approval-approved" : outcome.expired ? "approval-expired" : "approval-denied");
      if (!outcome.approved) return this.refuseUnapproved(checked, held, entry, outcome.message);
    }
    return this.forward(checked, held);
  }

  /** Every statement recorded (those held for approval already were) and handed an id for its result. */
  private forward(checked: readonly Checked[], held: ReadonlyMap<Checked, EvidenceRecord>): Verdict {
    const ids: string[] = [];
    for (const entry of checked) {
      const record = held.get(entry) ?? this.record(entry, "allow");
      if (entry.decision.action === "allow") this.count("allow");
      const id = this.remember(record);
      this.sent(entry, id);
      ids.push(id);
    }
    return { ok: true, ids };
  }

  result(id: string, outcome: StatementOutcome): void {
    this.sqlPrepared.ran(id, outcome.error === undefined);
    const statement = this.statementSeqs.get(id);
    this.statementSeqs.delete(id);
    if (statement === undefined) return;
    const masked = Object.values(outcome.masked).reduce((sum, n) => sum + n, 0);
    const labels = { resource: this.options.resource.name, protocol: "postgres" };
    if (masked) this.options.metrics.maskedValues.inc(labels, masked);
    this.options.metrics.requestDuration.observe(labels, outcome.durationMs / 1000);
    const { rowsReturned, commandTags, ...common } = outcome;
    try {
      this.options.recorder.appendSync("result", { request: statement, ...common, postgres: { rowsReturned, commandTags } });
    } catch (error) {
      // The session ends, after the message being handled.
      queueMicrotask(() => this.fatal(error));
    }
  }

  onFatal(handler: (error: unknown) => void): void {
    this.fatal = handler;
  }

  async end(reason: string): Promise<void> {
    // A check the session's end cut short (an approval it waited for) still records how it was refused, first.
    const checking = this.inFlight?.catch(() => undefined);
    if (checking) await Promise.race([checking, new Promise((resolve) => setTimeout(resolve, CHECK_RECORDS_GRACE_MS).unref())]);
    this.options.approvals.end();
    await this.options.recorder.end({ reason });
  }

  /** The code of the functions the CREATE TRIGGER statements of a check name, from the catalog. */
  private async triggerCode(classification: Classification): Promise<TriggerCode> {
    if (!classification.ok) return [];
    return Promise.all(
      classification.triggerFunctions.map(async (named) => {
        if (!named) return undefined;
        try {
          return functionCode(named, await this.options.functions.functionSources(named));
        } catch (error) {
          return { refusal: `the code of the function the trigger runs could not be looked up: ${errorMessage(error)}` };
        }
      }),
    );
  }

  private decide(check: StatementCheck, classification: Classification, triggers: TriggerCode): Checked {
    const { policies, identity, resource, maskingActive } = this.options;
    const prepared = classification.ok ? this.sqlPrepared.judged(classification.statements, classification.preparedUses) : [];
    const judged = prepared.map((facts, index) => {
      const trigger = triggers[index];
      return trigger && "code" in trigger ? withTriggerCode(facts, trigger.code) : facts;
    });
    if (check.refusal !== undefined) return { check, classification, judged, decision: { action: "deny", policy: "", rule: "(protocol)", message: check.refusal } };
    const unreadable = triggers.find((trigger) => trigger !== undefined && "refusal" in trigger);
    if (unreadable && "refusal" in unreadable) return { check, classification, judged, decision: { action: "deny", policy: "", rule: "(trigger)", message: unreadable.refusal } };
    const decision = policies.decide(classification.ok ? { ok: true, items: judged } : classifiedStatements(classification), identity, resource);
    if (decision.action === "deny" || !maskingActive || !classification.ok) return { check, classification, judged, decision };
    const refused = MASKING_REFUSALS.find(([applies]) => judged.some(applies));
    return { check, classification, judged, decision: refused ? { action: "deny", policy: decision.policy, rule: "(masking)", message: refused[1] } : decision };
  }

  /** A query goes to the server under `id`: what it deallocates is forgotten, what it prepares awaits its result. */
  private sent(entry: Checked, id: string): void {
    if (entry.classification.ok) this.sqlPrepared.sending(id, entry.classification.statements, entry.classification.preparedUses);
  }

  private refuse(checked: readonly Checked[], denied: Checked): Verdict {
    for (const entry of checked) this.record(entry, entry.decision.action === "deny" ? "deny" : "notRun");
    this.count("deny");
    return { ok: false, error: refusalError(denied) };
  }

  /**
   * A statement's approval was not obtained, so none of the check runs: each statement gets a result saying why it was
   * refused (those not recorded yet are recorded first, with their own decisions).
   */
  private refuseUnapproved(checked: readonly Checked[], held: ReadonlyMap<Checked, EvidenceRecord>, refused: Checked, message: string): Verdict {
    const error = { code: SQLSTATE.insufficientPrivilege, message };
    for (const entry of checked) {
      const record = held.get(entry) ?? this.record(entry, entry.decision.action === "requireApproval" ? "requireApproval" : "allow");
      const reason = entry === refused ? message : "not run: another statement of the same request was refused";
      this.options.recorder.appendSync("result", { request: record.seq, masked: {}, durationMs: 0, refused: reason, error, postgres: { rowsReturned: 0, commandTags: [] } });
    }
    return { ok: false, error };
  }

  /** What the evidence records and a reviewer is shown of a statement. */
  private shown(entry: Checked): ShownStatement {
    return shownStatement(entry.check, entry.classification, this.options.literals);
  }

  private record(entry: Checked, outcome: "allow" | "deny" | "requireApproval" | "notRun", shown = this.shown(entry)): EvidenceRecord {
    const { classification, decision } = entry;
    const { summary, ...statement } = shown;
    const data: RequestData = {
      protocol: "postgres",
      summary,
      postgres: {
        ...statement,
        classification: classification.ok
          ? {
              summary,
              fingerprint: classification.fingerprint,
              commands: entry.judged.map((s) => s.command),
              tables: [...new Set(entry.judged.flatMap((s) => s.tables))],
            }
          : { summary, fingerprint: "", commands: [], tables: [] },
      },
      decision: {
        action: outcome === "notRun" || outcome === "deny" ? "deny" : outcome,
        policy: decision.policy,
        rule: decision.rule,
        ...(outcome === "notRun" ? { reason: "another statement of the same request was denied" } : outcome === "deny" ? { reason: decision.message } : {}),
      },
    };
    return this.options.recorder.appendSync("request", data);
  }

  private remember(record: EvidenceRecord): string {
    const id = String(record.seq);
    this.statementSeqs.set(id, record.seq);
    return id;
  }

  private count(decision: RequestDecision): void {
    observeRequest(this.options.metrics, { resource: this.options.resource.name, protocol: "postgres" }, decision);
  }
}

