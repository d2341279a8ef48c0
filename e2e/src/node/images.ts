// The images a test node imports: the archives `make images` leaves in
// out/images, named as specs.ts names them.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { IMAGES_DIR, imageReference } from "../images/build.js";
import { IMAGES } from "../images/specs.js";

/** The archives of every image, or an error naming the missing ones and how to build them. */
export function imageArchives(): string[] {
  const archives = IMAGES.map((spec) => join(IMAGES_DIR, `${spec.name}.oci.tar`));
  const missing = archives.filter((archive) => !existsSync(archive));
  if (missing.length > 0) throw new Error(`image archives are missing: ${missing.join(", ")}; build them with \`make images\``);
  return archives;
}

/** The reference of an image of specs.ts, as its archive names it. */
export function imageNamed(name: string): string {
  const spec = IMAGES.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`no image ${name} in e2e/src/images/specs.ts`);
  return imageReference(spec);
}
