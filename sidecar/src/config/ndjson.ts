// Splits a byte stream into newline-delimited JSON lines. Bytes are kept per
// chunk and joined once per line, so a long line arriving in many chunks costs
// linear time (concatenating on every chunk would be quadratic), and a UTF-8
// character split across chunks is decoded whole.

/** Far above any real bundle; a longer line is refused rather than buffered without bound. */
export const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;

export class LineTooLongError extends Error {
  constructor(readonly maxBytes: number) {
    super(`a line of the stream is longer than ${maxBytes} bytes`);
    this.name = "LineTooLongError";
  }
}

export class LineSplitter {
  private parts: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes = DEFAULT_MAX_LINE_BYTES) {}

  /** The lines this chunk completes, without their newlines (a trailing \r is dropped too); blank lines are skipped. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let end = chunk.indexOf(0x0a); end !== -1; end = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, end));
      const line = this.take();
      if (line.trim() !== "") lines.push(line.endsWith("\r") ? line.slice(0, -1) : line);
      start = end + 1;
    }
    this.append(chunk.subarray(start));
    return lines;
  }

  /** Bytes of an unfinished line, e.g. when the stream ends without a final newline (the line is incomplete and not used). */
  get pending(): number {
    return this.pendingBytes;
  }

  private append(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (this.pendingBytes + bytes.length > this.maxLineBytes) {
      this.parts = [];
      this.pendingBytes = 0;
      throw new LineTooLongError(this.maxLineBytes);
    }
    this.parts.push(bytes);
    this.pendingBytes += bytes.length;
  }

  private take(): string {
    const line = Buffer.concat(this.parts, this.pendingBytes).toString("utf8");
    this.parts = [];
    this.pendingBytes = 0;
    return line;
  }
}
