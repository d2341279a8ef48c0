// The kubernetes entry of the protocol registry: its runtime per Resource and
// the HTTP listener, which always speaks TLS to the agent and refuses with
// Status objects.
import type { KubernetesFacts } from "@portcullis/common/policy/cel";
import type { ProtocolGateway } from "../../runtime/registry.js";
import { HttpListener } from "../http/listener.js";
import type { HttpResourceRuntime } from "../http/runtime.js";
import { agentCertificateNames, kubernetesRuntime } from "./runtime.js";
import { statusRefusal } from "./status.js";

export const kubernetesGateway: ProtocolGateway<HttpResourceRuntime<KubernetesFacts>> = {
  protocol: "kubernetes",
  runtime: kubernetesRuntime,
  listener: (options) =>
    new HttpListener({ ...options, encodeRefusal: statusRefusal, agentTls: { names: agentCertificateNames(options.resource.spec), certificates: options.certificates } }),
  listenerKey: (resource) => (resource.spec ? `agent-tls ${agentCertificateNames(resource.spec).join(",")}` : ""),
};
