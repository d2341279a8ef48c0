// The evidence store's settings, read from the same keys the uploader reads
// (the ConfigMap an AccessPolicy's spec.recording.storeRef names, and the
// Secret it names under credentialsSecret). Only what reading needs is kept;
// anything malformed stops the command with the key that is wrong.
import { isAbsolute } from "node:path";
import { CliError } from "../errors.js";

export interface S3StoreSettings {
  type: "s3";
  bucket: string;
  /** "" or segments joined by "/", without leading or trailing "/". */
  prefix: string;
  region: string;
  endpoint?: string;
  pathStyle: boolean;
  caBundle?: string;
  /** Absent: the AWS SDK's default credential chain (environment, profile, instance role). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export interface FilesystemStoreSettings {
  type: "filesystem";
  path: string;
  prefix: string;
}

export type StoreSettings = S3StoreSettings | FilesystemStoreSettings;

function prefixOf(data: Readonly<Record<string, string>>, origin: string): string {
  const prefix = data.prefix ?? "";
  if (prefix.startsWith("/") || prefix.endsWith("/")) throw new CliError(`${origin}: prefix must not start or end with "/", got "${prefix}"`);
  if (prefix !== "" && prefix.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) {
    throw new CliError(`${origin}: prefix "${prefix}" has an empty, "." or ".." segment`);
  }
  return prefix;
}

function endpointOf(value: string | undefined, origin: string): string | undefined {
  if (value === undefined || value === "") return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new CliError(`${origin}: endpoint "${value}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new CliError(`${origin}: endpoint must be an http:// or https:// URL, got "${value}"`);
  return value;
}

function booleanOf(value: string | undefined, key: string, origin: string): boolean {
  if (value === undefined || value === "" || value === "false") return false;
  if (value === "true") return true;
  throw new CliError(`${origin}: ${key} must be "true" or "false", got "${value}"`);
}

function credentialsOf(credentials: Readonly<Record<string, string>>, origin: string): S3StoreSettings["credentials"] {
  const { accessKeyId, secretAccessKey } = credentials;
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (!accessKeyId || !secretAccessKey) throw new CliError(`${origin}: accessKeyId and secretAccessKey must be given together`);
  return { accessKeyId, secretAccessKey };
}

function s3Settings(data: Readonly<Record<string, string>>, credentials: Readonly<Record<string, string>>, origin: string): S3StoreSettings {
  if (!data.bucket) throw new CliError(`${origin}: an s3 store needs bucket`);
  const endpoint = endpointOf(data.endpoint, origin);
  const resolved = credentialsOf(credentials, origin);
  return {
    type: "s3",
    bucket: data.bucket,
    prefix: prefixOf(data, origin),
    region: data.region || "us-east-1",
    pathStyle: booleanOf(data.pathStyle, "pathStyle", origin),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(data.caBundle ? { caBundle: data.caBundle } : {}),
    ...(resolved === undefined ? {} : { credentials: resolved }),
  };
}

/**
 * Settings from the store's data keys and the credentials Secret's (decoded)
 * data; `origin` names where they came from in every message.
 */
export function parseStoreSettings(data: Readonly<Record<string, string>>, credentials: Readonly<Record<string, string>>, origin: string): StoreSettings {
  if (data.type === "s3") return s3Settings(data, credentials, origin);
  if (data.type === "filesystem") {
    if (!data.path || !isAbsolute(data.path)) throw new CliError(`${origin}: a filesystem store needs path, an absolute directory`);
    return { type: "filesystem", path: data.path, prefix: prefixOf(data, origin) };
  }
  throw new CliError(`${origin}: type must be s3 or filesystem, got ${data.type === undefined ? "nothing" : `"${data.type}"`}`);
}

/** Where the store is, for messages: s3://bucket/prefix or the directory. */
export function describeStore(settings: StoreSettings): string {
  const prefix = settings.prefix === "" ? "" : `/${settings.prefix}`;
  return settings.type === "s3" ? `s3://${settings.bucket}${prefix}` : `${settings.path}${prefix}`;
}
