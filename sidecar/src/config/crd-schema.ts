// The structural schemas of the Portcullis CRDs, read from the CRD YAML (the
// source of truth), and what the API server does with them on create that the
// generated models do not: prune nulls, fill in `default`s, refuse unknown
// fields and duplicate list keys. Standalone mode needs these so a manifests
// file means exactly what the same YAML means after `kubectl apply`.
import { CRD_DIR, readManifests, yamlFilesIn } from "@portcullis/crds";
import type { FieldError } from "@portcullis/common/policy/validate";

export interface ValidationRule {
  rule: string;
  message?: string;
}

export interface StructuralSchema {
  type?: string;
  nullable?: boolean;
  default?: unknown;
  properties?: Record<string, StructuralSchema>;
  items?: StructuralSchema;
  additionalProperties?: StructuralSchema | boolean;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-list-type"?: "atomic" | "set" | "map";
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-validations"?: ValidationRule[];
}

export interface CrdSchema {
  apiVersion: string;
  kind: string;
  schema: StructuralSchema;
}

interface CrdManifest {
  spec: {
    group: string;
    names: { kind: string };
    versions: { name: string; served: boolean; schema: { openAPIV3Schema: StructuralSchema } }[];
  };
}

/** Every served version of every CRD in `dir`, by `apiVersion/kind` (e.g. portcullis.dev/v1alpha1/Resource). */
export function loadCrdSchemas(dir: string = CRD_DIR): Map<string, CrdSchema> {
  const schemas = new Map<string, CrdSchema>();
  for (const file of yamlFilesIn(dir)) {
    for (const object of readManifests(file)) {
      if (object.kind !== "CustomResourceDefinition") continue;
      const { group, names, versions } = (object as unknown as CrdManifest).spec;
      for (const version of versions.filter((candidate) => candidate.served)) {
        const apiVersion = `${group}/${version.name}`;
        schemas.set(`${apiVersion}/${names.kind}`, { apiVersion, kind: names.kind, schema: version.schema.openAPIV3Schema });
      }
    }
  }
  return schemas;
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The schema of a member of an object: a declared property, or a map value. */
function memberSchema(schema: StructuralSchema, key: string): StructuralSchema | undefined {
  const declared = schema.properties?.[key];
  if (declared) return declared;
  return typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
}

/** The children of a value that the schema describes, with their schemas and field paths (spec.rules[2].when). */
export function childrenOf(value: unknown, schema: StructuralSchema, path: string): { value: unknown; schema: StructuralSchema; path: string }[] {
  if (Array.isArray(value)) {
    const items = schema.items;
    return items ? (value as unknown[]).map((item, index) => ({ value: item, schema: items, path: `${path}[${index}]` })) : [];
  }
  if (!isPlainObject(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const childSchema = memberSchema(schema, key);
    return childSchema ? [{ value: child, schema: childSchema, path: path ? `${path}.${key}` : key }] : [];
  });
}

/**
 * A copy with the API server's create-time defaulting: a null where the schema
 * does not allow one is dropped, then every absent property with a default
 * gets it — only inside objects that are present, as the API server does, so
 * `tls.mode` is defaulted only when `tls` is given.
 */
export function withDefaults(value: unknown, schema: StructuralSchema): unknown {
  if (Array.isArray(value)) return (value as unknown[]).map((item) => (schema.items ? withDefaults(item, schema.items) : item));
  if (!isPlainObject(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const childSchema = memberSchema(schema, key);
    if (child === null && !childSchema?.nullable) continue;
    result[key] = childSchema ? withDefaults(child, childSchema) : child;
  }
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    if (result[key] === undefined && property.default !== undefined) result[key] = withDefaults(structuredClone(property.default), property);
  }
  return result;
}

function unknownFields(value: unknown, schema: StructuralSchema, path: string): FieldError[] {
  if (!isPlainObject(value) || schema["x-kubernetes-preserve-unknown-fields"]) return [];
  // An object without declared properties (such as metadata here) is left to its own validation.
  if (!schema.properties || schema.additionalProperties !== undefined) return [];
  return Object.keys(value)
    .filter((key) => !(key in (schema.properties ?? {})))
    .map((key) => ({ field: path ? `${path}.${key}` : key, message: "unknown field" }));
}

const listKey = (item: unknown, keys: readonly string[]): string =>
  JSON.stringify(Object.fromEntries(keys.map((key) => [key, isPlainObject(item) ? item[key] : undefined])));

/** x-kubernetes-list-type set and map: the API server refuses a second item with the same value or key. */
function duplicateListItems(value: unknown, schema: StructuralSchema, path: string): FieldError[] {
  const type = schema["x-kubernetes-list-type"];
  if (!Array.isArray(value) || (type !== "set" && type !== "map")) return [];
  const keys = schema["x-kubernetes-list-map-keys"] ?? [];
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  value.forEach((item, index) => {
    const key = type === "map" ? listKey(item, keys) : JSON.stringify(item);
    if (seen.has(key)) errors.push({ field: `${path}[${index}]`, message: `duplicate value: ${key}` });
    seen.add(key);
  });
  return errors;
}

/** Unknown fields and duplicate list items anywhere in the value, as kubectl's strict validation reports them. */
export function structuralProblems(value: unknown, schema: StructuralSchema, path = ""): FieldError[] {
  return [
    ...unknownFields(value, schema, path),
    ...duplicateListItems(value, schema, path),
    ...childrenOf(value, schema, path).flatMap((child) => structuralProblems(child.value, child.schema, child.path)),
  ];
}
