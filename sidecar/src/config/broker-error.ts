// A failed exchange with the broker: its HTTP status and message when it
// answered (the broker's JSON error body), or no status when it could not be
// reached or its answer could not be understood. Either way the gateway fails
// closed: no bundle, no approval.
export class BrokerError extends Error {
  constructor(
    /** The HTTP status the broker answered with; undefined when there was no usable answer. */
    readonly status: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = "BrokerError";
  }

  /** Worth retrying: no answer, or the broker's own failure (5xx). A 4xx refusal stays a refusal. */
  get transient(): boolean {
    return this.status === undefined || this.status >= 500;
  }
}
