// `portcullis sessions verify ID`: checks a stored session end to end (see
// verifier.ts for what is checked) and says so in one line, or names every
// problem and exits 1. The manifest must be signed by a key the user trusts:
// --public-key, or else the one the store's settings name (the credentials
// Secret's signingKey in the cluster, publicKey in a store file). With neither
// it exits 1 without a verdict: the key a manifest carries proves nothing
// about who wrote it.
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
the hash chain of every record across chunks, the chain head, that the session
ended (a final manifest and its session-end), and that the store holds no chunk
the manifest leaves out. Prints "verified: ..." and exits 0, or prints each
problem and exits 1.

Options:
      --public-key FILE       the uploader's public key (PEM; a private key's PEM works too).
                              Default: the public half of the signingKey in the store's
                              credentials Secret (--store-configmap), or publicKey in the
                              store file. With neither, verify exits 1.
                              A key's fingerprint: openssl pkey -pubin -in FILE -outform DER | sha256sum
      --allow-incomplete      accept a session that has not ended (still recording), verified as
                              far as its manifest goes
${SCOPE_OPTIONS_USAGE}      --progress              show download progress (default: on a terminal, for big sessions)
  -o, --output json           the report as JSON
  -h, --help                  show this help
${STORE_OPTIONS_USAGE}`;

const OPTIONS = { ...SESSION_OPTIONS, "public-key": { type: "string" }, progress: { type: "boolean" }, "allow-incomplete": { type: "boolean" } } as const;

export async function verifySession(opened: OpenedSession, trustedKey: TrustedKey, io: Io, options: { forceProgress: boolean; acceptLive: boolean }): Promise<VerifyReport> {
  const { reader, location, manifest, objects } = opened;
  const verifier = new SessionVerifier(location, manifest, checkManifestSignature(manifest, trustedKey), { acceptLive: options.acceptLive });
  verifier.checkStoredObjects(objects);
  const forceProgress = options.forceProgress;
  const totals = { chunks: manifest.chunks.length, bytes: manifest.chunks.reduce((sum, chunk) => sum + chunk.bytes, 0) };
  for await (const fetched of fetchChunks(reader, location, manifest, downloadProgress(io, totals, forceProgress))) verifier.check(fetched);
  return verifier.finish();
}

export function renderVerifyReport(report: VerifyReport, id: string): string {
  if (!report.ok || !report.signature.ok) {
    const lines = report.problems.map((problem) => `problem: ${problem}`);
    return `${[...lines, `not verified: session ${id} has ${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}`].join("\n")}\n`;
  }
  const ending = report.end ? `, ended ${report.end.reason} at ${report.end.time}` : "";
  if (!report.complete) {
    return `verified as far as it goes: ${report.recordsChecked} records of a session that has not ended (--allow-incomplete), head ${report.head}, signed by ${report.signature.fingerprint}\n`;
  }
  return `verified: ${report.recordsChecked} records${ending}, head ${report.head}, signed by ${report.signature.fingerprint}\n`;
}

/** Where a trusted key comes from, for the messages that say there is none. */
export const TRUSTED_KEY_SOURCES = "give the uploader's public key with --public-key FILE, add publicKey to the store file, or name the store with --store-configmap to take it from the cluster";

/** The key manifests must be signed with (--public-key, else the one the store's settings name); a CliError when there is none. */
export function requireTrustedKey(key: TrustedKey | undefined, what: string): TrustedKey {
  if (key !== undefined) return key;
  throw new CliError(`cannot check who signed ${what}, so it is not verified: ${TRUSTED_KEY_SOURCES}`);
}

export async function trustedKeyFrom(file: string | undefined): Promise<TrustedKey | undefined> {
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
  const flagKey = await trustedKeyFrom(values["public-key"]);
  const opened = await openSession(values, id, USAGE, flagKey === undefined);
  const trustedKey = requireTrustedKey(flagKey ?? opened.signer, `session ${id}'s manifest`);
  const report = await verifySession(opened, trustedKey, io, { forceProgress: values.progress === true, acceptLive: values["allow-incomplete"] === true });
  if (output === "json") {
    const { signature, ...rest } = report;
    const key = signature.ok ? { fingerprint: signature.fingerprint } : null;
    io.out(`${JSON.stringify({ session: sessionDir(opened.location), records: opened.manifest.records, ...rest, key }, null, 2)}\n`);
  } else {
    io.out(renderVerifyReport(report, id));
  }
  return report.ok ? 0 : 1;
});
