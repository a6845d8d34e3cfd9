// A bounded map that evicts the least recently used entry: the answer cache, and the
// recursor's record cache and server table, which one client query probes a few dozen
// times on the cold path.
//
// Why not lru-cache: its get() takes an options object
// (allocated per call when not given) and checks a diagnostics channel. In a loop of
// cache-shaped work (bench/micro/lru.js) it took 50-134 ns per operation where this took
// 33-53 ns, and in a CPU profile of the recursor's cold rounds its get was 4-5% of the
// time. This does only what those callers need: get (marks the entry used), peek, set,
// delete, clear, evicting the oldest on demand (the answer cache's byte bound), and a hook
// called for each entry evicted.
//
// Entries live in slots: parallel arrays of key, value and the previous/next slot in
// recency order (typed arrays, grown by doubling up to the bound), with a Map from key to
// slot. Freed slots are reused.

const NONE = 0xffffffff;

export class Lru<K, V> {
  private readonly slots = new Map<K, number>();
  private readonly keys: (K | undefined)[] = [];
  private readonly values: (V | undefined)[] = [];
  private prev: Uint32Array;
  private next: Uint32Array;
  /** Least recently used slot, most recently used slot. */
  private head = NONE;
  private tail = NONE;
  /** Slots ever used (the arrays' filled length); freed ones are listed in `free`. */
  private used = 0;
  private readonly free: number[] = [];

  /**
   * @param max entries held at most (at least 1)
   * @param onEvict called with each entry the bound pushes out (not for delete or clear)
   */
  constructor(readonly max: number, private readonly onEvict?: (value: V, key: K) => void) {
    if (!(max >= 1)) throw new RangeError(`an LRU must hold at least one entry (max ${max})`);
    const initial = Math.min(max, 64);
    // Assigned twice on purpose: V8 treats a field written only once as a constant and
    // compiles code that depends on that; the first grow() would then throw all of that
    // code away in the middle of a burst of work. Written twice here, the fields are
    // known to change from the start.
    this.prev = this.next = new Uint32Array(0);
    this.prev = new Uint32Array(initial);
    this.next = new Uint32Array(initial);
  }

  get size(): number {
    return this.slots.size;
  }

  /** The value for `key`, marking it most recently used. */
  get(key: K): V | undefined {
    const i = this.slots.get(key);
    if (i === undefined) return undefined;
    this.toTail(i);
    return this.values[i];
  }

  /** The value for `key`, leaving the recency order as it is. */
  peek(key: K): V | undefined {
    const i = this.slots.get(key);
    return i === undefined ? undefined : this.values[i];
  }

  set(key: K, value: V): void {
    let i = this.slots.get(key);
    if (i !== undefined) {
      this.values[i] = value;
      this.toTail(i);
      return;
    }
    if (this.slots.size >= this.max) {
      // Full: the least recently used entry's slot is taken over.
      i = this.head;
      const oldKey = this.keys[i] as K;
      const oldValue = this.values[i] as V;
      this.unlink(i);
      this.slots.delete(oldKey);
      this.onEvict?.(oldValue, oldKey);
    } else if (this.free.length > 0) {
      i = this.free.pop() as number;
    } else {
      i = this.used++;
      if (i >= this.prev.length) this.grow();
    }
    this.keys[i] = key;
    this.values[i] = value;
    this.slots.set(key, i);
    this.link(i);
  }

  /** Removes `key`; whether it was there. */
  delete(key: K): boolean {
    const i = this.slots.get(key);
    if (i === undefined) return false;
    this.slots.delete(key);
    this.unlink(i);
    this.keys[i] = undefined;
    this.values[i] = undefined;
    this.free.push(i);
    return true;
  }

  /** Evicts the least recently used entry (onEvict is called); whether there was one. */
  evictOldest(): boolean {
    const i = this.head;
    if (i === NONE) return false;
    const key = this.keys[i] as K;
    const value = this.values[i] as V;
    this.delete(key);
    this.onEvict?.(value, key);
    return true;
  }

  /** Removes everything (onEvict is not called). */
  clear(): void {
    // Emptied in place, not replaced: see the constructor about fields that change.
    this.slots.clear();
    this.keys.length = 0;
    this.values.length = 0;
    this.free.length = 0;
    this.used = 0;
    this.head = this.tail = NONE;
  }

  /** Keys from least to most recently used (for tests and diagnostics). */
  *keysByAge(): IterableIterator<K> {
    for (let i = this.head; i !== NONE; i = this.next[i]) yield this.keys[i] as K;
  }

  private grow(): void {
    const size = Math.min(this.max, this.prev.length * 2);
    const prev = new Uint32Array(size);
    const next = new Uint32Array(size);
    prev.set(this.prev);
    next.set(this.next);
    this.prev = prev;
    this.next = next;
  }

  /** Appends slot i at the most recently used end. */
  private link(i: number): void {
    this.prev[i] = this.tail;
    this.next[i] = NONE;
    if (this.tail === NONE) this.head = i; else this.next[this.tail] = i;
    this.tail = i;
  }

  private unlink(i: number): void {
    const p = this.prev[i];
    const n = this.next[i];
    if (p === NONE) this.head = n; else this.next[p] = n;
    if (n === NONE) this.tail = p; else this.prev[n] = p;
  }

  private toTail(i: number): void {
    if (i === this.tail) return;
    this.unlink(i);
    this.link(i);
  }
}
