// Connecting to the API server: which kubeconfig to use, typed API clients,
// a plain JSON GET for paths the generated clients do not model (any
// resource's list, including custom resources), and recognising the HTTP
// status an API call failed with.
import { existsSync } from "node:fs";
import { statusMessage } from "@portcullis/common/kube-status";
import {
  ApiException,
  AdmissionregistrationV1Api,
  AuthenticationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  KubeConfig,
  RequestContext,
} from "@kubernetes/client-node";

/** Where a pod's service-account token is mounted; its presence means we run in a cluster. */
const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/**
 * The kubeconfig from `path` when given, else the pod's service account when
 * running in a cluster, else the default chain ($KUBECONFIG, ~/.kube/config).
 */
export function loadKubeConfig(path?: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  let source: string;
  if (path) {
    kubeConfig.loadFromFile(path);
    source = path;
  } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(IN_CLUSTER_TOKEN)) {
    kubeConfig.loadFromCluster();
    source = "the in-cluster service account";
  } else {
    kubeConfig.loadFromDefault();
    source = "the default kubeconfig ($KUBECONFIG or ~/.kube/config)";
  }
  if (!kubeConfig.getCurrentCluster()) throw new Error(`no current cluster in ${source}: set current-context or pass a kubeconfig path`);
  return kubeConfig;
}

/** The typed clients the operator uses, made once per kubeconfig. */
export interface KubeClients {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  customObjects: CustomObjectsApi;
  admission: AdmissionregistrationV1Api;
  authentication: AuthenticationV1Api;
}

export function makeKubeClients(kubeConfig: KubeConfig): KubeClients {
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    customObjects: kubeConfig.makeApiClient(CustomObjectsApi),
    admission: kubeConfig.makeApiClient(AdmissionregistrationV1Api),
    authentication: kubeConfig.makeApiClient(AuthenticationV1Api),
  };
}

/**
 * The HTTP status of a failed call: ApiException.code, the `statusCode` that
 * client-node's Watch attaches, or the `code` of a Status object (a watch
 * ERROR event's object).
 */
export function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  if (typeof error !== "object" || error === null) return undefined;
  const { statusCode: httpStatus, code } = error as { statusCode?: unknown; code?: unknown };
  if (typeof httpStatus === "number") return httpStatus;
  if (typeof code === "number") return code;
  return undefined;
}

/** Whether the error is an API answer with one of these HTTP statuses (e.g. 404, 409, 410). */
export function isStatus(error: unknown, ...codes: number[]): boolean {
  const code = statusCode(error);
  return code !== undefined && codes.includes(code);
}

/**
 * One line for a log: ApiException's own message repeats the headers and
 * body, so it is reduced to the status and the API server's message; a
 * network failure names its cause (e.g. ECONNREFUSED).
 */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const message = statusMessage(error.body);
    return message ? `HTTP ${error.code}: ${message}` : `HTTP ${error.code}`;
  }
  if (error instanceof Error) {
    const cause = error.cause instanceof Error ? `: ${(error.cause as NodeJS.ErrnoException).code ?? error.cause.message}` : "";
    return `${error.message}${cause}`;
  }
  return String(error);
}

export type QueryParams = Record<string, string | number | boolean | undefined>;

/**
 * GET `path` (e.g. /apis/portcullis.dev/v1alpha1/accesspolicies) with the
 * kubeconfig's credentials and parse the JSON answer; a non-2xx answer throws
 * an ApiException, as the generated clients do, so isStatus works on both.
 */
export async function getJson<T>(kubeConfig: KubeConfig, path: string, query: QueryParams = {}, signal?: AbortSignal): Promise<T> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error(`no current cluster in the kubeconfig: cannot GET ${path}`);
  const url = new URL(cluster.server + path);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, String(value));
  const request = new RequestContext(url.toString(), HttpMethod.GET);
  request.setHeaderParam("Accept", "application/json");
  await kubeConfig.applySecurityAuthentication(request);
  if (signal) request.setSignal(signal);
  const response = await new IsomorphicFetchHttpLibrary().send(request).toPromise();
  const text = await response.body.text();
  if (response.httpStatusCode < 200 || response.httpStatusCode > 299) {
    throw new ApiException<string>(response.httpStatusCode, `GET ${path} failed`, text, response.headers);
  }
  return JSON.parse(text) as T;
}
