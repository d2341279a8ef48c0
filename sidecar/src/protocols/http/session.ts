// An HTTP session: the requests one identity sends over one client
// connection. It starts with the connection's first request (the identity is
// known only then: the pod's, or a bearer JWT's subject) and ends when the
// connection closes; its evidence is one hash-chained record stream like a
// PostgreSQL session's.
import type net from "node:net";
import type { IdentityFacts } from "@portcullis/common/policy/cel";
import { ApprovalFlow } from "../../approvals/approval-flow.js";
import type { SessionRecorder } from "../../evidence/session-recorder.js";
import type { SessionRules } from "../../runtime/session-rules.js";
import type { HttpResourceRuntime } from "./runtime.js";

export interface HttpSession<F> {
  readonly id: string;
  readonly identity: IdentityFacts;
  readonly rules: SessionRules<F>;
  readonly recorder: SessionRecorder;
  readonly approvals: ApprovalFlow;
}

/** Starts a session's evidence; rejects (IdentityRefusal, SpoolFullError, a write error) when it cannot be admitted. */
export async function startHttpSession<F>(runtime: HttpResourceRuntime<F>, token: string | undefined, socket: net.Socket): Promise<HttpSession<F>> {
  const rules = await runtime.rules.resolve(token);
  const { bundle, services, resource } = runtime;
  const recorder = await services.spool.startSession({
    data: {
      identity: rules.identity,
      resource: { name: resource.name, namespace: bundle.identity.namespace, protocol: resource.protocol },
      client: { address: socket.remoteAddress ?? "", ...(socket.remotePort !== undefined ? { port: socket.remotePort } : {}) },
      policies: rules.policyNames,
    },
  });
  await recorder.started;
  const approvals = new ApprovalFlow({
    service: services.approvals,
    grants: services.grants,
    recorder,
    resource: resource.name,
    policies: bundle.policies,
    identity: bundle.identity,
    sessionUser: rules.identity.username,
    sessionId: recorder.session,
  });
  return { id: recorder.session, identity: rules.identity, rules, recorder, approvals };
}
