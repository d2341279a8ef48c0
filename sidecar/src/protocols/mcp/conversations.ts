// What the gateway remembers of one MCP session between HTTP requests: the
// agent's forwarded requests awaiting responses (which may arrive on another
// request's stream: the HTTP+SSE transport answers every POST on its event
// stream, and a resumed Streamable HTTP stream replays answers), and the
// server's requests it passed to the agent (so only answers to those reach
// the server). Sessions are keyed by the agent's identity and the session id
// the server issued, or the endpoint an HTTP+SSE stream announced (owned by
// the identity whose stream announced it); ids the agent makes up get no
// state. All of it is bounded.
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
  /** The agent's requests (by id key) forwarded and awaiting a response. */
  readonly clientRequests = new Map<string, PendingRequest>();
  /** HTTP+SSE transport: the canonical target the agent posts to. */
  endpoint: string | undefined;
  /** HTTP+SSE transport: writes an event to the agent's open stream; false when it is gone. */
  sink: ((event: string) => boolean) | undefined;
}

export class Conversations {
  private readonly sessions = new LruCache<string, Conversation>(MAX_CONVERSATIONS);
  private readonly endpoints = new LruCache<string, { owner: string; conversation: Conversation }>(MAX_CONVERSATIONS);

  /** An identity's session the server issued `id` for, if the gateway saw it issued or accepted. */
  session(identity: string, id: string): Conversation | undefined {
    return this.sessions.get(`${identity}\u0000${id}`);
  }

  /** The session the server issued (or accepted) `id` for. */
  open(identity: string, id: string): Conversation {
    const key = `${identity}\u0000${id}`;
    let conversation = this.sessions.get(key);
    if (!conversation) {
      conversation = new Conversation();
      this.sessions.set(key, conversation);
    }
    return conversation;
  }

  close(identity: string, id: string): void {
    this.sessions.delete(`${identity}\u0000${id}`);
  }

  /** The HTTP+SSE session whose endpoint is this canonical target, and whose stream announced it. */
  endpoint(target: string): { owner: string; conversation: Conversation } | undefined {
    return this.endpoints.get(target);
  }

  /** An HTTP+SSE stream announced `target`; undefined when another identity's stream already owns it. */
  announce(identity: string, target: string): Conversation | undefined {
    const existing = this.endpoints.get(target);
    if (existing) return existing.owner === identity ? existing.conversation : undefined;
    const conversation = new Conversation();
    conversation.endpoint = target;
    this.endpoints.set(target, { owner: identity, conversation });
    return conversation;
  }

  closeEndpoint(target: string): void {
    this.endpoints.delete(target);
  }
}
