// The answer cache: canonical upstream answers keyed by question, bounded in entries
// and in bytes (an LRU, src/cache/lru.ts, with the bytes counted here), each living as
// long as its smallest TTL.
import { Answer, remainingTtl } from '../dns/answer';
import { Lru } from './lru';

export interface AnswerCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** Bytes an entry costs beyond its wire bytes: the object, typed arrays, key and LRU slots. */
const ENTRY_OVERHEAD = 200;

function sizeOf(a: Answer, key: string): number {
  return a.wire.length + a.ttlOffsets.length * 6 + key.length + ENTRY_OVERHEAD;
}

export class AnswerCache {
  private readonly lru: Lru<string, Answer>;
  private readonly maxBytes: number;
  private used = 0;

  constructor(opts: AnswerCacheOptions) {
    this.maxBytes = opts.maxBytes;
    this.lru = new Lru<string, Answer>(opts.maxEntries, (a, key) => { this.used -= sizeOf(a, key); });
  }

  /** The live answer for `key` at `now` (Date.now()), or undefined. Expired entries are dropped. */
  get(key: string, now: number): Answer | undefined {
    const a = this.lru.get(key);
    if (a === undefined) return undefined;
    if (remainingTtl(a, now) <= 0) {
      this.delete(key);
      return undefined;
    }
    return a;
  }

  /**
   * Stores an answer if it may be reused (lifetime > 0) and fits the byte budget at all;
   * the least recently used answers make room. Returns whether it was stored (one that
   * does not fit also drops what was cached under its key).
   */
  set(key: string, answer: Answer): boolean {
    if (answer.lifetime <= 0) return false;
    const size = sizeOf(answer, key);
    this.delete(key);
    if (size > this.maxBytes) return false;
    this.lru.set(key, answer); // may evict the oldest for the entry bound (onEvict counts it)
    this.used += size;
    while (this.used > this.maxBytes && this.lru.evictOldest());
    return true;
  }

  delete(key: string): void {
    const old = this.lru.peek(key);
    if (old === undefined) return;
    this.lru.delete(key);
    this.used -= sizeOf(old, key);
  }

  clear(): void {
    this.lru.clear();
    this.used = 0;
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.used;
  }
}
