// Everything one kubernetes Resource needs under one configuration revision:
// the shared HTTP runtime with the kubernetes dialect, the Resource's token
// presented as a bearer token, and the names the agent may reach the API
// server by — the in-cluster ones included, since in transparent mode the
// agent's client connects to kubernetes.default.svc or the service address.
// The agent always speaks TLS to the gateway, with a pod-CA certificate.
import type { BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { KubernetesFacts } from "@portcullis/common/policy/cel";
import type { RuntimeServices } from "../../runtime/registry.js";
import { backendNames, type ClientCertificate, type HttpResourceRuntime, httpBackedRuntime } from "../http/runtime.js";
import { dialectExchange } from "../http/exchange.js";
import { kubernetesDialect } from "./kubernetes-dialect.js";

/** The largest response the gateway reads whole to mask (a list of Secrets), and the largest watch event. */
export const KUBERNETES_MAX_BODY_BYTES = 64 * 1_048_576;
/** How in-cluster clients address the API server. */
export const IN_CLUSTER_NAMES = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
const LOOPBACK = ["127.0.0.1", "localhost"];

/** A bearer token in Authorization, or a client certificate in the TLS handshake; a string when neither can be presented. */
function credentialFor(resource: BrokeredResource): { header?: { name: string; value: string }; clientCertificate?: ClientCertificate } | string {
  const { credentials } = resource;
  if (!credentials) return "a kubernetes Resource needs spec.credentials: the Secret whose token or client certificate the gateway presents to the API server";
  if ("clientCertificate" in credentials) return { clientCertificate: { cert: credentials.clientCertificate, key: credentials.clientKey } };
  if (!("token" in credentials)) return "a kubernetes Resource's credentials are a bearer token (spec.credentials.tokenKey) or a client certificate (clientCertificateKey, clientKeyKey)";
  return { header: { name: "authorization", value: `Bearer ${credentials.token}` } };
}

/** The names an agent may reach the API server by: the Resource's and the in-cluster ones. */
export function apiServerNames(spec: NonNullable<BrokeredResource["spec"]>): string[] {
  return [...new Set([...backendNames(spec), ...IN_CLUSTER_NAMES])];
}

/** The names of the certificate the agent is shown: those, and loopback (explicit mode's kubeconfig points at 127.0.0.1). */
export function agentCertificateNames(spec: NonNullable<BrokeredResource["spec"]>): string[] {
  return [...new Set([...apiServerNames(spec), ...LOOPBACK])];
}

export function kubernetesRuntime(bundle: ConfigBundle, resource: BrokeredResource, services: RuntimeServices): HttpResourceRuntime<KubernetesFacts> | string {
  return httpBackedRuntime(bundle, resource, services, (spec) => {
    const credential = credentialFor(resource);
    const dialect = kubernetesDialect();
    return {
      protocol: "kubernetes",
      matcher: dialect.matcher,
      exchange: dialectExchange(dialect),
      encodeRefusal: dialect.encodeRefusal,
      credential: typeof credential === "string" ? credential : credential.header,
      ...(typeof credential !== "string" && credential.clientCertificate ? { clientCertificate: credential.clientCertificate } : {}),
      maxBodyBytes: KUBERNETES_MAX_BODY_BYTES,
      maxBodySetting: "the Kubernetes gateway's limit",
      readsBody: false,
      hostNames: apiServerNames(spec),
    };
  });
}
