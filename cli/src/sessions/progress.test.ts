import { describe, expect, it } from "@jest/globals";
import { capturedIo } from "../captured-io.js";
import { LARGE_SESSION_BYTES, downloadProgress, formatBytes } from "./progress.js";

function download(stderrIsTTY: boolean, bytes: number, forced: boolean): string {
  const captured = capturedIo({ stderrIsTTY });
  const progress = downloadProgress(captured.io, { chunks: 2, bytes }, forced);
  for (const index of [0, 1]) {
    progress.chunkStarted(index);
    progress.bytesRead(bytes / 2);
    progress.chunkDone();
  }
  progress.finish();
  return captured.stderr();
}

describe("downloadProgress", () => {
  it("stays silent for a small session unless asked", () => {
    expect(download(true, 2048, false)).toBe("");
    expect(download(false, 4 * LARGE_SESSION_BYTES, false)).toBe("");
  });

  it("redraws one line on a terminal for a big session, and clears it at the end", () => {
    const output = download(true, 4 * LARGE_SESSION_BYTES, false);
    expect(output).toContain("\rdownloading chunk 1/2: 0 B of 4.0 MiB\u001b[K");
    expect(output).toContain("\rdownloading chunk 2/2: 4.0 MiB of 4.0 MiB\u001b[K");
    expect(output.endsWith("\r\u001b[K")).toBe(true);
    expect(output).not.toContain("\n");
  });

  it("writes a line per chunk when asked for off a terminal", () => {
    expect(download(false, 2048, true)).toBe("downloading chunk 1/2: 1.0 KiB of 2.0 KiB\ndownloading chunk 2/2: 2.0 KiB of 2.0 KiB\n");
  });

  it.each([
    [0, "0 B"],
    [1023, "1023 B"],
    [1536, "1.5 KiB"],
    [5 * 1024 * 1024, "5.0 MiB"],
  ])("formats %d bytes as %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
