// The recursor's record cache.
//
// One structure for RRsets -- answers, NS sets and glue alike -- keyed by owner and type,
// and a separate infrastructure cache (servers.ts) keyed by server address. Delegations
// are not a third structure: a delegation *is* an NS RRset plus the address RRsets of its
// names, and keeping them in the RRset cache lets better data replace worse by credibility
// (an authoritative NS set from the child replaces the parent's referral copy; an
// authoritative A record replaces glue), which two copies of the same RRset could not do
// without keeping them in step. What is per server rather than per name (RTT, lameness,
// EDNS support) has a different key and lifetime, hence the separate infrastructure cache.
//
// Negative answers (RFC 2308) live here too: NODATA under the same key as the RRset it
// denies, NXDOMAIN under the name alone, and an NXDOMAIN also answers for every name below
// it (RFC 8020). Entries expire by TTL; an LRU bounds the names held.
//
// Keyed by name first, then type: a lookup is one map probe with the name string (whose
// hash the engine keeps with the string), not a fresh "type/name" key string built, hashed
// and dropped per probe; resolving one name probes the cache a few dozen times.
//
// Serve-stale (RFC 8767): an expired entry is kept (the LRU still bounds the count) and,
// for `maxStaleMs` after its expiry, the *Stale getters still return it, marked stale and
// with the stale TTL; the ordinary getters never do. Past that window it is dropped.
import { Lru } from '../cache/lru';
import type { TtlPolicy } from '../dns/answer';
import { Type } from '../dns/constants';
import { Rr, ipText, isServerAddress, isSubdomain, parentName, rdataName, soaMinimum } from './wire';

/** Credibility of data (RFC 2181 §5.4.1), higher is better. */
export const enum Rank {
  /** Additional section of any response. */
  Additional = 1,
  /** Authority section of a referral (NS), and glue. */
  Glue = 2,
  /** Answer section of a non-authoritative response. */
  NonAuthAnswer = 3,
  /** Authority section of an authoritative response (SOA of a negative answer, NS). */
  AuthAuthority = 4,
  /** Answer section of an authoritative response. */
  AuthAnswer = 5,
}

/**
 * One cache entry: an RRset (records set, soa null) or a negative answer (records null).
 * One shape for both, so the code reading entries sees one hidden class.
 */
interface Entry {
  readonly kind: 'rrset' | 'nodata' | 'nxdomain';
  readonly records: readonly Rr[] | null;
  readonly soa: Rr | null;
  readonly rank: Rank;
  readonly ttl: number;
  readonly expiresAt: number;
  /** Text derived from the records once and kept with them: NS target names, or addresses. */
  memo: string[] | null;
}

type RrsetEntry = Entry & { readonly kind: 'rrset'; readonly records: readonly Rr[] };
type NegativeEntry = Entry & { readonly kind: 'nodata' | 'nxdomain' };

function entry(kind: Entry['kind'], records: readonly Rr[] | null, soa: Rr | null, rank: Rank, ttl: number, expiresAt: number): Entry {
  return { kind, records, soa, rank, ttl, expiresAt, memo: null };
}

/** A record of the one shape the cache stores and hands out. */
export function makeRr(name: string, type: number, klass: number, ttl: number, rdata: Buffer): Rr {
  return { name, type, klass, ttl, rdata };
}


export interface NegativeHit {
  readonly kind: 'nodata' | 'nxdomain';
  /** The SOA with its remaining TTL, when one was given. */
  readonly soa: Rr | null;
  /** The name the NXDOMAIN was cached for (an ancestor of the name asked, RFC 8020). */
  readonly name: string;
}

/** What the stale-tolerant getters return: fresh data, or expired data within the stale window. */
export interface MaybeStale<T> {
  readonly value: T;
  /** Expired: every TTL in `value` is the stale TTL. */
  readonly stale: boolean;
  /** When the entry was stored (ms): of two stale entries that disagree, the later is believed. */
  readonly storedAt: number;
}

