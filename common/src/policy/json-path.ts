// The JSONPath subset masking rules use (spec.masking[].jsonPaths): the root
// `$`, members `.name` and `['name']`, array indexes `[0]`, wildcards `.*` and
// `[*]`, and descendants `..name` / `..*`. The admission webhook parses with
// it to refuse what the gateway could not apply; the gateway walks response
// bodies with it. No filters or scripts: nothing an agent's data can steer.

export type JsonPathStep =
  | { kind: "member"; name: string; descendant: boolean }
  | { kind: "index"; index: number }
  | { kind: "any"; descendant: boolean };

export type ParsedJsonPath = { ok: true; steps: JsonPathStep[] } | { ok: false; message: string };

const NAME = /^[A-Za-z_$][A-Za-z0-9_$-]*/;

function bracket(path: string, at: number): { step: JsonPathStep; next: number } | string {
  const close = path.indexOf("]", at);
  if (close < 0) return `an unclosed [ at position ${at + 1}`;
  const inner = path.slice(at + 1, close).trim();
  if (inner === "*") return { step: { kind: "any", descendant: false }, next: close + 1 };
  if (/^\d{1,9}$/.test(inner)) return { step: { kind: "index", index: Number(inner) }, next: close + 1 };
  const quoted = /^'([^'\\]*)'$|^"([^"\\]*)"$/.exec(inner);
  if (quoted) return { step: { kind: "member", name: quoted[1] ?? quoted[2] ?? "", descendant: false }, next: close + 1 };
  return `"[${inner}]" at position ${at + 1} is not supported (use [*], [N] or ['name']; filters and slices are not)`;
}

/** The step after a "." or ".." at `at`. */
function dotStep(path: string, at: number): { step: JsonPathStep; next: number } | string {
  const descendant = path[at + 1] === ".";
  const from = at + (descendant ? 2 : 1);
  if (path[from] === "*") return { step: { kind: "any", descendant }, next: from + 1 };
  if (descendant && path[from] === "[") {
    const result = bracket(path, from);
    if (typeof result === "string") return result;
    if (result.step.kind === "index") return "..[N] is not supported";
    return { step: { ...result.step, descendant: true }, next: result.next };
  }
  const name = NAME.exec(path.slice(from))?.[0];
  if (!name) return `a member name is missing at position ${from + 1}`;
  return { step: { kind: "member", name, descendant }, next: from + name.length };
}

export function parseJsonPath(path: string): ParsedJsonPath {
  if (!path.startsWith("$")) return { ok: false, message: `"${path}" must start with $` };
  const steps: JsonPathStep[] = [];
  let at = 1;
  while (at < path.length) {
    const result = path[at] === "[" ? bracket(path, at) : path[at] === "." ? dotStep(path, at) : `unexpected "${path[at] ?? ""}" at position ${at + 1}`;
    if (typeof result === "string") return { ok: false, message: `"${path}": ${result}` };
    steps.push(result.step);
    at = result.next;
  }
  if (steps.length === 0) return { ok: false, message: `"${path}" names the whole document; name the fields to mask` };
  return { ok: true, steps };
}

type Container = Record<string, unknown> | unknown[];
const isContainer = (value: unknown): value is Container => value !== null && typeof value === "object";

/** Every (container, key) the path selects in `root`, each once. */
export function selectJsonPath(root: unknown, steps: readonly JsonPathStep[]): Array<{ parent: Container; key: string | number }> {
  let current: Array<{ parent: Container; key: string | number } | { root: unknown }> = [{ root }];
  const valueOf = (ref: { parent: Container; key: string | number } | { root: unknown }): unknown =>
    "root" in ref ? ref.root : (ref.parent as Record<string | number, unknown>)[ref.key];
  for (const step of steps) {
    const next: Array<{ parent: Container; key: string | number }> = [];
    const children = (value: unknown, visit: (parent: Container, key: string | number) => void): void => {
      if (Array.isArray(value)) value.forEach((_, index) => visit(value, index));
      else if (isContainer(value)) for (const key of Object.keys(value)) visit(value, key);
    };
    const apply = (value: unknown): void => {
      if (step.kind === "index") {
        if (Array.isArray(value) && step.index < value.length) next.push({ parent: value, key: step.index });
      } else if (step.kind === "member") {
        if (isContainer(value) && !Array.isArray(value) && Object.hasOwn(value, step.name)) next.push({ parent: value, key: step.name });
      } else children(value, (parent, key) => next.push({ parent, key }));
    };
    const descend = (value: unknown): void => {
      apply(value);
      children(value, (parent, key) => descend((parent as Record<string | number, unknown>)[key]));
    };
    for (const ref of current) {
      const value = valueOf(ref);
      if (step.kind !== "index" && step.descendant) descend(value);
      else apply(value);
    }
    const seen = new Set<string>();
    current = next.filter((ref) => {
      const id = `${String(ref.key)}\u0000${String(objectId(ref.parent))}`;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }
  return current as Array<{ parent: Container; key: string | number }>;
}

const ids = new WeakMap<object, number>();
let nextId = 0;
function objectId(value: object): number {
  let id = ids.get(value);
  if (id === undefined) {
    id = (nextId += 1);
    ids.set(value, id);
  }
  return id;
}
