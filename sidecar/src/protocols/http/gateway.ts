// The http entry of the protocol registry: its runtime per Resource and its
// HTTP/1.1 listener.
import type { ProtocolGateway } from "../../runtime/registry.js";
import { HttpListener } from "./listener.js";
import { jsonRefusal } from "./responses.js";
import { terminatesAgentTls } from "@portcullis/common/config/agent-tls";
import { backendNames, type HttpResourceRuntime, httpRuntime } from "./runtime.js";

export const httpGateway: ProtocolGateway<HttpResourceRuntime> = {
  protocol: "http",
  runtime: httpRuntime,
  listener: (options) =>
    new HttpListener({
      ...options,
      encodeRefusal: jsonRefusal,
      ...(terminatesAgentTls(options.resource.spec) ? { agentTls: { names: backendNames(options.resource.spec), certificates: options.certificates } } : {}),
    }),
  listenerKey: (resource) => (resource.spec && terminatesAgentTls(resource.spec) ? `agent-tls ${backendNames(resource.spec).join(",")}` : "plain"),
};
