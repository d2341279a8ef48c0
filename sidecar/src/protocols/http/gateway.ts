// The http entry of the protocol registry: its runtime per Resource and its
// HTTP/1.1 listener.
import type { ProtocolGateway } from "../../runtime/registry.js";
import { HttpListener } from "./listener.js";
import { terminatesAgentTls } from "@portcullis/common/config/agent-tls";
import { type HttpResourceRuntime, httpRuntime } from "./runtime.js";

export const httpGateway: ProtocolGateway<HttpResourceRuntime> = {
  protocol: "http",
  runtime: httpRuntime,
  listener: (options) => new HttpListener(options),
  listenerKey: (resource) => (terminatesAgentTls(resource.spec) ? "agent-tls" : "plain"),
};
