// How many bytes of bodies the gateway holds in memory at once, across every
// session of the pod: request bodies read to decide on them or held for a
// reviewer, and responses read whole to mask them. Each one is capped on its
// own (maxBodyBytes); without a cap on them together, a few agents' large
// lists or held uploads would push the sidecar past its memory limit, and
// the kill would end every session of the pod. A request that would pass the
// budget is refused (503, recorded) instead; it can be retried.
export class BufferBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Takes `bytes`; false (nothing taken) when the budget cannot hold them. */
  take(bytes: number): boolean {
    if (this.used + bytes > this.limit) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used = Math.max(0, this.used - bytes);
  }

  get inUse(): number {
    return this.used;
  }
}

/** The bytes one request holds, given back together when it is done. */
export class BufferLease {
  private held = 0;

  constructor(private readonly budget: BufferBudget) {}

  take(bytes: number): boolean {
    if (!this.budget.take(bytes)) return false;
    this.held += bytes;
    return true;
  }

  /** Holds exactly `bytes` from now on (what a stream keeps of an event as it grows and is sent on); false when the budget cannot hold that many. */
  resize(bytes: number): boolean {
    if (bytes > this.held) return this.take(bytes - this.held);
    this.budget.give(this.held - bytes);
    this.held = bytes;
    return true;
  }

  release(): void {
    this.budget.give(this.held);
    this.held = 0;
  }
}
