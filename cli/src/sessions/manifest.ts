// Whose signature a session's manifest carries. The manifest format, its
// parser and the signature check itself are the uploader's
// (common/src/evidence/manifest.ts); what verification adds is the key to
// trust — one the user gives, or the store's settings name, never the key the
// manifest itself carries, which proves integrity but not authorship — and a
// fingerprint to tell keys apart.
import { sha256Digest } from "@portcullis/common/digest";
import { createPublicKey, type KeyObject } from "node:crypto";
import { verifyManifestSignature, type EvidenceManifest } from "@portcullis/common/evidence/manifest";
import { CliError, errorText } from "../errors.js";

export { parseManifest, type EvidenceManifest, type ManifestChunk } from "@portcullis/common/evidence/manifest";

/** sha256 of the key's DER SubjectPublicKeyInfo: `openssl pkey -pubin -outform DER | sha256sum` gives the same hex. */
export function keyFingerprint(key: KeyObject): string {
  return sha256Digest(key.export({ type: "spki", format: "der" }));
}

/** A public key from PEM (a private key's PEM gives its public half); CliError unless it is Ed25519. */
export function ed25519PublicKey(pem: string, origin: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new CliError(`${origin} holds no public key: ${errorText(error)}`, { cause: error });
  }
  if (key.asymmetricKeyType !== "ed25519") throw new CliError(`${origin} holds a ${key.asymmetricKeyType ?? "unknown"} key; manifests are signed with Ed25519`);
  return key;
}

export interface TrustedKey {
  key: KeyObject;
  /** Where it came from (the --public-key file), for messages. */
  origin: string;
}

export type SignatureCheck = { ok: true; fingerprint: string } | { ok: false; problem: string };

/** When the trusted key did not sign: which key the manifest names, and whether that one did. */
function embeddedKeyNote(manifest: EvidenceManifest, trusted: KeyObject): string {
  let embedded: KeyObject;
  try {
    embedded = ed25519PublicKey(manifest.publicKey, "the manifest's publicKey");
  } catch {
    return "";
  }
  if (keyFingerprint(embedded) === keyFingerprint(trusted)) return "";
  return `; the manifest names another key, ${keyFingerprint(embedded)}${verifyManifestSignature(manifest, embedded) ? ", which did sign it" : ""}`;
}

/** Checks the signature against the trusted key; the key a manifest carries proves nothing about who signed it. */
export function checkManifestSignature(manifest: EvidenceManifest, trusted: TrustedKey): SignatureCheck {
  if (verifyManifestSignature(manifest, trusted.key)) return { ok: true, fingerprint: keyFingerprint(trusted.key) };
  return {
    ok: false,
    problem: `the manifest's signature does not verify with the public key in ${trusted.origin} (${keyFingerprint(trusted.key)})${embeddedKeyNote(manifest, trusted.key)}`,
  };
}
