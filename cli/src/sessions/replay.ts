// `portcullis sessions replay ID`: the session as a transcript (or JSON),
// downloaded chunk by chunk and checked on the way with the same verifier and
// the same trusted key as `sessions verify`, so a transcript of tampered
// evidence, or of evidence whose signer could not be checked, is never shown
// without saying so (on stderr, and exit 1). A session still recording is
// shown as far as it goes, with a note.
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { commandWithHelp, outputFormat, parseCommandLine, type Command, type OutputFormat } from "../args.js";
import type { Io } from "../io.js";
import { sessionDir } from "./locate.js";
import { checkManifestSignature, type SignatureCheck, type TrustedKey } from "./manifest.js";
import { downloadProgress } from "./progress.js";
import { fetchChunks, openSession, SCOPE_OPTIONS_USAGE, SESSION_OPTIONS, type OpenedSession } from "./session-source.js";
import { STORE_OPTIONS_USAGE } from "./store-source.js";
import { renderGap, renderHeader, renderRecord } from "./transcript.js";
import { SessionVerifier } from "./verifier.js";
import { TRUSTED_KEY_SOURCES, trustedKeyFrom } from "./verify.js";

const USAGE = `Usage: portcullis sessions replay ID (--store-configmap NAME [-n NS] | --store-file FILE) [options]

Print session ID as a transcript: identity, requests with the policy decision,
approvals, results (rows, command tags, masked columns, errors) and the session end.
The evidence is verified on the way, against the same key as verify; problems, and a
signer that could not be checked, are reported on stderr (exit 1).

Options:
      --public-key FILE       the uploader's public key (PEM), as for verify (default: the store's
                              credentials Secret's signingKey, or publicKey in the store file)
${SCOPE_OPTIONS_USAGE}      --progress              show download progress (default: on a terminal, for big sessions)
  -o, --output FORMAT         table (the transcript, default) or json (the records)
  -h, --help                  show this help
${STORE_OPTIONS_USAGE}`;

const OPTIONS = { ...SESSION_OPTIONS, "public-key": { type: "string" }, progress: { type: "boolean" } } as const;

const NO_TRUSTED_KEY: SignatureCheck = {
  ok: false,
  problem: `who signed the manifest could not be checked: ${TRUSTED_KEY_SOURCES}`,
};

export async function replaySession(opened: OpenedSession, trusted: TrustedKey | undefined, output: OutputFormat, io: Io, forceProgress: boolean): Promise<number> {
  const { reader, location, manifest } = opened;
  // A transcript is shown for a session still recording too; its header says so.
  const verifier = new SessionVerifier(location, manifest, trusted ? checkManifestSignature(manifest, trusted) : NO_TRUSTED_KEY, { acceptLive: true });
  verifier.checkStoredObjects(opened.objects);
  const totals = { chunks: manifest.chunks.length, bytes: manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0) };
  const collected: EvidenceRecord[] = [];
  // The header names the identity from the session start, so it is printed with the first chunk.
  let header = output === "table";
  for await (const fetched of fetchChunks(reader, location, manifest, downloadProgress(io, totals, forceProgress))) {
    const records = verifier.check(fetched);
    if (header) io.out(renderHeader(location, manifest, records[0]?.seq === 1 ? records[0] : undefined));
    header = false;
    if (output === "json") collected.push(...records);
    else io.out(records.length === 0 ? renderGap(fetched.chunk) : records.map(renderRecord).join(""));
  }
  if (header) io.out(renderHeader(location, manifest, undefined));
  const report = verifier.finish();
  if (output === "json") {
    io.out(`${JSON.stringify({ session: sessionDir(location), resource: manifest.resource, complete: manifest.complete, ...(manifest.end ? { end: manifest.end } : {}), verified: report.ok, problems: report.problems, records: collected }, null, 2)}\n`);
  }
  if (report.ok) {
    if (!manifest.complete) io.err(`note: session ${location.session} has not ended: its manifest is not final (still recording, or an earlier manifest put back; sessions audit tells them apart)\n`);
    return 0;
  }
  io.err(`warning: the evidence of session ${location.session} does not verify:\n${report.problems.map((problem) => `  ${problem}\n`).join("")}`);
  return 1;
}

export const replayCommand: Command = commandWithHelp("print a session's transcript", USAGE, async (argv, io) => {
  const { values, positionals } = parseCommandLine(argv, { usage: USAGE, options: OPTIONS, positionals: ["ID"] });
  const output = outputFormat(values.output, USAGE);
  const flagKey = await trustedKeyFrom(values["public-key"]);
  const opened = await openSession(values, positionals[0] ?? "", USAGE, flagKey === undefined);
  return replaySession(opened, flagKey ?? opened.signer, output, io, values.progress === true);
});
