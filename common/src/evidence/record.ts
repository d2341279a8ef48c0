// The evidence record format: the contract between the gateway, which writes
// the spool, and the uploader and verifiers, which read it. Pure functions only.
//
// FORMAT (version 1)
// A session's evidence is JSONL: one UTF-8 JSON object per line, each line
// ending in "\n", in the order the gateway produced the records:
//
//   { "v": 1, "session": "01J…", "seq": 3, "time": "2026-11-25T10:00:00.123Z",
//     "type": "request", "data": { … }, "prev": "sha256:…", "hash": "sha256:…" }
//
// - v        format version, always 1.
// - session  the session ID (26-character Crockford base32, time-sortable).
// - seq      1-based position of the record in its session, without gaps.
// - time     when the gateway sealed the record (ISO-8601 UTC, milliseconds).
// - type     session-start | request | result | message | approval |
//            session-end
//            (statement: a request record of a gateway before protocols
//            shared one shape; readers still accept it).
// - data     a JSON object; what it holds depends on `type` (EvidenceDataByType).
// - prev     the previous record's `hash`; for seq 1 the genesis value
//            "sha256:" followed by 64 zeros.
// - hash     "sha256:" + hex SHA-256 of canonicalJson(the record without
//            `hash`) — canonicalJson sorts object keys, so the hash does not
//            depend on how a writer orders them.
//
// What `data` holds, per type (the interfaces below are the exact shapes):
// - session-start  identity (username, groups, serviceAccount, namespace, pod,
//                  verified JWT claims), resource (name, namespace, protocol),
//                  client (address, port, database, user, application),
//                  policies (the AccessPolicy names that apply).
// - request        one shape for every protocol: protocol, summary (one
//                  line), decision (action allow|deny|requireApproval,
//                  policy, rule, reason), approval (ApprovalRequest name),
//                  and the protocol's details under its name: postgres
//                  (text; parameters, the bound values; classification:
//                  summary, fingerprint, commands, tables) or http (method,
//                  target, the canonical path and query; host; bodyBytes;
//                  bodySha256), and for kubernetes also kubernetes (verb,
//                  apiGroup, apiVersion, resource, subresource, namespace,
//                  name, or path; dryRun; patchType); for mcp, one record
//                  per JSON-RPC message with mcp (direction, kind, id,
//                  method, tool, masked arguments and their sha256, the
//                  tool's fingerprint, resource uri, prompt).
// - result         request (seq of its request record), masked (values
//                  masked per column or JSON path), error (code: a SQLSTATE
//                  or an HTTP status; message), durationMs, and details:
//                  postgres (rowsReturned, commandTags, rows affected such as
//                  "UPDATE 3") or http (status, bytes, events of a watch);
//                  refused: why the request was not forwarded although no
//                  rule denied it (its approval was not obtained, another
//                  statement of its batch was refused);
//                  for mcp also mcp (the JSON-RPC response in one line:
//                  what a list showed and hid, a result's content, isError)
//                  and requestSession when the request was recorded in
//                  another session (the older SSE transport answers on
//                  its own connection).
// - message        a WebSocket message relayed after an allowed upgrade:
//                  request (seq of the upgrade's request record), direction
//                  (agent: sent by the agent; backend: sent to it), kind
//                  (text, binary, close, ping, pong), bytes, masked (values
//                  masked per rule), refused (why it was not relayed), and
//                  for Kubernetes exec and attach the channel and its text.
// - approval       name, phase (Pending|Approved|Denied|Expired), request
//                  (seq), decidedBy, reason.
// - session-end    reason, counts (requests, denied: by a rule, refused:
//                  otherwise, results, errors, approvals), durationMs, error,
//                  discardedBytes (recovery).
// Earlier gateways wrote PostgreSQL requests as `statement` records (text,
// parameters, classification and decision at the top of data), results
// and approvals naming them under `statement`, and counted `statements`:
// readers accept those too.
// Readers must ignore `data` fields they do not know: new optional fields do
// not change the version; anything else about the envelope does.
//
// Every record commits to all before it, so editing, deleting, reordering or
// duplicating any record breaks the chain at that point. Cutting records off
// the end cannot be seen from the records alone: that is why the uploader
// stores the chain head (the last `hash`) in a manifest beside the chunks. The
// chain runs unbroken across chunks; a chunk is verified from the seq and hash
// the previous chunk ended with (`verifyChain(records, from)`).
//
// A session starts with exactly one session-start (seq 1) and, once complete,
// ends with exactly one session-end; nothing follows a session-end.
import { sha256Digest } from "../digest.js";
import { canonicalJson } from "../canonical-json.js";
import { parseJsonObject } from "../json-object.js";
import type { IdentityFacts } from "../policy/cel.js";

