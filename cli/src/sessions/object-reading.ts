// What both store readers need: object keys that cannot leave the store
// (no empty, "." or ".." segments), and a stream read into memory while
// reporting progress.
import { CliError } from "../errors.js";

/** The key when every "/"-separated segment is a plain name; otherwise a CliError. */
export function checkedKey(key: string): string {
  if (key.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) throw new CliError(`"${key}" is not an object key this store can hold`);
  return key;
}

/** Reads a stream of bytes, telling `onBytes` the size of each piece as it arrives. */
export async function collectBytes(stream: AsyncIterable<Uint8Array | string>, onBytes?: (bytes: number) => void): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) {
    const buffer = typeof piece === "string" ? Buffer.from(piece) : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    pieces.push(buffer);
    onBytes?.(buffer.length);
  }
  return Buffer.concat(pieces);
}
