// The session's prepared statements and portals as the server holds them,
// which decides what an Execute really runs. The gateway must never check one
// text while the server runs another, so:
// - a change counts only once the server confirms it (ParseComplete,
//   BindComplete, CloseComplete): after an error the server skips the rest of
//   the batch, and a skipped Close or a refused duplicate Parse changes nothing;
// - a portal keeps the text of the statement it was bound from, since the
//   statement may be replaced before the portal is executed;
// - a batch is planned as the server will run it: in order, stopping where the
//   server would fail (a duplicate name), against the confirmed state;
// - what the gateway cannot know is refused (fail closed): a Bind of a
//   statement it never saw prepared, and any use of a name whose change is
//   still unanswered (a pipelined client waits for the answer, then retries).
// A text keeps the settings the server read it under (reading-settings.ts):
// the server parses it at Parse, however the settings change before Execute.
// Portals end with their transaction; a simple query destroys the unnamed
// statement and portal.
import type { FrontendMessage } from "./frontend.js";
import type { BoundParameter } from "./parameters.js";
import type { SqlReading, SqlText, StatementCheck } from "./ports.js";

interface Portal {
  statement: string;
  parameters: readonly BoundParameter[];
  /** undefined when the gateway does not know the statement's text: executing it is refused. */
  sql: SqlText | undefined;
}

export interface BatchPlan {
  /** The statements the batch would execute, in order; a batch the gateway cannot run ends with a check carrying the refusal. */
  checks: StatementCheck[];
  /** Positions in the batch of the Executes that `checks` covers. */
  checked: Set<number>;
  /** The texts of the batch's Parse messages as the server will read them, by position (the server skips those after a failure). */
  parsed: Map<number, SqlText>;
}

