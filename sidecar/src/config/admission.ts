// Admits a Resource or AccessPolicy from a manifests file the way the cluster
// admits it: the CRD schema (defaults, unknown fields, types and bounds from
// the generated models, list keys, x-kubernetes-validations rules), then the
// operator's admission webhook checks (CEL compiles, RE2 patterns, listener
// ports). Standalone mode runs no API server, so it runs these itself.
import { AccessPolicy, Resource, type IAccessPolicy, type IResource } from "@portcullis/crds";
import { validateAccessPolicy, validateResource, type FieldError } from "@portcullis/common/policy/validate";
import { errorMessage } from "./error-message.js";
import { ruleProblems } from "./crd-rules.js";
import { isPlainObject, loadCrdSchemas, structuralProblems, withDefaults, type CrdSchema, type StructuralSchema } from "./crd-schema.js";

export interface Admission<T> {
  /** Present only when there are no errors. */
  object?: T;
  errors: FieldError[];
}

let schemas: Map<string, CrdSchema> | undefined;

function schemaOf(apiVersion: string, kind: string): StructuralSchema {
  schemas ??= loadCrdSchemas();
  const crd = schemas.get(`${apiVersion}/${kind}`);
  if (!crd) throw new Error(`the CRD for ${kind} (${apiVersion}) is not installed with @portcullis/crds`);
  return crd.schema;
}

interface SchemaError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
}

const isSchemaError = (value: unknown): value is SchemaError => isPlainObject(value) && typeof value.instancePath === "string" && typeof value.keyword === "string";

/** A JSON pointer (/spec/rules/3/when) as a field path (spec.rules[3].when). */
export function fieldPath(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((segment) => segment.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment), "");
}

function describeSchemaError(error: SchemaError): FieldError {
  const field = fieldPath(error.instancePath);
  if (error.keyword === "required" && typeof error.params.missingProperty === "string") {
    return { field: field ? `${field}.${error.params.missingProperty}` : error.params.missingProperty, message: "required value" };
  }
  if (error.keyword === "enum" && Array.isArray(error.params.allowedValues)) {
    return { field, message: `must be one of ${error.params.allowedValues.map((value) => JSON.stringify(value)).join(", ")}` };
  }
  return { field, message: error.message ?? `fails schema keyword ${error.keyword}` };
}

/** The generated model's schema validation, one FieldError per distinct problem. */
function modelErrors(model: { validate(): void }): FieldError[] {
  try {
    model.validate();
    return [];
  } catch (error) {
    const details = (error as { errors?: unknown }).errors;
    if (!Array.isArray(details)) return [{ field: "", message: errorMessage(error) }];
    const described = details.filter(isSchemaError).map(describeSchemaError);
    return [...new Map(described.map((problem) => [`${problem.field}: ${problem.message}`, problem])).values()];
  }
}

function admitSchema<T extends IResource | IAccessPolicy>(object: Record<string, unknown>, build: (value: T) => { validate(): void }): Admission<T> {
  // The API server ignores status on create (it is a subresource); so does a manifests file.
  const withoutStatus = { ...object };
  delete withoutStatus.status;
  const schema = schemaOf(String(object.apiVersion), String(object.kind));
  const value = withDefaults(withoutStatus, schema) as T;
  const errors = [...structuralProblems(withoutStatus, schema), ...modelErrors(build(value))];
  // The rules read fields the schema guarantees; on a value that breaks the schema they would only add noise.
  if (errors.length === 0) errors.push(...ruleProblems(value, schema));
  return errors.length ? { errors } : { object: value, errors };
}

/**
 * Schema problems of a spec that has already been admitted elsewhere (a
 * bundle from the broker): types and bounds only, as a guard against a
 * malformed bundle, not a second admission.
 */
export function specProblems(kind: "Resource" | "AccessPolicy", spec: unknown): FieldError[] {
  const data = { metadata: { name: "bundle" }, spec } as never;
  return modelErrors(kind === "Resource" ? new Resource(data) : new AccessPolicy(data));
}

/** A Resource, checked against the Resources admitted before it (a listener port is taken by the first one). */
export function admitResource(object: Record<string, unknown>, earlier: readonly IResource[]): Admission<IResource> {
  const admitted = admitSchema<IResource>(object, (value) => new Resource(value));
  if (!admitted.object) return admitted;
  const { errors } = validateResource(admitted.object, { resources: earlier });
  return errors.length ? { errors } : admitted;
}

/** An AccessPolicy, checked against all Resources of the file. */
export function admitAccessPolicy(object: Record<string, unknown>, resources: readonly IResource[]): Admission<IAccessPolicy> {
  const admitted = admitSchema<IAccessPolicy>(object, (value) => new AccessPolicy(value));
  if (!admitted.object) return admitted;
  const { errors } = validateAccessPolicy(admitted.object, { resources });
  return errors.length ? { errors } : admitted;
}
