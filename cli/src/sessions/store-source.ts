// Where `portcullis sessions` finds the store's settings: the ConfigMap (and
// its credentials Secret) in the cluster, exactly as the uploader gets them,
// or a local YAML file with the same keys and the credentials inline, for
// auditors who have the bucket but no cluster access.
import { readFile } from "node:fs/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { RECORDING_CREDENTIALS_KEY } from "@portcullis/common/config/bundle";
import { parse } from "yaml";
import { UsageError, CliError, errorText } from "../errors.js";
import { apiErrorMessage, contextNamespace, loadKubeConfig } from "../kube.js";
import { parseStoreSettings, type StoreSettings } from "./store-settings.js";

export const STORE_OPTIONS = {
  "store-configmap": { type: "string" },
  "store-file": { type: "string" },
  "store-namespace": { type: "string" },
  kubeconfig: { type: "string" },
} as const;

export const STORE_OPTIONS_USAGE = `The store (one of):
      --store-configmap NAME  the evidence-store ConfigMap (an AccessPolicy's spec.recording.storeRef),
                              read with its credentialsSecret from the cluster
      --store-namespace NS    the ConfigMap's namespace (default: -n/--namespace's, then the kubeconfig context's)
      --kubeconfig FILE       the kubeconfig (default: $KUBECONFIG, then ~/.kube/config)
      --store-file FILE       a YAML file with the ConfigMap's data keys (or the ConfigMap itself),
                              plus accessKeyId and secretAccessKey for s3
`;

export interface StoreSourceValues {
  "store-configmap"?: string;
  "store-file"?: string;
  "store-namespace"?: string;
  /** The agents' namespace (-n): where the ConfigMap is looked for unless --store-namespace says otherwise. */
  namespace?: string;
  kubeconfig?: string;
}

function asStringMap(value: unknown, origin: string): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new CliError(`${origin}: expected a map of store settings`);
  const map: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    // YAML reads `pathStyle: true` as a boolean; the ConfigMap would hold the string.
    if (typeof item === "string" || typeof item === "boolean" || typeof item === "number") map[key] = String(item);
    else throw new CliError(`${origin}: ${key} must be a string`);
  }
  return map;
}

async function settingsFromFile(file: string): Promise<StoreSettings> {
  let document: unknown;
  try {
    document = parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read the store file ${file}: ${errorText(error)}`, { cause: error });
  }
  const isConfigMap = (document as { kind?: unknown } | null)?.kind === "ConfigMap";
  const data = asStringMap(isConfigMap ? (document as { data?: unknown }).data : document, file);
  return parseStoreSettings(data, data, file);
}

function decodeSecret(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]));
}

async function settingsFromConfigMap(name: string, namespaceFlag: string | undefined, kubeconfig: string | undefined): Promise<StoreSettings> {
  const config = loadKubeConfig(kubeconfig);
  const namespace = namespaceFlag ?? contextNamespace(config);
  const core = config.makeApiClient(CoreV1Api);
  const origin = `ConfigMap ${namespace}/${name}`;
  let data: Record<string, string>;
  try {
    data = (await core.readNamespacedConfigMap({ name, namespace })).data ?? {};
  } catch (error) {
    throw new CliError(`cannot read ${origin}: ${apiErrorMessage(error)}`, { cause: error });
  }
  const secretName = data[RECORDING_CREDENTIALS_KEY];
  // Reading a filesystem store needs no credentials (the signing key is for writing), so its Secret is left alone.
  if (data.type !== "s3" || !secretName) return parseStoreSettings(data, {}, origin);
  let credentials: Record<string, string>;
  try {
    credentials = decodeSecret((await core.readNamespacedSecret({ name: secretName, namespace })).data);
  } catch (error) {
    throw new CliError(`cannot read Secret ${namespace}/${secretName} (the ${origin}'s ${RECORDING_CREDENTIALS_KEY}): ${apiErrorMessage(error)}`, { cause: error });
  }
  return parseStoreSettings(data, credentials, origin);
}

export function loadStoreSettings(values: StoreSourceValues, usage: string): Promise<StoreSettings> {
  const configMap = values["store-configmap"];
  const file = values["store-file"];
  if ((configMap === undefined) === (file === undefined)) throw new UsageError("name the store with either --store-configmap NAME or --store-file FILE", usage);
  if (file !== undefined) {
    if (values["store-namespace"] !== undefined) throw new UsageError("--store-namespace goes with --store-configmap, not --store-file", usage);
    return settingsFromFile(file);
  }
  return settingsFromConfigMap(configMap ?? "", values["store-namespace"] ?? values.namespace, values.kubeconfig);
}
