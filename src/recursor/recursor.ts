// Iterative resolution from the root (RFC 1034 §5.3.3), a drop-in for the Forwarder:
// follows referrals, believes glue only within bailiwick and only for the NS names of the
// referral, resolves glueless NS names under limits (NXNS), follows CNAME/DNAME chains
// across zones, minimises the names it sends (RFC 9156), caches RRsets by credibility and
// negative answers (RFC 2308, RFC 8020), retries over TCP on TC and without EDNS on
// FORMERR, picks servers by smoothed RTT and sets lame and unresponsive ones aside, and
// bounds the work any one client query can cause.
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { HostPort } from '../config/types';
import { Answer, TtlPolicy, answerFromMessage } from '../dns/answer';
import { Class, Flag, Rcode, Type } from '../dns/constants';
import { MessageError, Section, scanMessage } from '../dns/message';
import { encodeName, readName, skipName } from '../dns/name';
import type { ForwardRequest } from '../upstream/forwarder';
import { ExchangeError, ExchangeResult } from '../upstream/transport';
import { Rank, RecordCache } from './cache';
import { AuthQuery, tcpQuery, udpQuery } from './exchange';
import { ServerTable } from './servers';
import { Rr, SectionRr, encodeResponse, isSubdomain, labelsOf, rdataName, recordsOf, suffix } from './wire';

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
}

export type LimitName = keyof RecursorLimits;

export const DEFAULT_LIMITS: RecursorLimits = {
  maxQueriesPerRequest: 60,
  maxReferralDepth: 16,
  maxNsNamesPerReferral: 4,
  maxCnameChain: 12,
  maxConcurrentOutgoing: 500,
  maxDependencyDepth: 4,
};

/** What the recursor reports for metrics; every field has a bounded set of values. */
export type RecursorEvent =
  | { readonly kind: 'query'; readonly transport: 'udp' | 'tcp' }
  | { readonly kind: 'timeout' | 'network' | 'malformed' | 'mismatch' | 'truncated' | 'formerr' | 'servfail' | 'lame' | 'qmin_fallback' | 'coalesced' }
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
  /** Entries in the record cache (default 100 000). */
  readonly cacheSize?: number;
}

export class RecursorError extends Error {
  constructor(readonly code: 'UPSTREAM_FAILED' | 'RESOLUTION_LIMIT', message: string, readonly limit?: LimitName) {
    super(message);
  }
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
}

interface Result {
  readonly rcode: number;
  readonly answer: Rr[];
  readonly authority: Rr[];
}

