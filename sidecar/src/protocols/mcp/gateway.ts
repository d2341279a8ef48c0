// The mcp entry of the protocol registry: its runtime per Resource (with the
// state that outlives revisions) and the http protocol's listener.
import type { McpFacts } from "@portcullis/common/policy/cel";
import type { ProtocolGateway } from "../../runtime/registry.js";
import { httpListener, httpListenerKey } from "../http/gateway.js";
import type { HttpResourceRuntime } from "../http/runtime.js";
import { McpResourceState, mcpRuntime } from "./runtime.js";

export function mcpGateway(): ProtocolGateway<HttpResourceRuntime<McpFacts>> {
  return { protocol: "mcp", runtime: mcpRuntime(new McpResourceState()), listener: httpListener, listenerKey: httpListenerKey };
}
