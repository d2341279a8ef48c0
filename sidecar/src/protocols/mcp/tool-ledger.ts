// What the gateway accepted of an MCP server's tools. A tool's definition —
// name, title, description, input and output schema, annotations: what the
// agent's model reads to decide what to call — is fingerprinted each time a
// list shows it. The accepted fingerprint is the Resource's pin, or (for an
// unpinned tool under trustOnFirstUse) the first one this gateway saw. A
// tool whose current definition differs is "changed": hidden from lists and
// refused when called, until its new fingerprint is pinned. A tool never seen
// in a list cannot be checked, so it cannot be called.
import { sha256Digest } from "@portcullis/common/digest";
import { canonicalJson } from "@portcullis/common/canonical-json";

export interface ToolPolicy {
  /** Accepted fingerprints by tool name (spec.mcp.toolPins). */
  pins: ReadonlyMap<string, string>;
  unpinned: "trustOnFirstUse" | "refuse";
}

export type ToolStanding =
  | { ok: true; fingerprint: string }
  | { ok: false; fingerprint?: string; accepted?: string; reason: string };

const DEFINITION_FIELDS = ["name", "title", "description", "inputSchema", "outputSchema", "annotations"] as const;

/** sha256 of the canonical JSON of the fields that define what a tool is and does. */
export function toolFingerprint(tool: Record<string, unknown>): string {
  const definition: Record<string, unknown> = {};
  for (const field of DEFINITION_FIELDS) if (tool[field] !== undefined) definition[field] = tool[field];
  return sha256Digest(canonicalJson(definition));
}

/** The most tools one Resource's ledger remembers; a server listing more has the excess refused. */
const MAX_TOOLS = 4096;

export class ToolLedger {
  /** First fingerprint seen per unpinned tool (trust on first use). */
  private readonly firstSeen = new Map<string, string>();
  /** The latest fingerprint a list showed per tool. */
  private readonly current = new Map<string, string>();

  constructor(private policy: ToolPolicy) {}

  /** A new configuration revision's pins and setting. */
  update(policy: ToolPolicy): void {
    this.policy = policy;
  }

  /** Notes a listed tool's definition and says whether it stands. */
  observe(name: string, fingerprint: string): ToolStanding {
    if (!this.current.has(name) && this.current.size >= MAX_TOOLS) {
      return { ok: false, fingerprint, reason: `the gateway already tracks ${MAX_TOOLS} tools of this Resource` };
    }
    this.current.set(name, fingerprint);
    if (!this.policy.pins.has(name) && this.policy.unpinned === "trustOnFirstUse" && !this.firstSeen.has(name)) this.firstSeen.set(name, fingerprint);
    return this.standing(name);
  }

  /** Whether a call of the tool may be decided at all: its current definition is the accepted one. */
  standing(name: string): ToolStanding {
    const fingerprint = this.current.get(name);
    if (fingerprint === undefined) {
      return { ok: false, reason: `the gateway has not seen tool "${name}" in a tools/list response, so it cannot check what the tool is; list the tools first` };
    }
    const accepted = this.policy.pins.get(name) ?? (this.policy.unpinned === "trustOnFirstUse" ? this.firstSeen.get(name) : undefined);
    if (accepted === undefined) {
      return { ok: false, fingerprint, reason: `tool "${name}" is not pinned in the Resource's spec.mcp.toolPins and unpinned tools are refused; pin ${fingerprint} to accept it` };
    }
    if (accepted !== fingerprint) {
      return {
        ok: false,
        fingerprint,
        accepted,
        reason: `tool "${name}" changed its definition (accepted ${accepted}, now ${fingerprint}); it stays refused until a reviewer pins ${fingerprint} in the Resource's spec.mcp.toolPins`,
      };
    }
    return { ok: true, fingerprint };
  }
}
