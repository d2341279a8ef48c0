// `portcullis sessions list`: the sessions in the store, from their manifests
// (not verified: that is `sessions verify`), filtered by namespace, pod,
// Resource and start time. The start time comes from the session ID, which
// the gateway makes time-sortable, so listing reads manifests only.
import { SESSION_ID_PATTERN } from "@portcullis/common/evidence/session-id";
import { commandWithHelp, outputFormat, parseCommandLine, type Command } from "../args.js";
import { UsageError } from "../errors.js";
import { renderTable } from "../format/table.js";
import { oneLine } from "../format/text.js";
import { parseTimeArgument } from "../format/time.js";
import type { Io } from "../io.js";
import { listSessionLocations, manifestKey, type SessionLocation, type SessionScope } from "./locate.js";
import { openStore, readManifest, SCOPE_OPTIONS_USAGE, scopeOf, SESSION_OPTIONS } from "./session-source.js";
import type { StoreReader } from "./store-reader.js";
import { STORE_OPTIONS_USAGE } from "./store-source.js";

export interface SessionSummary {
  session: string;
  namespace: string;
  pod: string;
  resource: string;
  /** From the session ID; absent when the ID is not a time-sortable one. */
  started?: string;
  records: number;
  complete: boolean;
  updatedAt: string;
}

export interface SessionFilters {
  scope: SessionScope;
  resource?: string;
  since?: Date;
  until?: Date;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/** Manifests read at once: enough to hide a remote store's latency, few enough not to be throttled. */
const CONCURRENT_READS = 16;

/** When the session started: the 48-bit millisecond time in the first 10 characters of a gateway session ID. */
export function sessionStartTime(session: string): Date | undefined {
  if (!SESSION_ID_PATTERN.test(session)) return undefined;
  let ms = 0;
  for (const character of session.slice(0, 10)) ms = ms * 32 + CROCKFORD.indexOf(character);
  return new Date(ms);
}

/** Whether a time is in the range --since and --until name. */
export function inRange(at: number, range: Pick<SessionFilters, "since" | "until">): boolean {
  return (range.since === undefined || at >= range.since.getTime()) && (range.until === undefined || at <= range.until.getTime());
}

function inTimeRange(summary: SessionSummary, filters: SessionFilters): boolean {
  // A session whose ID carries no time is placed by its manifest's last update.
  return inRange(Date.parse(summary.started ?? summary.updatedAt), filters);
}

async function summarize(reader: StoreReader, location: SessionLocation, warn: (message: string) => void): Promise<SessionSummary | undefined> {
  const manifest = await readManifest(reader, location);
  if (typeof manifest === "string") {
    warn(`skipping ${manifestKey(location)}: ${manifest}`);
    return undefined;
  }
  const started = sessionStartTime(location.session)?.toISOString();
  return { ...location, resource: manifest.resource, ...(started === undefined ? {} : { started }), records: manifest.records, complete: manifest.complete, updatedAt: manifest.updatedAt };
}

export async function listSessions(reader: StoreReader, filters: SessionFilters, warn: (message: string) => void): Promise<SessionSummary[]> {
  const locations = await listSessionLocations(reader, filters.scope);
  const summaries: SessionSummary[] = [];
  for (let start = 0; start < locations.length; start += CONCURRENT_READS) {
    const batch = await Promise.all(locations.slice(start, start + CONCURRENT_READS).map((location) => summarize(reader, location, warn)));
    for (const summary of batch) if (summary !== undefined) summaries.push(summary);
  }
  return summaries
    .filter((summary) => (filters.resource === undefined || summary.resource === filters.resource) && inTimeRange(summary, filters))
    .sort((a, b) => (a.started ?? a.updatedAt).localeCompare(b.started ?? b.updatedAt) || a.session.localeCompare(b.session));
}

export function renderSessionTable(summaries: readonly SessionSummary[]): string {
  const rows = summaries.map((summary) => [
    summary.session,
    summary.namespace,
    summary.pod,
    oneLine(summary.resource),
    summary.started?.replace(/\.\d{3}Z$/, "Z") ?? "-",
    String(summary.records),
    summary.complete ? "yes" : "no",
  ]);
  return renderTable(["session", "namespace", "pod", "resource", "started", "records", "complete"], rows);
}

const USAGE = `Usage: portcullis sessions list (--store-configmap NAME [-n NS] | --store-file FILE) [filters] [-o table|json]

List the sessions recorded in the evidence store, oldest first, from their manifests
(use "portcullis sessions verify ID" to check one).

Filters:
${SCOPE_OPTIONS_USAGE}      --resource NAME         only sessions with Resource NAME
      --since TIME            started at or after TIME: a duration back from now (30m, 1h, 2d) or RFC 3339
      --until TIME            started at or before TIME (same forms)
Options:
  -o, --output FORMAT         table (default) or json
  -h, --help                  show this help
${STORE_OPTIONS_USAGE}`;

const OPTIONS = { ...SESSION_OPTIONS, resource: { type: "string" }, since: { type: "string" }, until: { type: "string" } } as const;

/** --since or --until: a duration back from now or an RFC 3339 time. */
export function timeOption(value: string | undefined, option: string, now: Date, usage: string): Date | undefined {
  if (value === undefined) return undefined;
  const time = parseTimeArgument(value, now);
  if (time === undefined) throw new UsageError(`${option} takes a duration (30m, 1h, 2d) or an RFC 3339 time, not "${value}"`, usage);
  return time;
}

export const listCommand: Command = commandWithHelp("list recorded sessions", USAGE, async (argv, io: Io) => {
  const { values } = parseCommandLine(argv, { usage: USAGE, options: OPTIONS });
  const output = outputFormat(values.output, USAGE);
  const filters: SessionFilters = {
    scope: scopeOf(values),
    ...(values.resource === undefined ? {} : { resource: values.resource }),
    ...(values.since === undefined ? {} : { since: timeOption(values.since, "--since", io.now(), USAGE) }),
    ...(values.until === undefined ? {} : { until: timeOption(values.until, "--until", io.now(), USAGE) }),
  };
  const reader = await openStore(values, USAGE);
  const summaries = await listSessions(reader, filters, (message) => io.err(`warning: ${message}\n`));
  if (output === "json") io.out(`${JSON.stringify({ sessions: summaries }, null, 2)}\n`);
  else if (summaries.length === 0) io.err(`No sessions found in ${reader.location}.\n`);
  else io.out(renderSessionTable(summaries));
  return 0;
});
