// Checks on the CRD YAML that the API server does not make: every field is
// documented (so `kubectl explain` teaches the API), the condition schema is
// the same everywhere, the generated models are current, and the examples
// satisfy the schemas.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { AccessPolicy, ApprovalRequest, CRD_DIR, EXAMPLES_DIR, REFERENCE_DIR, Resource, readManifests, yamlFilesIn } from "./index.js";

interface Schema {
  description?: string;
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
}

interface Crd {
  metadata: { name: string };
  spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
}

const crds = yamlFilesIn(CRD_DIR).flatMap((file) => readManifests(file)) as unknown as Crd[];

function undocumentedFields(schema: Schema, path: string): string[] {
  const own = schema.description || path.endsWith(".metadata") ? [] : [path];
  const children = Object.entries(schema.properties ?? {}).flatMap(([name, child]) =>
    undocumentedFields(child, `${path}.${name}`),
  );
  const items = schema.items ? undocumentedFields(schema.items, `${path}[]`) : [];
  return [...own, ...children, ...items];
}

describe("CRD YAML", () => {
  it("defines the three Portcullis kinds", () => {
    expect(crds.map((crd) => crd.metadata.name).sort()).toEqual([
      "accesspolicies.portcullis.dev",
      "approvalrequests.portcullis.dev",
      "resources.portcullis.dev",
    ]);
  });

  it.each(crds.map((crd) => [crd.metadata.name, crd] as const))("%s documents every field", (_name, crd) => {
    for (const version of crd.spec.versions) {
      expect(undocumentedFields(version.schema.openAPIV3Schema, version.name)).toEqual([]);
    }
  });

  it("uses one condition schema in every status", () => {
    const conditionSchemas = crds
      .map((crd) => crd.spec.versions[0]?.schema.openAPIV3Schema.properties?.status?.properties?.conditions)
      .filter((schema) => schema !== undefined);
    expect(conditionSchemas).toHaveLength(2);
    expect(conditionSchemas[1]).toEqual(conditionSchemas[0]);
  });
});

describe("generated models", () => {
  it("are current with the CRD YAML (run `make generate` when this fails)", () => {
    const script = join(CRD_DIR, "models", "scripts", "generate-models.mjs");
    const check = spawnSync(process.execPath, [script, "--check"], { encoding: "utf8" });
    expect({ status: check.status, stderr: check.stderr }).toEqual({ status: 0, stderr: "" });
  });
});

describe("example and reference manifests", () => {
  const models = { Resource, AccessPolicy, ApprovalRequest };
  const examples = [...yamlFilesIn(EXAMPLES_DIR), ...yamlFilesIn(REFERENCE_DIR)].flatMap((file) =>
    readManifests(file)
      .filter((object) => object.apiVersion === "portcullis.dev/v1alpha1")
      .map((object) => [`${file.split("/").pop()}: ${object.kind}/${object.metadata.name}`, object] as const),
  );

  it("cover every kind", () => {
    expect(new Set(examples.map(([, object]) => object.kind))).toEqual(new Set(Object.keys(models)));
  });

  it.each(examples)("%s satisfies its schema", (_label, object) => {
    const Model = models[object.kind as keyof typeof models];
    expect(() => new Model(object as never).validate()).not.toThrow();
  });
});
