// Where the CRD YAML and the example manifests live, and a reader for them.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

/** crds/: the CRD YAML (the source of truth), applied with `kubectl apply -f crds/`. */
export const CRD_DIR = fileURLToPath(new URL("../../", import.meta.url));
/** crds/examples/: manifests users apply as a set (`kubectl apply -n agents -f crds/examples/`); also used by the tests and the README. */
export const EXAMPLES_DIR = join(CRD_DIR, "examples");
/** crds/reference/: what the operator creates (an ApprovalRequest), shown for reviewers; never applied by users. */
export const REFERENCE_DIR = join(CRD_DIR, "reference");

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** Parses a multi-document YAML file; a syntax error names the file and position. */
export function readManifests(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, "utf8")).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS() as KubeObject;
  });
}

export function yamlFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => join(dir, name));
}