type ZoneReply =
  | { readonly kind: 'referral'; readonly cut: string; readonly ns: Rr[]; readonly glue: Rr[] }
  | { readonly kind: 'answer'; readonly rcode: number; readonly answers: Rr[]; readonly authority: Rr[]; readonly zone: string };

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
  private readonly inflight = new Map<string, Promise<Answer>>();
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
    this.cache = new RecordCache(opts.ttlPolicy, opts.cacheSize);
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

  /** Resolves a question, sharing the work with identical ones in flight. */
  resolve(req: ForwardRequest): Promise<Answer> {
    const existing = this.inflight.get(req.key);
    if (existing) {
      this.emit({ kind: 'coalesced' });
      return existing;
    }
    const p = this.resolveUncoalesced(req).finally(() => this.inflight.delete(req.key));
    this.inflight.set(req.key, p);
    return p;
  }

  close(): void {
    this.closed = true;
    this.cache.clear();
  }

  private async resolveUncoalesced(req: ForwardRequest): Promise<Answer> {
    if (this.closed) throw new RecursorError('UPSTREAM_FAILED', 'the recursor is closed');
    const q = req.question;
    const nameEnd = skipName(q, 0, q.length);
    const name = nameEnd > 0 ? readName(q, 0, nameEnd) : null;
    if (name === null || nameEnd + 4 > q.length) throw new RecursorError('UPSTREAM_FAILED', 'malformed question');
    const qtype = q.readUInt16BE(nameEnd);
    const qclass = q.readUInt16BE(nameEnd + 2);
    if (qclass !== Class.IN) throw new RecursorError('UPSTREAM_FAILED', `class ${qclass} is not resolved iteratively`);
    const ctx: Ctx = { budget: { queries: 0, deadline: Date.now() + this.totalTimeoutMs }, depth: 0, resolving: new Set() };
    const result = await this.lookup(ctx, name, qtype);
    const wire = encodeResponse(q, result.rcode, result.answer, result.authority);
    return answerFromMessage(wire, scanMessage(wire), this.opts.ttlPolicy, Date.now());
  }

  /** Resolves (name, qtype) to a final answer, following CNAME and DNAME across zones. */
  private async lookup(ctx: Ctx, name: string, qtype: number): Promise<Result> {
    const chain: Rr[] = [];
    const seen = new Set<string>([name]);
    let current = name;
    const follow = (target: string): void => {
      if (seen.has(target) || seen.size > this.limits.maxCnameChain) throw this.limitHit('maxCnameChain', `CNAME chain from ${name} is a loop or too long`);
      seen.add(target);
      current = target;
    };
    for (let round = 0; round <= this.limits.maxCnameChain + 1; round++) {
      const now = Date.now();
      const hit = this.cache.getRrset(current, qtype, now, Rank.NonAuthAnswer);
      if (hit) return { rcode: Rcode.NOERROR, answer: [...chain, ...hit], authority: [] };
      if (qtype !== Type.CNAME) {
        const cname = this.cache.getRrset(current, Type.CNAME, now, Rank.NonAuthAnswer);
        const target = cname && rdataName(cname[0].rdata);
        if (cname && target !== null && target !== undefined) {
          chain.push(cname[0]);
          follow(target);
          continue;
        }
      }
      const neg = this.cache.getNegative(current, qtype, now);
      if (neg) return { rcode: neg.kind === 'nxdomain' ? Rcode.NXDOMAIN : Rcode.NOERROR, answer: chain, authority: neg.soa ? [neg.soa] : [] };

      const reply = await this.iterate(ctx, current, qtype);
      const asked = current;
      const answers = reply.answers;
      // Cache the answer's RRsets: the server is authoritative for everything kept in reply (in bailiwick).
      for (const set of groupRrsets(answers)) this.cache.putRrset(set, Rank.AuthAnswer, now);
      let positive: Rr[] | null = null;
      let rcode = reply.rcode;
      for (let hop = 0; hop <= this.limits.maxCnameChain + 1; hop++) {
        const n = current;
        const match = answers.filter((r) => r.name === n && r.type === qtype);
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
          follow(synth);
          continue;
        }
        const cname = answers.find((r) => r.name === n && r.type === Type.CNAME);
        const target = cname ? rdataName(cname.rdata) : null;
        if (cname && target !== null) {
          chain.push(cname);
          follow(target);
          continue;
        }
        break;
      }
      if (positive) return { rcode: Rcode.NOERROR, answer: [...chain, ...positive], authority: [] };
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

  /** The deepest delegation the cache knows for `name`: zone and NS names (the root hints at worst). */
  private closestDelegation(name: string, now: number): { zone: string; ns: string[] } {
    const labels = labelsOf(name);
    for (let i = 0; i < labels.length; i++) {
      const zone = labels.slice(i).join('.');
      const ns = this.cache.getRrset(zone, Type.NS, now);
      if (ns) {
        const names = ns.map((r) => rdataName(r.rdata)).filter((n): n is string => n !== null);
        // A delegation whose in-zone NS names have lost their glue is useless: ask the parent again.
        const usable = names.some((n) => !isSubdomain(n, zone) || this.addressesOf(n, now).length > 0);
        if (usable) return { zone, ns: names };
      }
    }
    const root = this.cache.getRrset('', Type.NS, now);
    const names = root?.map((r) => rdataName(r.rdata)).filter((n): n is string => n !== null);
    return { zone: '', ns: names && names.length > 0 ? names : this.hintNames };
  }

  /**
   * Asks the servers of the closest known zone, following referrals down to the servers
   * authoritative for `name`, and returns their answer (records within their bailiwick).
   */
  private async iterate(ctx: Ctx, name: string, qtype: number): Promise<{ rcode: number; answers: Rr[]; authority: Rr[] }> {
    let { zone, ns } = this.closestDelegation(name, Date.now());
    let minimise = this.qmin;
    let known = labelsOf(zone).length;
    const total = labelsOf(name).length;
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
        ns = reply.ns.map((r) => rdataName(r.rdata)).filter((n): n is string => n !== null);
        known = labelsOf(zone).length;
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
    const extra: string[] = [];
    const gluelessTried = new Set<string>();
    let nsResolutions = 0;
    let attempts = 0;
    let limitedBy: LimitName | null = null;
    const failures: string[] = [];
    for (let guard = 0; guard < MAX_SERVER_ATTEMPTS + nsNames.length + 2; guard++) {
      const now = Date.now();
      const candidates = this.servers.order([...new Set([...this.knownAddresses(zone, nsNames, now), ...extra])].filter((a) => !tried.has(a)), zone, now);
      if (candidates.length > 0 && attempts < MAX_SERVER_ATTEMPTS) {
        const address = candidates[0];
        tried.add(address);
        attempts++;
        const reply = await this.ask(ctx, address, zone, sendName, sendType);
        if (typeof reply === 'string') { failures.push(`${address}: ${reply}`); continue; }
        return reply;
      }
      if (attempts >= MAX_SERVER_ATTEMPTS) break;
      // No address left to try: resolve the next NS name that has none (glueless delegation).
      const next = nsNames.find((n) => !gluelessTried.has(n) && this.addressesOf(n, now).length === 0);
      if (next === undefined) break;
      gluelessTried.add(next);
      if (isSubdomain(next, zone)) continue; // in-bailiwick without glue: only the zone itself could tell
      if (nsResolutions >= this.limits.maxNsNamesPerReferral) { limitedBy = 'maxNsNamesPerReferral'; break; }
      nsResolutions++;
      try {
        extra.push(...await this.resolveNsName(ctx, next));
      } catch (e) {
        if (!(e instanceof RecursorError)) throw e;
        if (e.limit === 'maxQueriesPerRequest' || e.limit === 'maxConcurrentOutgoing') throw e;
        if (e.limit) limitedBy = e.limit;
        failures.push(`${next}: ${e.message}`);
      }
    }
    if (limitedBy) throw this.limitHit(limitedBy, `no server for ${zone || '.'} within the ${limitedBy} limit`);
    throw new RecursorError('UPSTREAM_FAILED', `no server of ${zone || '.'} answered ${sendName} (${failures.join('; ') || 'no addresses'})`);
  }

  /** Addresses of an NS name that has no glue, by resolving it (nested, with loop detection). */
  private async resolveNsName(ctx: Ctx, nsName: string): Promise<string[]> {
    if (ctx.resolving.has(nsName)) throw this.limitHit('maxDependencyDepth', `delegation loop through ${nsName}`);
    if (ctx.depth + 1 > this.limits.maxDependencyDepth) throw this.limitHit('maxDependencyDepth', `NS-name resolutions nested deeper than ${this.limits.maxDependencyDepth}`);
    const child: Ctx = { budget: ctx.budget, depth: ctx.depth + 1, resolving: new Set([...ctx.resolving, nsName]) };
    const out: string[] = [];
    const a = await this.lookup(child, nsName, Type.A).catch((e: unknown) => { if (e instanceof RecursorError && !e.limit) return null; throw e; });
    for (const r of a?.answer ?? []) if (r.type === Type.A) out.push(ipText(r.rdata));
    if (out.length === 0 && this.ipv6) {
      const aaaa = await this.lookup(child, nsName, Type.AAAA).catch((e: unknown) => { if (e instanceof RecursorError && !e.limit) return null; throw e; });
      for (const r of aaaa?.answer ?? []) if (r.type === Type.AAAA) out.push(ipText(r.rdata));
    }
    return out;
  }

  private knownAddresses(zone: string, nsNames: readonly string[], now: number): string[] {
    const out: string[] = [];
    for (const n of nsNames) out.push(...this.addressesOf(n, now));
    if (zone === '' && out.length === 0) for (const n of this.hintNames) out.push(...(this.hintAddresses.get(n) ?? []));
    return out.filter((a) => this.ipv6 || net.isIP(a) === 4);
  }

  private addressesOf(nsName: string, now: number): string[] {
    const out: string[] = [];
    for (const r of this.cache.getRrset(nsName, Type.A, now) ?? []) if (r.rdata.length === 4) out.push(ipText(r.rdata));
    if (this.ipv6) for (const r of this.cache.getRrset(nsName, Type.AAAA, now) ?? []) if (r.rdata.length === 16) out.push(ipText(r.rdata));
    const hint = this.hintAddresses.get(nsName);
    if (out.length === 0 && hint) out.push(...hint);
    return out.filter((a) => this.ipv6 || net.isIP(a) === 4);
  }

  /**
   * One question to one server (TC → TCP, FORMERR to EDNS → again without), classified:
   * a referral, an answer, or a string saying why this server is no use now.
   */
  private async ask(ctx: Ctx, address: string, zone: string, sendName: string, sendType: number): Promise<ZoneReply | string> {
    const server: HostPort = { host: address, port: this.port, family: net.isIP(address) === 6 ? 6 : 4 };
    const info = this.servers.get(address);
    const question = this.questionFor(sendName, sendType);
    let result: ExchangeResult;
    const t0 = performance.now();
    try {
      let q: AuthQuery = { question, edns: !info.noEdns, exactCase: this.x20 };
      result = await this.exchange(ctx, server, q, false);
      if (result.msg.flags & Flag.TC) {
        this.emit({ kind: 'truncated' });
        result = await this.exchange(ctx, server, q, true);
      }
      if ((result.msg.flags & 0xf) === Rcode.FORMERR && q.edns) {
        // RFC 6891 §7: no EDNS support; ask again without and remember.
        this.emit({ kind: 'formerr' });
        info.noEdns = true;
        q = { ...q, edns: false };
        result = await this.exchange(ctx, server, q, false);
        if (result.msg.flags & Flag.TC) result = await this.exchange(ctx, server, q, true);
      }
    } catch (e) {
      if (e instanceof RecursorError) throw e;
      if (!(e instanceof ExchangeError) && !(e instanceof MessageError)) throw e;
      const code = e instanceof ExchangeError ? e.code : 'malformed';
      if (code === 'timeout') this.servers.timeout(address, this.timeoutMs, Date.now());
      this.emit({ kind: code });
      return code;
    }
    this.servers.rtt(address, performance.now() - t0);
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
    // Only data within the zone we asked about is believed; the rest is never used or cached.
    const records = recordsOf(result.buf, msg).filter((r) => r.klass === Class.IN && isSubdomain(r.name, zone));
    const aa = (msg.flags & Flag.AA) !== 0;
    const answers = records.filter((r) => r.section === Section.Answer);
    const authority = records.filter((r) => r.section === Section.Authority);
    if (!aa && rcode === Rcode.NOERROR && answers.length === 0) {
      const ns = authority.filter((r) => r.type === Type.NS);
      const cut = ns[0]?.name;
      if (cut !== undefined && cut !== zone && isSubdomain(sendName, cut)) {
        const nsSet = ns.filter((r) => r.name === cut);
        const targets = new Set(nsSet.map((r) => rdataName(r.rdata)));
        const glue = records.filter((r) => r.section === Section.Additional && (r.type === Type.A || r.type === Type.AAAA) && targets.has(r.name));
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
    return { kind: 'answer', rcode, answers: strip(answers), authority: strip(authority), zone };
  }

  /** Sends one query, counting it against the client query's budget and the global concurrency limit. */
  private async exchange(ctx: Ctx, server: HostPort, q: AuthQuery, tcp: boolean): Promise<ExchangeResult> {
    const budget = ctx.budget;
    if (budget.queries >= this.limits.maxQueriesPerRequest) throw this.limitHit('maxQueriesPerRequest', `more than ${this.limits.maxQueriesPerRequest} queries for one client query`);
    if (this.outgoing >= this.limits.maxConcurrentOutgoing) throw this.limitHit('maxConcurrentOutgoing', `${this.outgoing} queries already in flight`);
    const remaining = budget.deadline - Date.now();
    if (remaining <= 0) throw new RecursorError('UPSTREAM_FAILED', `no answer within ${this.totalTimeoutMs} ms`);
    budget.queries++;
    this.outgoing++;
    this.emit({ kind: 'query', transport: tcp ? 'tcp' : 'udp' });
    try {
      const timeout = Math.max(1, Math.min(this.timeoutMs * (tcp ? 2 : 1), remaining));
      return tcp ? await tcpQuery(server, q, timeout) : await udpQuery(server, q, timeout, () => this.emit({ kind: 'mismatch' }));
    } finally {
      this.outgoing--;
    }
  }

  /** The question section for a name, its letters' case randomised under 0x20. */
  private questionFor(name: string, type: number): Buffer {
    const wire = encodeName(name);
    if (this.x20) {
      const bits = randomBytes(wire.length);
      for (let i = 0; i < wire.length; i++) {
        const c = wire[i] | 0x20;
        if (c >= 0x61 && c <= 0x7a && (wire[i] === c || wire[i] === (c & ~0x20)) && isLetterPosition(wire, i)) wire[i] = bits[i] & 1 ? c & ~0x20 : c;
      }
    }
    const out = Buffer.alloc(wire.length + 4);
    wire.copy(out, 0);
    out.writeUInt16BE(type, wire.length);
    out.writeUInt16BE(Class.IN, wire.length + 2);
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

function strip(records: SectionRr[]): Rr[] {
  return records.map(({ name, type, klass, ttl, rdata }) => ({ name, type, klass, ttl, rdata }));
}

/** Groups records into RRsets (same owner and type), in order of first appearance. */
export function groupRrsets(records: readonly Rr[]): Rr[][] {
  const sets = new Map<string, Rr[]>();
  for (const r of records) {
    const k = `${r.type}/${r.name}`;
    const s = sets.get(k);
    if (s) s.push(r); else sets.set(k, [r]);
  }
  return [...sets.values()];
}

/** An A or AAAA RDATA as an address literal (IPv6 in RFC 5952 form, as Node reports peers). */
export function ipText(rdata: Buffer): string {
  if (rdata.length === 4) return `${rdata[0]}.${rdata[1]}.${rdata[2]}.${rdata[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(rdata.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
