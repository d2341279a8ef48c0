// The message of anything thrown, for one-line reports. Checks the shape rather
// than `instanceof Error`, because errors from another realm (a vm context, a
// worker) are Errors without being instances of this realm's Error.
export function errorMessage(error: unknown): string {
  const message = typeof error === "object" && error !== null ? (error as { message?: unknown }).message : undefined;
  return typeof message === "string" ? message : String(error);
}
