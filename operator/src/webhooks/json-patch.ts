// RFC 6902 JSON Patch, as much as the injector needs: it writes whole
// arrays and maps with `add` (which replaces an existing member), so the
// patch is short and correct whatever the pod already holds; applyJsonPatch
// lets tests check that the patch really turns the pod into the injected pod.

export interface JsonPatchOperation {
  op: "add" | "remove" | "replace";
  path: string;
  value?: unknown;
}

/** Escapes one reference token of a JSON pointer (RFC 6901): `~` → `~0`, `/` → `~1`. */
export function escapeJsonPointer(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

export function unescapeJsonPointer(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

/** `["metadata", "annotations"]` → `/metadata/annotations`. */
export function jsonPointer(tokens: string[]): string {
  return tokens.map((token) => `/${escapeJsonPointer(token)}`).join("");
}

type Container = Record<string, unknown> | unknown[];

function parentOf(document: unknown, path: string): { parent: Container; key: string } {
  if (!path.startsWith("/")) throw new Error(`JSON pointer "${path}" does not start with "/"`);
  const tokens = path.slice(1).split("/").map(unescapeJsonPointer);
  const key = tokens.pop() as string;
  let node = document;
  for (const token of tokens) {
    if (node === null || typeof node !== "object") throw new Error(`JSON pointer "${path}": "${token}" is not inside an object or array`);
    node = (node as Record<string, unknown>)[token];
  }
  if (node === null || typeof node !== "object") throw new Error(`JSON pointer "${path}": the parent does not exist`);
  return { parent: node as Container, key };
}

function arrayIndex(array: unknown[], key: string, path: string, allowEnd: boolean): number {
  if (key === "-" && allowEnd) return array.length;
  const index = /^(0|[1-9][0-9]*)$/.test(key) ? Number(key) : Number.NaN;
  if (Number.isNaN(index) || index > array.length || (!allowEnd && index === array.length)) {
    throw new Error(`JSON pointer "${path}": no array index "${key}"`);
  }
  return index;
}

function applyOne(document: unknown, operation: JsonPatchOperation): void {
  const { parent, key } = parentOf(document, operation.path);
  const value: unknown = structuredClone(operation.value);
  if (Array.isArray(parent)) {
    const index = arrayIndex(parent, key, operation.path, operation.op === "add");
    if (operation.op === "add") parent.splice(index, 0, value);
    else if (operation.op === "replace") parent[index] = value;
    else parent.splice(index, 1);
    return;
  }
  if (operation.op !== "add" && !(key in parent)) throw new Error(`JSON pointer "${operation.path}": no member "${key}"`);
  if (operation.op === "remove") delete parent[key];
  else parent[key] = value;
}

/** Applies the operations to a copy of `document` and returns the copy; throws naming the failing path. */
export function applyJsonPatch<T>(document: T, operations: JsonPatchOperation[]): T {
  const result = structuredClone(document);
  for (const operation of operations) applyOne(result, operation);
  return result;
}
