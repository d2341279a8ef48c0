// Writes to one side of the proxy. Messages that arrived back to back in the
// same chunk are forwarded as one slice of that chunk (no copy), everything
// else is gathered and written once per turn, and when the peer reads slower
// than the other side writes, `onBackPressure` pauses the source until the
// socket drains — so memory stays bounded without buffering whole results.
import type net from "node:net";

export class Output {
  private pending: Buffer[] = [];

  constructor(
    private readonly socket: net.Socket,
    private readonly onBackPressure: (paused: boolean) => void,
  ) {
    socket.on("drain", () => onBackPressure(false));
  }

  add(bytes: Buffer): void {
    const last = this.pending[this.pending.length - 1];
    if (last && last.buffer === bytes.buffer && last.byteOffset + last.length === bytes.byteOffset) {
      this.pending[this.pending.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + bytes.length);
      return;
    }
    this.pending.push(bytes);
  }

  flush(): void {
    if (this.pending.length === 0 || this.socket.destroyed) {
      this.pending = [];
      return;
    }
    const chunks = this.pending;
    this.pending = [];
    let open = true;
    if (chunks.length === 1) open = this.socket.write(chunks[0] as Buffer);
    else {
      this.socket.cork();
      for (const chunk of chunks) open = this.socket.write(chunk);
      this.socket.uncork();
    }
    if (!open) this.onBackPressure(true);
  }
}
