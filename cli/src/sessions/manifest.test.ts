import { describe, expect, it } from "@jest/globals";
import { signManifest, type UnsignedManifest } from "@portcullis/common/evidence/manifest";
import { checkManifestSignature, ed25519PublicKey, keyFingerprint } from "./manifest.js";
import { newSigningKey } from "./test-fixtures.js";

const key = newSigningKey();
const CHUNK = { name: "000001.jsonl.gz", firstSeq: 1, lastSeq: 3, prev: `sha256:${"0".repeat(64)}`, head: `sha256:${"1".repeat(64)}`, sha256: "2".repeat(64), bytes: 100 };
const UNSIGNED: UnsignedManifest = { version: 1, session: "S", namespace: "agents", pod: "bot-0", resource: "orders-db", chunks: [CHUNK], head: CHUNK.head, records: 3, complete: true, updatedAt: "2026-11-25T10:00:00.000Z" };

describe("checkManifestSignature", () => {
  it("trusts only the given key, notices a change after signing, and names the key that did sign", () => {
    const manifest = signManifest(UNSIGNED, key.privateKey);
    const trusted = { key: ed25519PublicKey(key.publicKeyPem, "k.pem"), origin: "k.pem" };
    expect(checkManifestSignature(manifest, trusted)).toEqual({ ok: true, fingerprint: keyFingerprint(trusted.key) });
    expect(checkManifestSignature({ ...manifest, records: 2 }, trusted)).toEqual({ ok: false, problem: `the manifest's signature does not verify with the public key in k.pem (${keyFingerprint(trusted.key)})` });
    const other = newSigningKey();
    const check = checkManifestSignature(manifest, { key: ed25519PublicKey(other.publicKeyPem, "other.pem"), origin: "other.pem" });
    expect(check.ok).toBe(false);
    expect(!check.ok && check.problem).toMatch(/^the manifest's signature does not verify with the public key in other\.pem \(sha256:[0-9a-f]{64}\); the manifest names another key, sha256:[0-9a-f]{64}, which did sign it$/);
  });

  it("takes a private key's PEM as the trusted key, and refuses what is not a key", () => {
    const pem = key.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(ed25519PublicKey(pem, "signing.pem").asymmetricKeyType).toBe("ed25519");
    expect(() => ed25519PublicKey("hello", "x.pem")).toThrow(/^x\.pem holds no public key: /);
  });

  it("fingerprints the DER public key, as openssl and sha256sum would", () => {
    const fingerprint = keyFingerprint(ed25519PublicKey(key.publicKeyPem, "k"));
    expect(fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(keyFingerprint(ed25519PublicKey(key.privateKey.export({ type: "pkcs8", format: "pem" }).toString(), "k"))).toBe(fingerprint);
  });
});
