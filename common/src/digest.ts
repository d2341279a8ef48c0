// The digest form every hash in Portcullis takes: "sha256:" and 64 hex
// digits (evidence chains, configuration revisions, approval and tool
// fingerprints, body hashes).
import { createHash } from "node:crypto";

/** "sha256:<hex>" of the bytes, or of the string's UTF-8. */
export function sha256Digest(data: string | Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}
