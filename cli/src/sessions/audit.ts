// `portcullis sessions audit`: verifies every session of a namespace, a pod or
// a time range as `verify` does, and holds them against their pods' ledgers
// (common/src/evidence/ledger.ts), which is what catches evidence taken away
// whole: a session the ledger lists but the store no longer holds, a manifest
// put back from before the session ended, a ledger cut back or replaced (an
// ended session it does not list, entries that do not chain or are not
// signed with the trusted key). Sessions still recording are verified as far
// as they go.
import { sha256Digest } from "@portcullis/common/digest";
import { checkLedgerEntry, isLedgerEntryName, LEDGER_FOLDER, ledgerEntrySeq, parseLedgerEntry, sortLedgerEntryNames, type LedgerEntry } from "@portcullis/common/evidence/ledger";
import { MANIFEST_NAME } from "@portcullis/common/evidence/layout";
import { commandWithHelp, outputFormat, parseCommandLine, type Command } from "../args.js";
import type { Io } from "../io.js";
import { formatDuration } from "../format/time.js";
import { inRange, sessionStartTime, timeOption } from "./list.js";
import { sessionDir, type SessionLocation } from "./locate.js";
import { keyFingerprint, type EvidenceManifest, type TrustedKey } from "./manifest.js";
import { readManifest, scopeOf, SCOPE_OPTIONS_USAGE, SESSION_OPTIONS } from "./session-source.js";
import { openStoreReader, type StoreReader } from "./store-reader.js";
import { loadStore, STORE_OPTIONS_USAGE } from "./store-source.js";
import { requireTrustedKey, trustedKeyFrom, verifySession } from "./verify.js";

const USAGE = `Usage: portcullis sessions audit (--store-configmap NAME [-n NS] | --store-file FILE) [--pod POD] [--since TIME] [--until TIME] [options]

Verify every session in scope as "portcullis sessions verify" does, and each pod's
ledger of ended sessions: that its entries chain and are signed with the trusted key,
that every session it lists is in the store with the final manifest it lists, and that
every ended session in the store is in it. This is what catches a session deleted
whole, a manifest rolled back to before the session ended, and a ledger cut back or
replaced. Prints one line per session and pod, then "audited: ..." and exits 0, or
names each problem and exits 1.

Scope:
${SCOPE_OPTIONS_USAGE}      --since TIME            sessions started at or after TIME: a duration back from now (30m, 1h, 2d)
                              or RFC 3339
      --until TIME            sessions started at or before TIME (same forms)
Options:
      --unended-before TIME   note each session that has not ended and whose manifest was last
                              written before TIME (same forms; default 24h): its pod may have
                              stopped before its gateway ended it, or an earlier manifest was put
                              back where the ledger cannot tell (notes do not fail the audit)
      --public-key FILE       the uploader's public key (PEM), as for verify (default: the store's
                              credentials Secret's signingKey, or publicKey in the store file)
  -o, --output json           the report as JSON
  -h, --help                  show this help
${STORE_OPTIONS_USAGE}`;

const OPTIONS = { ...SESSION_OPTIONS, "public-key": { type: "string" }, since: { type: "string" }, until: { type: "string" }, "unended-before": { type: "string" } } as const;
const UNENDED_DEFAULT = "24h";

interface PodObjects {
  namespace: string;
  pod: string;
  /** Object names by session folder. */
  sessions: Map<string, string[]>;
  ledger: string[];
  /** Objects in the ledger's folder that are not named as entries. */
  foreign: string[];
}

export interface SessionAudit {
  session: string;
  records: number;
  complete: boolean;
  problems: string[];
  /** What an auditor should look at that is not shown to be wrong: a session left unended long ago. */
  notes: string[];
}

export interface PodAudit {
  namespace: string;
  pod: string;
  ledgerEntries: number;
  sessions: SessionAudit[];
  /** Problems of the ledger, and of sessions it lists that the store does not hold. */
  problems: string[];
}

export interface AuditReport {
  ok: boolean;
  pods: PodAudit[];
}

interface Range {
  since?: Date;
  until?: Date;
}

/** What the audit looks at besides the sessions' own evidence. */
interface AuditScope extends Range {
  /** A session not ended whose manifest was last written before this is noted. */
  unendedBefore: Date;
  now: Date;
}

