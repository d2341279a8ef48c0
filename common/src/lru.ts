// A small least-recently-used map. Admission checks cache their results in it,
// because the same expressions and patterns are validated again on every apply
// and compiling them is the expensive part; the bound keeps a stream of
// distinct inputs from growing the cache without limit.
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LRU capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    // One lookup for a miss: the gateway calls this for every statement, keyed by its whole text.
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    // A Map iterates in insertion order, so re-inserting marks the entry as the newest.
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }
}
