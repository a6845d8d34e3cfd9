// Scripted upstream DNS servers for end-to-end tests: a UDP socket and a TCP listener on
// the same loopback port, answering from a small zone, counting every query they get,
// and told per test to misbehave (delay, truncate, garbage, wrong ID, silence, ...).
// Packets are built and read with dns-packet, independently of the resolver's wire code.
import dgram from 'node:dgram';
import net from 'node:net';
import type { HostPort } from '../../src/config/types';
import { dnsPacket } from './packets';
import { loopback } from './resolver';

export type UpstreamTransport = 'udp' | 'tcp';

/** One query as the upstream received it. */
export interface ReceivedQuery {
  readonly transport: UpstreamTransport;
  /** The query's ID. */
  readonly id: number;
  /** Question name exactly as sent (case preserved). */
  readonly name: string;
  readonly type: string;
  /** Source address and port of the query. */
  readonly address: string;
  readonly port: number;
  /** Whether the query carried an OPT record, and its UDP size. */
  readonly edns: boolean;
  readonly udpSize: number;
  readonly rd: boolean;
  readonly raw: Buffer;
  /** Date.now() on arrival. */
  readonly at: number;
}

/** Records the zone answers with for one name and type. */
export interface ZoneEntry {
  readonly rcode?: string;
  readonly answers?: dnsPacket.Answer[];
  readonly authorities?: dnsPacket.Answer[];
  readonly additionals?: dnsPacket.Answer[];
}

/**
 * How the upstream reacts to a query:
 * - answer: the zone's answer (TC=1 and no records over UDP when it exceeds the query's size);
 * - silent: nothing at all;
 * - garbage: random bytes that are not even a DNS header;
 * - malformed: a reply with our ID and question whose answer record runs past the end;
 * - servfail / refused / formerr: that rcode, no records;
 * - truncate: over UDP a TC=1 reply with only the question; over TCP the full answer;
 * - wrong-id-first / wrong-question-first: first a reply that must be ignored (other ID,
 *   or another question, both carrying the address 203.0.113.66), then after `gapMs`
 *   the right answer.
 */
export type Behaviour =
  | 'answer' | 'silent' | 'garbage' | 'malformed' | 'servfail' | 'refused' | 'formerr'
  | 'truncate' | 'wrong-id-first' | 'wrong-question-first';

/** The address a decoy reply (wrong ID / wrong question) carries. */
export const DECOY_ADDRESS = '203.0.113.66';

/** A default SOA for negative answers: TTL 300, minimum 60. */
export function soa(zone: string, ttl = 300, minimum = 60): dnsPacket.Answer {
  return {
    name: zone, type: 'SOA', ttl, class: 'IN',
    data: { mname: `ns.${zone}`, rname: `hostmaster.${zone}`, serial: 2024010101, refresh: 3600, retry: 600, expire: 86400, minimum },
  } as dnsPacket.Answer;
}

type Send = { readonly delayMs: number; readonly bytes: Buffer };

/** dns-packet encodes the rcode only as the low bits of `flags`. */
const RCODES: Readonly<Record<string, number>> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

function rcodeBits(name: string): number {
  const n = RCODES[name];
  if (n === undefined) throw new Error(`unknown rcode ${name}`);
  return n;
}

const MAX_BIND_TRIES = 10;

export class ScriptedUpstream {
  /** Every query received since the last reset(), in arrival order. */
  readonly queries: ReceivedQuery[] = [];
  behaviour: Behaviour = 'answer';
  /** Per-query override of `behaviour`. */
  behave: ((q: ReceivedQuery) => Behaviour) | null = null;
  /** Milliseconds to wait before replying (a number, or per query). */
  delayMs: number | ((q: ReceivedQuery) => number) = 0;
  /** Answer FORMERR (no OPT) to any query carrying an OPT record, like a pre-EDNS server. */
  formerrOnEdns = false;
  /** Gap between the decoy and the right reply for the wrong-*-first behaviours. */
  gapMs = 60;

