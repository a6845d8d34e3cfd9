// The recursor's LRU (src/cache/lru.ts), checked step by step against a reference model: an
// array of [key, value] in recency order, the least recently used first.
import { Lru } from '../../src/cache/lru';

class Model {
  items: [number, string][] = [];
  evicted: [number, string][] = [];
  constructor(readonly max: number) {}
  get(k: number, touch: boolean): string | undefined {
    const i = this.items.findIndex((x) => x[0] === k);
    if (i < 0) return undefined;
    const item = this.items[i];
    if (touch) { this.items.splice(i, 1); this.items.push(item); }
    return item[1];
  }
  set(k: number, v: string): void {
    const i = this.items.findIndex((x) => x[0] === k);
    if (i >= 0) this.items.splice(i, 1);
    else if (this.items.length >= this.max) this.evicted.push(this.items.shift() as [number, string]);
    this.items.push([k, v]);
  }
  delete(k: number): boolean {
    const i = this.items.findIndex((x) => x[0] === k);
    if (i >= 0) this.items.splice(i, 1);
    return i >= 0;
  }
}

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 0x100000000;
  };
}

describe('Lru', () => {
  test('evicts the least recently used; get marks used, peek does not', () => {
    const evicted: string[] = [];
    const l = new Lru<string, number>(3, (v, k) => evicted.push(`${k}=${v}`));
    l.set('a', 1); l.set('b', 2); l.set('c', 3);
    expect(l.get('a')).toBe(1); // a is now the most recent
    expect(l.peek('b')).toBe(2); // b stays the least recent
    l.set('d', 4);
    expect(evicted).toEqual(['b=2']);
    expect([...l.keysByAge()]).toEqual(['c', 'a', 'd']);
    l.set('c', 30); // overwrite: no eviction, c becomes the most recent
    expect(evicted).toEqual(['b=2']);
    expect([...l.keysByAge()]).toEqual(['a', 'd', 'c']);
    expect(l.delete('d')).toBe(true);
    expect(l.delete('d')).toBe(false);
    expect(l.size).toBe(2);
    l.clear();
    expect(l.size).toBe(0);
    expect(l.get('a')).toBeUndefined();
    expect(evicted).toEqual(['b=2']); // delete and clear are not evictions
  });

  test('a bound below 1 is refused', () => {
    expect(() => new Lru(0)).toThrow(RangeError);
  });

  test.each([1, 2, 7, 64, 65, 300])('random operations with max %i agree with the reference model at every step', (max) => {
    const next = rng(max * 7919);
    const evicted: [number, string][] = [];
    const l = new Lru<number, string>(max, (v, k) => evicted.push([k, v]));
    const m = new Model(max);
    const keys = max * 3 + 5;
    // Compared by hand at every step (expect() per step would be most of the time), reported with the step.
    const same = (step: number, what: string, a: unknown, b: unknown): void => {
      if (a !== b) throw new Error(`step ${step}, ${what}: Lru gave ${String(a)}, the model ${String(b)}`);
    };
    for (let step = 0; step < 20000; step++) {
      const k = Math.floor(next() * keys);
      const op = next();
      if (op < 0.4) {
        const v = `v${step}`;
        l.set(k, v); m.set(k, v);
      } else if (op < 0.7) {
        same(step, `get(${k})`, l.get(k), m.get(k, true));
      } else if (op < 0.85) {
        same(step, `peek(${k})`, l.peek(k), m.get(k, false));
      } else if (op < 0.98) {
        same(step, `delete(${k})`, l.delete(k), m.delete(k));
      } else if (op < 0.995) {
        const had = m.items.length > 0;
        if (had) m.evicted.push(m.items.shift() as [number, string]);
        same(step, 'evictOldest()', l.evictOldest(), had);
      } else {
        l.clear(); m.items = [];
      }
      same(step, 'size', l.size, m.items.length);
      if (step % 97 === 0) same(step, 'order', [...l.keysByAge()].join(), m.items.map((x) => x[0]).join());
    }
    expect(evicted).toEqual(m.evicted);
    expect([...l.keysByAge()]).toEqual(m.items.map((x) => x[0]));
  });
});