/** The store's objects in scope, by pod: session folders and ledger entries. */
async function podObjects(reader: StoreReader, dir: string, podFilter: string | undefined): Promise<PodObjects[]> {
  const pods = new Map<string, PodObjects>();
  for (const key of await reader.listKeys(dir)) {
    const parts = key.split("/");
    if (parts.length !== 4) continue;
    const [namespace = "", pod = "", folder = "", name = ""] = parts;
    if (podFilter !== undefined && pod !== podFilter) continue;
    const entry = pods.get(`${namespace}/${pod}`) ?? { namespace, pod, sessions: new Map<string, string[]>(), ledger: [], foreign: [] };
    pods.set(`${namespace}/${pod}`, entry);
    if (folder === LEDGER_FOLDER) {
      (isLedgerEntryName(name) ? entry.ledger : entry.foreign).push(name);
    } else {
      entry.sessions.set(folder, [...(entry.sessions.get(folder) ?? []), name]);
    }
  }
  return [...pods.values()].sort((a, b) => `${a.namespace}/${a.pod}`.localeCompare(`${b.namespace}/${b.pod}`));
}

const startedInRange = (session: string, range: Range): boolean => {
  const started = sessionStartTime(session);
  return started === undefined || inRange(started.getTime(), range);
};

/**
 * The pod's ledger entries in order, checked; the entries that could be read, by session. An entry whose gateway could
 * not continue the object before it (`after`) follows that object's bytes; the object itself is reported.
 */
async function readLedger(reader: StoreReader, pod: PodObjects, trusted: TrustedKey, problems: string[]): Promise<Map<string, LedgerEntry>> {
  const bySession = new Map<string, LedgerEntry>();
  let previous: { seq: number; hash?: string; bytes: string } | undefined;
  for (const name of sortLedgerEntryNames(pod.ledger)) {
    const where = `the ledger of ${pod.namespace}/${pod.pod}, entry ${name}`;
    const body = await reader.read(`${pod.namespace}/${pod.pod}/${LEDGER_FOLDER}/${name}`);
    const entry = body === undefined ? "it is gone" : parseLedgerEntry(body.toString("utf8"));
    const bytes = sha256Digest(body ?? "");
    if (typeof entry === "string") {
      problems.push(`${where}: ${entry}`);
      previous = { seq: ledgerEntrySeq(name), bytes };
      continue;
    }
    if (entry.seq !== ledgerEntrySeq(name)) problems.push(`${where}: it holds entry ${entry.seq} (renamed?)`);
    const follows = previous && { seq: previous.seq, hash: (entry.after === undefined ? previous.hash : previous.bytes) ?? "" };
    const problem = checkLedgerEntry(entry, follows, trusted.key);
    if (problem !== undefined) problems.push(`${where}: ${problem}`);
    if (bySession.has(entry.session)) problems.push(`${where}: session ${entry.session} is listed twice`);
    bySession.set(entry.session, entry);
    previous = { seq: entry.seq, hash: entry.hash, bytes };
  }
  return bySession;
}

const ending = (entry: Pick<LedgerEntry, "records" | "head" | "end">): string => `ended ${entry.end.reason} at ${entry.end.time} with ${entry.records} records, head ${entry.head}`;

/** How the session's manifest disagrees with its ledger entry, or with having none. */
function ledgerProblems(manifest: EvidenceManifest, entry: LedgerEntry | undefined): string[] {
  if (entry === undefined) {
    // A manifest without an ending is from a gateway that kept no ledger.
    if (!manifest.complete || manifest.end === undefined) return [];
    return [`the session ended (${manifest.end.reason} at ${manifest.end.time}) but its pod's ledger does not list it (the ledger was cut back or replaced, or its gateway stopped before writing it)`];
  }
  const stated = { records: manifest.records, head: manifest.head, end: manifest.end };
  if (manifest.complete && stated.records === entry.records && stated.head === entry.head && stated.end?.reason === entry.end.reason && stated.end.time === entry.end.time) return [];
  const now = manifest.complete ? `its final manifest says ${manifest.records} records, head ${manifest.head}` : `its manifest is not final and lists ${manifest.records} records`;
  return [`the ledger says the session ${ending(entry)}, but ${now} (a manifest from before it ended put back?)`];
}

/** The note for a session that has not ended and whose manifest has not changed since before `scope.unendedBefore`. */
function unendedNotes(manifest: EvidenceManifest, scope: AuditScope): string[] {
  const written = Date.parse(manifest.updatedAt);
  if (manifest.complete || !(written < scope.unendedBefore.getTime())) return [];
  return [
    `it has not ended, and its manifest was last written ${formatDuration(scope.now.getTime() - written)} ago (${manifest.updatedAt}): ` +
      "its pod may have stopped before its gateway ended it, or a manifest from before it ended was put back and its ledger entry removed with the ledger's tail",
  ];
}

