#!/usr/bin/env node
// `make images`: builds the OCI archives (out/images/*.oci.tar) and prints
// each image's reference, digest and size. Import one into containerd with
// `ctr -n k8s.io images import FILE`, or push it with skopeo/crane.
import { locateTools } from "../controlplane/tools.js";
import { buildImages, IMAGES_DIR } from "./build.js";

const names = process.argv.slice(2);
const started = Date.now();
const built = buildImages({ kubectl: locateTools().kubectl, ...(names.length ? { only: names } : {}) });
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
for (const image of built) console.log(`${image.reference.padEnd(42)} ${image.digest}  ${mib(image.size).padStart(10)}`);
console.log(`${built.length} images in ${IMAGES_DIR} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
