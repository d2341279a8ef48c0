import { describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";
import { parseManifest, signManifest, verifyManifestSignature, type EvidenceManifest, type UnsignedManifest } from "./manifest.js";

const { privateKey } = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const HASH_A = `sha256:${"a".repeat(64)}`;
const HASH_B = `sha256:${"b".repeat(64)}`;

const UNSIGNED: UnsignedManifest = {
  version: 1,
  session: "01JD0000000000000000000000",
  namespace: "agents",
  pod: "bot-0",
  resource: "orders-db",
  chunks: [{ name: "000001.jsonl.gz", firstSeq: 1, lastSeq: 4, prev: HASH_A, head: HASH_B, sha256: "c".repeat(64), bytes: 321 }],
  head: HASH_B,
  records: 4,
  complete: false,
  updatedAt: "2026-11-25T10:00:00.000Z",
};

describe("signManifest and verifyManifestSignature", () => {
  const signed = signManifest(UNSIGNED, privateKey);

  it("embeds the public key and a signature that verifies against it and against the key given", () => {
    expect(signed.publicKey).toContain("-----BEGIN PUBLIC KEY-----");
    expect(verifyManifestSignature(signed)).toBe(true);
    expect(verifyManifestSignature(signed, createPublicKey(privateKey))).toBe(true);
  });

  it("does not depend on key order (the signature covers canonical JSON)", () => {
    const reordered = JSON.parse(canonicalJson(signed)) as EvidenceManifest;
    expect(verifyManifestSignature(reordered)).toBe(true);
  });

  const tampered: Array<[string, EvidenceManifest]> = [
    ["a changed head", { ...signed, head: HASH_A }],
    ["a chunk removed", { ...signed, chunks: [] }],
    ["complete flipped", { ...signed, complete: true }],
    ["another public key embedded", { ...signed, publicKey: other.publicKey.export({ type: "spki", format: "pem" }).toString() }],
    ["a garbled signature", { ...signed, signature: "AAAA" }],
    ["an ending added", { ...signed, end: { reason: "client-terminated", time: "2026-11-25T10:00:01.000Z" } }],
    ["a public key that is no key", { ...signed, publicKey: "nope" }],
  ];
  it.each(tampered)("fails with %s", (_name, manifest) => {
    expect(verifyManifestSignature(manifest)).toBe(false);
  });

  it("fails against another key than the signer's", () => {
    expect(verifyManifestSignature(signed, other.publicKey)).toBe(false);
  });
});

describe("parseManifest", () => {
  const signed = signManifest(UNSIGNED, privateKey);

  it("reads back what was written", () => {
    expect(parseManifest(JSON.stringify(signed))).toEqual(signed);
  });

  it("reads back a final manifest's ending, and refuses an ending on a manifest that is not final", () => {
    const final = signManifest({ ...UNSIGNED, complete: true, end: { reason: "client-terminated", time: "2026-11-25T10:00:01.000Z" } }, privateKey);
    expect(verifyManifestSignature(final)).toBe(true);
    expect(parseManifest(JSON.stringify(final))).toEqual(final);
    expect(verifyManifestSignature({ ...final, end: { reason: "gateway-stopped", time: "2026-11-25T10:00:01.000Z" } })).toBe(false);
    expect(parseManifest(JSON.stringify({ ...final, complete: false }))).toBe("the manifest's end is missing or malformed");
  });

  const broken: Array<[string, string, string]> = [
    ["not JSON", "{", "the manifest is not JSON"],
    ["an array", "[]", "the manifest is not a JSON object"],
    ["another version", JSON.stringify({ ...signed, version: 2 }), "the manifest's version is missing or malformed"],
    ["no head", JSON.stringify({ ...signed, head: undefined }), "the manifest's head is missing or malformed"],
    ["records not a count", JSON.stringify({ ...signed, records: -1 }), "the manifest's records is missing or malformed"],
    ["a chunk that is no object", JSON.stringify({ ...signed, chunks: [1] }), "chunks[0] is not an object"],
    ["a chunk with a bad name", JSON.stringify({ ...signed, chunks: [{ ...UNSIGNED.chunks[0], name: "../x" }] }), "chunks[0].name is missing or malformed"],
    ["a chunk ending before it starts", JSON.stringify({ ...signed, chunks: [{ ...UNSIGNED.chunks[0], lastSeq: 0 }] }), "chunks[0].lastSeq is missing or malformed"],
    ["a chunk with a bad sha256", JSON.stringify({ ...signed, chunks: [{ ...UNSIGNED.chunks[0], sha256: "xyz" }] }), "chunks[0].sha256 is missing or malformed"],
  ];
  it.each(broken)("names what is wrong with %s", (_name, text, problem) => {
    expect(parseManifest(text)).toBe(problem);
  });
});
