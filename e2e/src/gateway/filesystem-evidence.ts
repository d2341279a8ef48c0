// Evidence a gateway uploaded to a filesystem store, read back the plain way
// an auditor's script would: every session folder's chunks, gunzipped in
// order and parsed; the tests then check the hash chains themselves. And the
// store file an auditor would verify them with.
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseSpoolText, type EvidenceRecord } from "@portcullis/common/evidence/record";
import { stringify } from "yaml";

/** The signing key of each store directory: one per directory, however often its manifests are asked for. */
const signingKeys = new Map<string, string>();

function signingKeyOf(dir: string): string {
  let key = signingKeys.get(dir);
  if (key === undefined) {
    key = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    signingKeys.set(dir, key);
  }
  return key;
}

/** The ConfigMap and Secret of a filesystem evidence store at `dir`, for a manifests file. */
export function filesystemStoreManifests(dir: string, name = "evidence-store"): object[] {
  const signingKey = signingKeyOf(dir);
  return [
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { type: "filesystem", path: dir, credentialsSecret: `${name}-signing` } },
    // Labelled for the operator, which reads only opted-in Secrets; standalone mode reads the file either way.
    { apiVersion: "v1", kind: "Secret", metadata: { name: `${name}-signing`, labels: { "portcullis.dev/credentials": "true" } }, stringData: { signingKey } },
  ];
}

/** Every session in the store, each as its records in chunk order; throws on a record that does not parse. */
export async function storedSessions(dir: string): Promise<EvidenceRecord[][]> {
  const sessions: EvidenceRecord[][] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  const chunks = entries.filter((entry) => entry.name.endsWith(".jsonl.gz")).map((entry) => entry.name).sort();
  if (chunks.length) {
    let text = "";
    for (const chunk of chunks) text += gunzipSync(await readFile(join(dir, chunk))).toString("utf8");
    const parsed = parseSpoolText(text);
    if (parsed.problems.length) throw new Error(`${dir}: ${JSON.stringify(parsed.problems)}`);
    sessions.push(parsed.records);
  }
  for (const entry of entries) if (entry.isDirectory()) sessions.push(...(await storedSessions(join(dir, entry.name))));
  return sessions;
}

/** An auditor's --store-file for the filesystem store at `dir`: where it is, and the public half of its signing key. */
export async function auditorStoreFile(file: string, dir: string): Promise<string> {
  const publicKey = createPublicKey(signingKeyOf(dir)).export({ type: "spki", format: "pem" }).toString();
  await writeFile(file, stringify({ type: "filesystem", path: dir, publicKey }));
  return file;
}
