// The ledger of a pod's sessions: what shows that a session existed after
// its folder is gone, and that a manifest was final after an earlier one is
// put back. Each gateway appends one entry per session that ended, once its
// final manifest is stored: the session, its record count, its chain head and
// how it ended. Entries are objects of their own, written once (so Object
// Lock retention covers each as it does the chunks), beside the sessions:
//
//   PREFIX/NAMESPACE/POD/ledger/000001.json, 000002.json, …
//
// Each entry names the hash of the one before it (the genesis value for the
// first) and is signed with the store's signing key, like the manifests; its
// hash is "sha256:" + hex SHA-256 of canonicalJson(the entry without hash,
// publicKey and signature), and the signature (Ed25519, base64) covers
// canonicalJson(the entry without signature). A pod's gateways continue one
// chain across restarts. A gateway that finds the ledger's last object
// unusable (not an entry, edited, signed with another key) does not stop
// recording over it: its entry continues after that object, naming the SHA-256
// of the object's bytes as prev and saying in `after` why, so the break stays
// in the chain for `sessions audit` to report. Pure functions only.
import { createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import { canonicalJson } from "../canonical-json.js";
import { parseJsonObject } from "../json-object.js";
import { sha256Digest } from "../digest.js";
import { publicKeyPem, type SessionEnding } from "./manifest.js";
import { GENESIS_HASH } from "./record.js";

export const LEDGER_FOLDER = "ledger";
export const LEDGER_CONTENT_TYPE = "application/json";

export interface LedgerEntry {
  v: 1;
  /** 1-based position in the pod's ledger, without gaps. */
  seq: number;
  /** The previous entry's hash; the genesis value for seq 1. */
  prev: string;
  session: string;
  /** The session's record count and chain head, as its final manifest says. */
  records: number;
  head: string;
  end: SessionEnding;
  /** Set when the object before this entry could not be continued: why; prev is then the hash of that object's bytes. */
  after?: string;
  hash: string;
  /** SPKI PEM of the key that signed the entry. */
  publicKey: string;
  signature: string;
}

export type UnsealedLedgerEntry = Pick<LedgerEntry, "seq" | "prev" | "session" | "records" | "head" | "end" | "after">;

/** Where a pod's ledger entries are, ending in "/" (the prefix may be ""). */
export function ledgerKeyPrefix(prefix: string, namespace: string, pod: string): string {
  return `${[prefix, namespace, pod, LEDGER_FOLDER].filter((part) => part !== "").join("/")}/`;
}

/** The name of the n-th entry (1-based): 000001.json. */
export function ledgerEntryName(seq: number): string {
  return `${String(seq).padStart(6, "0")}.json`;
}

// At most 15 digits: every such number is a safe integer.
const LEDGER_ENTRY_NAME = /^[0-9]{6,15}\.json$/;

/** True for the name of a ledger entry object. */
export function isLedgerEntryName(name: string): boolean {
  return LEDGER_ENTRY_NAME.test(name);
}

/** The position an entry object's name gives (isLedgerEntryName must hold). */
export function ledgerEntrySeq(name: string): number {
  return Number(name.slice(0, -".json".length));
}

/** Ledger object names in the ledger's order. */
export function sortLedgerEntryNames(names: readonly string[]): string[] {
  return [...names].sort((a, b) => ledgerEntrySeq(a) - ledgerEntrySeq(b));
}

function hashed(entry: UnsealedLedgerEntry): Omit<LedgerEntry, "publicKey" | "signature"> {
  const { seq, prev, session, records, head, end, after } = entry;
  const content = { v: 1 as const, seq, prev, session, records, head, end: { reason: end.reason, time: end.time }, ...(after !== undefined ? { after } : {}) };
  return { ...content, hash: sha256Digest(canonicalJson(content)) };
}

export function sealLedgerEntry(entry: UnsealedLedgerEntry, privateKey: KeyObject): LedgerEntry {
  const withKey = { ...hashed(entry), publicKey: publicKeyPem(privateKey) };
  return { ...withKey, signature: sign(null, Buffer.from(canonicalJson(withKey), "utf8"), privateKey).toString("base64") };
}

const HASH = /^sha256:[0-9a-f]{64}$/;
const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === "object" && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === "string";

const ENTRY_CHECKS: ReadonlyArray<[string, (entry: Record<string, unknown>) => boolean]> = [
  ["v", (e) => e.v === 1],
  ["seq", (e) => typeof e.seq === "number" && Number.isSafeInteger(e.seq) && e.seq >= 1],
  ["prev", (e) => isString(e.prev) && HASH.test(e.prev)],
  ["session", (e) => isString(e.session) && e.session !== ""],
  ["records", (e) => typeof e.records === "number" && Number.isSafeInteger(e.records) && e.records >= 1],
  ["head", (e) => isString(e.head) && HASH.test(e.head)],
  ["end", (e) => isObject(e.end) && isString(e.end.reason) && isString(e.end.time)],
  ["after", (e) => e.after === undefined || isString(e.after)],
  ["hash", (e) => isString(e.hash) && HASH.test(e.hash)],
  ["publicKey", (e) => isString(e.publicKey)],
  ["signature", (e) => isString(e.signature)],
];

/** An entry read back, or what is wrong with its shape (its hash and signature are checked by checkLedgerEntry). */
export function parseLedgerEntry(text: string): LedgerEntry | string {
  const value = parseJsonObject(text);
  if (typeof value === "string") return `it is ${value}`;
  const failed = ENTRY_CHECKS.find(([, check]) => !check(value));
  return failed ? `its ${failed[0]} is missing or malformed` : (value as unknown as LedgerEntry);
}

/**
 * What is wrong with an entry that follows `previous` (undefined: it should be the first), signed by `trusted` (a public
 * key); undefined when nothing is.
 */
export function checkLedgerEntry(entry: LedgerEntry, previous: Pick<LedgerEntry, "seq" | "hash"> | undefined, trusted: KeyObject): string | undefined {
  const expected = previous === undefined ? { seq: 1, prev: GENESIS_HASH } : { seq: previous.seq + 1, prev: previous.hash };
  if (entry.seq !== expected.seq) return `it is entry ${entry.seq} where entry ${expected.seq} belongs (entries removed or reordered?)`;
  if (entry.prev !== expected.prev) return "it does not continue the ledger from the entry before it (its prev is not that entry's hash)";
  if (hashed(entry).hash !== entry.hash) return "its hash does not match its content (the entry was edited)";
  const { signature, ...signed } = entry;
  let valid: boolean;
  try {
    valid = verify(null, Buffer.from(canonicalJson(signed), "utf8"), trusted, Buffer.from(signature, "base64"));
  } catch {
    valid = false;
  }
  if (!valid) return `its signature does not verify with the trusted key${entry.publicKey === trusted.export({ type: "spki", format: "pem" }).toString() ? "" : describeOtherKey(entry.publicKey)}`;
  return undefined;
}

function describeOtherKey(pem: string): string {
  try {
    return ` (it names another key, ${sha256Digest(createPublicKey(pem).export({ type: "spki", format: "der" }))})`;
  } catch {
    return "";
  }
}
