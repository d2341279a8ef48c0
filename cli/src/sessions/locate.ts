// Finding sessions in the store by the layout the uploader writes:
// NAMESPACE/POD/SESSION/manifest.json beside the session's chunks.
import { SESSION_NAME_PATTERN } from "@portcullis/common/evidence/session-id";
import { MANIFEST_NAME } from "@portcullis/common/evidence/layout";
import { CliError } from "../errors.js";
import type { StoreReader } from "./store-reader.js";

export interface SessionLocation {
  namespace: string;
  pod: string;
  session: string;
}

/** Narrows a listing to one namespace, or one pod of it. */
export interface SessionScope {
  namespace?: string;
  pod?: string;
}

const IN_SESSION_FOLDER = /^([^/]+)\/([^/]+)\/([^/]+)\/([^/]+)$/;

export function sessionDir(location: SessionLocation): string {
  return `${location.namespace}/${location.pod}/${location.session}`;
}

export function manifestKey(location: SessionLocation): string {
  return `${sessionDir(location)}/${MANIFEST_NAME}`;
}

/** Every session with a manifest in scope, in key order (session IDs sort by start time within a pod). */
export async function listSessionLocations(reader: StoreReader, scope: SessionScope): Promise<SessionLocation[]> {
  // Listing below NAMESPACE/POD/ when both are known keeps a big bucket's listing small.
  const dir = scope.namespace === undefined ? "" : scope.pod === undefined ? scope.namespace : `${scope.namespace}/${scope.pod}`;
  const locations: SessionLocation[] = [];
  for (const key of await reader.listKeys(dir)) {
    const match = IN_SESSION_FOLDER.exec(key);
    if (match === null || match[4] !== MANIFEST_NAME) continue;
    const [, namespace = "", pod = "", session = ""] = match;
    if (scope.pod !== undefined && pod !== scope.pod) continue;
    locations.push({ namespace, pod, session });
  }
  return locations.sort((a, b) => manifestKey(a).localeCompare(manifestKey(b)));
}

/** The one session called `id` in scope; a CliError when there is none, or several. */
export async function findSession(reader: StoreReader, id: string, scope: SessionScope): Promise<SessionLocation> {
  if (!SESSION_NAME_PATTERN.test(id)) throw new CliError(`"${id}" is not a session ID`);
  const found = (await listSessionLocations(reader, scope)).filter((location) => location.session === id);
  const [first, ...others] = found;
  if (first === undefined) throw new CliError(`no session ${id} in ${reader.location}${scope.namespace === undefined ? "" : ` under ${scope.namespace}${scope.pod === undefined ? "" : `/${scope.pod}`}`}`);
  if (others.length > 0) throw new CliError(`session ${id} is stored under ${found.map(sessionDir).join(" and ")}: choose one with --namespace and --pod`);
  return first;
}
