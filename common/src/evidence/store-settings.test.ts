import { describe, expect, it } from "@jest/globals";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import type { RecordingSettings } from "../config/bundle.js";
import { StoreSettingsError, parseStoreSettings, type S3StoreSettings } from "./store-settings.js";

const OWNER = 'AccessPolicy "read-only"';
const signingKey = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const rsaKey = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
// A self-signed CA certificate (openssl, valid for a century): only its parsing matters here.
const caPem = readFileSync(new URL("./testdata/ca.crt", import.meta.url), "utf8");

const S3: RecordingSettings = {
  store: { type: "s3", bucket: "evidence", credentialsSecret: "store-creds" },
  credentials: { accessKeyId: "AKIA", secretAccessKey: "secret", signingKey },
};
const FILESYSTEM: RecordingSettings = {
  store: { type: "filesystem", path: "/var/lib/evidence", credentialsSecret: "store-creds" },
  credentials: { signingKey },
};

const withStore = (base: RecordingSettings, store: Record<string, string | undefined>): RecordingSettings => ({
  ...base,
  store: Object.fromEntries(Object.entries({ ...base.store, ...store }).filter((entry): entry is [string, string] => entry[1] !== undefined)),
});
const withCredentials = (base: RecordingSettings, credentials: Record<string, string | undefined>): RecordingSettings => ({
  ...base,
  credentials: Object.fromEntries(Object.entries({ ...base.credentials, ...credentials }).filter((entry): entry is [string, string] => entry[1] !== undefined)),
});

function problemsOf(recording: RecordingSettings): readonly string[] {
  try {
    parseStoreSettings(recording, OWNER);
  } catch (error) {
    expect(error).toBeInstanceOf(StoreSettingsError);
    expect((error as Error).message).toContain(`the recording store of ${OWNER} is not usable: `);
    return (error as StoreSettingsError).problems;
  }
  throw new Error("the settings were accepted");
}

describe("parseStoreSettings accepts", () => {
  it("an s3 store with defaults", () => {
    const settings = parseStoreSettings(S3, OWNER) as S3StoreSettings;
    expect(settings).toMatchObject({ type: "s3", bucket: "evidence", region: "us-east-1", pathStyle: false, prefix: "", credentials: { accessKeyId: "AKIA", secretAccessKey: "secret" } });
    expect(settings.endpoint).toBeUndefined();
    expect(settings.objectLock).toBeUndefined();
    expect(settings.signingKey.asymmetricKeyType).toBe("ed25519");
  });

  it("an s3 store with every setting", () => {
    const settings = parseStoreSettings(
      withStore(S3, {
        prefix: "clusters/prod",
        region: "eu-west-1",
        endpoint: "https://s3.internal:9000",
        pathStyle: "true",
        caBundle: caPem,
        objectLockMode: "COMPLIANCE",
        objectLockRetentionDays: "365",
      }),
      OWNER,
    ) as S3StoreSettings;
    expect(settings).toMatchObject({
      prefix: "clusters/prod",
      region: "eu-west-1",
      endpoint: "https://s3.internal:9000",
      pathStyle: true,
      caBundle: caPem,
      objectLock: { mode: "COMPLIANCE", retentionDays: 365 },
    });
  });

  it("a filesystem store", () => {
    expect(parseStoreSettings(withStore(FILESYSTEM, { prefix: "evidence" }), OWNER)).toMatchObject({ type: "filesystem", path: "/var/lib/evidence", prefix: "evidence" });
  });
});

