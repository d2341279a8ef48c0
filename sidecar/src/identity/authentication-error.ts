// The one error a client's token can fail with. Its message goes back to the
// client (a PostgreSQL ErrorResponse), so it says what failed in words an
// operator can act on, and it never contains the token itself: a leaked
// log line or screenshot must not be a usable credential.
export class AuthenticationError extends Error {
  override readonly name = "AuthenticationError";
}

const QUOTED_LIMIT = 200;

/**
 * A value from a token or a policy, quoted for a message. JSON quoting keeps
 * control characters from reaching a terminal; the length cap keeps a hostile
 * claim from filling the client's screen.
 */
export function quote(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  const shortened = text.length > QUOTED_LIMIT ? `${text.slice(0, QUOTED_LIMIT)}…` : text;
  return JSON.stringify(shortened);
}

/** The message of something thrown, for a sentence that explains a failure. */
export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
