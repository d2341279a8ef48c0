// Builds the images of specs.ts as OCI archives, with no registry and no
// container engine: each layer is a directory filled by its spec and tarred
// reproducibly, so the same sources give the same digests.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BuiltImage, writeImageArchive } from "./oci.js";
import { RootFs } from "./rootfs.js";
import { type BuildContext, IMAGES, type ImageSpec } from "./specs.js";

export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
/** Where `make images` leaves the archives (ignored by git). */
export const IMAGES_DIR = process.env.PORTCULLIS_IMAGES_DIR ?? join(REPO, "out", "images");
export const SOURCE = "https://github.com/portcullis-dev/portcullis";

/** The version every image is tagged with: the workspaces' own (they move together). */
export function projectVersion(repo = REPO): string {
  return (JSON.parse(readFileSync(join(repo, "operator", "package.json"), "utf8")) as { version: string }).version;
}

export const imageReference = (spec: ImageSpec, version = projectVersion()): string => `localhost/${spec.name}:${version}`;

function revision(repo: string): string {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: repo, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

export interface BuildOptions {
  outDir?: string;
  /** Only these images (by name); all when absent. */
  only?: readonly string[];
  kubectl: string;
}

/** Builds the images; returns each archive with its digest and size. */
export function buildImages(options: BuildOptions): BuiltImage[] {
  const outDir = options.outDir ?? IMAGES_DIR;
  mkdirSync(outDir, { recursive: true });
  const context: BuildContext = { repo: REPO, nodeBinary: realpathSync(join(REPO, "node_modules", ".bin", "node")), kubectl: options.kubectl };
  const version = projectVersion();
  const labels = { "org.opencontainers.image.version": version, "org.opencontainers.image.revision": revision(REPO), "org.opencontainers.image.source": SOURCE, "org.opencontainers.image.licenses": "Apache-2.0" };
  const work = mkdtempSync(join(tmpdir(), "portcullis-images-"));
  const layers = new Map<string, string>();
  const layerDir = (layer: ImageSpec["layers"][number]): string => {
    let dir = layers.get(layer.name);
    if (!dir) {
      dir = join(work, layer.name);
      layer.fill(new RootFs(dir), context);
      layers.set(layer.name, dir);
    }
    return dir;
  };
  try {
    return IMAGES.filter((spec) => !options.only || options.only.includes(spec.name)).map((spec) =>
      writeImageArchive(
        {
          reference: imageReference(spec, version),
          entrypoint: spec.entrypoint,
          user: spec.user,
          env: spec.env,
          workingDir: "/",
          labels: { ...labels, "org.opencontainers.image.title": spec.name, "org.opencontainers.image.description": spec.description },
        },
        spec.layers.map(layerDir),
        join(outDir, `${spec.name}.oci.tar`),
      ),
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
