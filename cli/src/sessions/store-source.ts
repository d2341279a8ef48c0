// Where `portcullis sessions` finds the store's settings: the ConfigMap (and
// its credentials Secret) in the cluster, exactly as the uploader gets them,
// or a local YAML file with the same keys and the credentials inline, for
// auditors who have the bucket but no cluster access. Where verification asks
// for it, the same source gives the key the manifests must be signed with: the
// public half of the credentials Secret's signingKey (the key the operator
// hands the gateways), or a publicKey in the store file.
import { readFile } from "node:fs/promises";
import { CoreV1Api } from "@kubernetes/client-node";
import { RECORDING_CREDENTIALS_KEY } from "@portcullis/common/config/bundle";
import { parse } from "yaml";
import { UsageError, CliError, errorText } from "../errors.js";
import { apiErrorMessage, contextNamespace, loadKubeConfig } from "../kube.js";
import { ed25519PublicKey, type TrustedKey } from "./manifest.js";
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
                              plus accessKeyId and secretAccessKey for s3, and publicKey (the
                              signing key's public half, PEM) for verify
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

export interface LoadedStore {
  settings: StoreSettings;
  /** The key the store's manifests are signed with, when asked for and the source holds it. */
  signer?: TrustedKey;
}

/** The public key a store file names: publicKey, or the public half of signingKey; both must then be the same key. */
function signerFrom(credentials: Readonly<Record<string, string>>, origin: string): TrustedKey | undefined {
  const { publicKey, signingKey } = credentials;
  const named = publicKey ? { key: ed25519PublicKey(publicKey, `${origin}'s publicKey`), origin: `${origin}'s publicKey` } : undefined;
  const derived = signingKey ? { key: ed25519PublicKey(signingKey, `${origin}'s signingKey`), origin: `${origin}'s signingKey` } : undefined;
  if (named && derived && !named.key.equals(derived.key)) throw new CliError(`${origin}: publicKey is not the public half of signingKey; name one key`);
  return named ?? derived;
}

async function storeFromFile(file: string): Promise<LoadedStore> {
  let document: unknown;
  try {
    document = parse(await readFile(file, "utf8"));
  } catch (error) {
    throw new CliError(`cannot read the store file ${file}: ${errorText(error)}`, { cause: error });
  }
  const isConfigMap = (document as { kind?: unknown } | null)?.kind === "ConfigMap";
  const data = asStringMap(isConfigMap ? (document as { data?: unknown }).data : document, file);
  const signer = signerFrom(data, file);
  return { settings: parseStoreSettings(data, data, file), ...(signer ? { signer } : {}) };
}

function decodeSecret(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64").toString("utf8")]));
}

async function storeFromConfigMap(name: string, namespaceFlag: string | undefined, kubeconfig: string | undefined, wantSigner: boolean): Promise<LoadedStore> {
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
  // Reading a filesystem store needs no credentials, so its Secret is read only for the signing key.
  if ((data.type !== "s3" && !wantSigner) || !secretName) return { settings: parseStoreSettings(data, {}, origin) };
  const secretOrigin = `Secret ${namespace}/${secretName}`;
  let credentials: Record<string, string>;
  try {
    credentials = decodeSecret((await core.readNamespacedSecret({ name: secretName, namespace })).data);
  } catch (error) {
    throw new CliError(`cannot read ${secretOrigin} (the ${origin}'s ${RECORDING_CREDENTIALS_KEY}): ${apiErrorMessage(error)}`, { cause: error });
  }
  const settings = parseStoreSettings(data, data.type === "s3" ? credentials : {}, origin);
  // Only the key the gateways sign with: another entry in the Secret is not what they use.
  const signer = wantSigner && credentials.signingKey ? signerFrom({ signingKey: credentials.signingKey }, secretOrigin) : undefined;
  return { settings, ...(signer ? { signer } : {}) };
}

/** The store's settings and, when `wantSigner`, the key its manifests must be signed with, where the source holds it. */
export function loadStore(values: StoreSourceValues, usage: string, wantSigner = false): Promise<LoadedStore> {
  const configMap = values["store-configmap"];
  const file = values["store-file"];
  if ((configMap === undefined) === (file === undefined)) throw new UsageError("name the store with either --store-configmap NAME or --store-file FILE", usage);
  if (file !== undefined) {
    if (values["store-namespace"] !== undefined) throw new UsageError("--store-namespace goes with --store-configmap, not --store-file", usage);
    return storeFromFile(file);
  }
  return storeFromConfigMap(configMap ?? "", values["store-namespace"] ?? values.namespace, values.kubeconfig, wantSigner);
}
