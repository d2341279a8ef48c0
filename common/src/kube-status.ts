// The message of an API server error body: a Status object's message, or plain
// text from something in between (a proxy).

/** The body as JSON (client-node gives it as text or parsed); undefined when it is text that is not JSON. */
function jsonBody(body: unknown): { value: unknown } | undefined {
  if (typeof body !== "string") return { value: body };
  try {
    return { value: JSON.parse(body) as unknown };
  } catch {
    return undefined;
  }
}

/** The message of the Status object the API server answered with (e.g. an admission webhook's refusal), if the body is one. */
export function statusObjectMessage(body: unknown): string | undefined {
  const message = (jsonBody(body)?.value as { message?: unknown } | null | undefined)?.message;
  return typeof message === "string" ? message : undefined;
}

/** Like statusObjectMessage, but a body that is plain text (e.g. from a proxy) is the message, cut at maxLength. */
export function statusMessage(body: unknown, maxLength = 500): string | undefined {
  if (typeof body === "string" && jsonBody(body) === undefined) return body.trim() ? body.slice(0, maxLength) : undefined;
  return statusObjectMessage(body);
}
