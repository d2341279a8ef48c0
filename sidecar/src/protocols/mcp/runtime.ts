// Everything one mcp Resource needs under one configuration revision: the
// shared HTTP runtime (pooled connections to the MCP server, the credential
// in spec.http.credentialHeader, the policies), the MCP exchange, and the
// Resource's tool ledger — which outlives revisions, so a tool accepted
// before a policy change is still compared with what it was.
import type { BrokeredResource, ConfigBundle } from "@portcullis/common/config/bundle";
import type { McpFacts } from "@portcullis/common/policy/cel";
import type { RuntimeServices } from "../../runtime/registry.js";
import { jsonRefusal } from "../http/responses.js";
import { backendNames, credentialFor, DEFAULT_MAX_BODY_BYTES, type HttpResourceRuntime, httpBackedRuntime } from "../http/runtime.js";
import { Conversations } from "./conversations.js";
import { type McpParts, mcpExchange } from "./mcp-exchange.js";
import { MCP_MATCHER } from "./mcp-match.js";
import { ToolLedger, type ToolPolicy } from "./tool-ledger.js";

/** Where Streamable HTTP servers usually answer; spec.mcp.path says otherwise. */
const DEFAULT_MCP_PATH = "/mcp";

function toolPolicy(spec: NonNullable<BrokeredResource["spec"]>): ToolPolicy {
  return {
    pins: new Map((spec.mcp?.toolPins ?? []).map((pin) => [pin.name, pin.fingerprint])),
    unpinned: spec.mcp?.unpinnedTools ?? "trustOnFirstUse",
  };
}

/** The state of each mcp Resource that outlives configuration revisions. */
export class McpResourceState {
  private readonly byResource = new Map<string, { tools: ToolLedger; conversations: Conversations }>();

  for(resource: string, spec: NonNullable<BrokeredResource["spec"]>): McpParts {
    const policy = toolPolicy(spec);
    let state = this.byResource.get(resource);
    if (!state) {
      state = { tools: new ToolLedger(policy), conversations: new Conversations() };
      this.byResource.set(resource, state);
    } else state.tools.update(policy);
    return { ...state, path: spec.mcp?.path ?? DEFAULT_MCP_PATH };
  }
}

export function mcpRuntime(state: McpResourceState) {
  return (bundle: ConfigBundle, resource: BrokeredResource, services: RuntimeServices): HttpResourceRuntime<McpFacts> | string =>
    httpBackedRuntime(bundle, resource, services, (spec) => ({
      protocol: "mcp",
      matcher: MCP_MATCHER,
      exchange: mcpExchange(state.for(resource.name, spec)),
      encodeRefusal: jsonRefusal,
      credential: credentialFor(resource),
      maxBodyBytes: spec.http?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
      maxBodySetting: "spec.http.maxBodyBytes",
      readsBody: true,
      hostNames: backendNames(spec),
    }));
}
