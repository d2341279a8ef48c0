// Why a client was not given an identity, in words every protocol encodes its
// own way (a PostgreSQL ErrorResponse with a SQLSTATE, an HTTP 401).

export type IdentityRefusalReason =
  /** A token was presented and not accepted (bad signature, expired, wrong audience, untrusted issuer). */
  | "token-rejected"
  /** The Resource is open only to agents presenting a token, and none was presented. */
  | "token-required";

export class IdentityRefusal extends Error {
  override readonly name = "IdentityRefusal";
  constructor(
    readonly reason: IdentityRefusalReason,
    message: string,
  ) {
    super(message);
  }
}
