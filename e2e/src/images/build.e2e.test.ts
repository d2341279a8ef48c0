// `make images` for real: the same sources give the same digests, and an
// image holds what its spec says and nothing of the development tree — run
// from its own unpacked root filesystem (chroot), the gateway starts with
// only what the image carries.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "@jest/globals";
import { locateTools } from "../controlplane/tools.js";
import { runCommand } from "../processes/child-process.js";
import { buildImages } from "./build.js";
import { GATEWAY_NODE_FLAGS } from "./specs.js";

const work = mkdtempSync(join(tmpdir(), "portcullis-images-test-"));
const IMAGES = ["portcullis-sidecar", "portcullis-init"];

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Index {
  manifests: Array<{ digest: string; annotations: Record<string, string> }>;
}

/** Unpacks an OCI archive's layers into a directory, bottom first; returns its config. */
function unpack(archive: string, into: string): { config: { User: string; Entrypoint: string[]; Env: string[]; Labels: Record<string, string> } } {
  const layout = join(into, "layout");
  const rootfs = join(into, "rootfs");
  execFileSync("mkdir", ["-p", layout, rootfs]);
  execFileSync("tar", ["-xf", archive, "-C", layout]);
  const blob = (digest: string): string => join(layout, "blobs", "sha256", digest.replace("sha256:", ""));
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as Index;
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0]?.digest ?? ""), "utf8")) as { config: { digest: string }; layers: Array<{ digest: string }> };
  for (const layer of manifest.layers) execFileSync("tar", ["-xf", blob(layer.digest), "-C", rootfs]);
  return JSON.parse(readFileSync(blob(manifest.config.digest), "utf8")) as ReturnType<typeof unpack>;
}

describe("make images", () => {
  const kubectl = locateTools().kubectl;
  const first = buildImages({ outDir: join(work, "first"), only: IMAGES, kubectl });
  const second = buildImages({ outDir: join(work, "second"), only: IMAGES, kubectl });

  it("gives the same digests for the same sources", () => {
    expect(first.map((image) => image.digest)).toEqual(second.map((image) => image.digest));
    expect(first.map((image) => image.reference)).toEqual(["localhost/portcullis-sidecar:0.1.0", "localhost/portcullis-init:0.1.0"]);
  });

  it("holds the gateway with its production dependencies only, runs it as the gateway's UID, and labels the revision", async () => {
    const sidecar = first.find((image) => image.reference.includes("portcullis-sidecar"));
    const dir = join(work, "sidecar");
    const { config } = unpack(sidecar?.archive ?? "", dir);
    expect(config.User).toBe("1337:1337");
    expect(config.Entrypoint).toEqual(["/usr/local/bin/node", ...GATEWAY_NODE_FLAGS, "/app/sidecar/dist/main.js"]);
    expect(config.Env).toContain("MALLOC_MMAP_THRESHOLD_=32768");
    expect(config.Labels["org.opencontainers.image.revision"]).toMatch(/^[0-9a-f]{40}$/);
    const rootfs = join(dir, "rootfs");
    for (const absent of ["app/node_modules/jest", "app/node_modules/typescript", "app/node_modules/@swc", "app/sidecar/src", "app/e2e"]) expect(existsSync(join(rootfs, absent))).toBe(false);
    expect(execFileSync("find", [join(rootfs, "app/sidecar/dist"), "-name", "*.test.js"], { encoding: "utf8" })).toBe("");
    // Only what the image carries: its own node, libraries and modules.
    const help = await runCommand("/usr/sbin/chroot", ["--userspec=1337:1337", rootfs, "/usr/local/bin/node", "/app/sidecar/dist/main.js", "--help"], { env: { PATH: "/usr/local/bin" } });
    expect(help.stderr).toBe("");
    expect(help.stdout).toContain("Usage: portcullis-sidecar");
    const version = await runCommand("/usr/sbin/chroot", [rootfs, "/usr/local/bin/node", "--version"], { env: {} });
    expect(version.stdout).toMatch(/^v22\./);
  });

  it("gives the init container a shell and iptables that run from the image alone", async () => {
    const init = first.find((image) => image.reference.includes("portcullis-init"));
    const dir = join(work, "init");
    unpack(init?.archive ?? "", dir);
    const result = await runCommand("/usr/sbin/chroot", [join(dir, "rootfs"), "/bin/sh", "-c", "iptables --version"], { env: { PATH: "/usr/sbin:/usr/bin" } });
    expect(result.stdout).toMatch(/^iptables v1\.8/);
  });
});
