// The answer cache: canonical upstream answers keyed by question, bounded in entries
// and in bytes (lru-cache), each living as long as its smallest TTL.
import { LRUCache } from 'lru-cache';
import { Answer, remainingTtl } from '../dns/answer';

export interface AnswerCacheOptions {
  readonly maxEntries: number;
  readonly maxBytes: number;
}

/** Bytes an entry costs beyond its wire bytes: the object, typed arrays, key and LRU slots. */
const ENTRY_OVERHEAD = 200;

export class AnswerCache {
  private readonly lru: LRUCache<string, Answer>;

  constructor(opts: AnswerCacheOptions) {
    this.lru = new LRUCache<string, Answer>({
      max: opts.maxEntries,
      maxSize: opts.maxBytes,
      sizeCalculation: (a, key) => a.wire.length + a.ttlOffsets.length * 6 + key.length + ENTRY_OVERHEAD,
    });
  }

  /** The live answer for `key` at `now` (Date.now()), or undefined. Expired entries are dropped. */
  get(key: string, now: number): Answer | undefined {
    const a = this.lru.get(key);
    if (a === undefined) return undefined;
    if (remainingTtl(a, now) <= 0) {
      this.lru.delete(key);
      return undefined;
    }
    return a;
  }

  /** Stores an answer if it may be reused (lifetime > 0). Returns whether it was stored. */
  set(key: string, answer: Answer): boolean {
    if (answer.lifetime <= 0) return false;
    this.lru.set(key, answer);
    return this.lru.has(key); // too big for maxBytes: lru-cache refuses it
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  get bytes(): number {
    return this.lru.calculatedSize;
  }
}