export const EVIDENCE_VERSION = 1;
export const GENESIS_HASH = `sha256:${"0".repeat(64)}`;

export const EVIDENCE_TYPES = ["session-start", "request", "statement", "result", "message", "approval", "session-end"] as const;
export type EvidenceType = (typeof EVIDENCE_TYPES)[number];

/** session-start: who connected to which Resource, from where, under which policies. */
export interface SessionStartData {
  /** The authenticated identity (from the projected token or a verified JWT, never from the client's say-so). */
  identity: IdentityFacts;
  resource: { name: string; namespace: string; protocol: string };
  /** The client's address, and what it asked for (e.g. the PostgreSQL database and user). */
  client: { address: string; port?: number; database?: string; user?: string; application?: string };
  /** The AccessPolicies that apply to this identity and Resource. */
  policies: string[];
}

/** What the policy decided; policy and rule are absent when a default action decided. */
export interface RequestDecision {
  action: "allow" | "deny" | "requireApproval";
  policy?: string;
  rule?: string;
  reason?: string;
}

/** A PostgreSQL statement's details. */
export interface PostgresRequestDetails {
  text: string;
  /** The values bound to $1, $2, … in the extended protocol ("$1 = '5'"), long ones cut. */
  parameters?: string[];
  classification: { summary: string; fingerprint: string; commands: string[]; tables: string[] };
}

/** An HTTP request's details. */
export interface HttpRequestDetails {
  method: string;
  /** The canonical path and query the policy judged and the upstream received. */
  target: string;
  host: string;
  bodyBytes: number;
  /** Present when the body was read (a rule or an approval needed it). */
  bodySha256?: string;
}

/** A Kubernetes API request's details, as the API server reads its path (resource requests) or the path itself (discovery, /version). */
export interface KubernetesRequestDetails {
  verb: string;
  apiGroup?: string;
  apiVersion?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  path?: string;
  dryRun?: boolean;
  patchType?: string;
}

/** A Model Context Protocol message's details: one JSON-RPC request, notification or response. */
export interface McpRequestDetails {
  /** client: the agent's message to the server; server: the server's to the agent. */
  direction: "client" | "server";
  kind: "request" | "notification" | "response";
  /** The JSON-RPC id, as JSON (requests and responses). */
  id?: string;
  method?: string;
  tool?: string;
  /** The tool's or prompt's arguments, masked as the policies mask results, cut at 16 KiB. */
  arguments?: string;
  /** sha256 of the canonical JSON of the arguments the server received: what an approval bound to. */
  argumentsSha256?: string;
  /** The tool definition's fingerprint the gateway accepted or refused. */
  toolFingerprint?: string;
  uri?: string;
  prompt?: string;
}

/** request: what the client asked, recorded before it is forwarded (or refused). */
export interface RequestData {
  protocol: string;
  /** One line, e.g. "DELETE orders" or "POST /v1/refunds". */
  summary: string;
  decision: RequestDecision;
  /** The ApprovalRequest's name when the request needed one. */
  approval?: string;
  postgres?: PostgresRequestDetails;
  http?: HttpRequestDetails;
  kubernetes?: KubernetesRequestDetails;
  mcp?: McpRequestDetails;
}

