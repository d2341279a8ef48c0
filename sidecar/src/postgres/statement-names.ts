// The names the server knows the client's prepared statements by. Statements
// prepared with the protocol's Parse and with SQL PREPARE share one namespace
// on the server, so SQL could run a Parse'd statement (EXECUTE s1) whose text
// was never checked, or DEALLOCATE and PREPARE another under its name. The
// gateway keeps the two apart: named Parse'd statements get a per-session
// random prefix on the wire, which the agent's SQL cannot name, and SQL that
// names the prefix is refused. The unnamed statement cannot be reached from
// SQL and keeps its empty name.
import { randomBytes } from "node:crypto";
import type { FrontendMessage } from "./frontend.js";

const NUL = Buffer.from([0]);

/** A frame with `body` as its body, type byte kept. */
function frame(type: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** Where the C string starting at `offset` ends (its NUL); the frontend parser has checked there is one. */
const stringEnd = (body: Buffer, offset: number): number => body.indexOf(0, offset);

export class StatementNames {
  readonly prefix = `portcullis_${randomBytes(8).toString("hex")}_`;

  serverName(name: string): string {
    return name === "" ? "" : `${this.prefix}${name}`;
  }

  /** Whether SQL text names the gateway's statements (to DEALLOCATE or replace them). */
  namedIn(text: string): boolean {
    return text.includes(this.prefix);
  }

  /** The frame to send the server for `message` (raw as the client sent it): statement names rewritten. */
  toServer(message: FrontendMessage, raw: Buffer): Buffer {
    const body = raw.subarray(5);
    const name = (value: string): Buffer => Buffer.concat([Buffer.from(this.serverName(value), "utf8"), NUL]);
    switch (message.type) {
      case "Parse":
        if (message.name === "") return raw;
        return frame(raw[0] as number, Buffer.concat([name(message.name), body.subarray(stringEnd(body, 0) + 1)]));
      case "Bind": {
        if (message.statement === "") return raw;
        const portalEnd = stringEnd(body, 0) + 1;
        return frame(raw[0] as number, Buffer.concat([body.subarray(0, portalEnd), name(message.statement), body.subarray(stringEnd(body, portalEnd) + 1)]));
      }
      case "Describe":
      case "Close":
        if (message.target !== "S" || message.name === "") return raw;
        return frame(raw[0] as number, Buffer.concat([body.subarray(0, 1), name(message.name)]));
      default:
        return raw;
    }
  }
}
