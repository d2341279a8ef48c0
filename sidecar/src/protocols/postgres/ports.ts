// What the PostgreSQL session needs from the rest of the gateway, as small
// interfaces, so the protocol code does not know how policies, approvals,
// evidence or masking work — and each can be tested alone.
import type { BoundParameter } from "./parameters.js";
import type { ErrorFields } from "./backend.js";
import type { SqlReading } from "./sql/sql-reading.js";

export type { SqlReading };

/** A text and the settings the server reads it under (reading-settings.ts). */
export interface SqlText {
  text: string;
  reading: SqlReading;
}

/** One statement about to run: a simple Query's text, or the text of the prepared statement an Execute runs. */
export interface StatementCheck extends SqlText {
  protocol: "simple" | "extended";
  /** The prepared statement's name for extended Executes ("" for the unnamed one). */
  statementName?: string;
  /** The values the Bind supplied for $1, $2, … (extended Executes). */
  parameters?: readonly BoundParameter[];
  /** The protocol layer refuses this (e.g. it names a statement whose text the gateway cannot know): the guard records a denial with this reason. */
  refusal?: string;
}

export type Verdict =
  | { ok: true; /** One evidence id per statement, to attach results to. */ ids: string[] }
  | { ok: false; error: ErrorFields };

/** What became of a statement the server ran. */
export interface StatementOutcome {
  rowsReturned: number;
  commandTags: string[];
  error?: { code: string; message: string };
  masked: Record<string, number>;
  durationMs: number;
}

/** Decides, asks for approvals and records; everything it cannot do ends in a denial. */
export interface SessionGuard {
  /** `notify` sends the client a NoticeResponse (e.g. "waiting for approval …"). Rejects only when the session must end (e.g. evidence cannot be written). */
  /** The verdict at once where nothing need be waited for (the catalog, a reviewer). */
  check(statements: readonly StatementCheck[], notify: (message: string) => void, signal: AbortSignal): Verdict | Promise<Verdict>;
  /** Records what a checked statement did; never throws (a failure ends the session through onFatal). */
  result(id: string, outcome: StatementOutcome): void;
  end(reason: string): Promise<void>;
  /** The session to end when the guard fails outside a check (e.g. a result cannot be recorded). */
  onFatal(handler: (error: unknown) => void): void;
}

export interface ResultField {
  name: string;
  tableID: number;
  columnID: number;
  dataTypeID: number;
  format: 0 | 1;
}

export interface MaskPlan {
  /** Set when a column to be masked comes in binary format: the result is refused, never sent unmasked. */
  binaryConflict?: string;
  maskRow(values: Array<Buffer | null>): { values: Array<Buffer | null>; changed: boolean };
  counts(): Record<string, number>;
}

export interface ResultMasking {
  readonly active: boolean;
  /** The plan for one result set; undefined when nothing in it is masked. */
  plan(fields: readonly ResultField[]): Promise<MaskPlan | undefined>;
}