/** result: what a forwarded request did. */
export interface ResultData {
  /** The seq of the request record this result belongs to. */
  request: number;
  /** Masked values per column ("table.column" or the result column's name) or JSON path. */
  masked: Record<string, number>;
  /** `code` is the SQLSTATE or the HTTP status. */
  error?: { code: string; message: string };
  /** Why the request was not forwarded although no rule denied it: an approval not obtained, another statement of its batch refused. */
  refused?: string;
  durationMs: number;
  /** Rows affected are in the command tags ("UPDATE 3"). */
  postgres?: { rowsReturned: number; commandTags: string[] };
  /** events: the lines of a watch stream relayed. */
  http?: { status: number; bytes: number; events?: number };
  /** summary: the response in one line ("listed 2 of 5 tools; hidden: …", "2 text items"); isError: a tool's own error result. */
  mcp?: { summary: string; isError?: boolean; hidden?: string[] };
  /** The session whose record `request` is, when it is not this one. */
  requestSession?: string;
}

/** message: a WebSocket message relayed (or refused) after an allowed upgrade. */
export interface MessageData {
  /** The seq of the upgrade's request record. */
  request: number;
  /** agent: sent by the agent to the backend; backend: sent by the backend to the agent. */
  direction: "agent" | "backend";
  kind: "text" | "binary" | "close" | "ping" | "pong";
  bytes: number;
  masked?: Record<string, number>;
  /** Why the message was not relayed (the connection is closed then). */
  refused?: string;
  /** A stream's channel: for Kubernetes exec and attach stdin, stdout, stderr, error, resize, or "close stdin". */
  channel?: string;
  /** What the message carried on its channel, as UTF-8, cut at 16 KiB (truncated then). */
  text?: string;
  truncated?: boolean;
}

/** approval: a step of an ApprovalRequest a request waited for. */
export interface ApprovalData {
  name: string;
  phase: "Pending" | "Approved" | "Denied" | "Expired";
  /** The seq of the request record that asked for the approval. */
  request?: number;
  decidedBy?: string;
  reason?: string;
}

export interface SessionCounts {
  requests: number;
  /** Requests a rule denied. */
  denied: number;
  /** Requests not forwarded for another reason (results that say `refused`). */
  refused: number;
  results: number;
  errors: number;
  approvals: number;
}

/** session-end: why and when the session ended, with totals over its records. */
export interface SessionEndData {
  /** e.g. client-terminated, client-disconnected, server-disconnected, evidence-write-failed, gateway-stopped, gateway-restarted. */
  reason: string;
  counts: SessionCounts;
  durationMs: number;
  error?: string;
  /** Bytes of an unfinished last line removed when a restarted gateway sealed the session. */
  discardedBytes?: number;
}

export interface EvidenceDataByType {
  "session-start": SessionStartData;
  request: RequestData;
  /** Only read back: a request record of an earlier gateway. */
  statement: Record<string, unknown>;
  result: ResultData;
  message: MessageData;
  approval: ApprovalData;
  "session-end": SessionEndData;
}

/** A record as read back: the envelope is checked, `data` is only known to be a JSON object. */
export interface EvidenceRecord {
  v: typeof EVIDENCE_VERSION;
  session: string;
  seq: number;
  time: string;
  type: EvidenceType;
  data: Record<string, unknown>;
  prev: string;
  hash: string;
}

export type UnsealedRecord = Omit<EvidenceRecord, "hash">;

const hashOf = sha256Digest;

export function recordHash(unsealed: UnsealedRecord): string {
  return hashOf(canonicalJson(unsealed));
}

/**
 * Adds the hash. `data` goes through JSON first, so what is hashed is exactly
 * what a reader parses back (a Date becomes its ISO string, undefined fields
 * disappear); a value JSON cannot hold (a BigInt, a cycle) throws.
 */
export function sealRecord(unsealed: Omit<UnsealedRecord, "data"> & { data: object }): EvidenceRecord {
  return sealRecordLine({ ...unsealed, data: JSON.parse(JSON.stringify(unsealed.data)) as object }).record;
}

/**
 * sealRecord, and the line the record is stored as, serializing it once (the
 * gateway does this for every statement): the line is the canonical text the
 * hash covers, with the hash added as the last member. The record holds the
 * caller's `data` as given; its line (and hash) what JSON makes of it.
 */
