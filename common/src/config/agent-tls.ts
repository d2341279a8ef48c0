// Which Resources make the gateway speak TLS to the agent: transparent http
// and mcp Resources whose backend uses TLS (the agent's client connects to the real
// https:// address, so the sidecar must answer with a certificate for that
// name from the pod's CA), and every kubernetes Resource (kubectl and client
// libraries reach an API server over TLS only). The app containers must then
// trust the pod's CA. The injector and the sidecar decide it with these rules.
import type { IResource } from "@portcullis/crds";

export function terminatesAgentTls(spec: IResource["spec"] | undefined): boolean {
  return (spec?.protocol === "http" || spec?.protocol === "mcp") && spec.transparent === true && (spec.endpoint.tls?.mode ?? "verify-full") !== "disable";
}

/** A transparent kubernetes Resource: in-cluster clients reach the gateway, so the app containers' service-account mount is the gateway's. */
export function governsInClusterApi(spec: IResource["spec"] | undefined): boolean {
  return spec?.protocol === "kubernetes" && spec.transparent === true;
}

/** Whether the pod's app containers need the trust directory: the pod's CA (and, for kubernetes, the kubeconfig) the gateway writes. */
export function needsPodTrust(spec: IResource["spec"] | undefined): boolean {
  return terminatesAgentTls(spec) || spec?.protocol === "kubernetes";
}
