// Standalone mode: the gateway's configuration from one local YAML file of the
// manifests `kubectl apply` takes — Resources and AccessPolicies, plus the v1
// Secrets and ConfigMaps they reference — built into a bundle by the same
// function the broker uses, so the file means what the cluster would make of it.
//
// There is no pod to select on, so every AccessPolicy in the file applies to
// this gateway (its subjects are not consulted), and every object belongs to
// the gateway's namespace. Anything the API server or the admission webhook
// would refuse is refused here, all problems at once, one per line, each
// naming the file, the document, the object and the field.
import { readFile } from "node:fs/promises";
import type { V1ConfigMap, V1Secret } from "@kubernetes/client-node";
import type { IAccessPolicy, IResource } from "@portcullis/crds";
import { bundleFor } from "@portcullis/common/config/bundle";
import type { FieldError } from "@portcullis/common/policy/validate";
import { LineCounter, parseAllDocuments } from "yaml";
import { admitAccessPolicy, admitResource, type Admission } from "./admission.js";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { ConfigError } from "./config-error.js";
import { configMapFromManifest, secretFromManifest } from "./core-objects.js";
import { isPlainObject } from "./crd-schema.js";
import { errorMessage } from "./error-message.js";
import type { StandaloneIdentity } from "./standalone-identity.js";

export { ConfigError } from "./config-error.js";
export { defaultStandaloneIdentity, type StandaloneIdentity } from "./standalone-identity.js";

const SUPPORTED_KINDS: Readonly<Record<string, string>> = {
  Resource: "portcullis.dev/v1alpha1",
  AccessPolicy: "portcullis.dev/v1alpha1",
  Secret: "v1",
  ConfigMap: "v1",
};
const SUPPORTED_LIST = "Resource and AccessPolicy (portcullis.dev/v1alpha1), Secret and ConfigMap (v1)";
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

interface Document {
  number: number;
  line: number;
  value: unknown;
}

interface Entry extends Document {
  kind: string;
  name: string;
  object: Record<string, unknown>;
}

/** Problems with the document they belong to, so they are reported in file order. */
class Problems {
  private readonly found: { document: number; text: string }[] = [];

  constructor(private readonly source: string) {}

  add(document: Pick<Document, "number" | "line">, text: string): void {
    this.found.push({ document: document.number, text: `${this.source}: document ${document.number} (line ${document.line}), ${text}` });
  }

  addFields(entry: Entry, errors: readonly FieldError[]): void {
    for (const error of errors) this.add(entry, `${entry.kind} "${entry.name}": ${error.field ? `${error.field}: ` : ""}${error.message}`);
  }

  get lines(): string[] {
    return [...this.found].sort((a, b) => a.document - b.document).map((problem) => problem.text);
  }
}

function parseDocuments(text: string, problems: Problems): Document[] {
  const lineCounter = new LineCounter();
  const documents: Document[] = [];
  parseAllDocuments(text, { lineCounter }).forEach((document, index) => {
    const start = document.contents?.range[0] ?? document.range[0];
    const position = { number: index + 1, line: lineCounter.linePos(start).line };
    if (document.errors.length) {
      // The parser's messages end with a code excerpt; the first line says what and where.
      for (const error of document.errors) problems.add(position, `invalid YAML: ${error.message.split(":\n")[0] ?? error.message}`);
      return;
    }
    const value = document.toJS() as unknown;
    // An empty document (a stray `---`) holds nothing, as for kubectl.
    if (value !== null && value !== undefined) documents.push({ ...position, value });
  });
  return documents;
}

const shown = (value: unknown): string => (value === undefined ? "none" : JSON.stringify(value));