async function auditPod(reader: StoreReader, pod: PodObjects, trusted: TrustedKey, range: AuditScope, io: Io): Promise<PodAudit> {
  const problems: string[] = [];
  const ledger = await readLedger(reader, pod, trusted, problems);
  for (const name of pod.foreign) problems.push(`the ledger of ${pod.namespace}/${pod.pod} holds ${name}, which is not named as a ledger entry`);
  const sessions: SessionAudit[] = [];
  for (const [session, objects] of [...pod.sessions.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    if (!startedInRange(session, range)) continue;
    const location: SessionLocation = { namespace: pod.namespace, pod: pod.pod, session };
    if (!objects.includes(MANIFEST_NAME)) {
      sessions.push({ session, records: 0, complete: false, problems: [`the store holds ${objects.join(", ")} for it but no manifest`], notes: [] });
      continue;
    }
    const manifest = await readManifest(reader, location);
    if (typeof manifest === "string") {
      sessions.push({ session, records: 0, complete: false, problems: [manifest], notes: [] });
      continue;
    }
    const report = await verifySession({ reader, location, manifest, objects }, trusted, io, { forceProgress: false, acceptLive: true });
    const problems = [...report.problems, ...ledgerProblems(manifest, ledger.get(session))];
    sessions.push({ session, records: manifest.records, complete: manifest.complete, problems, notes: problems.length === 0 ? unendedNotes(manifest, range) : [] });
  }
  for (const [session, entry] of ledger) {
    if (!pod.sessions.has(session) && startedInRange(session, range)) problems.push(`session ${session} is in the ledger (${ending(entry)}) but not in the store (deleted?)`);
  }
  return { namespace: pod.namespace, pod: pod.pod, ledgerEntries: pod.ledger.length, sessions, problems };
}

export async function auditSessions(reader: StoreReader, scope: { namespace?: string; pod?: string }, trusted: TrustedKey, range: AuditScope, io: Io): Promise<AuditReport> {
  const dir = scope.namespace === undefined ? "" : scope.pod === undefined ? scope.namespace : `${scope.namespace}/${scope.pod}`;
  const pods: PodAudit[] = [];
  for (const pod of await podObjects(reader, dir, scope.pod)) pods.push(await auditPod(reader, pod, trusted, range, io));
  const ok = pods.every((pod) => pod.problems.length === 0 && pod.sessions.every((session) => session.problems.length === 0));
  return { ok, pods };
}

export function renderAuditReport(report: AuditReport, fingerprint: string): string {
  const lines: string[] = [];
  let sessions = 0;
  let problems = 0;
  for (const pod of report.pods) {
    const where = `${pod.namespace}/${pod.pod}`;
    lines.push(`pod ${where}: ${pod.sessions.length} session${pod.sessions.length === 1 ? "" : "s"}, ledger of ${pod.ledgerEntries} entr${pod.ledgerEntries === 1 ? "y" : "ies"}`);
    for (const problem of pod.problems) lines.push(`  problem: ${problem}`);
    for (const session of pod.sessions) {
      sessions += 1;
      const state = session.complete ? "" : " (still recording: verified as far as it goes)";
      if (session.problems.length === 0) lines.push(`  verified ${sessionDir({ ...pod, session: session.session })}: ${session.records} records${state}`);
      for (const problem of session.problems) lines.push(`  problem: session ${session.session}: ${problem}`);
      for (const note of session.notes) lines.push(`  note: session ${session.session}: ${note}`);
      problems += session.problems.length;
    }
    problems += pod.problems.length;
  }
  const pods = `${report.pods.length} pod${report.pods.length === 1 ? "" : "s"}`;
  lines.push(report.ok ? `audited: ${sessions} sessions of ${pods}, signed by ${fingerprint}` : `not verified: ${problems} problem${problems === 1 ? "" : "s"} in ${sessions} sessions of ${pods}`);
  return `${lines.join("\n")}\n`;
}

export const auditCommand: Command = commandWithHelp("verify every session of a namespace, pod or time range against its pod's ledger", USAGE, async (argv, io) => {
  const { values } = parseCommandLine(argv, { usage: USAGE, options: OPTIONS });
  const output = outputFormat(values.output, USAGE);
  const now = io.now();
  const range: AuditScope = {
    ...(values.since === undefined ? {} : { since: timeOption(values.since, "--since", now, USAGE) }),
    ...(values.until === undefined ? {} : { until: timeOption(values.until, "--until", now, USAGE) }),
    unendedBefore: timeOption(values["unended-before"] ?? UNENDED_DEFAULT, "--unended-before", now, USAGE) as Date,
    now,
  };
  const flagKey = await trustedKeyFrom(values["public-key"]);
  const { settings, signer } = await loadStore(values, USAGE, flagKey === undefined);
  const trusted = requireTrustedKey(flagKey ?? signer, "the sessions' manifests and ledgers");
  const reader = openStoreReader(settings);
  const report = await auditSessions(reader, scopeOf(values), trusted, range, io);
  if (output === "json") io.out(`${JSON.stringify(report, null, 2)}\n`);
  else io.out(renderAuditReport(report, keyFingerprint(trusted.key)));
  return report.ok ? 0 : 1;
});

