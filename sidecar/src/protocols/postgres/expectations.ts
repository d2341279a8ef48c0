// The responses the gateway is waiting for, in the order the server will send
// them: one entry per message forwarded upstream. It lets the gateway know
// which statement a DataRow or CommandComplete belongs to (for masking and
// evidence), swallow the answers to messages it added itself, and replace a
// result it must not deliver with an error — without ever reordering what the
// client sees.
import type { MaskPlan } from "./ports.js";

export interface ExecutionRecord {
  /** The evidence id of the statement, when the guard checked it. */
  id?: string;
  startedAt: number;
  rows: number;
  tags: string[];
  error?: { code: string; message: string };
  maskPlans: MaskPlan[];
}

export type Expectation =
  | {
      kind: "parse" | "bind" | "close";
      /** Replaces the server's ErrorResponse (a denied batch was swapped for a statement that fails). */
      replaceError?: Buffer;
      /** Told whether the server carried the message out (its Complete came) or not (it failed or was skipped). */
      settle?: (ok: boolean) => void;
    }
  | { kind: "describe-statement" }
  | { kind: "describe-portal"; portal: string; swallow: boolean }
  | { kind: "execute"; portal: string; record: ExecutionRecord }
  | { kind: "sync" }
  | { kind: "query"; record?: ExecutionRecord; /** Replaces the server's ErrorResponse (a denied query was swapped for one that fails). */ replaceError?: Buffer };

export const newRecord = (id?: string): ExecutionRecord => ({ ...(id !== undefined ? { id } : {}), startedAt: performance.now(), rows: 0, tags: [], maskPlans: [] });

/** A FIFO without Array.shift's O(n) cost on long pipelines. */
export class ExpectationQueue {
  private items: Expectation[] = [];
  private start = 0;

  push(item: Expectation): void {
    this.items.push(item);
  }

  get head(): Expectation | undefined {
    return this.items[this.start];
  }

  get size(): number {
    return this.items.length - this.start;
  }

  shift(): Expectation | undefined {
    const item = this.items[this.start];
    if (item === undefined) return undefined;
    this.start += 1;
    if (this.start > 1024 && this.start * 2 > this.items.length) {
      this.items = this.items.slice(this.start);
      this.start = 0;
    }
    return item;
  }

  /** Removes the head, whose message the server carried out. */
  complete(): Expectation | undefined {
    const head = this.shift();
    settle(head, true);
    return head;
  }

  /** Drops everything before the next Sync (what the server skips after an error); returns what was dropped. */
  dropUntilSync(): Expectation[] {
    const dropped: Expectation[] = [];
    while (this.head && this.head.kind !== "sync") dropped.push(this.shift() as Expectation);
    for (const item of dropped) settle(item, false);
    return dropped;
  }
}

/** Tells a Parse, Bind or Close expectation what became of its message. */
export function settle(item: Expectation | undefined, ok: boolean): void {
  if (item?.kind === "parse" || item?.kind === "bind" || item?.kind === "close") item.settle?.(ok);
}
