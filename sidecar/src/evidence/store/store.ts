// What the uploader needs from an object store: write an object whole, read
// one back, list keys under a prefix. S3 and a plain directory both fit, so the
// uploader's logic (chunks, manifests, resuming) is written once.
import type { KeyObject } from "node:crypto";

export interface EvidenceStore {
  /** Where the objects go (e.g. "s3://bucket at https://host"), for logs and to tell one store from another. */
  readonly location: string;
  /** Writes the object whole; a reader sees the old object or the new one, never a mix. */
  put(key: string, body: Uint8Array, contentType: string): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  get(key: string): Promise<Buffer | undefined>;
  /** Every key that starts with prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Releases connections; the store is not used afterwards. */
  close(): void;
}

/** A session's destination: the store, the key prefix inside it and the key its manifests are signed with. */
export interface StoreTarget {
  store: EvidenceStore;
  prefix: string;
  signingKey: KeyObject;
}

/** A store operation that failed; the message says which operation on which object, and why. */
export class StoreError extends Error {
  constructor(operation: string, where: string, cause: unknown) {
    super(`${operation} ${where} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "StoreError";
  }
}