/** The life of a fresh entry: its TTL when stored (s) and what is left of it (ms). */
export interface EntryLife {
  readonly ttl: number;
  readonly leftMs: number;
}

const NX = -1;

/** What is cached for one name: entries by type (NX for an NXDOMAIN), a handful at most. */
class NameNode {
  readonly types: number[] = [];
  readonly entries: Entry[] = [];

  get(type: number): Entry | undefined {
    const t = this.types;
    for (let i = 0; i < t.length; i++) if (t[i] === type) return this.entries[i];
    return undefined;
  }

  /** Stores `e` for `type`; whether it is a new entry (not a replacement). */
  set(type: number, e: Entry): boolean {
    const t = this.types;
    for (let i = 0; i < t.length; i++) {
      if (t[i] === type) { this.entries[i] = e; return false; }
    }
    t.push(type);
    this.entries.push(e);
    return true;
  }

  /** Removes the entry for `type`; whether there was one. */
  delete(type: number): boolean {
    const i = this.types.indexOf(type);
    if (i < 0) return false;
    this.types.splice(i, 1);
    this.entries.splice(i, 1);
    return true;
  }
}

export class RecordCache {
  private readonly names: Lru<string, NameNode>;
  private entryCount = 0;

  /**
   * @param maxStaleMs how long after expiry an entry may still be returned by the *Stale
   *   getters (RFC 8767's maximum stale timer); 0 (the default): never.
   */
  constructor(private readonly policy: TtlPolicy, maxNames = 100_000, private readonly maxStaleMs = 0) {
    this.names = new Lru<string, NameNode>(maxNames, (node) => { this.entryCount -= node.types.length; });
  }

  /** Entries held: RRsets and negative answers. */
  get size(): number {
    return this.entryCount;
  }

  private get(name: string, type: number): Entry | undefined {
    return this.names.get(name)?.get(type);
  }

  private set(name: string, type: number, e: Entry): void {
    let node = this.names.get(name);
    if (!node) this.names.set(name, (node = new NameNode()));
    if (node.set(type, e)) this.entryCount++;
  }

  private delete(name: string, type: number): void {
    const node = this.names.get(name);
    if (!node || !node.delete(type)) return;
    this.entryCount--;
    if (node.types.length === 0) this.names.delete(name);
  }

  /**
   * Stores an RRset (records of one owner and type) unless a better-ranked, unexpired one
   * is cached. Its TTL is the smallest of its records', capped by the policy. Returns
   * whether it was stored.
   */
  putRrset(records: readonly Rr[], rank: Rank, now: number): boolean {
    if (records.length === 0) return false;
    const { name, type } = records[0];
    let ttl = this.policy.maxTtl;
    for (const r of records) if (r.ttl < ttl) ttl = r.ttl;
    if (ttl <= 0) return false;
    const old = this.get(name, type);
    if (old && old.expiresAt > now && old.rank > rank) return false;
    // An RRset is a set: duplicates are dropped, the order of first appearance kept.
    const kept: Rr[] = [];
    if (records.length <= 16) {
      for (const r of records) {
        let dup = false;
        for (const k of kept) if (k.rdata.equals(r.rdata)) { dup = true; break; }
        if (!dup) kept.push(makeRr(r.name, r.type, r.klass, ttl, r.rdata));
      }
    } else {
      const seen = new Set<string>(); // a large set: no quadratic comparing
      for (const r of records) {
        const k = r.rdata.toString('latin1');
        if (!seen.has(k)) { seen.add(k); kept.push(makeRr(r.name, r.type, r.klass, ttl, r.rdata)); }
      }
    }
    this.set(name, type, entry('rrset', kept, null, rank, ttl, now + ttl * 1000));
    return true;
  }