export function sealRecordLine(unsealed: Omit<UnsealedRecord, "data"> & { data: object }): { record: EvidenceRecord; line: string } {
  const record = unsealed as UnsealedRecord;
  const canonical = canonicalJson(record);
  const hash = hashOf(canonical);
  return { record: { ...record, hash }, line: `${canonical.slice(0, -1)},"hash":${JSON.stringify(hash)}}\n` };
}

/** The line a record is stored as. */
export function recordLine(record: EvidenceRecord): string {
  return `${JSON.stringify(record)}\n`;
}

export function emptyCounts(): SessionCounts {
  return { requests: 0, denied: 0, refused: 0, results: 0, errors: 0, approvals: 0 };
}

function field(data: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(data, name) ? data[name] : undefined;
}

/** Adds one record to the totals a session-end carries. Reads `data` defensively: it also counts records read back from a file. */
export function tallyRecord(counts: SessionCounts, type: EvidenceType, data: Record<string, unknown>): void {
  if (type === "request" || type === "statement") {
    counts.requests += 1;
    const decision = field(data, "decision");
    if (decision !== null && typeof decision === "object" && (decision as Record<string, unknown>).action === "deny") counts.denied += 1;
  } else if (type === "result") {
    counts.results += 1;
    if (field(data, "error") !== undefined) counts.errors += 1;
    if (typeof field(data, "refused") === "string") counts.refused += 1;
  } else if (type === "approval") {
    counts.approvals += 1;
  }
}

const HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;
const TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

const ENVELOPE_FIELDS = ["v", "session", "seq", "time", "type", "data", "prev", "hash"];
const isHash = (value: unknown): boolean => typeof value === "string" && HASH_PATTERN.test(value);

/** Each envelope field's check, and what to say when it fails. */
const ENVELOPE_CHECKS: ReadonlyArray<[(value: Record<string, unknown>) => boolean, (value: Record<string, unknown>) => string]> = [
  [(r) => r.v === EVIDENCE_VERSION, (r) => `unsupported version ${JSON.stringify(r.v)} (this reader knows version ${EVIDENCE_VERSION})`],
  [(r) => typeof r.session === "string" && r.session !== "", () => "no session"],
  [(r) => typeof r.seq === "number" && Number.isSafeInteger(r.seq) && r.seq >= 1, () => "seq is not a positive integer"],
  [(r) => typeof r.time === "string" && TIME_PATTERN.test(r.time), () => "time is not an ISO-8601 UTC time with milliseconds"],
  [(r) => EVIDENCE_TYPES.includes(r.type as EvidenceType), (r) => `unknown type ${JSON.stringify(r.type)}`],
  [(r) => isPlainObject(r.data), () => "data is not an object"],
  [(r) => isHash(r.prev), () => "prev is not a sha256 hash"],
  [(r) => isHash(r.hash), () => "hash is not a sha256 hash"],
  [(r) => Object.keys(r).every((key) => ENVELOPE_FIELDS.includes(key)), (r) => `unknown fields ${Object.keys(r).filter((key) => !ENVELOPE_FIELDS.includes(key)).join(", ")}`],
];

/** What is wrong with a parsed line's envelope; undefined when it is a well-formed record. */
function envelopeProblem(value: Record<string, unknown>): string | undefined {
  const failed = ENVELOPE_CHECKS.find(([check]) => !check(value));
  return failed?.[1](value);
}

/** One line as a record, or what is wrong with it. */
export function parseRecordLine(line: string): EvidenceRecord | string {
  const value = parseJsonObject(line);
  if (typeof value === "string") return value;
  return envelopeProblem(value) ?? (value as unknown as EvidenceRecord);
}

export interface ParsedSpool {
  records: EvidenceRecord[];
  /** Complete lines that are not records: corruption or tampering. Line numbers are 1-based. */
  problems: Array<{ line: number; problem: string }>;
  /**
   * A last line without its "\n": a write cut short by a crash. It is never a
   * record, even when it happens to parse: an append resolves only after the
   * whole line including "\n" is written, so the statement it describes was
   * never forwarded. The spool truncates it away on recovery.
   */
  partialLastLine: { line: number; bytes: number } | null;
}

