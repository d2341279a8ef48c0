// Feeds one socket's messages to a handler in order. Most messages are handled
// synchronously; when one needs to wait (a policy check, an approval, a table
// lookup for masking), the remaining messages wait in the splitter, so a slow
// decision never lets later messages overtake it. The socket keeps reading
// meanwhile (pausing and resuming it for every statement costs two system
// calls) until the waiting bytes pass a high-water mark; then it is paused,
// so nothing buffers without bound.
import type net from "node:net";
import type { Frame, FrameSplitter } from "./frames.js";

/** Bytes that may wait behind a pending decision before the socket stops reading. */
const HIGH_WATER_BYTES = 1024 * 1024;

export class Pump {
  private busy = false;
  private drainWait = false;
  private stopped = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly splitter: FrameSplitter,
    private readonly handle: (frame: Frame) => Promise<void> | void,
    /** Called after each run of messages, so outputs are written once per turn. */
    private readonly flush: () => void,
    private readonly fail: (error: unknown) => void,
  ) {
    socket.on("data", (chunk: Buffer) => {
      splitter.push(chunk);
      if (this.busy && splitter.bufferedBytes > HIGH_WATER_BYTES) socket.pause();
      this.run();
    });
  }

  /** The peer cannot keep up: stop reading this side until it drains. */
  setBackPressure(paused: boolean): void {
    this.drainWait = paused;
    if (paused) this.socket.pause();
    else if (!this.busy && !this.stopped) this.socket.resume();
  }

  stop(): void {
    this.stopped = true;
    this.socket.pause();
  }

  run(): void {
    if (this.busy || this.stopped) return;
    try {
      for (let frame = this.splitter.next(); frame; frame = this.splitter.next()) {
        const waiting = this.handle(frame);
        if (waiting) return this.wait(waiting);
        if (this.stopped) break;
      }
    } catch (error) {
      return this.fail(error);
    }
    this.flush();
  }

  private wait(waiting: Promise<void>): void {
    this.busy = true;
    if (this.splitter.bufferedBytes > HIGH_WATER_BYTES) this.socket.pause();
    this.flush();
    waiting.then(
      () => {
        this.busy = false;
        if (this.stopped) return;
        if (!this.drainWait && this.socket.isPaused()) this.socket.resume();
        this.run();
      },
      (error: unknown) => this.fail(error),
    );
  }
}
