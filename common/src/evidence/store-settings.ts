// The evidence store an AccessPolicy records to, read from the ConfigMap its
// spec.recording.storeRef names (and the Secret that ConfigMap names under
// credentialsSecret). Pure: no I/O, so the operator's validation can call the
// same function the sidecar runs and report the same messages. Every problem
// names the ConfigMap or Secret key it is about; all problems are reported at
// once so a user fixes them in one round.
import { X509Certificate, createPrivateKey, type KeyObject } from "node:crypto";
import path from "node:path";
import type { RecordingSettings } from "../config/bundle.js";

export const OBJECT_LOCK_MODES = ["GOVERNANCE", "COMPLIANCE"] as const;
export type ObjectLockMode = (typeof OBJECT_LOCK_MODES)[number];

interface CommonStoreSettings {
  /** Objects go under PREFIX/NAMESPACE/POD/SESSION/; "" for none. No leading or trailing slash. */
  prefix: string;
  /** Ed25519 private key the manifests are signed with. */
  signingKey: KeyObject;
}

export interface S3StoreSettings extends CommonStoreSettings {
  type: "s3";
  bucket: string;
  region: string;
  /** An http:// or https:// URL; absent for AWS's own endpoints. */
  endpoint?: string;
  pathStyle: boolean;
  /** PEM of the CA(s) that sign the endpoint's certificate; replaces the default trust store. */
  caBundle?: string;
  objectLock?: { mode: ObjectLockMode; retentionDays: number };
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface FilesystemStoreSettings extends CommonStoreSettings {
  type: "filesystem";
  /** Absolute directory the objects are written under. */
  path: string;
}

export type StoreSettings = S3StoreSettings | FilesystemStoreSettings;

export class StoreSettingsError extends Error {
  constructor(
    owner: string,
    readonly problems: readonly string[],
  ) {
    super(`the recording store of ${owner} is not usable: ${problems.join("; ")}`);
    this.name = "StoreSettingsError";
  }
}

const S3_KEYS = ["bucket", "region", "endpoint", "pathStyle", "caBundle", "objectLockMode", "objectLockRetentionDays"];
const FILESYSTEM_KEYS = ["path"];
const COMMON_KEYS = ["type", "prefix", "credentialsSecret"];
const MAX_RETENTION_DAYS = 36_500;
const DEFAULT_REGION = "us-east-1";

/** Collects problems while the settings are read, each phrased about one key. */
class Problems {
  readonly list: string[] = [];
  configMapKey(key: string, problem: string): undefined {
    this.list.push(`ConfigMap key "${key}" ${problem}`);
    return undefined;
  }
  secretKey(key: string, problem: string): undefined {
    this.list.push(`key "${key}" of the Secret named by credentialsSecret ${problem}`);
    return undefined;
  }
}

// S3's bucket naming rules: 3-63 characters, lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PREFIX_SEGMENT_PATTERN = /^[A-Za-z0-9._=-]+$/;
const REGION_PATTERN = /^[a-z0-9-]{1,64}$/;

function checkPrefix(prefix: string, problems: Problems): string {
  if (prefix === "") return "";
  const bad = prefix.split("/").some((segment) => !PREFIX_SEGMENT_PATTERN.test(segment) || segment === "." || segment === "..");
  if (!bad) return prefix;
  problems.configMapKey(
    "prefix",
    `must be path segments of letters, digits, ".", "_", "=" and "-" joined by "/", without a leading or trailing slash and without "." or ".." segments (got ${JSON.stringify(prefix)})`,
  );
  return "";
}

function checkEndpoint(value: string | undefined, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problems.configMapKey("endpoint", `must be an http:// or https:// URL (got ${JSON.stringify(value)})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return problems.configMapKey("endpoint", `must use http:// or https:// (got ${url.protocol})`);
  if (url.username !== "" || url.password !== "") return problems.configMapKey("endpoint", "must not hold credentials: put them in the Secret named by credentialsSecret");
  if (url.search !== "" || url.hash !== "") return problems.configMapKey("endpoint", "must not have a query or a fragment");
  return value;
}

function checkCaBundle(value: string | undefined, endpoint: string | undefined, problems: Problems): string | undefined {
  if (value === undefined) return undefined;
  if (endpoint === undefined || !endpoint.startsWith("https://")) return problems.configMapKey("caBundle", "is only used with an https:// endpoint; set endpoint or remove caBundle");
  const pems = value.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (pems.length === 0) return problems.configMapKey("caBundle", "holds no PEM certificate");
  try {
    for (const pem of pems) new X509Certificate(pem);
  } catch (error) {
    return problems.configMapKey("caBundle", `holds a certificate that cannot be read (${(error as Error).message})`);
  }
  return value;
}

function checkBoolean(key: string, value: string | undefined, problems: Problems): boolean {
  if (value === undefined || value === "false") return false;
  if (value !== "true") problems.configMapKey(key, `must be "true" or "false" (got ${JSON.stringify(value)})`);
  return value === "true";
}

function checkObjectLock(data: Record<string, string>, problems: Problems): S3StoreSettings["objectLock"] {
  const mode = data.objectLockMode;
  const days = data.objectLockRetentionDays;
  if (mode === undefined) {
    if (days !== undefined) problems.configMapKey("objectLockRetentionDays", "is only used with objectLockMode; set objectLockMode or remove it");
    return undefined;
  }
  if (!OBJECT_LOCK_MODES.includes(mode as ObjectLockMode)) return problems.configMapKey("objectLockMode", `must be GOVERNANCE or COMPLIANCE (got ${JSON.stringify(mode)})`);
  if (days === undefined) return problems.configMapKey("objectLockRetentionDays", "is required with objectLockMode: the number of days each object is retained");
  const retentionDays = /^[1-9][0-9]*$/.test(days) ? Number(days) : NaN;
  if (!(retentionDays <= MAX_RETENTION_DAYS)) return problems.configMapKey("objectLockRetentionDays", `must be a whole number of days from 1 to ${MAX_RETENTION_DAYS} (got ${JSON.stringify(days)})`);
  return { mode: mode as ObjectLockMode, retentionDays };
}

function checkS3Credentials(credentials: Record<string, string>, problems: Problems): S3StoreSettings["credentials"] | undefined {
  const { accessKeyId, secretAccessKey } = credentials;
  if (!accessKeyId) problems.secretKey("accessKeyId", "is required for an s3 store");
  if (!secretAccessKey) problems.secretKey("secretAccessKey", "is required for an s3 store");
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

function checkSigningKey(pem: string | undefined, problems: Problems): KeyObject | undefined {
  if (!pem) return problems.secretKey("signingKey", "is required: an Ed25519 private key (PKCS#8 PEM) the evidence manifests are signed with");
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    return problems.secretKey("signingKey", "is not a PEM private key (expected an Ed25519 key in PKCS#8 PEM, e.g. from `openssl genpkey -algorithm ed25519`)");
  }
  if (key.asymmetricKeyType !== "ed25519") return problems.secretKey("signingKey", `is a ${key.asymmetricKeyType ?? "unknown"} key; manifests are signed with Ed25519`);
  return key;
}

function checkKnownKeys(data: Record<string, string>, type: string, problems: Problems): void {
  const own = type === "s3" ? S3_KEYS : FILESYSTEM_KEYS;
  const other = type === "s3" ? FILESYSTEM_KEYS : S3_KEYS;
  for (const key of Object.keys(data)) {
    if (other.includes(key)) problems.configMapKey(key, `is not used by ${type === "s3" ? "an s3" : "a filesystem"} store`);
    else if (!own.includes(key) && !COMMON_KEYS.includes(key)) problems.configMapKey(key, "is not a recording store setting (misspelt?)");
  }
}

function parseS3(data: Record<string, string>, credentials: Record<string, string> | undefined, problems: Problems): Omit<S3StoreSettings, keyof CommonStoreSettings> | undefined {
  const bucket = data.bucket;
  if (!bucket) problems.configMapKey("bucket", 'is required when type is "s3"');
  else if (!BUCKET_PATTERN.test(bucket)) problems.configMapKey("bucket", `is not an S3 bucket name: 3-63 lowercase letters, digits, "." and "-" (got ${JSON.stringify(bucket)})`);
  const region = data.region ?? DEFAULT_REGION;
  if (!REGION_PATTERN.test(region)) problems.configMapKey("region", `must be a region name such as us-east-1 (got ${JSON.stringify(region)})`);
  const endpoint = checkEndpoint(data.endpoint, problems);
  const settings = {
    type: "s3" as const,
    bucket: bucket ?? "",
    region,
    endpoint,
    pathStyle: checkBoolean("pathStyle", data.pathStyle, problems),
    caBundle: checkCaBundle(data.caBundle, endpoint, problems),
    objectLock: checkObjectLock(data, problems),
  };
  const s3Credentials = credentials && checkS3Credentials(credentials, problems);
  return s3Credentials && { ...settings, credentials: s3Credentials };
}

function parseFilesystem(data: Record<string, string>, problems: Problems): Omit<FilesystemStoreSettings, keyof CommonStoreSettings> | undefined {
  const dir = data.path;
  if (!dir) return problems.configMapKey("path", 'is required when type is "filesystem"');
  if (!path.isAbsolute(dir) || path.normalize(dir) !== dir) {
    return problems.configMapKey("path", `must be an absolute, normalized directory path (got ${JSON.stringify(dir)})`);
  }
  return { type: "filesystem", path: dir };
}

function parseTyped(data: Record<string, string>, credentials: Record<string, string> | undefined, problems: Problems): Omit<StoreSettings, keyof CommonStoreSettings> | undefined {
  const type = data.type;
  if (type === "s3") return parseS3(data, credentials, problems);
  if (type === "filesystem") return parseFilesystem(data, problems);
  return problems.configMapKey("type", type === undefined ? 'is required: "s3" or "filesystem"' : `must be "s3" or "filesystem" (got ${JSON.stringify(type)})`);
}

/**
 * The store settings of one AccessPolicy's recording, or a StoreSettingsError
 * listing every problem. `owner` names the policy in the message, e.g.
 * `AccessPolicy "team-a/read-only"`.
 */
export function parseStoreSettings(recording: RecordingSettings, owner: string): StoreSettings {
  const problems = new Problems();
  const { store: data, credentials } = recording;
  if (data.type === "s3" || data.type === "filesystem") checkKnownKeys(data, data.type, problems);
  if (!data.credentialsSecret) problems.configMapKey("credentialsSecret", "is required: the name of a Secret holding signingKey (and accessKeyId, secretAccessKey for s3)");
  else if (credentials === undefined) problems.configMapKey("credentialsSecret", `names Secret "${data.credentialsSecret}", whose keys were not delivered`);
  const typed = parseTyped(data, credentials, problems);
  const prefix = checkPrefix(data.prefix ?? "", problems);
  // Without the Secret its keys are not reported one by one: the problem above says why they are missing.
  const signingKey = credentials && checkSigningKey(credentials.signingKey, problems);
  if (problems.list.length > 0 || typed === undefined || signingKey === undefined) throw new StoreSettingsError(owner, problems.list);
  return { ...typed, prefix, signingKey } as StoreSettings;
}
