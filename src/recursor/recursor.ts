// Iterative resolution from the root (RFC 1034 §5.3.3), a drop-in for the Forwarder:
// follows referrals, believes glue only within bailiwick and only for the NS names of the
// referral, resolves glueless NS names under limits (NXNS), follows CNAME/DNAME chains
// across zones, minimises the names it sends (RFC 9156), caches RRsets by credibility and
// negative answers (RFC 2308, RFC 8020), retries over TCP on TC and without EDNS on
// FORMERR, picks servers by smoothed RTT and sets lame and unresponsive ones aside, and
// bounds the work any one client query can cause.
//
// Serve-stale (RFC 8767): expired records stay in the record cache for a stale window;
// when every server that could refresh one is unreachable (timeouts and network errors
// only: an NXDOMAIN, a SERVFAIL or a lame reply from a server that answered is a real
// answer about the zone), or when the resolution has not finished within the client
// response timer, the client gets the expired data with a short TTL, marked stale, while
// the resolution carries on and refreshes the cache if it can. After a failed refresh,
// stale data is served without asking again for the failure recheck time.
//
// Prefetch: a record-cache hit on an entry with little of its TTL left, or an explicit
// prefetch() from the answer cache above, refreshes it in the background, once per key
// at a time and a bounded number at once, so popular names do not expire.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { HostPort } from '../config/types';
import { Lru } from '../cache/lru';
import { Answer, TtlPolicy } from '../dns/answer';
import { Class, Flag, HEADER_SIZE, Rcode, Type } from '../dns/constants';
import { MessageError } from '../dns/message';
import { encodeName, foldAsciiInPlace, nameWireLength, readName, skipName, writeName } from '../dns/name';
import type { ForwardRequest } from '../upstream/forwarder';
import { ExchangeError, ExchangeResult, ExchangeSink } from '../upstream/transport';
import { Rank, RecordCache } from './cache';
import { AuthQuery, authQuery, tcpQuery, udpQuery } from './exchange';
import { ServerTable } from './servers';
import { Rr, answerFromRecords, ipText, isServerAddress, isSubdomain, labelCount, parentName, rdataName, sectionsOf, suffix } from './wire';

export { ipText };

export interface RecursorLimits {
  /** Authoritative queries one client query may cause, NS-name resolutions included. */
  maxQueriesPerRequest: number;
  /** Referrals followed for one name. */
  maxReferralDepth: number;
  /** Glueless NS names resolved per referral (NXNS, CVE-2020-12662). */
  maxNsNamesPerReferral: number;
  /** CNAME/DNAME links followed for one client query. */
  maxCnameChain: number;
  /** Authoritative queries in flight at once, over all client queries. */
  maxConcurrentOutgoing: number;
  /** Nesting of NS-name resolutions (resolving an NS name that needs another NS name...). */
  maxDependencyDepth: number;
  /** Background prefetches in flight at once; more are skipped. */
  maxConcurrentPrefetch: number;
}

export type LimitName = keyof RecursorLimits;

export const DEFAULT_LIMITS: RecursorLimits = {
  maxQueriesPerRequest: 60,
  maxReferralDepth: 16,
  maxNsNamesPerReferral: 4,
  maxCnameChain: 12,
  maxConcurrentOutgoing: 500,
  maxDependencyDepth: 4,
  maxConcurrentPrefetch: 32,
};

/** RFC 8767's timers and TTL. */
export interface ServeStaleOptions {
  /** How long after expiry a record may still be served (the maximum stale timer; RFC 8767 suggests 1–3 days). */
  readonly maxStaleSeconds: number;
  /** TTL of stale records in replies (RFC 8767 §4 recommends 30; at least 1). */
  readonly staleAnswerTtl: number;
  /** With no answer after this long, stale data is sent if there is any and the resolution goes on (RFC 8767 §5: 1.8 s). */
  readonly clientResponseTimerMs: number;
  /** After a refresh failed for unreachable servers, stale data is served without trying again for this long (RFC 8767 §5: 30 s). */
  readonly failureRecheckMs: number;
}

export const DEFAULT_SERVE_STALE: ServeStaleOptions = {
  maxStaleSeconds: 86_400,
  staleAnswerTtl: 30,
  clientResponseTimerMs: 1_800,
  failureRecheckMs: 30_000,
};

export interface PrefetchOptions {
  /** Entries stored with a shorter TTL are never prefetched. */
  readonly minTtlSeconds: number;
  /** A hit with less than this fraction of the stored TTL left starts a prefetch. */
  readonly remainingFraction: number;
}

export const DEFAULT_PREFETCH: PrefetchOptions = { minTtlSeconds: 10, remainingFraction: 0.1 };

/**
 * What the recursor answers: an Answer, maybe marked stale (RFC 8767). A stale answer's
 * records carry the stale TTL and its lifetime is 0, so the answer cache does not keep it;
 * the reply built from it should carry Extended DNS Error 3 (Stale Answer, RFC 8914).
 */
export interface RecursorAnswer extends Answer {
  readonly stale?: boolean;
}

/** What the recursor reports for metrics; every field has a bounded set of values. */
export type RecursorEvent =
  | { readonly kind: 'query'; readonly transport: 'udp' | 'tcp' }
  | { readonly kind: 'timeout' | 'network' | 'malformed' | 'mismatch' | 'truncated' | 'formerr' | 'servfail' | 'lame' | 'qmin_fallback' | 'coalesced' | 'shared' | 'stale' | 'prefetch' }
  | { readonly kind: 'limit'; readonly limit: LimitName };

