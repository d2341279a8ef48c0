// Secrets and ConfigMaps from a manifests file, turned into what the API
// server would store (a Secret's stringData merged into base64 data), so the
// broker's functions resolve credentials, CA bundles, hash keys and recording
// settings from them unchanged. What the API server would refuse is refused.
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import type { FieldError } from "@portcullis/common/policy/validate";
import { isPlainObject } from "./crd-schema.js";

export interface Converted<T> {
  /** Present only when there are no errors. */
  object?: T;
  errors: FieldError[];
}

const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SECRET_FIELDS = ["apiVersion", "kind", "metadata", "type", "immutable", "data", "stringData"];
const CONFIG_MAP_FIELDS = ["apiVersion", "kind", "metadata", "immutable", "data", "binaryData"];

function unknownFields(object: Record<string, unknown>, known: readonly string[]): FieldError[] {
  return Object.keys(object)
    .filter((key) => !known.includes(key))
    .map((key) => ({ field: key, message: "unknown field" }));
}

/** A map of data keys to strings; base64 values are checked when `base64` is set. */
function stringMap(value: unknown, field: string, base64: boolean, errors: FieldError[]): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    errors.push({ field, message: "must be a map of keys to strings" });
    return {};
  }
  const result: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    const at = `${field}.${key}`;
    if (!DATA_KEY.test(key)) errors.push({ field: at, message: "a key must consist of alphanumeric characters, '-', '_' or '.'" });
    else if (typeof entry !== "string") errors.push({ field: at, message: `must be a string (quote it in YAML), got ${entry === null ? "null" : typeof entry}` });
    else if (base64 && !BASE64.test(entry.replace(/\s+/g, ""))) errors.push({ field: at, message: "is not valid base64 (put plain text under stringData instead)" });
    else result[key] = base64 ? entry.replace(/\s+/g, "") : entry;
  }
  return result;
}

const metadataOf = (object: Record<string, unknown>): { name: string; namespace?: string } => object.metadata as { name: string; namespace?: string };

/** A v1 Secret as stored: data in base64, with stringData (which wins on the same key, as on the API server) encoded into it. */
export function secretFromManifest(object: Record<string, unknown>): Converted<V1Secret> {
  const errors = unknownFields(object, SECRET_FIELDS);
  const data = stringMap(object.data, "data", true, errors);
  const stringData = stringMap(object.stringData, "stringData", false, errors);
  if (errors.length) return { errors };
  for (const [key, value] of Object.entries(stringData)) data[key] = Buffer.from(value, "utf8").toString("base64");
  const type = typeof object.type === "string" ? object.type : "Opaque";
  return { object: { apiVersion: "v1", kind: "Secret", metadata: metadataOf(object), type, data }, errors };
}

/** A v1 ConfigMap; a key may be in data or binaryData, not both. */
export function configMapFromManifest(object: Record<string, unknown>): Converted<V1ConfigMap> {
  const errors = unknownFields(object, CONFIG_MAP_FIELDS);
  const data = stringMap(object.data, "data", false, errors);
  const binaryData = stringMap(object.binaryData, "binaryData", true, errors);
  for (const key of Object.keys(binaryData).filter((key) => key in data)) {
    errors.push({ field: `binaryData.${key}`, message: `key "${key}" is also in data; a key may appear in only one of them` });
  }
  if (errors.length) return { errors };
  return { object: { apiVersion: "v1", kind: "ConfigMap", metadata: metadataOf(object), data, binaryData }, errors };
}
