// An OCI image layout, written as one tar archive that `ctr images import`
// (and skopeo, podman load, crane) read: blobs named by their SHA-256, a
// manifest per image, an index naming it. Layers are uncompressed tars of
// prepared directories, made with fixed owners, times and order, and the
// config carries no timestamp, so the same inputs give the same digests.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ImageConfig {
  /** The image reference containerd records, e.g. localhost/portcullis-sidecar:dev */
  reference: string;
  entrypoint: string[];
  /** "UID:GID"; never empty, so nothing runs as root by accident. */
  user: string;
  env: string[];
  workingDir: string;
  labels: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BuiltImage {
  reference: string;
  archive: string;
  /** The manifest's digest: what `ctr images ls` and the kubelet show. */
  digest: string;
  /** Uncompressed size of the layers in bytes. */
  size: number;
}

const sha256 = (data: Buffer): string => createHash("sha256").update(data).digest("hex");

/** GNU tar, reproducibly: names sorted, owner root, every time the epoch, no access or change times, no PID in header names. */
const REPRODUCIBLE_TAR = ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--format=posix", "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime"];

export function tarDirectory(dir: string, out: string): void {
  execFileSync("tar", [...REPRODUCIBLE_TAR, "-C", dir, "-cf", out, "."], { stdio: ["ignore", "ignore", "inherit"] });
}

/** The image config as OCI defines it; JSON with a fixed key order. */
export function imageConfigJson(config: ImageConfig, diffIds: readonly string[]): string {
  return JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: { User: config.user, Env: config.env, Entrypoint: config.entrypoint, WorkingDir: config.workingDir, Labels: config.labels },
    rootfs: { type: "layers", diff_ids: diffIds },
  });
}

/** Writes an OCI layout archive holding one image whose layers are the given directories, bottom first. */
export function writeImageArchive(config: ImageConfig, layerDirs: readonly string[], archive: string): BuiltImage {
  const work = mkdtempSync(join(tmpdir(), "portcullis-oci-"));
  try {
    const blobs = join(work, "blobs", "sha256");
    mkdirSync(blobs, { recursive: true });
    const store = (data: Buffer, mediaType: string): Descriptor => {
      const digest = sha256(data);
      writeFileSync(join(blobs, digest), data);
      return { mediaType, digest: `sha256:${digest}`, size: data.length };
    };
    const layers = layerDirs.map((dir, index) => {
      const file = join(work, `layer-${index}.tar`);
      tarDirectory(dir, file);
      const descriptor = store(readFileSync(file), "application/vnd.oci.image.layer.v1.tar");
      rmSync(file);
      return descriptor;
    });
    const configBlob = store(Buffer.from(imageConfigJson(config, layers.map((layer) => layer.digest))), "application/vnd.oci.image.config.v1+json");
    const manifest = store(
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: configBlob, layers, annotations: config.labels })),
      "application/vnd.oci.image.manifest.v1+json",
    );
    const tag = config.reference.slice(config.reference.lastIndexOf(":") + 1);
    writeFileSync(join(work, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    writeFileSync(
      join(work, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.index.v1+json",
        manifests: [{ ...manifest, platform: { architecture: "amd64", os: "linux" }, annotations: { "io.containerd.image.name": config.reference, "org.opencontainers.image.ref.name": tag } }],
      }),
    );
    const partial = `${archive}.partial-${process.pid}`;
    execFileSync("tar", [...REPRODUCIBLE_TAR, "-C", work, "-cf", partial, "oci-layout", "index.json", "blobs"]);
    renameSync(partial, archive);
    return { reference: config.reference, archive, digest: manifest.digest, size: layers.reduce((sum, layer) => sum + layer.size, 0) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
