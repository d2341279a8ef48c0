import { LruCache } from "./lru.js";

describe("LruCache", () => {
  it("evicts the least recently used entry beyond its capacity", () => {
    const cache = new LruCache<string, number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("a")).toBe(1); // "b" is now the oldest
    cache.set("c", 3);
    expect([cache.get("a"), cache.get("b"), cache.get("c"), cache.size]).toEqual([1, undefined, 3, 2]);
  });

  it("replaces a value without growing", () => {
    const cache = new LruCache<string, number>(2);
    cache.set("a", 1);
    cache.set("a", 2);
    expect([cache.get("a"), cache.size]).toEqual([2, 1]);
  });

  it("keeps what a list kept in recency order would keep, over 20,000 random operations", () => {
    const capacity = 7;
    const cache = new LruCache<number, number>(capacity);
    // The model: keys from least to most recently used.
    let model: Array<[number, number]> = [];
    let seed = 7;
    const random = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    for (let i = 0; i < 20_000; i++) {
      const key = random(12);
      const operation = random(3);
      const known = model.find(([k]) => k === key);
      if (operation === 0) {
        expect(cache.get(key)).toBe(known?.[1]);
        if (known) model = [...model.filter(([k]) => k !== key), known];
      } else if (operation === 1) {
        cache.set(key, i);
        model = [...model.filter(([k]) => k !== key), [key, i]];
        if (model.length > capacity) model = model.slice(1);
      } else {
        cache.delete(key);
        model = model.filter(([k]) => k !== key);
      }
      expect(cache.size).toBe(model.length);
    }
  });

  it("refuses a capacity below one", () => {
    expect(() => new LruCache(0)).toThrow(RangeError);
  });
});
