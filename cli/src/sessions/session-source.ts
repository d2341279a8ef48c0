// What `sessions replay` and `sessions verify` share: opening the store named
// on the command line, finding the session, reading its manifest, and
// downloading its chunks one at a time with progress.
import { CliError } from "../errors.js";
import { findSession, manifestKey, sessionDir, type SessionLocation, type SessionScope } from "./locate.js";
import { parseManifest, type EvidenceManifest } from "./manifest.js";
import type { Progress } from "./progress.js";
import { openStoreReader, type StoreReader } from "./store-reader.js";
import type { TrustedKey } from "./manifest.js";
import { loadStore, STORE_OPTIONS, type StoreSourceValues } from "./store-source.js";
import type { FetchedChunk } from "./verifier.js";

/** The store options plus the scope a session is looked up in. */
export const SESSION_OPTIONS = {
  ...STORE_OPTIONS,
  namespace: { type: "string", short: "n" },
  pod: { type: "string" },
  output: { type: "string", short: "o" },
} as const;

export const SCOPE_OPTIONS_USAGE = `  -n, --namespace NS          only sessions of agents in namespace NS (with --store-configmap, also
                              where the ConfigMap is, unless --store-namespace says otherwise)
      --pod POD               only sessions of agent pod POD
`;

export interface ScopeValues {
  namespace?: string;
  pod?: string;
}

export function scopeOf(values: ScopeValues): SessionScope {
  return { ...(values.namespace === undefined ? {} : { namespace: values.namespace }), ...(values.pod === undefined ? {} : { pod: values.pod }) };
}

export async function openStore(values: StoreSourceValues, usage: string): Promise<StoreReader> {
  return openStoreReader((await loadStore(values, usage)).settings);
}

/** The session's manifest, or what is wrong with it. */
export async function readManifest(reader: StoreReader, location: SessionLocation): Promise<EvidenceManifest | string> {
  const body = await reader.read(manifestKey(location));
  if (body === undefined) return `${manifestKey(location)} is missing`;
  return parseManifest(body.toString("utf8"));
}

export interface OpenedSession {
  reader: StoreReader;
  location: SessionLocation;
  manifest: EvidenceManifest;
  /** The key the store's settings say its manifests are signed with (when asked for and known). */
  signer?: TrustedKey;
  /** The names of the objects in the session's folder. */
  objects: string[];
}

export async function openSession(values: StoreSourceValues & ScopeValues, id: string, usage: string, wantSigner = false): Promise<OpenedSession> {
  const { settings, signer } = await loadStore(values, usage, wantSigner);
  const reader = openStoreReader(settings);
  const location = await findSession(reader, id, scopeOf(values));
  const manifest = await readManifest(reader, location);
  if (typeof manifest === "string") throw new CliError(`session ${sessionDir(location)} in ${reader.location}: ${manifest}`);
  const folder = `${sessionDir(location)}/`;
  const objects = (await reader.listKeys(sessionDir(location))).filter((key) => key.startsWith(folder)).map((key) => key.slice(folder.length));
  return { reader, location, manifest, ...(signer ? { signer } : {}), objects };
}

/** The session's chunks in order, each read when the previous one has been used. */
export async function* fetchChunks(reader: StoreReader, location: SessionLocation, manifest: EvidenceManifest, progress: Progress): AsyncGenerator<FetchedChunk> {
  try {
    for (const [index, chunk] of manifest.chunks.entries()) {
      progress.chunkStarted(index);
      const body = await reader.read(`${sessionDir(location)}/${chunk.name}`, (bytes) => progress.bytesRead(bytes));
      progress.chunkDone();
      yield { chunk, body };
    }
  } finally {
    progress.finish();
  }
}
