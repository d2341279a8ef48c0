// Who a verified token says the agent is, in the shape policy `when`
// expressions read (identity.*). The user name carries the issuer so that the
// same `sub` from two issuers is never the same agent.
import type { JWTPayload } from "jose";
import type { IdentityFacts } from "@portcullis/common/policy/cel";
import { AuthenticationError } from "./authentication-error.js";

const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every((element) => typeof element === "string");

/**
 * username `oidc:<iss>#<sub>`; groups from a `groups` claim when it is an
 * array of strings (anything else gives none rather than a guess); claims =
 * the whole verified payload; namespace = the pod's, as the bundle says; no
 * service account or pod, since a token names neither.
 */
export function identityFromToken(payload: JWTPayload, namespace: string): IdentityFacts {
  const { iss, sub } = payload;
  if (typeof iss !== "string" || iss === "") throw new AuthenticationError("the token has no issuer (iss claim)");
  if (typeof sub !== "string" || sub === "") throw new AuthenticationError("the token has no subject (sub claim), so it names no agent");
  const groups: unknown = payload["groups"];
  return {
    username: `oidc:${iss}#${sub}`,
    groups: isStringArray(groups) ? [...groups] : [],
    serviceAccount: "",
    namespace,
    pod: "",
    claims: { ...payload },
  };
}
