// The http entry of the protocol registry: its runtime per Resource and its
// HTTP/1.1 listener — which mcp Resources share, since MCP is carried the
// same way.
import type { BrokeredResource } from "@portcullis/common/config/bundle";
import type { ListenerOptions, ProtocolGateway } from "../../runtime/registry.js";
import { HttpListener } from "./listener.js";
import { jsonRefusal } from "./responses.js";
import { terminatesAgentTls } from "@portcullis/common/config/agent-tls";
import { backendNames, type HttpResourceRuntime, httpRuntime } from "./runtime.js";

/** Plain HTTP, or TLS with a pod-CA certificate for the backend's names when the Resource is transparent HTTPS. */
export function httpListener<F>(options: ListenerOptions<HttpResourceRuntime<F>>): HttpListener<F> {
  return new HttpListener({
    ...options,
    encodeRefusal: jsonRefusal,
    ...(terminatesAgentTls(options.resource.spec) ? { agentTls: { names: backendNames(options.resource.spec), certificates: options.certificates } } : {}),
  });
}

export function httpListenerKey(resource: BrokeredResource): string {
  return resource.spec && terminatesAgentTls(resource.spec) ? `agent-tls ${backendNames(resource.spec).join(",")}` : "plain";
}

export const httpGateway: ProtocolGateway<HttpResourceRuntime> = {
  protocol: "http",
  runtime: httpRuntime,
  listener: httpListener,
  listenerKey: httpListenerKey,
};