function increment(counts: Map<string, number>, name: string): void {
  counts.set(name, (counts.get(name) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, name: string): void {
  const left = (counts.get(name) ?? 1) - 1;
  if (left > 0) counts.set(name, left);
  else counts.delete(name);
}

const inFlight = (what: string, name: string): string =>
  `${what} "${name}" is still being changed by an earlier message the server has not answered; wait for its result (Sync) before using it`;

/** How planning a batch goes on after one message. */
type Step = { next: "continue" } | { next: "stop" } | { next: "refuse"; refusal: string; text: string };

/** How the server reads the texts a batch prepares: as now, or unknown once the batch has run code (Bind, Execute). */
export type BatchReading = (afterRunning: boolean) => SqlReading;
const CONTINUE: Step = { next: "continue" };
/** The server fails at this message and skips the rest of the batch: nothing after it runs. */
const STOP: Step = { next: "stop" };

/** One batch run in thought: its own changes over the confirmed state; null marks a name the batch closed. */
class BatchSimulation {
  private readonly statements = new Map<string, SqlText | null>();
  private readonly portals = new Map<string, Portal | null>();
  readonly checks: StatementCheck[] = [];
  readonly checked = new Set<number>();
  readonly parsed = new Map<number, SqlText>();
  private ranCode = false;

  constructor(
    private readonly state: PreparedState,
    private readonly reading: BatchReading,
  ) {}

  step(message: FrontendMessage, index: number): Step {
    switch (message.type) {
      case "Parse": {
        const sql = { text: message.text, reading: this.reading(this.ranCode) };
        this.parsed.set(index, sql);
        return this.parse(message.name, sql);
      }
      case "Bind":
        this.ranCode = true;
        return this.bind(message.portal, message.statement, message.parameters);
      case "Execute":
        this.ranCode = true;
        return this.execute(message.portal, index);
      case "Close":
        if (message.target === "S") this.statements.set(message.name, null);
        else this.portals.set(message.name, null);
        return CONTINUE;
      default:
        return CONTINUE;
    }
  }

  private statementText(name: string): SqlText | undefined {
    return this.statements.has(name) ? (this.statements.get(name) ?? undefined) : this.state.statement(name);
  }

  private portal(name: string): Portal | undefined {
    return this.portals.has(name) ? (this.portals.get(name) ?? undefined) : this.state.portal(name);
  }

  private unsettled(kind: "statement" | "portal", name: string): boolean {
    return !(kind === "statement" ? this.statements : this.portals).has(name) && this.state.unsettled(kind, name);
  }

  private parse(name: string, sql: SqlText): Step {
    if (this.unsettled("statement", name)) return { next: "refuse", refusal: inFlight("prepared statement", name), text: sql.text };
    // The server refuses a second statement of the same name.
    if (name !== "" && this.statementText(name) !== undefined) return STOP;
    this.statements.set(name, sql);
    return CONTINUE;
  }

  private bind(portal: string, statement: string, parameters: readonly BoundParameter[]): Step {
    const sql = this.statementText(statement);
    const shown = sql?.text ?? `(Bind of prepared statement "${statement}")`;
    if (this.unsettled("statement", statement)) return { next: "refuse", refusal: inFlight("prepared statement", statement), text: shown };
    if (this.unsettled("portal", portal)) return { next: "refuse", refusal: inFlight("portal", portal), text: shown };
    if (sql === undefined) {
      return { next: "refuse", refusal: `prepared statement "${statement}" was not prepared with Parse in this session, so the gateway cannot check what it runs`, text: shown };
    }
    // The server refuses a second portal of the same name.
    if (portal !== "" && this.portal(portal) !== undefined) return STOP;
    this.portals.set(portal, { statement, sql, parameters });
    return CONTINUE;
  }

  private execute(name: string, index: number): Step {
    const portal = this.portal(name);
    const shown = portal?.sql?.text ?? `(Execute of portal "${name}")`;
    if (this.unsettled("portal", name)) return { next: "refuse", refusal: inFlight("portal", name), text: shown };
    // No portal at all: a cursor opened by DECLARE, whose query was checked when it was declared.
    if (portal === undefined) return CONTINUE;
    if (portal.sql === undefined) return { next: "refuse", refusal: `portal "${name}" runs a statement whose text the gateway does not know`, text: shown };
    this.checks.push({ ...portal.sql, protocol: "extended", statementName: portal.statement, ...(portal.parameters.length ? { parameters: portal.parameters } : {}) });
    this.checked.add(index);
    return CONTINUE;
  }
}

export class PreparedState {
  private readonly statements = new Map<string, SqlText>();
  private readonly portals = new Map<string, Portal>();
  private readonly unsettledStatements = new Map<string, number>();
  private readonly unsettledPortals = new Map<string, number>();

  /** What the batch would execute, as the server will run it; the texts it prepares are read under `reading`. */
  plan(batch: readonly FrontendMessage[], reading: BatchReading): BatchPlan {
    const simulation = new BatchSimulation(this, reading);
    for (const [index, message] of batch.entries()) {
      const step = simulation.step(message, index);
      if (step.next === "stop") break;
      if (step.next === "refuse") {
        return { checks: [...simulation.checks, { text: step.text, reading: reading(true), protocol: "extended", refusal: step.refusal }], checked: simulation.checked, parsed: simulation.parsed };
      }
    }
    return { checks: simulation.checks, checked: simulation.checked, parsed: simulation.parsed };
  }

  statement(name: string): SqlText | undefined {
    return this.statements.get(name);
  }

  portal(name: string): Portal | undefined {
    return this.portals.get(name);
  }

  /** Whether a change of this name went to the server and is not answered yet. */
  unsettled(kind: "statement" | "portal", name: string): boolean {
    return (kind === "statement" ? this.unsettledStatements : this.unsettledPortals).has(name);
  }

  /** A Parse went to the server; the returned function takes its outcome. */
  parseSent(name: string, sql: SqlText): (ok: boolean) => void {
    increment(this.unsettledStatements, name);
    return (ok) => {
      decrement(this.unsettledStatements, name);
      if (ok) this.statements.set(name, sql);
    };
  }

  bindSent(portal: string, statement: string, parameters: readonly BoundParameter[]): (ok: boolean) => void {
    increment(this.unsettledPortals, portal);
    return (ok) => {
      decrement(this.unsettledPortals, portal);
      // Confirmations arrive in order, so the statement map is what the server bound from.
      if (ok) this.portals.set(portal, { statement, sql: this.statements.get(statement), parameters });
    };
  }

  closeSent(target: "S" | "P", name: string): (ok: boolean) => void {
    const [unsettled, names] = target === "S" ? [this.unsettledStatements, this.statements] : [this.unsettledPortals, this.portals];
    increment(unsettled, name);
    return (ok) => {
      decrement(unsettled, name);
      if (ok) names.delete(name);
    };
  }

  /** A simple query replaces the unnamed statement and portal (they are gone whatever it does). */
  simpleQuerySent(): void {
    this.statements.delete("");
    this.portals.delete("");
  }

  /** The transaction ended (ReadyForQuery, idle): the server dropped every portal the protocol made. */
  transactionEnded(): void {
    this.portals.clear();
  }
}