describe("parseStoreSettings refuses, naming the key", () => {
  const cases: Array<[string, RecordingSettings, string]> = [
    ["no type", withStore(S3, { type: undefined }), 'ConfigMap key "type" is required: "s3" or "filesystem"'],
    ["an unknown type", withStore(S3, { type: "gcs" }), 'ConfigMap key "type" must be "s3" or "filesystem" (got "gcs")'],
    ["no bucket", withStore(S3, { bucket: undefined }), 'ConfigMap key "bucket" is required when type is "s3"'],
    ["a bad bucket name", withStore(S3, { bucket: "Evidence_Bucket" }), 'ConfigMap key "bucket" is not an S3 bucket name'],
    ["a prefix with a leading slash", withStore(S3, { prefix: "/evidence" }), 'ConfigMap key "prefix" must be path segments'],
    ["a prefix with a trailing slash", withStore(S3, { prefix: "evidence/" }), 'ConfigMap key "prefix" must be path segments'],
    ["a prefix that climbs", withStore(FILESYSTEM, { prefix: "a/../b" }), 'ConfigMap key "prefix" must be path segments'],
    ["a bad region", withStore(S3, { region: "EU West" }), 'ConfigMap key "region" must be a region name'],
    ["an endpoint that is no URL", withStore(S3, { endpoint: "s3.internal:9000" }), 'ConfigMap key "endpoint" must use http:// or https://'],
    ["an endpoint of another scheme", withStore(S3, { endpoint: "ftp://s3.internal" }), 'ConfigMap key "endpoint" must use http:// or https:// (got ftp:)'],
    ["an endpoint with credentials", withStore(S3, { endpoint: "https://user:pw@s3.internal" }), 'ConfigMap key "endpoint" must not hold credentials'],
    ["an endpoint with a query", withStore(S3, { endpoint: "https://s3.internal/?x=1" }), 'ConfigMap key "endpoint" must not have a query or a fragment'],
    ["pathStyle not a boolean", withStore(S3, { pathStyle: "yes" }), 'ConfigMap key "pathStyle" must be "true" or "false" (got "yes")'],
    ["a caBundle without an https endpoint", withStore(S3, { caBundle: caPem }), 'ConfigMap key "caBundle" is only used with an https:// endpoint'],
    ["a caBundle without certificates", withStore(S3, { endpoint: "https://s3.internal", caBundle: "hello" }), 'ConfigMap key "caBundle" holds no PEM certificate'],
    [
      "a caBundle with a broken certificate",
      withStore(S3, { endpoint: "https://s3.internal", caBundle: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" }),
      'ConfigMap key "caBundle" holds a certificate that cannot be read',
    ],
    ["an unknown object lock mode", withStore(S3, { objectLockMode: "STRICT", objectLockRetentionDays: "1" }), 'ConfigMap key "objectLockMode" must be GOVERNANCE or COMPLIANCE (got "STRICT")'],
    ["an object lock mode without days", withStore(S3, { objectLockMode: "GOVERNANCE" }), 'ConfigMap key "objectLockRetentionDays" is required with objectLockMode'],
    ["retention days without a mode", withStore(S3, { objectLockRetentionDays: "30" }), 'ConfigMap key "objectLockRetentionDays" is only used with objectLockMode'],
    ["zero retention days", withStore(S3, { objectLockMode: "GOVERNANCE", objectLockRetentionDays: "0" }), 'ConfigMap key "objectLockRetentionDays" must be a whole number of days from 1 to 36500 (got "0")'],
    ["fractional retention days", withStore(S3, { objectLockMode: "GOVERNANCE", objectLockRetentionDays: "1.5" }), 'ConfigMap key "objectLockRetentionDays" must be a whole number'],
    ["too many retention days", withStore(S3, { objectLockMode: "GOVERNANCE", objectLockRetentionDays: "36501" }), 'ConfigMap key "objectLockRetentionDays" must be a whole number'],
    ["an s3 key on a filesystem store", withStore(FILESYSTEM, { bucket: "evidence" }), 'ConfigMap key "bucket" is not used by a filesystem store'],
    ["a filesystem key on an s3 store", withStore(S3, { path: "/data" }), 'ConfigMap key "path" is not used by an s3 store'],
    ["a misspelt key", withStore(S3, { objectLockRetentionDay: "30" }), 'ConfigMap key "objectLockRetentionDay" is not a recording store setting (misspelt?)'],
    ["no path", withStore(FILESYSTEM, { path: undefined }), 'ConfigMap key "path" is required when type is "filesystem"'],
    ["a relative path", withStore(FILESYSTEM, { path: "evidence" }), 'ConfigMap key "path" must be an absolute, normalized directory path (got "evidence")'],
    ["a path that climbs", withStore(FILESYSTEM, { path: "/var/../etc" }), 'ConfigMap key "path" must be an absolute, normalized directory path'],
    ["no credentialsSecret", withStore(S3, { credentialsSecret: undefined }), 'ConfigMap key "credentialsSecret" is required'],
    ["a credentialsSecret whose Secret was not delivered", { store: S3.store }, 'ConfigMap key "credentialsSecret" names Secret "store-creds", whose keys were not delivered'],
    ["no accessKeyId", withCredentials(S3, { accessKeyId: undefined }), 'key "accessKeyId" of the Secret named by credentialsSecret is required for an s3 store'],
    ["no secretAccessKey", withCredentials(S3, { secretAccessKey: undefined }), 'key "secretAccessKey" of the Secret named by credentialsSecret is required for an s3 store'],
    ["no signingKey", withCredentials(FILESYSTEM, { signingKey: undefined }), 'key "signingKey" of the Secret named by credentialsSecret is required: an Ed25519 private key'],
    ["a signingKey that is no key", withCredentials(FILESYSTEM, { signingKey: "not a key" }), 'key "signingKey" of the Secret named by credentialsSecret is not a PEM private key'],
    ["an RSA signingKey", withCredentials(FILESYSTEM, { signingKey: rsaKey }), 'key "signingKey" of the Secret named by credentialsSecret is a rsa key; manifests are signed with Ed25519'],
  ];

  it.each(cases)("%s", (_name, recording, message) => {
    const problems = problemsOf(recording);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it("reports every problem at once", () => {
    const problems = problemsOf(withCredentials(withStore(S3, { bucket: undefined, pathStyle: "maybe" }), { signingKey: undefined }));
    expect(problems.map((problem) => /"(\w+)"/.exec(problem)?.[1])).toEqual(["bucket", "pathStyle", "signingKey"]);
  });
});