  /** The RRset with TTLs counted down, if cached with at least `minRank` and unexpired. */
  getRrset(name: string, type: number, now: number, minRank: Rank = Rank.Additional): Rr[] | undefined {
    const e = this.peekEntry(name, type, now, minRank);
    if (!e) return undefined;
    const left = Math.ceil((e.expiresAt - now) / 1000);
    const out: Rr[] = [];
    for (const r of e.records) out.push(makeRr(r.name, r.type, r.klass, r.ttl < left ? r.ttl : left, r.rdata));
    return out;
  }

  /**
   * The cached RRset itself, if unexpired with at least `minRank`: for reading names and
   * addresses out of it, not for answers (its TTLs are as stored, not counted down).
   */
  peekRrset(name: string, type: number, now: number, minRank: Rank = Rank.Additional): readonly Rr[] | undefined {
    return this.peekEntry(name, type, now, minRank)?.records;
  }

  /**
   * The target names of the cached NS RRset of `zone`, if unexpired: decoded once per
   * cached RRset (every resolution below the zone reads them).
   */
  nsNames(zone: string, now: number): readonly string[] | undefined {
    const e = this.peekEntry(zone, Type.NS, now, Rank.Additional);
    if (!e) return undefined;
    if (e.memo === null) {
      const names: string[] = [];
      for (const r of e.records) {
        const n = rdataName(r.rdata);
        if (n !== null) names.push(n);
      }
      e.memo = names;
    }
    return e.memo;
  }

  /**
   * The addresses (text) of the cached, unexpired A or AAAA RRset of `name` that may be a
   * server (isServerAddress): formatted once per cached RRset. For NS names, not answers.
   */
  addresses(name: string, type: typeof Type.A | typeof Type.AAAA, now: number): readonly string[] | undefined {
    const e = this.peekEntry(name, type, now, Rank.Additional);
    if (!e) return undefined;
    if (e.memo === null) {
      const size = type === Type.A ? 4 : 16;
      const out: string[] = [];
      for (const r of e.records) if (r.rdata.length === size && isServerAddress(r.rdata)) out.push(ipText(r.rdata));
      e.memo = out;
    }
    return e.memo;
  }

  private peekEntry(name: string, type: number, now: number, minRank: Rank): RrsetEntry | undefined {
    const e = this.get(name, type);
    if (!e || e.kind !== 'rrset' || e.expiresAt <= now || e.rank < minRank) return undefined;
    return e as RrsetEntry;
  }

  /**
   * The RRset if fresh (TTLs counted down, capped at `staleTtl`), or else if expired less
   * than the stale window ago (every TTL `staleTtl`), with at least `minRank`.
   */
  getRrsetStale(name: string, type: number, now: number, staleTtl: number, minRank: Rank = Rank.Additional): MaybeStale<Rr[]> | undefined {
    const e = this.live(name, type, now);
    if (!e || e.kind !== 'rrset' || e.rank < minRank) return undefined;
    const stale = e.expiresAt <= now;
    const ttl = stale ? staleTtl : Math.min(staleTtl, Math.ceil((e.expiresAt - now) / 1000));
    return { value: (e as RrsetEntry).records.map((r) => makeRr(r.name, r.type, r.klass, stale ? ttl : Math.min(r.ttl, ttl), r.rdata)), stale, storedAt: storedAt(e) };
  }

  /**
   * Like getNegative, but an entry expired less than the stale window ago also counts,
   * its SOA TTL then `staleTtl` (a fresh one's is capped at `staleTtl`). Fresh beats stale.
   */
  getNegativeStale(name: string, type: number, now: number, staleTtl: number): MaybeStale<NegativeHit> | undefined {
    let stale: MaybeStale<NegativeHit> | undefined;
    const consider = (e: Entry | undefined, n: string, kind: 'nodata' | 'nxdomain'): MaybeStale<NegativeHit> | undefined => {
      if (!e || e.kind !== kind) return undefined;
      const isStale = e.expiresAt <= now;
      const ttl = isStale ? staleTtl : Math.min(staleTtl, Math.ceil((e.expiresAt - now) / 1000));
      const soa = e.soa ? makeRr(e.soa.name, e.soa.type, e.soa.klass, isStale ? ttl : Math.min(e.soa.ttl, ttl), e.soa.rdata) : null;
      const hit = { value: { kind, soa, name: n }, stale: isStale, storedAt: storedAt(e) };
      if (!isStale) return hit;
      stale ??= hit;
      return undefined;
    };
    for (let n: string | null = name; n !== null; n = parentName(n)) {
      if (!isSubdomain(name, n)) continue;
      const hit = consider(this.live(n, NX, now), n, 'nxdomain');
      if (hit) return hit;
    }
    return consider(this.live(name, type, now), name, 'nodata') ?? stale;
  }

