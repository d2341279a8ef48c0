// Which Resources make the gateway speak TLS to the agent: transparent http
// Resources whose backend uses TLS. The agent's client connects to the real
// https:// address, so the sidecar must answer with a certificate for that
// name (from the pod's CA), and the app containers must trust that CA. The
// injector and the sidecar decide it with this one rule.
import type { IResource } from "@portcullis/crds";

export function terminatesAgentTls(spec: IResource["spec"] | undefined): boolean {
  return spec?.protocol === "http" && spec.transparent === true && (spec.endpoint.tls?.mode ?? "verify-full") !== "disable";
}
