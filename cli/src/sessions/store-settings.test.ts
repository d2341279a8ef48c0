import { describe, expect, it } from "@jest/globals";
import { describeStore, parseStoreSettings } from "./store-settings.js";

describe("parseStoreSettings", () => {
  it("reads an s3 store with defaults and the Secret's credentials", () => {
    const settings = parseStoreSettings({ type: "s3", bucket: "evidence", prefix: "prod/pg", credentialsSecret: "store-creds", signingKey: "ignored" }, { accessKeyId: "AK", secretAccessKey: "SK", signingKey: "-----" }, "ConfigMap agents/evidence");
    expect(settings).toEqual({ type: "s3", bucket: "evidence", prefix: "prod/pg", region: "us-east-1", pathStyle: false, credentials: { accessKeyId: "AK", secretAccessKey: "SK" } });
    expect(describeStore(settings)).toBe("s3://evidence/prod/pg");
  });

  it("reads an S3-compatible endpoint with path-style addressing and a CA", () => {
    expect(parseStoreSettings({ type: "s3", bucket: "b", region: "eu-west-1", endpoint: "https://minio.local:9000", pathStyle: "true", caBundle: "PEM" }, {}, "f")).toEqual({
      type: "s3",
      bucket: "b",
      prefix: "",
      region: "eu-west-1",
      endpoint: "https://minio.local:9000",
      pathStyle: true,
      caBundle: "PEM",
    });
  });

  it("reads a filesystem store", () => {
    const settings = parseStoreSettings({ type: "filesystem", path: "/var/lib/evidence", prefix: "a" }, {}, "f");
    expect(settings).toEqual({ type: "filesystem", path: "/var/lib/evidence", prefix: "a" });
    expect(describeStore(settings)).toBe("/var/lib/evidence/a");
  });

  it.each([
    [{}, {}, 'store.yaml: type must be s3 or filesystem, got nothing'],
    [{ type: "gcs" }, {}, 'store.yaml: type must be s3 or filesystem, got "gcs"'],
    [{ type: "s3" }, {}, "store.yaml: an s3 store needs bucket"],
    [{ type: "s3", bucket: "b", prefix: "/x" }, {}, 'store.yaml: prefix must not start or end with "/", got "/x"'],
    [{ type: "s3", bucket: "b", prefix: "a/../b" }, {}, 'store.yaml: prefix "a/../b" has an empty, "." or ".." segment'],
    [{ type: "s3", bucket: "b", endpoint: "minio:9000" }, {}, 'store.yaml: endpoint must be an http:// or https:// URL, got "minio:9000"'],
    [{ type: "s3", bucket: "b", endpoint: "not a url" }, {}, 'store.yaml: endpoint "not a url" is not a URL'],
    [{ type: "s3", bucket: "b", pathStyle: "yes" }, {}, 'store.yaml: pathStyle must be "true" or "false", got "yes"'],
    [{ type: "s3", bucket: "b" }, { accessKeyId: "AK" }, "store.yaml: accessKeyId and secretAccessKey must be given together"],
    [{ type: "filesystem", path: "relative/dir" }, {}, "store.yaml: a filesystem store needs path, an absolute directory"],
  ])("refuses %j", (data, credentials, message) => {
    expect(() => parseStoreSettings(data, credentials, "store.yaml")).toThrow(message);
  });
});
