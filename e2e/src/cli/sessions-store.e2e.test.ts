// `portcullis sessions --store-configmap` reads the store's settings from the
// cluster the way the uploader gets them: the ConfigMap, and for s3 the
// Secret it names, with the caller's own permissions. (Sessions in an S3
// store are listed, replayed and verified end to end in the S3 suites.)
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { controlPlane, kubectlOk } from "../jest/environment.js";
import { portcullis } from "./portcullis-cli.js";

const NS = "cli-sessions";
let storeDir: string;
let admin: string;

beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), "portcullis-cli-store-"));
  admin = controlPlane().state.adminKubeconfig;
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "local-evidence", namespace: NS }, data: { type: "filesystem", path: storeDir } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "s3-evidence", namespace: NS }, data: { type: "s3", bucket: "evidence", endpoint: "http://127.0.0.1:9", pathStyle: "true", credentialsSecret: "s3-credentials" } },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "broken-evidence", namespace: NS }, data: { type: "ftp" } },
  ];
  await kubectlOk(["apply", "-f", "-"], { stdin: objects.map((object) => stringify(object)).join("---\n") });
});

afterAll(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

describe("portcullis sessions --store-configmap", () => {
  it("reads a filesystem store's settings from the ConfigMap", async () => {
    const result = await portcullis(["sessions", "list", "--store-configmap", "local-evidence", "--store-namespace", NS, "--kubeconfig", admin]);
    expect(result).toEqual({ code: 0, stdout: "", stderr: `No sessions found in ${storeDir}.\n` });
  });

  it("names the ConfigMap and the key when the settings are wrong", async () => {
    const result = await portcullis(["sessions", "list", "--store-configmap", "broken-evidence", "--store-namespace", NS, "--kubeconfig", admin]);
    expect(result).toEqual({ code: 1, stdout: "", stderr: `error: ConfigMap ${NS}/broken-evidence: type must be s3 or filesystem, got "ftp"\n` });
  });

  it("says which Secret it could not read for an s3 store", async () => {
    const result = await portcullis(["sessions", "verify", "01JD3Q0000000000000000000A", "--store-configmap", "s3-evidence", "-n", NS], { KUBECONFIG: admin });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`error: cannot read Secret ${NS}/s3-credentials (the ConfigMap ${NS}/s3-evidence's credentialsSecret): secrets "s3-credentials" not found\n`);
  });

  it("says which ConfigMap it could not read", async () => {
    const result = await portcullis(["sessions", "list", "--store-configmap", "missing", "--store-namespace", NS, "--kubeconfig", admin]);
    expect(result).toEqual({ code: 1, stdout: "", stderr: `error: cannot read ConfigMap ${NS}/missing: configmaps "missing" not found\n` });
  });

  it("reports an unreachable S3 endpoint as one line", async () => {
    await kubectlOk(["create", "secret", "generic", "s3-credentials", "-n", NS, "--from-literal=accessKeyId=AK", "--from-literal=secretAccessKey=SK"]);
    const result = await portcullis(["sessions", "list", "--store-configmap", "s3-evidence", "--store-namespace", NS, "--kubeconfig", admin]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: cannot list s3:\/\/evidence\/: .*ECONNREFUSED.*\n$/);
  });
});
