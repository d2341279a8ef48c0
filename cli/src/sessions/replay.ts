// `portcullis sessions replay ID`: the session as a transcript (or JSON),
// downloaded chunk by chunk and checked on the way with the same verifier as
// `sessions verify`, so a transcript of tampered or incomplete evidence is
// never shown without saying so (on stderr, and exit 1).
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { commandWithHelp, outputFormat, parseCommandLine, type Command, type OutputFormat } from "../args.js";
import type { Io } from "../io.js";
import { sessionDir } from "./locate.js";
import { checkManifestSignature } from "./manifest.js";
import { downloadProgress } from "./progress.js";
import { fetchChunks, openSession, SCOPE_OPTIONS_USAGE, SESSION_OPTIONS, type OpenedSession } from "./session-source.js";
import { STORE_OPTIONS_USAGE } from "./store-source.js";
import { renderGap, renderHeader, renderRecord } from "./transcript.js";
import { SessionVerifier } from "./verifier.js";

const USAGE = `Usage: portcullis sessions replay ID (--store-configmap NAME [-n NS] | --store-file FILE) [options]

Print session ID as a transcript: identity, requests with the policy decision,
approvals, results (rows, command tags, masked columns, errors) and the session end.
The evidence is verified on the way; problems are reported on stderr (exit 1).

Options:
${SCOPE_OPTIONS_USAGE}      --progress              show download progress (default: on a terminal, for big sessions)
  -o, --output FORMAT         table (the transcript, default) or json (the records)
  -h, --help                  show this help
${STORE_OPTIONS_USAGE}`;

const OPTIONS = { ...SESSION_OPTIONS, progress: { type: "boolean" } } as const;

export async function replaySession(opened: OpenedSession, output: OutputFormat, io: Io, forceProgress: boolean): Promise<number> {
  const { reader, location, manifest } = opened;
  // A transcript is shown for a session still recording too; its header says so.
  const verifier = new SessionVerifier(location, manifest, checkManifestSignature(manifest), { acceptLive: true });
  verifier.checkStoredObjects(opened.objects);
  const totals = { chunks: manifest.chunks.length, bytes: manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0) };
  const collected: EvidenceRecord[] = [];
  if (output === "table") io.out(renderHeader(location, manifest));
  for await (const fetched of fetchChunks(reader, location, manifest, downloadProgress(io, totals, forceProgress))) {
    const records = verifier.check(fetched);
    if (output === "json") collected.push(...records);
    else io.out(records.length === 0 ? renderGap(fetched.chunk) : records.map(renderRecord).join(""));
  }
  const report = verifier.finish();
  if (output === "json") {
    io.out(`${JSON.stringify({ session: sessionDir(location), resource: manifest.resource, complete: manifest.complete, verified: report.ok, problems: report.problems, records: collected }, null, 2)}\n`);
  }
  if (report.ok) return 0;
  io.err(`warning: the evidence of session ${location.session} does not verify:\n${report.problems.map((problem) => `  ${problem}\n`).join("")}`);
  return 1;
}

export const replayCommand: Command = commandWithHelp("print a session's transcript", USAGE, async (argv, io) => {
  const { values, positionals } = parseCommandLine(argv, { usage: USAGE, options: OPTIONS, positionals: ["ID"] });
  const output = outputFormat(values.output, USAGE);
  const opened = await openSession(values, positionals[0] ?? "", USAGE);
  return replaySession(opened, output, io, values.progress === true);
});
