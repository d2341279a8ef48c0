// The signed manifest beside a session's chunks: which chunks exist, which
// records each holds, and the chain head. Records only prove what is before
// them; the manifest is what shows that nothing was cut off the end, and its
// Ed25519 signature is what shows that the manifest itself is the uploader's.
// The signature covers canonicalJson of the manifest without "signature", so
// key order does not matter.
import { createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";
import { parseJsonObject } from "../json-object.js";

export const MANIFEST_VERSION = 1;

export interface ManifestChunk {
  /** The object name inside the session's folder, e.g. 000001.jsonl.gz. */
  name: string;
  firstSeq: number;
  lastSeq: number;
  /** The `prev` of record firstSeq: the previous chunk's head, or the genesis value. */
  prev: string;
  /** The `hash` of record lastSeq. */
  head: string;
  /** Hex SHA-256 of the gzip object's bytes. */
  sha256: string;
  /** Size of the gzip object. */
  bytes: number;
}

/** How a session ended: its session-end record's reason and time. */
export interface SessionEnding {
  reason: string;
  time: string;
}

export interface EvidenceManifest {
  version: typeof MANIFEST_VERSION;
  session: string;
  namespace: string;
  pod: string;
  /** The Resource's name, from the session-start record. */
  resource: string;
  chunks: ManifestChunk[];
  /** The hash of the last uploaded record. */
  head: string;
  /** How many records are uploaded (the last chunk's lastSeq). */
  records: number;
  /** True once the session-end record is uploaded: the manifest is final. */
  complete: boolean;
  /** On a final manifest, how the session ended (absent from manifests of gateways before it was added). */
  end?: SessionEnding;
  updatedAt: string;
  /** SPKI PEM of the key that signed the manifest. */
  publicKey: string;
  /** Base64 Ed25519 signature over canonicalJson(the manifest without "signature"). */
  signature: string;
}

export type UnsignedManifest = Omit<EvidenceManifest, "publicKey" | "signature">;

export function publicKeyPem(key: KeyObject): string {
  return createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
}

function signedBytes(manifest: Omit<EvidenceManifest, "signature">): Buffer {
  return Buffer.from(canonicalJson(manifest), "utf8");
}

/** Signs exactly the contract's fields (anything else on `unsigned`, such as an old signature, is left out). */
export function signManifest(unsigned: UnsignedManifest, privateKey: KeyObject): EvidenceManifest {
  const { version, session, namespace, pod, resource, chunks, head, records, complete, end, updatedAt } = unsigned;
  const withKey = { version, session, namespace, pod, resource, chunks, head, records, complete, ...(end ? { end: { reason: end.reason, time: end.time } } : {}), updatedAt, publicKey: publicKeyPem(privateKey) };
  return { ...withKey, signature: sign(null, signedBytes(withKey), privateKey).toString("base64") };
}

/** True when the signature is valid for `publicKey`, or for the manifest's own publicKey when none is given. */
export function verifyManifestSignature(manifest: EvidenceManifest, publicKey?: KeyObject): boolean {
  const { signature, ...signed } = manifest;
  try {
    const key = publicKey ?? createPublicKey(manifest.publicKey);
    return verify(null, signedBytes(signed), key, Buffer.from(signature, "base64"));
  } catch {
    return false;
  }
}

const HASH = /^sha256:[0-9a-f]{64}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const isString = (value: unknown): value is string => typeof value === "string";
const isCount = (value: unknown): boolean => typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);

const CHUNK_CHECKS: ReadonlyArray<[string, (chunk: Record<string, unknown>) => boolean]> = [
  ["name", (c) => isString(c.name) && /^[0-9]{6,}\.jsonl\.gz$/.test(c.name)],
  ["firstSeq", (c) => isCount(c.firstSeq) && (c.firstSeq as number) >= 1],
  ["lastSeq", (c) => isCount(c.lastSeq) && (c.lastSeq as number) >= (c.firstSeq as number)],
  ["prev", (c) => isString(c.prev) && HASH.test(c.prev)],
  ["head", (c) => isString(c.head) && HASH.test(c.head)],
  ["sha256", (c) => isString(c.sha256) && HEX_SHA256.test(c.sha256)],
  ["bytes", (c) => isCount(c.bytes)],
];

const MANIFEST_CHECKS: ReadonlyArray<[string, (manifest: Record<string, unknown>) => boolean]> = [
  ["version", (m) => m.version === MANIFEST_VERSION],
  ["session", (m) => isString(m.session) && m.session !== ""],
  ["namespace", (m) => isString(m.namespace)],
  ["pod", (m) => isString(m.pod)],
  ["resource", (m) => isString(m.resource)],
  ["chunks", (m) => Array.isArray(m.chunks)],
  ["head", (m) => isString(m.head) && HASH.test(m.head)],
  ["records", (m) => isCount(m.records)],
  ["complete", (m) => typeof m.complete === "boolean"],
  ["end", (m) => m.end === undefined || (m.complete === true && isObject(m.end) && isString(m.end.reason) && isString(m.end.time))],
  ["updatedAt", (m) => isString(m.updatedAt)],
  ["publicKey", (m) => isString(m.publicKey)],
  ["signature", (m) => isString(m.signature)],
];

function chunkProblem(chunk: unknown, index: number): string | undefined {
  if (!isObject(chunk)) return `chunks[${index}] is not an object`;
  const failed = CHUNK_CHECKS.find(([, check]) => !check(chunk));
  return failed && `chunks[${index}].${failed[0]} is missing or malformed`;
}

/** A manifest read back from a store, or what is wrong with its shape (the signature is checked separately). */
export function parseManifest(text: string): EvidenceManifest | string {
  const value = parseJsonObject(text);
  if (typeof value === "string") return `the manifest is ${value}`;
  const failed = MANIFEST_CHECKS.find(([, check]) => !check(value));
  if (failed) return `the manifest's ${failed[0]} is missing or malformed`;
  const chunks = value.chunks as unknown[];
  const problem = chunks.map(chunkProblem).find((p) => p !== undefined);
  return problem ?? (value as unknown as EvidenceManifest);
}
