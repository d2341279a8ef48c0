// A bare PostgreSQL protocol client for tests that need message sequences no
// driver sends: it writes the frames it is given (built with pg-protocol's
// serialize) and collects the backend messages until the expected number of
// ReadyForQuery. No TLS, no password: the gateway trusts the pod's identity.
import net from "node:net";
import { serialize } from "pg-protocol";

const READ_TIMEOUT_MS = 10_000;

export interface BackendMessage {
  type: string;
  body: Buffer;
}

export interface ServerError {
  code: string;
  message: string;
}

/** The fields of an ErrorResponse body. */
export function errorOf(message: BackendMessage): ServerError {
  const fields = new Map<string, string>();
  for (let offset = 0; offset < message.body.length && message.body[offset] !== 0; ) {
    const end = message.body.indexOf(0, offset + 1);
    fields.set(String.fromCharCode(message.body[offset] as number), message.body.toString("utf8", offset + 1, end));
    offset = end + 1;
  }
  return { code: fields.get("C") ?? "", message: fields.get("M") ?? "" };
}

/** The text values of a DataRow (null for SQL NULL). */
export function rowOf(message: BackendMessage): Array<string | null> {
  const values: Array<string | null> = [];
  let offset = 2;
  for (let column = 0; column < message.body.readInt16BE(0); column++) {
    const length = message.body.readInt32BE(offset);
    offset += 4;
    values.push(length < 0 ? null : message.body.toString("utf8", offset, offset + length));
    offset += Math.max(length, 0);
  }
  return values;
}

export class WireClient {
  private buffered = Buffer.alloc(0);
  private readonly messages: BackendMessage[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      while (this.buffered.length >= 5 && this.buffered.length >= 1 + this.buffered.readInt32BE(1)) {
        const length = 1 + this.buffered.readInt32BE(1);
        this.messages.push({ type: String.fromCharCode(this.buffered[0] as number), body: this.buffered.subarray(5, length) });
        this.buffered = this.buffered.subarray(length);
      }
      this.wake?.();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async connect(port: number, user: string, database: string): Promise<WireClient> {
    const socket = net.connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    const client = new WireClient(socket);
    await client.exchange([serialize.startup({ user, database })]);
    return client;
  }

  /** Sends `frames` and returns what came back up to the `readyCount`-th ReadyForQuery. */
  async exchange(frames: Buffer[], readyCount = 1): Promise<BackendMessage[]> {
    this.socket.write(Buffer.concat(frames));
    const received: BackendMessage[] = [];
    const deadline = Date.now() + READ_TIMEOUT_MS;
    let ready = 0;
    while (ready < readyCount) {
      const next = this.messages.shift();
      if (next) {
        received.push(next);
        if (next.type === "Z") ready += 1;
        continue;
      }
      if (this.closed) throw new Error(`the gateway closed the connection; received: ${received.map((m) => m.type).join("")}`);
      if (Date.now() > deadline) throw new Error(`no ReadyForQuery within ${READ_TIMEOUT_MS} ms; received: ${received.map((m) => m.type).join("")}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
    return received;
  }

  close(): void {
    this.socket.end(serialize.end());
  }
}