export function parseSpoolText(text: string): ParsedSpool {
  const lines = text.split("\n");
  // After the last "\n" comes either "" (a complete file) or a partial line.
  const tail = lines.pop() ?? "";
  const parsed: ParsedSpool = { records: [], problems: [], partialLastLine: null };
  lines.forEach((line, index) => {
    const result = line === "" ? "empty line" : parseRecordLine(line);
    if (typeof result === "string") parsed.problems.push({ line: index + 1, problem: result });
    else parsed.records.push(result);
  });
  if (tail !== "") parsed.partialLastLine = { line: lines.length + 1, bytes: Buffer.byteLength(tail) };
  return parsed;
}

export type ChainVerdict = { ok: true; head: string; count: number } | { ok: false; seq: number; problem: string };

/** Where a chain (or a chunk of one) starts: seq 1 after the genesis value, or where the previous chunk ended. */
export interface ChainStart {
  seq: number;
  prev: string;
  session?: string;
}

interface ChainPosition {
  session: string;
  expectedSeq: number;
  /** The previous record's hash (or the chain start's). */
  prev: string;
  previous: EvidenceRecord | undefined;
  /** Every seq in the list, to tell a reordered record from a deleted one. */
  present: ReadonlySet<number>;
}

/** What is wrong with the record at the chain position; undefined when it links correctly. */
function linkProblem(record: EvidenceRecord, chain: ChainPosition): string | undefined {
  const { session, expectedSeq, prev, previous } = chain;
  if (record.v !== EVIDENCE_VERSION) return `unsupported version ${JSON.stringify(record.v)}`;
  if (record.session !== session) return `record of session ${record.session} in the chain of session ${session}`;
  if (previous !== undefined && record.seq === previous.seq) return `duplicate of record ${previous.seq}`;
  if (record.seq < expectedSeq || (record.seq > expectedSeq && chain.present.has(expectedSeq))) {
    return `out of order: record ${record.seq} where record ${expectedSeq} belongs`;
  }
  if (record.seq > expectedSeq) return `record ${expectedSeq}${record.seq - 1 > expectedSeq ? `-${record.seq - 1}` : ""} missing (deleted?)`;
  if (record.prev !== prev) return "prev does not match the previous record's hash (a record before it was changed, removed or inserted)";
  if (recordHash({ v: record.v, session: record.session, seq: record.seq, time: record.time, type: record.type, data: record.data, prev: record.prev }) !== record.hash) {
    return "hash does not match the record's content (the record was edited)";
  }
  return undefined;
}

function placementProblem(record: EvidenceRecord, previous: EvidenceRecord | undefined): string | undefined {
  if (previous?.type === "session-end") return `record after the session-end (record ${previous.seq})`;
  if (record.seq === 1 && record.type !== "session-start") return `the first record is a ${record.type}, not a session-start`;
  if (record.seq !== 1 && record.type === "session-start") return "a session-start that is not the first record";
  return undefined;
}

/**
 * Checks that the records form one unbroken chain of one session, starting at
 * `from` (by default seq 1 after the genesis value). On success `head` is the
 * last record's hash, which the next chunk's first record must name as `prev`.
 */
export function verifyChain(records: readonly EvidenceRecord[], from: ChainStart = { seq: 1, prev: GENESIS_HASH }): ChainVerdict {
  const session = from.session ?? records[0]?.session ?? "";
  const present = new Set(records.map((record) => record.seq));
  let prev = from.prev;
  let previous: EvidenceRecord | undefined;
  for (const [index, record] of records.entries()) {
    const expectedSeq = from.seq + index;
    const problem = linkProblem(record, { session, expectedSeq, prev, previous, present }) ?? placementProblem(record, previous);
    if (problem !== undefined) return { ok: false, seq: expectedSeq, problem };
    prev = record.hash;
    previous = record;
  }
  return { ok: true, head: prev, count: records.length };
}