export interface RecursorOptions {
  /** Root servers: names and IPv4/IPv6 literals (IANA_ROOT_HINTS from root-hints.ts fits). */
  readonly rootHints: ReadonlyArray<{ readonly name: string; readonly addresses: readonly string[] }>;
  /** Port for all authoritative traffic (default 53). */
  readonly authPort?: number;
  /** RFC 9156, default true. */
  readonly qnameMinimisation?: boolean;
  /** 0x20: randomise the case of query names and require it back exactly. Default false. */
  readonly caseRandomisation?: boolean;
  /** Per authoritative query attempt, default 800. */
  readonly timeoutMs?: number;
  /** Per client query, default 4000. */
  readonly totalTimeoutMs?: number;
  readonly ttlPolicy: TtlPolicy;
  readonly limits?: Partial<RecursorLimits>;
  readonly observe?: (event: RecursorEvent) => void;
  /** Use IPv6 server addresses too (default true). */
  readonly ipv6?: boolean;
  /** Names the record cache holds (default 100 000), each with its RRsets and negative answers. */
  readonly cacheSize?: number;
  /** Serve-stale (RFC 8767), on by default with DEFAULT_SERVE_STALE; false turns it off. */
  readonly serveStale?: Partial<ServeStaleOptions> | false;
  /** Prefetch of entries about to expire, on by default with DEFAULT_PREFETCH; false turns it off. */
  readonly prefetch?: Partial<PrefetchOptions> | false;
}

export class RecursorError extends Error {
  constructor(
    readonly code: 'UPSTREAM_FAILED' | 'RESOLUTION_LIMIT',
    message: string,
    readonly limit?: LimitName,
    /** No server that could answer replied at all (timeouts, network errors): stale data may be served. */
    readonly unreachable = false,
  ) {
    super(message);
  }
}

function isUnreachable(e: unknown): boolean {
  return e instanceof RecursorError && e.unreachable;
}

/** Shared by one client query and the NS-name resolutions it causes. */
interface Budget {
  queries: number;
  readonly deadline: number;
}

interface Ctx {
  readonly budget: Budget;
  /** Nesting of NS-name resolutions. */
  readonly depth: number;
  /** NS names being resolved on the way here: a name seen again is a delegation loop. */
  readonly resolving: ReadonlySet<string>;
  /** Ignore cached answers for the name asked and its aliases (a prefetch); delegations are still used. */
  readonly refresh: boolean;
  /** For the client's own question only: set when an answer came from an entry worth prefetching. */
  readonly watch: { nearExpiry: boolean } | null;
}

/** Why the servers for a zone gave nothing usable, as far as serve-stale cares. */
interface FailureNote {
  /** A server timed out or could not be reached. */
  unreachable: boolean;
  /** A server answered with an error or lamely, or there was no server to ask. */
  other: boolean;
}

interface Result {
  readonly rcode: number;
  readonly answer: Rr[];
  readonly authority: Rr[];
}

type ZoneReply =
  | { readonly kind: 'referral'; readonly cut: string; readonly ns: Rr[]; readonly glue: Rr[] }
  | { readonly kind: 'answer'; readonly rcode: number; readonly answers: Rr[]; readonly authority: Rr[]; readonly zone: string };

/** A result from the cache alone, maybe with stale data in it. */
interface CachedResult extends Result {
  readonly stale: boolean;
}

const noop = (): void => undefined;
const NO_ADDRESSES: string[] = [];
const NOTHING_RESOLVING: ReadonlySet<string> = new Set();
const QUERY_UDP: RecursorEvent = { kind: 'query', transport: 'udp' };
const QUERY_TCP: RecursorEvent = { kind: 'query', transport: 'tcp' };
const SHARED: RecursorEvent = { kind: 'shared' };
const MISMATCH: RecursorEvent = { kind: 'mismatch' };

/** Servers tried for one question at one zone before giving up on it. */
const MAX_SERVER_ATTEMPTS = 6;
/** RFC 9156 §2.3 MAX_MINIMISE_COUNT: minimised queries for one name before sending it whole. */
const MAX_MINIMISE_COUNT = 10;

export class Recursor {
  readonly cache: RecordCache;
  readonly servers: ServerTable;
  private readonly limits: RecursorLimits;
  private readonly port: number;
  private readonly qmin: boolean;
  private readonly x20: boolean;
  private readonly timeoutMs: number;
  private readonly totalTimeoutMs: number;
  private readonly ipv6: boolean;
  private readonly hintNames: string[];
  private readonly hintAddresses = new Map<string, string[]>();
  private readonly inflight = new Map<string, Promise<RecursorAnswer>>();
  /** Authoritative queries in flight, by server, question, transport and EDNS: identical ones are joined. */
  private readonly outstanding = new Map<string, Outgoing>();
  private readonly onMismatch = (): void => this.emit(MISMATCH);
  private readonly prefetching = new Map<string, Promise<void>>();
  private readonly staleOpts: ServeStaleOptions | null;
  private readonly prefetchOpts: PrefetchOptions | null;
  /** Keys whose last resolution failed for unreachable servers, until when stale data is served without asking. */
  private readonly failedUntil = new Lru<string, number>(10_000);
  private outgoing = 0;
  private closed = false;

