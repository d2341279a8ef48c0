// Where a session's evidence lives in the store (the contract the uploader and
// `portcullis sessions` share): PREFIX/NAMESPACE/POD/SESSION/ holds the
// chunks 000001.jsonl.gz, 000002.jsonl.gz, … and manifest.json.
export const MANIFEST_NAME = "manifest.json";
export const CHUNK_CONTENT_TYPE = "application/gzip";
export const MANIFEST_CONTENT_TYPE = "application/json";
const CHUNK_DIGITS = 6;

export interface SessionLocation {
  prefix: string;
  namespace: string;
  pod: string;
  session: string;
}

// Namespace and pod names come from the session-start record; they become
// key segments, so anything that could climb out of the prefix is refused.
const SEGMENT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The key prefix of a session's objects, ending in "/"; throws when a name cannot be a key segment. */
export function sessionKeyPrefix(location: SessionLocation): string {
  for (const name of ["namespace", "pod", "session"] as const) {
    if (!SEGMENT_PATTERN.test(location[name])) throw new Error(`the session's ${name} ${JSON.stringify(location[name])} cannot name a folder in the evidence store`);
  }
  const parts = [location.prefix, location.namespace, location.pod, location.session].filter((part) => part !== "");
  return `${parts.join("/")}/`;
}

/** The name of the n-th chunk (1-based): 000001.jsonl.gz; past 999999 the number simply grows. */
export function chunkName(n: number): string {
  return `${String(n).padStart(CHUNK_DIGITS, "0")}.jsonl.gz`;
}
