// Who a session runs as, and so which policies govern it, for every protocol.
// By default the agent is the pod (its identity came from the projected token
// the broker checked, or from the standalone configuration) and the policies
// that select the pod apply. When a governing policy trusts an OIDC issuer,
// the protocol asks the client for a token (a PostgreSQL password, an HTTP
// bearer token): a JWT is verified and the session runs as the token's subject
// under the policies whose oidc entry it satisfies; anything else falls back
// to the pod's identity and the pod's policies.
import type { BrokeredPolicy, ConfigBundle } from "@portcullis/common/config/bundle";
import type { IdentityFacts, ResourceFacts } from "@portcullis/common/policy/cel";
import { AuthenticationError } from "../identity/authentication-error.js";
import { JwtAuthenticator } from "../identity/jwt-authenticator.js";
import { compileMasking, type Masker } from "../masking/index.js";
import { compilePolicies, type PolicySet } from "../policy/engine.js";
import type { ProtocolMatcher } from "../policy/protocol-matcher.js";
import { IdentityRefusal } from "./identity-refusal.js";

export interface SessionRules<F> {
  identity: IdentityFacts;
  policyNames: string[];
  policies: PolicySet<F>;
  masker: Masker;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const selectsPods = (policy: BrokeredPolicy): boolean => Boolean(policy.spec.subjects.podSelector) || Boolean(policy.spec.subjects.serviceAccounts?.length);

export function podIdentity(bundle: ConfigBundle): IdentityFacts {
  const { username, groups, serviceAccount, namespace, podName } = bundle.identity;
  return { username, groups: [...groups], serviceAccount, namespace, pod: podName, claims: {} };
}

export class SessionRulesResolver<F> {
  /** A governing policy trusts an OIDC issuer: the protocol asks the client for a token. */
  readonly wantsToken: boolean;
  private readonly compiled = new Map<string, { policies: PolicySet<F>; masker: Masker }>();
  private readonly jwt: JwtAuthenticator;

  /** Throws MaskingConfigError when the governing policies' masking rules are unusable. */
  constructor(
    private readonly bundle: ConfigBundle,
    private readonly governing: readonly BrokeredPolicy[],
    private readonly resource: ResourceFacts,
    private readonly matcher: ProtocolMatcher<F>,
  ) {
    this.jwt = JwtAuthenticator.fromPolicies(governing, { namespace: bundle.identity.namespace });
    this.wantsToken = this.jwt.enabled;
    // Compiled now so that broken masking rules refuse the Resource at once, not per session.
    this.compile(governing);
  }

  /** The masking of all governing policies: what the runtime reports as active. */
  get masker(): Masker {
    return this.compile(this.governing).masker;
  }

  /** Throws IdentityRefusal when the token is not accepted, or when none is given and only tokens may connect. */
  async resolve(token: string | undefined): Promise<SessionRules<F>> {
    if (!this.wantsToken) return this.rules(podIdentity(this.bundle), this.governing);
    if (token !== undefined && JWT_SHAPE.test(token)) {
      let verified;
      try {
        verified = await this.jwt.authenticate(token);
      } catch (error) {
        if (error instanceof AuthenticationError) throw new IdentityRefusal("token-rejected", `portcullis: the token was not accepted: ${error.message}`);
        throw error;
      }
      // The token says who; the session still comes from this pod, under which its evidence is filed.
      const identity = { ...verified.identity, pod: this.bundle.identity.podName };
      return this.rules(identity, this.governing.filter((policy) => verified.policies.includes(policy.name)));
    }
    const forPods = this.governing.filter(selectsPods);
    if (!forPods.length) throw new IdentityRefusal("token-required", `portcullis: Resource "${this.resource.name}" is open only to agents presenting a JWT from a trusted issuer`);
    return this.rules(podIdentity(this.bundle), forPods);
  }

  private rules(identity: IdentityFacts, policies: readonly BrokeredPolicy[]): SessionRules<F> {
    const compiled = this.compile(policies);
    return { identity, policyNames: policies.map((policy) => policy.name), ...compiled };
  }

  private compile(policies: readonly BrokeredPolicy[]): { policies: PolicySet<F>; masker: Masker } {
    const key = JSON.stringify(policies.map((policy) => policy.name));
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = { policies: compilePolicies(policies, this.resource, this.matcher), masker: compileMasking(policies, this.resource.name) };
      this.compiled.set(key, compiled);
    }
    return compiled;
  }
}
