// Who a session runs as, and so which policies govern it. By default the agent
// is the pod (its identity came from the projected token the broker checked,
// or from the standalone configuration) and the policies that select the pod
// apply. When a governing policy trusts an OIDC issuer, the gateway asks the
// client for a password: a JWT there is verified and the session runs as the
// token's subject under the policies whose oidc entry it satisfies; anything
// else falls back to the pod's identity and the pod's policies.
import type { BrokeredPolicy, ConfigBundle } from "@portcullis/common/config/bundle";
import type { IdentityFacts, ResourceFacts } from "@portcullis/common/policy/cel";
import { AuthenticationError } from "../identity/authentication-error.js";
import { JwtAuthenticator } from "../identity/jwt-authenticator.js";
import { compileMasking, type Masker } from "../masking/index.js";
import { compilePolicies, type PolicySet } from "../policy/engine.js";
import { SQLSTATE } from "../protocols/postgres/backend.js";
import { StartupRefusal } from "../protocols/postgres/listener.js";

export interface SessionRules {
  identity: IdentityFacts;
  policyNames: string[];
  policies: PolicySet;
  masker: Masker;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const selectsPods = (policy: BrokeredPolicy): boolean => Boolean(policy.spec.subjects.podSelector) || Boolean(policy.spec.subjects.serviceAccounts?.length);

export function podIdentity(bundle: ConfigBundle): IdentityFacts {
  const { username, groups, serviceAccount, namespace, podName } = bundle.identity;
  return { username, groups: [...groups], serviceAccount, namespace, pod: podName, claims: {} };
}

export class SessionRulesResolver {
  readonly wantsPassword: boolean;
  private readonly compiled = new Map<string, { policies: PolicySet; masker: Masker }>();
  private readonly jwt: JwtAuthenticator;

  /** Throws MaskingConfigError when the governing policies' masking rules are unusable. */
  constructor(
    private readonly bundle: ConfigBundle,
    private readonly governing: readonly BrokeredPolicy[],
    private readonly resource: ResourceFacts,
  ) {
    this.jwt = JwtAuthenticator.fromPolicies(governing, { namespace: bundle.identity.namespace });
    this.wantsPassword = this.jwt.enabled;
    // Compiled now so that broken masking rules refuse the Resource at once, not per session.
    this.compile(governing);
  }

  /** The masking of all governing policies: what the runtime reports as active. */
  get masker(): Masker {
    return this.compile(this.governing).masker;
  }

  async resolve(password: string | undefined): Promise<SessionRules> {
    if (!this.wantsPassword) return this.rules(podIdentity(this.bundle), this.governing);
    if (password !== undefined && JWT_SHAPE.test(password)) {
      let verified;
      try {
        verified = await this.jwt.authenticate(password);
      } catch (error) {
        if (error instanceof AuthenticationError) throw new StartupRefusal(SQLSTATE.invalidAuthorization, `portcullis: the token was not accepted: ${error.message}`);
        throw error;
      }
      // The token says who; the session still comes from this pod, under which its evidence is filed.
      const identity = { ...verified.identity, pod: this.bundle.identity.podName };
      return this.rules(identity, this.governing.filter((policy) => verified.policies.includes(policy.name)));
    }
    const forPods = this.governing.filter(selectsPods);
    if (!forPods.length) throw new StartupRefusal(SQLSTATE.invalidPassword, `portcullis: Resource "${this.resource.name}" is open only to agents presenting a JWT from a trusted issuer as their password`);
    return this.rules(podIdentity(this.bundle), forPods);
  }

  private rules(identity: IdentityFacts, policies: readonly BrokeredPolicy[]): SessionRules {
    const compiled = this.compile(policies);
    return { identity, policyNames: policies.map((policy) => policy.name), ...compiled };
  }

  private compile(policies: readonly BrokeredPolicy[]): { policies: PolicySet; masker: Masker } {
    const key = JSON.stringify(policies.map((policy) => policy.name));
    let compiled = this.compiled.get(key);
    if (!compiled) {
      compiled = { policies: compilePolicies(policies, this.resource), masker: compileMasking(policies, this.resource.name) };
      this.compiled.set(key, compiled);
    }
    return compiled;
  }
}