  /**
   * The TTL an unexpired entry was stored with and the time it has left: for (name, type),
   * or with type null for an NXDOMAIN cached at exactly `name`. For deciding on prefetch.
   */
  lifeOf(name: string, type: number | null, now: number): EntryLife | undefined {
    const e = this.get(name, type === null ? NX : type);
    if (!e || e.expiresAt <= now) return undefined;
    return { ttl: e.ttl, leftMs: e.expiresAt - now };
  }

  /** The entry for `key` if fresh or within the stale window; one past the window is dropped. */
  private live(name: string, type: number, now: number): Entry | undefined {
    const e = this.get(name, type);
    if (!e) return undefined;
    if (e.expiresAt + this.maxStaleMs <= now) {
      this.delete(name, type);
      return undefined;
    }
    return e;
  }

  /** Rank of the cached, unexpired entry for (name, type); 0 if none. */
  rankOf(name: string, type: number, now: number): number {
    const e = this.get(name, type);
    return e && e.expiresAt > now ? e.rank : 0;
  }

  /**
   * Caches a negative answer: NODATA for (name, type), or NXDOMAIN for the name (type
   * null). Its TTL is min(SOA TTL, SOA MINIMUM) (RFC 2308 §5), capped by the policy.
   */
  putNegative(name: string, type: number | null, soa: Rr | null, rank: Rank, now: number): boolean {
    if (!soa) return false; // RFC 2308 §5: without an SOA, a negative answer is not cached
    const ttl = Math.min(soa.ttl, soaMinimum(soa.rdata), this.policy.maxNegativeTtl);
    if (ttl <= 0) return false;
    const t = type === null ? NX : type;
    const old = this.get(name, t);
    if (old && old.expiresAt > now && old.rank > rank) return false;
    this.set(name, t, entry(type === null ? 'nxdomain' : 'nodata', null, makeRr(soa.name, soa.type, soa.klass, ttl, soa.rdata), rank, ttl, now + ttl * 1000));
    return true;
  }

  /** A cached negative answer for (name, type): NXDOMAIN for the name or an ancestor, or NODATA. */
  getNegative(name: string, type: number, now: number): NegativeHit | undefined {
    for (let n: string | null = name; n !== null; n = parentName(n)) {
      const e = this.get(n, NX);
      if (e && e.kind === 'nxdomain' && e.expiresAt > now && isSubdomain(name, n)) return { kind: 'nxdomain', soa: withTtl(e as NegativeEntry, now), name: n };
    }
    const e = this.get(name, type);
    if (e && e.kind === 'nodata' && e.expiresAt > now) return { kind: 'nodata', soa: withTtl(e as NegativeEntry, now), name };
    return undefined;
  }

  /** Drops everything. */
  clear(): void {
    this.names.clear();
    this.entryCount = 0;
  }
}

function storedAt(e: Entry): number {
  return e.expiresAt - e.ttl * 1000;
}

function withTtl(e: NegativeEntry, now: number): Rr | null {
  if (!e.soa) return null;
  return makeRr(e.soa.name, e.soa.type, e.soa.klass, Math.max(0, Math.ceil((e.expiresAt - now) / 1000)), e.soa.rdata);
}