  constructor(private readonly opts: RecursorOptions) {
    if (opts.rootHints.length === 0) throw new Error('no root hints');
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.port = opts.authPort ?? 53;
    this.qmin = opts.qnameMinimisation ?? true;
    this.x20 = opts.caseRandomisation ?? false;
    this.timeoutMs = opts.timeoutMs ?? 800;
    this.totalTimeoutMs = opts.totalTimeoutMs ?? 4000;
    this.ipv6 = opts.ipv6 ?? true;
    if (opts.serveStale === false) {
      this.staleOpts = null;
    } else {
      const s = { ...DEFAULT_SERVE_STALE, ...opts.serveStale };
      this.staleOpts = {
        maxStaleSeconds: Math.max(0, s.maxStaleSeconds),
        staleAnswerTtl: Math.max(1, Math.floor(s.staleAnswerTtl)),
        clientResponseTimerMs: Math.max(1, s.clientResponseTimerMs),
        failureRecheckMs: Math.max(0, s.failureRecheckMs),
      };
    }
    this.prefetchOpts = opts.prefetch === false ? null : { ...DEFAULT_PREFETCH, ...opts.prefetch };
    this.cache = new RecordCache(opts.ttlPolicy, opts.cacheSize, this.staleOpts ? this.staleOpts.maxStaleSeconds * 1000 : 0);
    this.servers = new ServerTable();
    this.hintNames = [];
    for (const h of opts.rootHints) {
      const name = h.name.toLowerCase().replace(/\.$/, '');
      this.hintNames.push(name);
      this.hintAddresses.set(name, h.addresses.filter((a) => net.isIP(a) !== 0));
    }
  }

