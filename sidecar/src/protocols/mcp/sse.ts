// Server-sent events, read and written event by event so a stream is masked
// and filtered as it flows, never held whole. Lines end in CRLF, LF or CR
// (a CR at the end of a chunk waits for the next one, which may start with
// LF); an event ends at a blank line; comment lines (": keep-alive") pass as
// they are.

export interface SseEvent {
  /** The fields in order, data lines included; a comment is the field "". */
  fields: Array<[string, string]>;
}

/** The event's data: its data lines joined with LF; undefined when it has none. */
export function eventData(event: SseEvent): string | undefined {
  const lines = event.fields.filter(([name]) => name === "data").map(([, value]) => value);
  return lines.length ? lines.join("\n") : undefined;
}

export function eventType(event: SseEvent): string {
  return event.fields.find(([name]) => name === "event")?.[1] ?? "message";
}

/** The event written back with new data in place of its data lines (at the first one's position). */
export function serialiseEvent(event: SseEvent, data?: string): string {
  let out = "";
  let dataWritten = false;
  for (const [name, value] of event.fields) {
    if (name === "data" && data !== undefined) {
      if (dataWritten) continue;
      dataWritten = true;
      for (const line of data.split("\n")) out += `data: ${line}\n`;
      continue;
    }
    out += name === "" ? `:${value}\n` : `${name}: ${value}\n`;
  }
  return `${out}\n`;
}

/** One JSON-RPC message as an MCP "message" event. */
export function messageEvent(message: unknown): string {
  return serialiseEvent({ fields: [["event", "message"], ["data", JSON.stringify(message)]] });
}

export class SseReader {
  private pending = "";
  private fields: Array<[string, string]> = [];
  private size = 0;

  /** `maxEventBytes`: an event larger than this throws (it could not be masked whole). */
  constructor(private readonly maxEventBytes: number) {}

  /** The events the text completes. */
  push(text: string): SseEvent[] {
    this.pending += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const match = /\r\n|\r|\n/g;
      match.lastIndex = start;
      const found = match.exec(this.pending);
      if (!found) break;
      // A CR that ends the text may be the first half of a CRLF.
      if (found[0] === "\r" && found.index === this.pending.length - 1) break;
      const line = this.pending.slice(start, found.index);
      start = found.index + found[0].length;
      const event = this.line(line);
      if (event) events.push(event);
    }
    this.pending = this.pending.slice(start);
    if (this.size + this.pending.length > this.maxEventBytes) throw new Error(`an event is larger than ${this.maxEventBytes} bytes and cannot be masked whole`);
    return events;
  }

  /** The characters held of an event not complete yet. */
  get buffered(): number {
    return this.size + this.pending.length;
  }

  /** The stream ended: an event without its blank line is incomplete and not dispatched (as browsers do). */
  end(): boolean {
    return this.fields.length > 0 || this.pending.length > 0;
  }

  private line(line: string): SseEvent | undefined {
    if (line === "") {
      if (!this.fields.length) return undefined;
      const event = { fields: this.fields };
      this.fields = [];
      this.size = 0;
      return event;
    }
    this.size += line.length;
    const colon = line.indexOf(":");
    if (colon === 0) this.fields.push(["", line.slice(1)]);
    else if (colon < 0) this.fields.push([line, ""]);
    else this.fields.push([line.slice(0, colon), line.slice(colon + (line[colon + 1] === " " ? 2 : 1))]);
    return undefined;
  }
}
