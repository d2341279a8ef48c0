// Read-only access to the evidence store, whichever kind it is. Keys are
// relative to the store's prefix ("NAMESPACE/POD/SESSION/manifest.json"), so
// the rest of the CLI never deals with buckets, prefixes or directories.
import { filesystemReader } from "./filesystem-reader.js";
import { s3Reader } from "./s3-reader.js";
import type { StoreSettings } from "./store-settings.js";

export interface StoreReader {
  /** Where the store is, for messages (s3://bucket/prefix or a directory). */
  readonly location: string;
  /** The keys of every object under `dir` ("" for all), "/"-separated; none when nothing is there. */
  listKeys(dir: string): Promise<string[]>;
  /** The object's bytes, or undefined when there is no such object. `onBytes` is told as bytes arrive. */
  read(key: string, onBytes?: (bytes: number) => void): Promise<Buffer | undefined>;
}

export function openStoreReader(settings: StoreSettings): StoreReader {
  return settings.type === "s3" ? s3Reader(settings) : filesystemReader(settings);
}
