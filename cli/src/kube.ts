// The cluster connection: the kubeconfig from --kubeconfig, else $KUBECONFIG,
// else ~/.kube/config or the in-cluster service account (what kubectl does),
// and API errors turned into the API server's own one-line message.
import { KubeConfig } from "@kubernetes/client-node";
import { statusMessage } from "@portcullis/common/kube-status";
import { CliError, errorText } from "./errors.js";
import { oneLine } from "./format/text.js";

export function loadKubeConfig(path: string | undefined): KubeConfig {
  const config = new KubeConfig();
  try {
    if (path === undefined) config.loadFromDefault();
    else config.loadFromFile(path);
  } catch (error) {
    throw new CliError(`cannot load the kubeconfig ${path ?? "(from $KUBECONFIG or ~/.kube/config)"}: ${errorText(error)}`, { cause: error });
  }
  if (config.getCurrentCluster() === null) throw new CliError(`the kubeconfig ${path ?? "(from $KUBECONFIG or ~/.kube/config)"} names no current cluster`);
  return config;
}

/** The namespace of the kubeconfig's current context, as kubectl defaults to it. */
export function contextNamespace(config: KubeConfig): string {
  const context = config.getContextObject(config.getCurrentContext());
  return context?.namespace ?? "default";
}

/** What the API server said (its Status message, e.g. an admission webhook's refusal), or why it could not be reached. */
export function apiErrorMessage(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "number") {
    const message = statusMessage((error as { body?: unknown }).body, Number.POSITIVE_INFINITY);
    return oneLine(message ?? `the API server answered HTTP ${code}`);
  }
  const cause = (error as { cause?: unknown } | null)?.cause;
  const detail = cause instanceof Error ? `${errorText(error)} (${errorText(cause)})` : errorText(error);
  return `cannot reach the API server: ${detail}`;
}

/** The HTTP status of an API error; undefined when the API server was not reached. */
export function apiErrorStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}
