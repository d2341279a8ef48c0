// What the gateway remembers of one MCP session between HTTP requests: the
// server's requests it passed to the agent (so only answers to those reach
// the server), and — on the older HTTP+SSE transport, where a POST is only
// acknowledged and its response arrives on the event stream — the agent's
// forwarded requests awaiting that response, the stream's endpoint, and a
// way to tell the agent of a refusal on that stream. Sessions are keyed by
// the agent's identity and the Mcp-Session-Id (or the SSE endpoint), so one
// agent cannot answer or read for another; all of it is bounded.
import type { SessionRecorder } from "../../evidence/session-recorder.js";
import { LruCache } from "@portcullis/common/lru";

/** A forwarded request whose response has not been seen yet. */
export interface PendingRequest {
  /** The seq of its request record, in `recorder`'s session. */
  seq: number;
  recorder: SessionRecorder;
  method: string;
  /** performance.now() when the request arrived. */
  started: number;
}

/** The most requests one session may have outstanding in each direction. */
export const MAX_PENDING = 1024;
const MAX_CONVERSATIONS = 10_000;

export class Conversation {
  /** Server requests (by id key) passed to the agent, awaiting its answer. */
  readonly serverRequests = new Set<string>();
  /** The agent's requests awaiting a response on the event stream (HTTP+SSE transport). */
  readonly clientRequests = new Map<string, PendingRequest>();
  /** HTTP+SSE transport: the path and query the agent posts to. */
  endpoint: string | undefined;
  /** HTTP+SSE transport: writes an event to the agent's open stream; false when it is gone. */
  sink: ((event: string) => boolean) | undefined;
}

export class Conversations {
  private readonly sessions = new LruCache<string, Conversation>(MAX_CONVERSATIONS);

  /** The conversation of an identity's MCP session (an Mcp-Session-Id, "" for a server without sessions, or an SSE endpoint). */
  get(identity: string, key: string): Conversation {
    const id = `${identity}\u0000${key}`;
    let conversation = this.sessions.get(id);
    if (!conversation) {
      conversation = new Conversation();
      this.sessions.set(id, conversation);
    }
    return conversation;
  }

  /** The HTTP+SSE conversation whose endpoint is this target, if any. */
  find(identity: string, key: string): Conversation | undefined {
    return this.sessions.get(`${identity}\u0000${key}`);
  }

  delete(identity: string, key: string): void {
    this.sessions.delete(`${identity}\u0000${key}`);
  }
}