  /** Authoritative queries in flight now. */
  get outgoingCount(): number {
    return this.outgoing;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Background prefetches in flight now. */
  get prefetchCount(): number {
    return this.prefetching.size;
  }

  /**
   * Resolves a question, sharing the work with identical ones in flight. With serve-stale,
   * the answer may be stale (marked so) when the servers cannot be reached or are slower
   * than the client response timer.
   */
  resolve(req: ForwardRequest): Promise<RecursorAnswer> {
    return this.staleOpts ? this.resolveOrStale(req, this.staleOpts) : this.resolution(req);
  }

  /**
   * Refreshes the answer to `req` in the background, bypassing the cached answer (not the
   * cached delegations), and hands the fresh answer to `onAnswer` (e.g. to put it in the
   * answer cache). A no-op when prefetch is off, one is already in flight for the key, the
   * key's servers were unreachable less than the failure recheck time ago, or
   * maxConcurrentPrefetch are in flight; failures are dropped (the entry then just expires,
   * and serve-stale takes over).
   */
  prefetch(req: ForwardRequest, onAnswer?: (answer: Answer) => void): void {
    if (!this.prefetchOpts || this.closed || this.prefetching.has(req.key)) return;
    // Unreachable servers are not asked again before the failure recheck time (RFC 8767 §5).
    if ((this.failedUntil.get(req.key) ?? 0) > Date.now()) return;
    if (this.prefetching.size >= this.limits.maxConcurrentPrefetch) {
      this.limitHit('maxConcurrentPrefetch', `${this.prefetching.size} prefetches already in flight`);
      return;
    }
    this.emit({ kind: 'prefetch' });
    const p = this.resolveUncoalesced(req, true)
      .then(
        (answer) => {
          this.failedUntil.delete(req.key);
          onAnswer?.(answer);
        },
        (e: unknown) => {
          if (this.staleOpts && isUnreachable(e)) this.failedUntil.set(req.key, Date.now() + this.staleOpts.failureRecheckMs);
        },
      )
      .catch(() => undefined) // onAnswer threw: not ours to handle, and never an unhandled rejection
      .finally(() => this.prefetching.delete(req.key));
    this.prefetching.set(req.key, p);
  }

  /**
   * Forgets everything learnt: records, delegations, negative answers and what is known
   * about each server. Resolutions in flight finish with what they have.
   */
  flush(): void {
    this.cache.clear();
    this.servers.clear();
    this.failedUntil.clear();
  }

  close(): void {
    this.closed = true;
    this.cache.clear();
    this.failedUntil.clear();
  }

  /** The resolution of `req`, shared with identical ones in flight. */
  private resolution(req: ForwardRequest): Promise<RecursorAnswer> {
    const existing = this.inflight.get(req.key);
    if (existing) {
      this.emit({ kind: 'coalesced' });
      return existing;
    }
    const p = this.resolveUncoalesced(req, false).then(
      (answer) => {
        this.inflight.delete(req.key);
        if (this.failedUntil.size > 0) this.failedUntil.delete(req.key);
        return answer;
      },
      (e: unknown) => {
        this.inflight.delete(req.key);
        if (this.staleOpts && isUnreachable(e)) this.failedUntil.set(req.key, Date.now() + this.staleOpts.failureRecheckMs);
        throw e;
      },
    );
    // A client answered from stale data stops waiting for this; its failure must not go unhandled.
    p.catch(noop);
    this.inflight.set(req.key, p);
    return p;
  }

  /** RFC 8767 §5: the fresh answer, or stale data when the servers are unreachable or slower than the client response timer. */
  private resolveOrStale(req: ForwardRequest, s: ServeStaleOptions): Promise<RecursorAnswer> {
    if (this.failedUntil.size > 0 && (this.failedUntil.get(req.key) ?? 0) > Date.now()) {
      // A refresh failed a moment ago: do not ask again yet (the failure recheck timer).
      const stale = this.staleAnswer(req, Date.now());
      if (stale) return Promise.resolve(stale);
    }
    const p = this.resolution(req);
    return new Promise<RecursorAnswer>((resolve, reject) => {
      // The client response timer: answer from stale data if any; the resolution goes on and refreshes the cache.
      const timer = setTimeout(() => {
        const stale = this.staleAnswer(req, Date.now());
        if (stale) resolve(stale);
      }, s.clientResponseTimerMs);
      p.then(
        (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        (e: unknown) => {
          clearTimeout(timer);
          const stale = isUnreachable(e) ? this.staleAnswer(req, Date.now()) : null;
          if (stale) resolve(stale); else reject(e);
        },
      );
    });
  }

  /** The answer the cache alone gives, stale data included: marked stale with lifetime 0 if any of it is stale. */
  private staleAnswer(req: ForwardRequest, now: number): RecursorAnswer | null {
    if (!this.staleOpts || this.closed) return null;
    let asked: { name: string; qtype: number };
    try { asked = parseQuestion(req.question); } catch { return null; }
    const result = this.cachedResult(asked.name, asked.qtype, now, this.staleOpts.staleAnswerTtl);
    if (!result) return null;
    const answer = answerFromRecords(req.question, result.rcode, result.answer, result.authority, this.opts.ttlPolicy, now);
    if (!result.stale) return answer; // refreshed meanwhile
    this.emit({ kind: 'stale' });
    return { ...answer, lifetime: 0, stale: true };
  }

  /**
   * (name, qtype) from the cache alone, following CNAMEs, expired entries within the stale
   * window included. Fresh data beats stale; of stale data that disagrees, the latest stored.
   */
  private cachedResult(name: string, qtype: number, now: number, staleTtl: number): CachedResult | null {
    const chain: Rr[] = [];
    const seen = new Set<string>([name]);
    let current = name;
    let stale = false;
    for (let round = 0; round <= this.limits.maxCnameChain + 1; round++) {
      const pos = this.cache.getRrsetStale(current, qtype, now, staleTtl, Rank.NonAuthAnswer);
      const cname = qtype === Type.CNAME ? undefined : this.cache.getRrsetStale(current, Type.CNAME, now, staleTtl, Rank.NonAuthAnswer);
      const neg = this.cache.getNegativeStale(current, qtype, now, staleTtl);
      const found = [pos, cname, neg].filter((x) => x !== undefined);
      const pick = found.find((x) => !x.stale) ?? found.sort((x, y) => y.storedAt - x.storedAt)[0];
      if (pick === undefined) return null;
      stale ||= pick.stale;
      if (pick === pos) return { rcode: Rcode.NOERROR, answer: [...chain, ...pos.value], authority: [], stale };
      if (pick === neg) {
        const hit = neg.value;
        return { rcode: hit.kind === 'nxdomain' ? Rcode.NXDOMAIN : Rcode.NOERROR, answer: chain, authority: hit.soa ? [hit.soa] : [], stale };
      }
      const link = cname?.value[0];
      const target = link ? rdataName(link.rdata) : null;
      if (!link || target === null || seen.has(target)) return null;
      seen.add(target);
      chain.push(link);
      current = target;
    }
    return null;
  }

  private async resolveUncoalesced(req: ForwardRequest, refresh: boolean): Promise<RecursorAnswer> {
    if (this.closed) throw new RecursorError('UPSTREAM_FAILED', 'the recursor is closed');
    const q = req.question;
    const { name, qtype } = parseQuestion(q);
    const watch = { nearExpiry: false };
    const ctx: Ctx = { budget: { queries: 0, deadline: Date.now() + this.totalTimeoutMs }, depth: 0, resolving: NOTHING_RESOLVING, refresh, watch: refresh ? null : watch };
    const result = await this.lookup(ctx, name, qtype);
    if (watch.nearExpiry) this.prefetch(req);
    return answerFromRecords(q, result.rcode, result.answer, result.authority, this.opts.ttlPolicy, Date.now());
  }

  /** Notes, for the client's question, a cache hit on an entry with little of its TTL left. */
  private noteLife(ctx: Ctx, name: string, type: number | null, now: number): void {
    const p = this.prefetchOpts;
    if (!ctx.watch || !p || ctx.watch.nearExpiry) return;
    const life = this.cache.lifeOf(name, type, now);
    if (life && life.ttl >= p.minTtlSeconds && life.leftMs < life.ttl * 1000 * p.remainingFraction) ctx.watch.nearExpiry = true;
  }

  /** Resolves (name, qtype) to a final answer, following CNAME and DNAME across zones. */
  private async lookup(ctx: Ctx, name: string, qtype: number): Promise<Result> {
    const chain: Rr[] = [];
    // Names the chain has visited, made at its first CNAME or DNAME (most names have none).
    let seen: Set<string> | null = null;
    let current = name;
    for (let round = 0; round <= this.limits.maxCnameChain + 1; round++) {
      const now = Date.now();
      if (!ctx.refresh) {
        const hit = this.cache.getRrset(current, qtype, now, Rank.NonAuthAnswer);
        if (hit) {
          this.noteLife(ctx, current, qtype, now);
          return { rcode: Rcode.NOERROR, answer: chain.length === 0 ? hit : chain.concat(hit), authority: [] };
        }
        if (qtype !== Type.CNAME) {
          const cname = this.cache.getRrset(current, Type.CNAME, now, Rank.NonAuthAnswer);
          const target = cname && rdataName(cname[0].rdata);
          if (cname && target !== null && target !== undefined) {
            this.noteLife(ctx, current, Type.CNAME, now);
            chain.push(cname[0]);
            seen = this.followAlias(seen, name, target);
            current = target;
            continue;
          }
        }
        const neg = this.cache.getNegative(current, qtype, now);
        if (neg) {
          this.noteLife(ctx, neg.name, neg.kind === 'nxdomain' ? null : qtype, now);
          return { rcode: neg.kind === 'nxdomain' ? Rcode.NXDOMAIN : Rcode.NOERROR, answer: chain, authority: neg.soa ? [neg.soa] : [] };
        }
      }

      const reply = await this.iterate(ctx, current, qtype);
      const asked = current;
      const answers = reply.answers;
      // Cache the answer's RRsets: the server is authoritative for everything kept in reply (in bailiwick).
      for (const set of groupRrsets(answers)) this.cache.putRrset(set, Rank.AuthAnswer, now);
      let positive: Rr[] | null = null;
      let rcode = reply.rcode;
      for (let hop = 0; hop <= this.limits.maxCnameChain + 1; hop++) {
        const n = current;
        const match = recordsOf(answers, n, qtype);
        if (match.length > 0) { positive = match; break; }
        if (qtype === Type.DNAME || qtype === Type.CNAME) break;
        const dname = answers.find((r) => r.type === Type.DNAME && r.name !== n && isSubdomain(n, r.name));
        if (dname) {
          // RFC 6672 §2.2: replace the DNAME owner's suffix with its target; ignore the server's CNAME.
          const target = rdataName(dname.rdata);
          if (target === null) break;
          const head = n.slice(0, n.length - dname.name.length - (dname.name === '' ? 0 : 1));
          const synth = target === '' ? head : `${head}.${target}`;
          let wire: Buffer;
          try { wire = encodeName(synth); } catch { rcode = 6; /* YXDOMAIN: the result is too long */ chain.push(dname); break; }
          const cname: Rr = { name: n, type: Type.CNAME, klass: Class.IN, ttl: dname.ttl, rdata: wire };
          chain.push(dname, cname);
          seen = this.followAlias(seen, name, synth);
          current = synth;
          continue;
        }
        const cname = answers.find((r) => r.name === n && r.type === Type.CNAME);
        const target = cname ? rdataName(cname.rdata) : null;
        if (cname && target !== null) {
          chain.push(cname);
          seen = this.followAlias(seen, name, target);
          current = target;
          continue;
        }
        break;
      }
      if (positive) return { rcode: Rcode.NOERROR, answer: chain.length === 0 ? positive : chain.concat(positive), authority: [] };
      if (rcode === 6) return { rcode, answer: chain, authority: [] };
      const soa = reply.authority.find((r) => r.type === Type.SOA && isSubdomain(current, r.name)) ?? null;
      if (current !== asked && !soa) continue; // the chain left the server's zone: restart at the target
      if (current !== asked && rcode !== Rcode.NXDOMAIN && !(rcode === Rcode.NOERROR && soa)) continue;
      if (rcode === Rcode.NXDOMAIN) {
        this.cache.putNegative(current, null, soa, Rank.AuthAuthority, now);
        return { rcode, answer: chain, authority: soa ? [soa] : [] };
      }
      if (rcode === Rcode.NOERROR) {
        this.cache.putNegative(current, qtype, soa, Rank.AuthAuthority, now);
        return { rcode, answer: chain, authority: soa ? [soa] : [] };
      }
      throw new RecursorError('UPSTREAM_FAILED', `rcode ${rcode} for ${current}`);
    }
    throw this.limitHit('maxCnameChain', `CNAME chain from ${name} is too long`);
  }

  /** One more link of a CNAME/DNAME chain from `name`: the set of names visited, or the maxCnameChain limit for a loop or a chain too long. */
  private followAlias(seen: Set<string> | null, name: string, target: string): Set<string> {
    const visited = seen ?? new Set<string>([name]);
    if (visited.has(target) || visited.size > this.limits.maxCnameChain) throw this.limitHit('maxCnameChain', `CNAME chain from ${name} is a loop or too long`);
    visited.add(target);
    return visited;
  }

  /** The deepest delegation the cache knows for `name`: zone and NS names (the root hints at worst). */
  private closestDelegation(name: string, now: number): { zone: string; ns: readonly string[] } {
    for (let zone: string | null = name; zone !== null && zone !== ''; zone = parentName(zone)) {
      const names = this.cache.nsNames(zone, now);
      if (names) {
        // A delegation whose in-zone NS names have lost their glue is useless: ask the parent again.
        for (const n of names) if (!isSubdomain(n, zone) || this.hasAddress(n, now)) return { zone, ns: names };
      }
    }
    const names = this.cache.nsNames('', now);
    return { zone: '', ns: names && names.length > 0 ? names : this.hintNames };
  }

  /**
   * Asks the servers of the closest known zone, following referrals down to the servers
   * authoritative for `name`, and returns their answer (records within their bailiwick).
   */
  private async iterate(ctx: Ctx, name: string, qtype: number): Promise<{ rcode: number; answers: Rr[]; authority: Rr[] }> {
    let { zone, ns } = this.closestDelegation(name, Date.now());
    let minimise = this.qmin;
    let known = labelCount(zone);
    const total = labelCount(name);
    let referrals = 0;
    let minimised = 0;
    for (let guard = 0; guard < 4 * (this.limits.maxReferralDepth + MAX_MINIMISE_COUNT) + 4; guard++) {
      let sendName = name;
      let sendType = qtype;
      if (minimise && known + 1 < total && minimised < MAX_MINIMISE_COUNT) {
        // RFC 9156 §3: one more label than the zone we are at, qtype A (the relaxed mode).
        sendName = suffix(name, known + 1);
        sendType = Type.A;
      }
      const reply = await this.queryZone(ctx, zone, ns, sendName, sendType);
      if (reply.kind === 'referral') {
        if (++referrals > this.limits.maxReferralDepth) throw this.limitHit('maxReferralDepth', `more than ${this.limits.maxReferralDepth} referrals for ${name}`);
        const now = Date.now();
        this.cache.putRrset(reply.ns, Rank.Glue, now);
        for (const set of groupRrsets(reply.glue)) this.cache.putRrset(set, Rank.Glue, now);
        zone = reply.cut;
        ns = nsNames(reply.ns);
        known = labelCount(zone);
        continue;
      }
      if (sendName !== name) {
        minimised++;
        if (reply.rcode !== Rcode.NOERROR) {
          // RFC 9156 §2.3: an NXDOMAIN (or error) for a minimised name may be a broken server; ask the whole name.
          this.emit({ kind: 'qmin_fallback' });
          minimise = false;
          continue;
        }
        known++;
        continue;
      }
      return reply;
    }
    throw this.limitHit('maxReferralDepth', `iteration for ${name} did not converge`);
  }

  /** Asks the zone's servers one after another until one gives a usable reply. */
  private async queryZone(ctx: Ctx, zone: string, nsNames: readonly string[], sendName: string, sendType: number): Promise<ZoneReply> {
    const tried = new Set<string>();
    // Made when first needed: a zone's first server usually answers.
    let extra: string[] = NO_ADDRESSES;
    let gluelessTried: Set<string> | null = null;
    let nsResolutions = 0;
    let attempts = 0;
    let limitedBy: LimitName | null = null;
    let failures: string[] | null = null;
    const note: FailureNote = { unreachable: false, other: false };
    for (let guard = 0; guard < MAX_SERVER_ATTEMPTS + nsNames.length + 2; guard++) {
      const now = Date.now();
      const address = attempts < MAX_SERVER_ATTEMPTS ? this.servers.best(this.untried(zone, nsNames, extra, tried, now), zone, now) : undefined;
      if (address !== undefined) {
        tried.add(address);
        attempts++;
        const reply = await this.ask(ctx, address, zone, sendName, sendType);
        if (typeof reply === 'string') {
          (failures ??= []).push(`${address}: ${reply}`);
          if (reply === 'timeout' || reply === 'network') note.unreachable = true; else note.other = true;
          continue;
        }
        return reply;
      }
      if (attempts >= MAX_SERVER_ATTEMPTS) break;
      // No address left to try: resolve the next NS name that has none (glueless delegation).
      const glueless = (gluelessTried ??= new Set<string>());
      const next = nsNames.find((n) => !glueless.has(n) && !this.hasAddress(n, now));
      if (next === undefined) break;
      glueless.add(next);
      if (isSubdomain(next, zone)) { note.other = true; continue; } // in-bailiwick without glue: only the zone itself could tell
      if (nsResolutions >= this.limits.maxNsNamesPerReferral) { limitedBy = 'maxNsNamesPerReferral'; break; }
      nsResolutions++;
      try {
        const found = await this.resolveNsName(ctx, next, note);
        extra = extra === NO_ADDRESSES ? found : extra.concat(found);
      } catch (e) {
        if (!(e instanceof RecursorError)) throw e;
        if (e.limit === 'maxQueriesPerRequest' || e.limit === 'maxConcurrentOutgoing') throw e;
        if (e.limit) limitedBy = e.limit;
        if (e.unreachable) note.unreachable = true; else note.other = true;
        (failures ??= []).push(`${next}: ${e.message}`);
      }
    }
    if (limitedBy) throw this.limitHit(limitedBy, `no server for ${zone || '.'} within the ${limitedBy} limit`);
    throw new RecursorError('UPSTREAM_FAILED', `no server of ${zone || '.'} answered ${sendName} (${failures?.join('; ') || 'no addresses'})`, undefined, note.unreachable && !note.other);
  }

  /** Addresses of an NS name that has no glue, by resolving it (nested, with loop detection). */
  private async resolveNsName(ctx: Ctx, nsName: string, note: FailureNote): Promise<string[]> {
    if (ctx.resolving.has(nsName)) throw this.limitHit('maxDependencyDepth', `delegation loop through ${nsName}`);
    if (ctx.depth + 1 > this.limits.maxDependencyDepth) throw this.limitHit('maxDependencyDepth', `NS-name resolutions nested deeper than ${this.limits.maxDependencyDepth}`);
    const child: Ctx = { budget: ctx.budget, depth: ctx.depth + 1, resolving: new Set([...ctx.resolving, nsName]), refresh: false, watch: null };
    const out: string[] = [];
    let unreachable = false;
    const failed = (e: unknown): null => {
      if (!(e instanceof RecursorError) || e.limit) throw e;
      if (e.unreachable) unreachable = true;
      return null;
    };
    const a = await this.lookup(child, nsName, Type.A).catch(failed);
    for (const r of a?.answer ?? []) if (r.type === Type.A && isServerAddress(r.rdata)) out.push(ipText(r.rdata));
    if (out.length === 0 && this.ipv6) {
      const aaaa = await this.lookup(child, nsName, Type.AAAA).catch(failed);
      for (const r of aaaa?.answer ?? []) if (r.type === Type.AAAA && isServerAddress(r.rdata)) out.push(ipText(r.rdata));
    }
    if (out.length === 0) {
      if (unreachable) note.unreachable = true; else note.other = true;
    }
    return out;
  }

  /** Addresses of the zone's servers known now (the root hints for the root), plus `extra`, less those in `tried`, each once. */
  private untried(zone: string, nsNames: readonly string[], extra: readonly string[], tried: ReadonlySet<string>, now: number): string[] {
    const out: string[] = [];
    const add = (a: string): void => {
      if (!tried.has(a) && !out.includes(a) && (this.ipv6 || net.isIPv4(a))) out.push(a);
    };
    let any = false;
    for (const n of nsNames) any = this.eachAddress(n, now, add) || any;
    if (zone === '' && !any) for (const n of this.hintNames) for (const a of this.hintAddresses.get(n) ?? []) add(a);
    for (const a of extra) add(a);
    return out;
  }

  /** Calls `fn` with each address known for an NS name (cached A, AAAA, else its root hint); whether there was any. */
  private eachAddress(nsName: string, now: number, fn: (address: string) => void): boolean {
    let any = false;
    const a = this.cache.addresses(nsName, Type.A, now);
    if (a) for (const x of a) { fn(x); any = true; }
    if (this.ipv6) {
      const aaaa = this.cache.addresses(nsName, Type.AAAA, now);
      if (aaaa) for (const x of aaaa) { fn(x); any = true; }
    }
    if (!any) {
      const hint = this.hintAddresses.get(nsName);
      if (hint) for (const h of hint) if (this.ipv6 || net.isIPv4(h)) { fn(h); any = true; }
    }
    return any;
  }

  /** Whether any address is known for an NS name (cached A or AAAA, else its root hint). */
  private hasAddress(nsName: string, now: number): boolean {
    return this.eachAddress(nsName, now, noop);
  }


  /**
   * One question to one server (TC → TCP, FORMERR to EDNS → again without), classified:
   * a referral, an answer, or a string saying why this server is no use now.
   */
  private async ask(ctx: Ctx, address: string, zone: string, sendName: string, sendType: number): Promise<ZoneReply | string> {
    const info = this.servers.get(address);
    const server = info.target ??= { host: address, port: this.port, family: net.isIP(address) === 6 ? 6 : 4 };
    const question = this.questionFor(sendName, sendType);
    let result: ExchangeResult;
    // The latest exchange; when it was joined rather than sent (shared), its events were counted by the resolution that sent it.
    let out: Outgoing | undefined;
    try {
      let q = authQuery(question, !info.noEdns, this.x20);
      out = this.exchange(ctx, server, q, false, sendName, sendType);
      result = await out.done;
      if (result.msg.flags & Flag.TC) {
        if (!out.shared) this.emit({ kind: 'truncated' });
        out = this.exchange(ctx, server, q, true, sendName, sendType);
        result = await out.done;
      }
      if ((result.msg.flags & 0xf) === Rcode.FORMERR && q.edns) {
        // RFC 6891 §7: no EDNS support; ask again without and remember.
        if (!out.shared) this.emit({ kind: 'formerr' });
        info.noEdns = true;
        q = authQuery(question, false, this.x20);
        out = this.exchange(ctx, server, q, false, sendName, sendType);
        result = await out.done;
        if (result.msg.flags & Flag.TC) {
          out = this.exchange(ctx, server, q, true, sendName, sendType);
          result = await out.done;
        }
      }
    } catch (e) {
      if (e instanceof RecursorError) throw e;
      if (!(e instanceof ExchangeError) && !(e instanceof MessageError)) throw e;
      const code = e instanceof ExchangeError ? e.code : 'malformed';
      if (!out?.shared) this.emit({ kind: code });
      return code;
    }
    const msg = result.msg;
    const rcode = msg.rcode;
    const now = Date.now();
    if (rcode === Rcode.REFUSED || rcode === Rcode.NOTIMP) {
      this.servers.markLame(zone, address, now);
      this.emit({ kind: 'lame' });
      return 'refused (lame)';
    }
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN && rcode !== 6 /* YXDOMAIN */) {
      this.emit({ kind: 'servfail' });
      return `rcode ${rcode}`;
    }
    // Under 0x20 the question holds our random case, and servers compress names in records
    // by pointing into it: fold it back first, or the random case would reach the cache
    // and every client (its exact case was already checked when the reply was accepted).
    if (this.x20) foldAsciiInPlace(result.buf, HEADER_SIZE, msg.qnameEnd);
    // Only data within the zone we asked about is believed; the rest is never used or cached.
    const { answer: answers, authority, additional } = sectionsOf(result.buf, msg, zone);
    const aa = (msg.flags & Flag.AA) !== 0;
    if (!aa && rcode === Rcode.NOERROR && answers.length === 0) {
      const ns = authority.filter((r) => r.type === Type.NS);
      const cut = ns[0]?.name;
      if (cut !== undefined && cut !== zone && isSubdomain(sendName, cut)) {
        const nsSet = ns.filter((r) => r.name === cut);
        const targets = new Set(nsSet.map((r) => rdataName(r.rdata)));
        const glue = additional.filter((r) => (r.type === Type.A || r.type === Type.AAAA) && targets.has(r.name));
        return { kind: 'referral', cut, ns: nsSet, glue };
      }
      if (cut !== undefined || authority.length === 0) {
        // A referral upward or sideways, or an empty non-authoritative reply: lame.
        this.servers.markLame(zone, address, now);
        this.emit({ kind: 'lame' });
        return 'lame referral';
      }
    }
    if (!aa) {
      this.servers.markLame(zone, address, now);
      this.emit({ kind: 'lame' });
      return 'non-authoritative answer (lame)';
    }
    return { kind: 'answer', rcode, answers, authority, zone };
  }

  /**
   * Sends one query, counting it against the client query's budget and the global
   * concurrency limit, and keeps the server's smoothed RTT and timeout backoff; or, when an
   * identical query (same server, name, type, transport and EDNS) is already in flight,
   * joins it instead of sending a second copy. Two identical queries outstanding at once
   * would give a spoofer two chances at the same answer (the "birthday" attack, RFC 5452
   * §5), and would be sent for nothing: concurrent resolutions often need the same
   * referral at once, from the root down.
   */
  private exchange(ctx: Ctx, server: HostPort, q: AuthQuery, tcp: boolean, sendName: string, sendType: number): Outgoing {
    const key = `${tcp ? 'T' : 'U'}${q.edns ? 'E' : 'N'}${sendType}|${server.host}|${sendName}`;
    const pending = this.outstanding.get(key);
    if (pending) {
      this.emit(SHARED);
      return pending.joined();
    }
    const budget = ctx.budget;
    if (budget.queries >= this.limits.maxQueriesPerRequest) throw this.limitHit('maxQueriesPerRequest', `more than ${this.limits.maxQueriesPerRequest} queries for one client query`);
    if (this.outgoing >= this.limits.maxConcurrentOutgoing) throw this.limitHit('maxConcurrentOutgoing', `${this.outgoing} queries already in flight`);
    const remaining = budget.deadline - Date.now();
    if (remaining <= 0) throw new RecursorError('UPSTREAM_FAILED', `no answer within ${this.totalTimeoutMs} ms`, undefined, true);
    budget.queries++;
    this.outgoing++;
    this.emit(tcp ? QUERY_TCP : QUERY_UDP);
    const timeout = Math.max(1, Math.min(this.timeoutMs * (tcp ? 2 : 1), remaining));
    const o = new Outgoing(this, key, server.host);
    this.outstanding.set(key, o);
    if (tcp) tcpQuery(server, q, timeout).then((r) => o.settle(null, r), (e: ExchangeError) => o.settle(e, null));
    else udpQuery(server, q, timeout, this.onMismatch, o);
    return o;
  }

  /** Bookkeeping when an exchange this recursor sent ends (Outgoing calls it once, before its callers hear). */
  exchangeEnded(o: Outgoing, err: unknown): void {
    this.outgoing--;
    this.outstanding.delete(o.key);
    if (!err) this.servers.rtt(o.address, performance.now() - o.t0);
    else if (err instanceof ExchangeError && err.code === 'timeout') this.servers.timeout(o.address, this.timeoutMs, Date.now());
  }

  /** The question section for a name, its letters' case randomised under 0x20. */
  private questionFor(name: string, type: number): Buffer {
    const n = nameWireLength(name);
    const out = Buffer.allocUnsafe(n + 4);
    writeName(name, out, 0);
    if (this.x20) {
      const bits = randomBytes(n);
      for (let i = 0; i < n; i++) {
        const c = out[i] | 0x20;
        if (c >= 0x61 && c <= 0x7a && (out[i] === c || out[i] === (c & ~0x20)) && isLetterPosition(out, i)) out[i] = bits[i] & 1 ? c & ~0x20 : c;
      }
    }
    out.writeUInt16BE(type, n);
    out.writeUInt16BE(Class.IN, n + 2);
    return out;
  }

  private limitHit(limit: LimitName, message: string): RecursorError {
    this.emit({ kind: 'limit', limit });
    return new RecursorError('RESOLUTION_LIMIT', message, limit);
  }

  private emit(e: RecursorEvent): void {
    this.opts.observe?.(e);
  }
}

/** Name and type of a question section; only class IN is resolved. */
function parseQuestion(q: Buffer): { name: string; qtype: number } {
  const nameEnd = skipName(q, 0, q.length);
  const name = nameEnd > 0 ? readName(q, 0, nameEnd) : null;
  if (name === null || nameEnd + 4 > q.length) throw new RecursorError('UPSTREAM_FAILED', 'malformed question');
  const qtype = q.readUInt16BE(nameEnd);
  const qclass = q.readUInt16BE(nameEnd + 2);
  if (qclass !== Class.IN) throw new RecursorError('UPSTREAM_FAILED', `class ${qclass} is not resolved iteratively`);
  return { name, qtype };
}

/** Whether wire[i] is inside a label (not a length byte). */
function isLetterPosition(wire: Buffer, i: number): boolean {
  let at = 0;
  while (at < wire.length && wire[at] !== 0) {
    if (i === at) return false;
    const next = at + 1 + wire[at];
    if (i < next) return true;
    at = next;
  }
  return false;
}

/** The records of `list` with this owner and type: `list` itself when all are (the usual answer, one RRset). */
function recordsOf(list: Rr[], name: string, type: number): Rr[] {
  let all = true;
  for (const r of list) if (r.name !== name || r.type !== type) { all = false; break; }
  return all ? list : list.filter((r) => r.name === name && r.type === type);
}

/** The target names of an NS RRset. */
function nsNames(ns: readonly Rr[]): string[] {
  const out: string[] = [];
  for (const r of ns) {
    const n = rdataName(r.rdata);
    if (n !== null) out.push(n);
  }
  return out;
}

/** Groups records into RRsets (same owner and type), in order of first appearance. */
export function groupRrsets(records: readonly Rr[]): Rr[][] {
  if (records.length === 0) return [];
  const first = records[0];
  if (records.every((r) => r.type === first.type && r.name === first.name)) return [records as Rr[]]; // the usual case: one RRset
  const sets = new Map<string, Rr[]>();
  for (const r of records) {
    const k = `${r.type}/${r.name}`;
    const s = sets.get(k);
    if (s) s.push(r); else sets.set(k, [r]);
  }
  return [...sets.values()];
}


/**
 * One authoritative query sent, as the resolutions waiting for it see it: the promise they
 * await, settled by the exchange (it is the exchange's sink, so there is no promise layer
 * in between), after the recursor's bookkeeping. A resolution that joins an identical
 * query in flight gets a view of it marked shared.
 */
class Outgoing implements ExchangeSink {
  readonly done: Promise<ExchangeResult>;
  readonly t0 = performance.now();
  private resolve!: (r: ExchangeResult) => void;
  private reject!: (e: unknown) => void;

  constructor(private readonly owner: Recursor, readonly key: string, readonly address: string, readonly shared = false, done?: Promise<ExchangeResult>) {
    this.done = done ?? new Promise<ExchangeResult>((resolve, reject) => { this.resolve = resolve; this.reject = reject; });
  }

  /** The same exchange, for a resolution that joins it. */
  joined(): Outgoing {
    return new Outgoing(this.owner, this.key, this.address, true, this.done);
  }

  settle(err: ExchangeError | null, result: ExchangeResult | null): void {
    this.owner.exchangeEnded(this, err);
    if (err) this.reject(err); else this.resolve(result as ExchangeResult);
  }
}
