// `portcullis sessions verify ID`: checks a stored session end to end (see
// verifier.ts for what is checked) and says so in one line, or names every
// problem and exits 1. Against --public-key the manifest must be signed by
// that key; without it, only by the key the manifest itself carries, which
// proves integrity but not who wrote it, and the output says so.
import { readFile } from "node:fs/promises";
import { commandWithHelp, outputFormat, parseCommandLine, type Command } from "../args.js";
import { CliError, errorText } from "../errors.js";
import type { Io } from "../io.js";
import { sessionDir } from "./locate.js";
import { checkManifestSignature, ed25519PublicKey, type TrustedKey } from "./manifest.js";
import { downloadProgress } from "./progress.js";
import { fetchChunks, openSession, SCOPE_OPTIONS_USAGE, SESSION_OPTIONS, type OpenedSession } from "./session-source.js";
import { STORE_OPTIONS_USAGE } from "./store-source.js";
import { SessionVerifier, type VerifyReport } from "./verifier.js";

const USAGE = `Usage: portcullis sessions verify ID (--store-configmap NAME [-n NS] | --store-file FILE) [--public-key FILE] [options]

Check session ID's evidence: the manifest's Ed25519 signature, every chunk's sha256,
the hash chain of every record across chunks, the chain head, and the session-end.
Prints "verified: ..." and exits 0, or prints each problem and exits 1.

Options:
      --public-key FILE       the uploader's public key (PEM; a private key's PEM works too).
                              Without it the manifest is checked against the key it carries.
                              A key's fingerprint: openssl pkey -pubin -in FILE -outform DER | sha256sum
${SCOPE_OPTIONS_USAGE}      --progress              show download progress (default: on a terminal, for big sessions)
  -o, --output json           the report as JSON
  -h, --help                  show this help
${STORE_OPTIONS_USAGE}`;

const OPTIONS = { ...SESSION_OPTIONS, "public-key": { type: "string" }, progress: { type: "boolean" } } as const;

export async function verifySession(opened: OpenedSession, trustedKey: TrustedKey | undefined, io: Io, forceProgress: boolean): Promise<VerifyReport> {
  const { reader, location, manifest } = opened;
  const verifier = new SessionVerifier(location, manifest, checkManifestSignature(manifest, trustedKey));
  const totals = { chunks: manifest.chunks.length, bytes: manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0) };
  for await (const fetched of fetchChunks(reader, location, manifest, downloadProgress(io, totals, forceProgress))) verifier.check(fetched);
  return verifier.finish();
}

export function renderVerifyReport(report: VerifyReport, id: string): string {
  if (!report.ok || !report.signature.ok) {
    const lines = report.problems.map((problem) => `problem: ${problem}`);
    return `${[...lines, `not verified: session ${id} has ${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}`].join("\n")}\n`;
  }
  const notes = [
    ...(report.signature.trusted ? [] : ["note: checked against the public key the manifest carries; pass --public-key FILE to check that the uploader signed it"]),
    ...(report.complete ? [] : ["note: the session is not complete yet (still recording, or its last chunks are not uploaded)"]),
  ];
  return `${[`verified: ${report.recordsChecked} records, head ${report.head}, signed by ${report.signature.fingerprint}`, ...notes].join("\n")}\n`;
}

async function trustedKeyFrom(file: string | undefined): Promise<TrustedKey | undefined> {
  if (file === undefined) return undefined;
  let pem: string;
  try {
    pem = await readFile(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read the public key ${file}: ${errorText(error)}`, { cause: error });
  }
  return { key: ed25519PublicKey(pem, file), origin: file };
}

export const verifyCommand: Command = commandWithHelp("check a session's signature, chunks and hash chain", USAGE, async (argv, io) => {
  const { values, positionals } = parseCommandLine(argv, { usage: USAGE, options: OPTIONS, positionals: ["ID"] });
  const output = outputFormat(values.output, USAGE);
  const id = positionals[0] ?? "";
  const trustedKey = await trustedKeyFrom(values["public-key"]);
  const opened = await openSession(values, id, USAGE);
  const report = await verifySession(opened, trustedKey, io, values.progress === true);
  if (output === "json") {
    const { signature, ...rest } = report;
    const key = signature.ok ? { fingerprint: signature.fingerprint, trusted: signature.trusted } : null;
    io.out(`${JSON.stringify({ session: sessionDir(opened.location), records: opened.manifest.records, ...rest, key }, null, 2)}\n`);
  } else {
    io.out(renderVerifyReport(report, id));
  }
  return report.ok ? 0 : 1;
});
