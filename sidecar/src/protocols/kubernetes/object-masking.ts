// Masking of the Kubernetes objects in the API server's JSON responses before
// they reach the agent. Secret values never do: every value of a Secret's
// data and stringData is replaced, keys left readable, so the agent sees what
// a Secret holds but not what it says; and the copy `kubectl apply` keeps in
// the kubectl.kubernetes.io/last-applied-configuration annotation is masked
// the same way. The AccessPolicy's masking rules run on each object on its
// own, so a rule's JSON path reads the same whether the object came alone, in
// a list, in a Table row or in a watch event. Odd shapes are left as they
// are: this never throws on what the API server (or a proxy) sends.
import type { BodyMasker } from "../../masking/body-masking.js";

type Counts = Record<string, number>;
type JsonObject = Record<string, unknown>;

/** The counts key for masked Secret values. */
export const SECRET_MASK_COUNT = "(secret data)";
/** What stringData values become; data values become its base64. */
export const MASKED_SECRET_TEXT = "portcullis:masked";
/** Where `kubectl apply` keeps the object as last applied, Secret values included. */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/** A masked `data` value: still base64, so clients that decode Secret data (kubectl describe, client-go) do not fail on it. */
const MASKED_SECRET_DATA = Buffer.from(MASKED_SECRET_TEXT).toString("base64");
const WATCH_TYPES = new Set(["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]);

export interface MaskContext {
  /** The request creates a service account token (serviceaccounts/token): the token in its answer would reach the API server without the gateway. */
  tokenRequest?: boolean;
  /** The request is for core-group secrets (apiGroup "" and resource "secrets"): every object in the response is a Secret, even list items without kind. */
  secrets: boolean;
  masker: BodyMasker;
}

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

const count = (counts: Counts, key: string): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

const addCounts = (counts: Counts, more: Counts): void => {
  for (const [key, n] of Object.entries(more)) counts[key] = (counts[key] ?? 0) + n;
};

/** Whether responses to such a request need reading and masking at all: context.secrets or context.masker.active. */
export function masksResponses(context: MaskContext): boolean {
  return context.secrets || context.tokenRequest === true || context.masker.active;
}

/** Masks one decoded JSON response document in place (an object, a list, a Table, a watch event, a Status); returns masked counts per rule id plus SECRET_MASK_COUNT. */
export function maskKubernetesDocument(document: { value: unknown }, context: MaskContext): Record<string, number> {
  const counts: Counts = {};
  document.value = maskDocument(document.value, context, counts, true);
  return counts;
}

/** `value` with each Kubernetes object in it masked. A watch event's object is read as a document once: events do not nest, so neither does this. */
function maskDocument(value: unknown, context: MaskContext, counts: Counts, eventsAllowed: boolean): unknown {
  if (!isObject(value)) return value;
  if (eventsAllowed && isWatchEvent(value)) {
    value.object = maskDocument(value.object, context, counts, false);
    return value;
  }
  if (isStatus(value)) return value;
  if (isTable(value)) {
    maskTableRows(value.rows, context, counts);
    return value;
  }
  if (isList(value)) {
    value.items = value.items.map((item) => (isObject(item) ? maskObject(item, context, counts) : item));
    return value;
  }
  return maskObject(value, context, counts);
}

/** A watch event: `{type, object}`, without the apiVersion, kind and metadata of an object. */
function isWatchEvent(value: JsonObject): boolean {
  return typeof value.type === "string" && WATCH_TYPES.has(value.type) && Object.hasOwn(value, "object") && !Object.hasOwn(value, "metadata") && !Object.hasOwn(value, "kind");
}

/** A core Status (an error, or the result of a delete): nothing in it to mask. A custom resource of kind Status in another group is an object. */
function isStatus(value: JsonObject): boolean {
  return value.kind === "Status" && (value.apiVersion === "v1" || value.apiVersion === undefined);
}

/** A server-side printed Table (Accept: application/json;as=Table;g=meta.k8s.io;v=v1), whose rows may carry the objects. */
function isTable(value: JsonObject): value is JsonObject & { rows: unknown[] } {
  return value.kind === "Table" && typeof value.apiVersion === "string" && value.apiVersion.startsWith("meta.k8s.io/") && Array.isArray(value.rows);
}

/** A list (PodList, SecretList, List): items, and list metadata without a name, which every object has. */
function isList(value: JsonObject): value is JsonObject & { items: unknown[] } {
  return Array.isArray(value.items) && !(isObject(value.metadata) && typeof value.metadata.name === "string");
}

/**
 * Each row's object (a full object or a PartialObjectMetadata) masked as an
 * object. The policy's masker also scans the cells: a custom resource's
 * printer columns can show any field of it.
 */
function maskTableRows(rows: unknown[], context: MaskContext, counts: Counts): void {
  for (const row of rows) {
    if (!isObject(row)) continue;
    if (isObject(row.object)) row.object = maskObject(row.object, context, counts);
    if (Array.isArray(row.cells)) row.cells = applyMasker(row.cells, context.masker, counts);
  }
}

/**
 * One Kubernetes object masked: its last-applied annotation first (before the
 * masker's patterns could cut through the JSON in it), then the policy's
 * masker, then a Secret's values last, so they end as the fixed masked text
 * whatever a rule made of them. Returns the object (the masker may replace it).
 */
function maskObject(object: JsonObject, context: MaskContext, counts: Counts): unknown {
  if (object.kind === "TokenRequest") maskIssuedToken(object, counts);
  const secret = context.secrets || object.kind === "Secret";
  maskLastApplied(object, secret, context, counts);
  const masked = applyMasker(object, context.masker, counts);
  if (secret && isObject(masked)) maskSecretValues(masked, counts);
  return masked;
}

/** A TokenRequest's issued token replaced: with it the agent could reach the API server around the gateway. */
function maskIssuedToken(request: JsonObject, counts: Counts): void {
  const status = request.status;
  if (!isObject(status) || typeof status.token !== "string") return;
  status.token = MASKED_SECRET_TEXT;
  counts[SECRET_MASK_COUNT] = (counts[SECRET_MASK_COUNT] ?? 0) + 1;
}

/** `value` as the policy's masker leaves it, with its counts added. */
function applyMasker(value: unknown, masker: BodyMasker, counts: Counts): unknown {
  if (!masker.active) return value;
  const document = { value };
  addCounts(counts, masker.maskJson(document));
  return document.value;
}

/** Every value of the Secret's data and stringData replaced (null or absent stays so). */
function maskSecretValues(secret: JsonObject, counts: Counts): void {
  if (Object.hasOwn(secret, "data")) secret.data = maskValues(secret.data, MASKED_SECRET_DATA, counts);
  if (Object.hasOwn(secret, "stringData")) secret.stringData = maskValues(secret.stringData, MASKED_SECRET_TEXT, counts);
}

/** A map's values replaced, keys kept; anything else but null (a shape no API server sends) replaced whole rather than passed on. */
function maskValues(values: unknown, replacement: string, counts: Counts): unknown {
  if (values === null || values === undefined) return values;
  if (!isObject(values)) {
    count(counts, SECRET_MASK_COUNT);
    return replacement;
  }
  for (const key of Object.keys(values)) {
    if (values[key] === null || values[key] === undefined) continue;
    values[key] = replacement;
    count(counts, SECRET_MASK_COUNT);
  }
  return values;
}

/**
 * The last-applied annotation masked as the object it holds: a Secret's
 * values, and the policy's masker. Written back (with the trailing newline
 * kubectl writes) only when something was masked; when it cannot be read as
 * an object and might hold what must be masked, it is replaced whole.
 */
function maskLastApplied(object: JsonObject, secret: boolean, context: MaskContext, counts: Counts): void {
  if (!secret && !context.masker.active) return;
  const annotations = isObject(object.metadata) ? object.metadata.annotations : undefined;
  if (!isObject(annotations) || typeof annotations[LAST_APPLIED] !== "string") return;
  const applied = parseObject(annotations[LAST_APPLIED]);
  if (applied === undefined) {
    annotations[LAST_APPLIED] = MASKED_SECRET_TEXT;
    count(counts, SECRET_MASK_COUNT);
    return;
  }
  const found: Counts = {};
  const masked = applyMasker(applied, context.masker, found);
  if ((secret || applied.kind === "Secret") && isObject(masked)) maskSecretValues(masked, found);
  if (Object.keys(found).length === 0) return;
  annotations[LAST_APPLIED] = `${JSON.stringify(masked)}\n`;
  addCounts(counts, found);
}

/** The JSON object in `text`; undefined when it is not JSON or not an object. */
function parseObject(text: string): JsonObject | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return isObject(value) ? value : undefined;
  } catch {
    return undefined;
  }
}
