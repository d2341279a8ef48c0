// The names the server knows the client's prepared statements by. Statements
// prepared with the protocol's Parse and with SQL PREPARE share one namespace
// on the server, so SQL could run a Parse'd statement (EXECUTE s1) whose text
// was never checked, or DEALLOCATE and PREPARE another under its name. The
// gateway keeps the two apart: named Parse'd statements get a per-session
// random prefix on the wire, which the agent's SQL cannot name, and SQL that
// names the prefix is refused. The unnamed statement cannot be reached from
// SQL and keeps its empty name.
import { randomBytes } from "node:crypto";
import { message as frame } from "./backend.js";
import type { FrontendMessage } from "./frontend.js";
import { RESERVED_STATEMENT_PREFIX } from "./sql/sql-walk.js";

const NUL = Buffer.from([0]);

/** `raw` with its body replaced by `parts`, type byte kept. */
const rebuilt = (raw: Buffer, parts: Buffer[]): Buffer => frame(String.fromCharCode(raw[0] as number), Buffer.concat(parts));

/** Where the C string starting at `offset` of a frame ends (its NUL); the frontend parser has checked there is one. */
const stringEnd = (raw: Buffer, offset: number): number => raw.indexOf(0, offset);

export class StatementNames {
  readonly prefix = `${RESERVED_STATEMENT_PREFIX}${randomBytes(8).toString("hex")}_`;

  serverName(name: string): string {
    return name === "" ? "" : `${this.prefix}${name}`;
  }

  /**
   * Whether SQL text names the gateway's statements (to EXECUTE, DEALLOCATE or replace them), in any case:
   * unquoted names fold to lower case. The classifier refuses any statement name that begins with
   * portcullis_, however it is spelled (U&"…" included), wherever it is in the statement (sql-walk.ts).
   */
  namedIn(text: string): boolean {
    return text.toLowerCase().includes(this.prefix);
  }

  /** The frame to send the server for `message` (raw as the client sent it): statement names rewritten. */
  toServer(message: FrontendMessage, raw: Buffer): Buffer {
    switch (message.type) {
      case "Parse":
        if (message.name === "") return raw;
        return rebuilt(raw, [this.nameField(message.name), raw.subarray(stringEnd(raw, 5) + 1)]);
      case "Bind": {
        if (message.statement === "") return raw;
        const portalEnd = stringEnd(raw, 5) + 1;
        return rebuilt(raw, [raw.subarray(5, portalEnd), this.nameField(message.statement), raw.subarray(stringEnd(raw, portalEnd) + 1)]);
      }
      case "Describe":
      case "Close":
        if (message.target !== "S" || message.name === "") return raw;
        return rebuilt(raw, [raw.subarray(5, 6), this.nameField(message.name)]);
      default:
        return raw;
    }
  }

  private nameField(name: string): Buffer {
    return Buffer.concat([Buffer.from(this.serverName(name), "utf8"), NUL]);
  }
}