  private readonly zone = new Map<string, ZoneEntry>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly conns = new Set<net.Socket>();
  private waiters: { n: number; resolve: () => void }[] = [];
  private closed = false;

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly host: string,
    readonly port: number,
  ) {
    udp.on('message', (msg, rinfo) => this.onMessage(msg, 'udp', rinfo.address, rinfo.port, (b) => {
      if (this.closed) return;
      udp.send(b, rinfo.port, rinfo.address);
    }));
    tcp.on('connection', (s) => this.onConnection(s));
  }

  /** Starts an upstream listening on UDP and TCP on one ephemeral loopback port. */
  static async start(host = '127.0.0.1'): Promise<ScriptedUpstream> {
    let lastError: unknown;
    for (let i = 0; i < MAX_BIND_TRIES; i++) {
      const udp = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(0, host, () => { udp.off('error', reject); resolve(); });
      });
      udp.on('error', () => { /* ICMP unreachable after a client left: ignore */ });
      const port = udp.address().port;
      const tcp = net.createServer({ noDelay: true });
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host, port }, () => { tcp.off('error', reject); resolve(); });
        });
      } catch (e) {
        lastError = e;
        await new Promise<void>((r) => udp.close(() => r()));
        continue; // the TCP port was taken: try another UDP port
      }
      return new ScriptedUpstream(udp, tcp, host, port);
    }
    throw new Error(`could not bind a scripted upstream on ${host}: ${String(lastError)}`);
  }

  /** The address to configure as the resolver's upstream. */
  get hostPort(): HostPort {
    return loopback(this.port, this.host);
  }

  /** "host:port", as the resolver labels this upstream in metrics. */
  get label(): string {
    return this.host.includes(':') ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** Adds (or replaces) the zone's answer for a name and type. */
  set(name: string, type: string, entry: ZoneEntry): this {
    this.zone.set(`${name.toLowerCase()}|${type}`, entry);
    return this;
  }

  /** Shorthand: positive answer records for name/type. */
  records(name: string, type: string, answers: dnsPacket.Answer[]): this {
    return this.set(name, type, { answers });
  }

  /** Shorthand: NXDOMAIN for name (any type asked below) with an SOA of the given TTL and minimum. */
  nxdomain(name: string, type: string, zone: string, ttl = 300, minimum = 60): this {
    return this.set(name, type, { rcode: 'NXDOMAIN', authorities: [soa(zone, ttl, minimum)] });
  }

  /** Forgets the queries, the zone and the behaviour, and cancels replies still pending. */
  reset(): void {
    this.queries.length = 0;
    this.zone.clear();
    this.behaviour = 'answer';
    this.behave = null;
    this.delayMs = 0;
    this.formerrOnEdns = false;
    this.gapMs = 60;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiters = [];
  }

  /** Queries received, optionally only over one transport. */
  count(transport?: UpstreamTransport): number {
    return transport ? this.queries.filter((q) => q.transport === transport).length : this.queries.length;
  }

  /** Resolves once at least `n` queries have arrived (rejects after `timeoutMs`). */
  waitForQueries(n: number, timeoutMs = 2000): Promise<void> {
    if (this.queries.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`upstream got ${this.queries.length} of ${n} queries within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); } });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reset();
    for (const s of this.conns) s.destroy();
    await Promise.all([
      new Promise<void>((r) => this.udp.close(() => r())),
      new Promise<void>((r) => this.tcp.close(() => r())),
    ]);
  }

  // -------------------------------------------------------------------------

  private onConnection(s: net.Socket): void {
    this.conns.add(s);
    s.on('close', () => this.conns.delete(s));
    s.on('error', () => { /* the resolver gave up on it */ });
    let pending = Buffer.alloc(0);
    s.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) return;
        const msg = Buffer.from(pending.subarray(2, 2 + len));
        pending = pending.subarray(2 + len);
        this.onMessage(msg, 'tcp', s.remoteAddress ?? '', s.remotePort ?? 0, (b) => {
          if (s.destroyed || !s.writable) return;
          const framed = Buffer.alloc(b.length + 2);
          framed.writeUInt16BE(b.length, 0);
          b.copy(framed, 2);
          s.write(framed);
        });
      }
    });
  }

  private onMessage(msg: Buffer, transport: UpstreamTransport, address: string, port: number, send: (b: Buffer) => void): void {
    let p: dnsPacket.DecodedPacket;
    try {
      p = dnsPacket.decode(msg);
    } catch {
      return; // not a DNS message: a real server would drop it too
    }
    const question = p.questions?.[0];
    if (!question) return;
    const opt = (p.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const q: ReceivedQuery = {
      transport, id: p.id ?? 0, name: question.name, type: question.type, address, port,
      edns: opt !== undefined, udpSize: opt ? Math.max(512, opt.udpPayloadSize ?? 512) : 512,
      rd: ((p.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0,
      raw: msg, at: Date.now(),
    };
    this.queries.push(q);
    const ready = this.waiters.filter((w) => this.queries.length >= w.n);
    this.waiters = this.waiters.filter((w) => this.queries.length < w.n);
    for (const w of ready) w.resolve();

    const delay = typeof this.delayMs === 'function' ? this.delayMs(q) : this.delayMs;
    for (const s of this.plan(q)) {
      const wait = delay + s.delayMs;
      if (wait <= 0) {
        send(s.bytes);
        continue;
      }
      const t = setTimeout(() => { this.timers.delete(t); send(s.bytes); }, wait);
      this.timers.add(t);
    }
  }

  /** What to send for this query, and when (relative to the configured delay). */
  private plan(q: ReceivedQuery): Send[] {
    const now = (bytes: Buffer): Send[] => [{ delayMs: 0, bytes }];
    if (this.formerrOnEdns && q.edns) return now(this.bare(q, 'FORMERR'));
    const behaviour = this.behave ? this.behave(q) : this.behaviour;
    switch (behaviour) {
      case 'silent': return [];
      case 'garbage': return now(Buffer.from('\x8f\x13garbage, not DNS at all \x00\xff\xfe', 'latin1'));
      case 'malformed': {
        // Our ID, QR, the question echoed, ANCOUNT 1, then a record cut off mid-RDATA.
        const head = this.bare(q, 'NOERROR');
        head.writeUInt16BE(1, 6);
        const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0]);
        return now(Buffer.concat([head, rr]));
      }
      case 'servfail': return now(this.bare(q, 'SERVFAIL'));
      case 'refused': return now(this.bare(q, 'REFUSED'));
      case 'formerr': return now(this.bare(q, 'FORMERR'));
      case 'truncate':
        if (q.transport === 'udp') return now(this.bare(q, 'NOERROR', dnsPacket.TRUNCATED_RESPONSE));
        return now(this.answer(q));
      case 'wrong-id-first': {
        const decoy = this.encode(q, { answers: [{ name: q.name, type: 'A', ttl: 300, class: 'IN', data: DECOY_ADDRESS }] }, (q.id + 1) & 0xffff);
        return [{ delayMs: 0, bytes: decoy }, { delayMs: this.gapMs, bytes: this.answer(q) }];
      }
      case 'wrong-question-first': {
        const other = { ...q, name: `other-${q.name}` };
        const decoy = this.encode(other, { answers: [{ name: other.name, type: 'A', ttl: 300, class: 'IN', data: DECOY_ADDRESS }] });
        return [{ delayMs: 0, bytes: decoy }, { delayMs: this.gapMs, bytes: this.answer(q) }];
      }
      case 'answer': return now(this.answer(q));
    }
  }

  /** The zone's answer, or TC=1 when it does not fit the UDP size the query offered. */
  private answer(q: ReceivedQuery): Buffer {
    const full = this.encode(q, this.lookup(q));
    if (q.transport === 'udp' && full.length > q.udpSize) return this.bare(q, 'NOERROR', dnsPacket.TRUNCATED_RESPONSE);
    return full;
  }

  /** The zone entry, or a synthesized default: A 192.0.2.1 / AAAA 2001:db8::1 (TTL 300), else NODATA. */
  private lookup(q: ReceivedQuery): ZoneEntry {
    const entry = this.zone.get(`${q.name.toLowerCase()}|${q.type}`);
    if (entry) return entry;
    if (q.type === 'A') return { answers: [{ name: q.name, type: 'A', ttl: 300, class: 'IN', data: '192.0.2.1' }] };
    if (q.type === 'AAAA') return { answers: [{ name: q.name, type: 'AAAA', ttl: 300, class: 'IN', data: '2001:db8::1' }] };
    return { authorities: [soa(q.name.split('.').slice(-2).join('.'))] };
  }

  private encode(q: ReceivedQuery, entry: ZoneEntry, id = q.id, extraFlags = 0): Buffer {
    const additionals = [...(entry.additionals ?? [])];
    if (q.edns) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer);
    return dnsPacket.encode({
      type: 'response', id,
      flags: dnsPacket.RECURSION_AVAILABLE | (q.rd ? dnsPacket.RECURSION_DESIRED : 0) | extraFlags | rcodeBits(entry.rcode ?? 'NOERROR'),
      questions: [{ name: q.name, type: q.type as dnsPacket.RecordType, class: 'IN' }],
      answers: entry.answers ?? [],
      authorities: entry.authorities ?? [],
      additionals,
    } as dnsPacket.Packet);
  }

  /** A reply with no records: header and question only (no OPT, like an old server). */
  private bare(q: ReceivedQuery, rcode: string, extraFlags = 0): Buffer {
    return dnsPacket.encode({
      type: 'response', id: q.id,
      flags: dnsPacket.RECURSION_AVAILABLE | (q.rd ? dnsPacket.RECURSION_DESIRED : 0) | extraFlags | rcodeBits(rcode),
      questions: [{ name: q.name, type: q.type as dnsPacket.RecordType, class: 'IN' }],
    } as dnsPacket.Packet);
  }
}

/** TXT records of `count` strings of `size` characters each, for answers of a chosen size. */
export function txtRecords(name: string, count: number, size = 60, ttl = 300): dnsPacket.Answer[] {
  return Array.from({ length: count }, (_, i) => ({
    name, type: 'TXT', ttl, class: 'IN', data: `${String(i).padStart(3, '0')}-${'x'.repeat(Math.max(0, size - 4))}`,
  }) as dnsPacket.Answer);
}
