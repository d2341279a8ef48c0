// Whose signature a session's manifest carries. The manifest format, its
// parser and the signature check itself are the uploader's
// (common/src/evidence/manifest.ts); what verification adds is which
// key to trust — one the user gives with --public-key, or else the key the
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

export type SignatureCheck =
  | { ok: true; fingerprint: string; /** True when checked against a key the user gave, not the one the manifest carries. */ trusted: boolean }
  | { ok: false; problem: string };

function embeddedKey(manifest: EvidenceManifest): KeyObject | string {
  try {
    return ed25519PublicKey(manifest.publicKey, "the manifest's publicKey");
  } catch (error) {
    return errorText(error);
  }
}

/** When the trusted key did not sign: which key the manifest names, and whether that one did. */
function embeddedKeyNote(manifest: EvidenceManifest, embedded: KeyObject | string, trusted: KeyObject): string {
  if (typeof embedded === "string" || keyFingerprint(embedded) === keyFingerprint(trusted)) return "";
  return `; the manifest names another key, ${keyFingerprint(embedded)}${verifyManifestSignature(manifest, embedded) ? ", which did sign it" : ""}`;
}

/** Checks the signature against `trusted` when given, else against the key embedded in the manifest. */
export function checkManifestSignature(manifest: EvidenceManifest, trusted?: TrustedKey): SignatureCheck {
  const embedded = embeddedKey(manifest);
  if (trusted === undefined) {
    if (typeof embedded === "string") return { ok: false, problem: embedded };
    if (verifyManifestSignature(manifest, embedded)) return { ok: true, fingerprint: keyFingerprint(embedded), trusted: false };
    return { ok: false, problem: "the manifest's signature does not verify with the key it names (the manifest was changed after signing)" };
  }
  if (verifyManifestSignature(manifest, trusted.key)) return { ok: true, fingerprint: keyFingerprint(trusted.key), trusted: true };
  return {
    ok: false,
    problem: `the manifest's signature does not verify with the public key in ${trusted.origin} (${keyFingerprint(trusted.key)})${embeddedKeyNote(manifest, embedded, trusted.key)}`,
  };
}