function identify(document: Document, namespace: string, problems: Problems): Entry | undefined {
  const { value } = document;
  if (!isPlainObject(value)) return void problems.add(document, "is not a Kubernetes object: expected a mapping with apiVersion, kind and metadata.name");
  const { apiVersion, kind } = value;
  const metadata = isPlainObject(value.metadata) ? value.metadata : {};
  if (typeof kind !== "string" || typeof apiVersion !== "string" || SUPPORTED_KINDS[kind] !== apiVersion) {
    return void problems.add(document, `unsupported kind ${shown(kind)} (apiVersion ${shown(apiVersion)}): a manifests file holds ${SUPPORTED_LIST}`);
  }
  const name = metadata.name;
  if (typeof name !== "string" || !OBJECT_NAME.test(name)) {
    return void problems.add(document, `${kind} ${shown(name)}: metadata.name: must be a lower-case DNS subdomain name`);
  }
  const entry = { ...document, kind, name, object: value };
  if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
    const message = `the gateway runs in namespace "${namespace}" and every object in the file belongs to it; remove metadata.namespace or run the gateway in that namespace`;
    return void problems.addFields(entry, [{ field: "metadata.namespace", message: `${JSON.stringify(metadata.namespace)} is not "${namespace}": ${message}` }]);
  }
  return entry;
}

function withoutDuplicates(entries: readonly Entry[], problems: Problems): Entry[] {
  const first = new Map<string, Entry>();
  const unique: Entry[] = [];
  for (const entry of entries) {
    const key = `${entry.kind}/${entry.name}`;
    const earlier = first.get(key);
    if (earlier) {
      problems.addFields(entry, [{ field: "metadata.name", message: `duplicate: ${entry.kind} "${entry.name}" is already defined in document ${earlier.number}` }]);
      continue;
    }
    first.set(key, entry);
    unique.push(entry);
  }
  return unique;
}

/** Collects the objects of one kind that pass `admit`; the others' errors go to `problems`. */
function admitAll<T>(entries: readonly Entry[], kind: string, problems: Problems, admit: (entry: Entry, admitted: readonly T[]) => Admission<T>): T[] {
  const admitted: T[] = [];
  for (const entry of entries.filter((candidate) => candidate.kind === kind)) {
    const result = admit(entry, admitted);
    if (result.object) admitted.push(result.object);
    else problems.addFields(entry, result.errors);
  }
  return admitted;
}

const byName = <T extends { metadata?: { name?: string } }>(objects: readonly T[]): Map<string, T> =>
  new Map(objects.map((object) => [object.metadata?.name ?? "", object]));

/** The bundle a manifests file gives `identity`; throws ConfigError listing every problem. `source` names the file in messages. */
export function bundleFromManifests(text: string, source: string, identity: StandaloneIdentity): ConfigBundle {
  const problems = new Problems(source);
  const documents = parseDocuments(text, problems);
  const entries = withoutDuplicates(
    documents.flatMap((document) => identify(document, identity.namespace, problems) ?? []),
    problems,
  );
  const secrets = admitAll<V1Secret>(entries, "Secret", problems, (entry) => secretFromManifest(entry.object));
  const configMaps = admitAll<V1ConfigMap>(entries, "ConfigMap", problems, (entry) => configMapFromManifest(entry.object));
  const resources = admitAll<IResource>(entries, "Resource", problems, (entry, earlier) => admitResource(entry.object, earlier));
  const policies = admitAll<IAccessPolicy>(entries, "AccessPolicy", problems, (entry) => admitAccessPolicy(entry.object, resources));
  if (problems.lines.length) throw new ConfigError(problems.lines);
  if (policies.length === 0) throw new ConfigError([`${source}: holds no AccessPolicy, so the gateway would refuse everything; add the AccessPolicies that govern its Resources`]);
  return bundleFor(identity, policies, { namespace: identity.namespace, resources, secrets: byName(secrets), configMaps: byName(configMaps) });
}

/** Reads and builds the manifests file at `path`; an unreadable file is a ConfigError too. */
export async function loadManifestsFile(path: string, identity: StandaloneIdentity): Promise<ConfigBundle> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ConfigError([`${path}: cannot be read: ${errorMessage(error)}`]);
  }
  return bundleFromManifests(text, path, identity);
}

/**
 * What the bundle lacks: a missing Secret, key, ConfigMap or Resource. The
 * broker only marks those entries (the sidecar refuses their traffic);
 * standalone mode refuses to start with any, since the file is all there is.
 */
export function bundleProblems(bundle: ConfigBundle): string[] {
  return [...bundle.resources, ...bundle.policies].flatMap((entry) => (entry.error === undefined ? [] : [entry.error]));
}
