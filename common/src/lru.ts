// A small least-recently-used map. Admission checks cache their results in it,
// because the same expressions and patterns are validated again on every apply
// and compiling them is the expensive part, and the gateway caches each
// statement text's classification; the bound keeps a stream of distinct inputs
// from growing the cache without limit. Recency is a doubly linked list beside
// the Map, so a hit only moves pointers: re-inserting into the Map instead
// leaves a deleted entry behind each time, and lookups in a full Map of
// thousands then walk past them (a hit took 17 µs instead of well under 1).
interface Entry<K, V> {
  key: K;
  value: V;
  /** Towards the oldest. */
  older: Entry<K, V> | undefined;
  /** Towards the newest. */
  newer: Entry<K, V> | undefined;
}

export class LruCache<K, V> {
  private readonly entries = new Map<K, Entry<K, V>>();
  private newest: Entry<K, V> | undefined;
  private oldest: Entry<K, V> | undefined;

  constructor(private readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`LRU capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry !== this.newest) {
      this.unlink(entry);
      this.pushNewest(entry);
    }
    return entry.value;
  }

  set(key: K, value: V): void {
    const known = this.entries.get(key);
    if (known !== undefined) {
      known.value = value;
      this.get(key);
      return;
    }
    const entry: Entry<K, V> = { key, value, older: undefined, newer: undefined };
    this.entries.set(key, entry);
    this.pushNewest(entry);
    if (this.entries.size > this.capacity && this.oldest !== undefined) this.delete(this.oldest.key);
  }

  delete(key: K): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    this.unlink(entry);
  }

  private unlink(entry: Entry<K, V>): void {
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }

  private pushNewest(entry: Entry<K, V>): void {
    entry.older = this.newest;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    this.oldest ??= entry;
  }
}
