// The digest form every hash in Portcullis takes: "sha256:" and 64 hex
// digits (evidence chains, configuration revisions, approval and tool
// fingerprints, body hashes). crypto.hash is the one-shot form: no Hash
// object per digest, which matters on the gateway's hot path (two evidence
// records and a fingerprint per statement).
import { hash } from "node:crypto";

/** "sha256:<hex>" of the bytes, or of the string's UTF-8. */
export function sha256Digest(data: string | Buffer): string {
  return `sha256:${hash("sha256", data, "hex")}`;
}
