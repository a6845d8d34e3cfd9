// A scripted authoritative DNS server for the recursor's tests: UDP and TCP on one
// loopback address and port, answering from small in-memory zones with referrals (NS in
// authority, glue for the NS names in additional, optional junk), NXDOMAIN/NODATA with
// the SOA, CNAME (followed only inside the zone), DNAME (RFC 6672), basic wildcards
// (RFC 4592), TC over UDP when the answer exceeds the query's UDP size, and per-test
// misbehaviour. Every query received is logged with its name exactly as sent.
// Packets are built and read with dns-packet, independently of the resolver's wire code.
import dgram from 'node:dgram';
import net from 'node:net';
import { dnsPacket } from './packets';

/** A record, loosely typed (dns-packet's union type hides `data` and `ttl`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface Rr { name: string; type: string; ttl: number; class: string; data: any }

export interface Zone {
  /** Origin, lowercase, without trailing dot ("" for the root). */
  readonly origin: string;
  /** Records as dns-packet answers or compact text: "name ttl TYPE data..." (absolute names). */
  readonly records: ReadonlyArray<Rr | string>;
  /** Extra records appended to the additional section of every referral (poisoning tests). */
  readonly junkGlue?: ReadonlyArray<Rr | string>;
}

/**
 * - answer: authoritative answers and referrals from the zones;
 * - silent: no reply;
 * - refused: REFUSED (a lame server);
 * - formerr-edns: FORMERR to any query carrying OPT, normal answers otherwise;
 * - noaa: answers without the AA bit (lame: a non-authoritative non-referral answer);
 * - upward: a referral to the root (lame: a referral upward);
 * - lowercase: answers normally but with the question name lowercased (breaks 0x20).
 * - servfail: SERVFAIL to everything (reachable but failing);
 * - nxdomain: an authoritative NXDOMAIN with the zone's SOA for every name in its zones (the name was removed).
 * Every Authority's behaviour (and delayMs) may be changed while it runs.
 */
export type AuthBehaviour = 'answer' | 'silent' | 'refused' | 'formerr-edns' | 'noaa' | 'upward' | 'lowercase' | 'servfail' | 'nxdomain';

export interface ReceivedAuthQuery {
  readonly transport: 'udp' | 'tcp';
  /** Question name as received (case preserved). */
  readonly name: string;
  readonly type: string;
  readonly edns: boolean;
  readonly rd: boolean;
}

export interface AuthorityOptions {
  readonly address: string;
  readonly port: number;
  readonly zones: readonly Zone[];
  readonly behaviour?: AuthBehaviour;
  readonly delayMs?: number;
}

export interface Authority {
  readonly address: string;
  readonly port: number;
  behaviour: AuthBehaviour;
  delayMs: number;
  readonly log: ReceivedAuthQuery[];
  close(): Promise<void>;
}

interface ZoneData {
  readonly origin: string;
  readonly byName: Map<string, Rr[]>;
  /** Every name that exists (owners and their ancestors up to the origin: empty non-terminals). */
  readonly exists: Set<string>;
  readonly junk: Rr[];
}

const lower = (n: string): string => n.toLowerCase().replace(/\.$/, '');

export function isUnder(name: string, zone: string): boolean {
  return zone === '' || name === zone || name.endsWith('.' + zone);
}

function parent(name: string): string {
  const i = name.indexOf('.');
  return i < 0 ? '' : name.slice(i + 1);
}

/** Parses "name ttl TYPE data" into a dns-packet record (A, AAAA, NS, CNAME, DNAME, PTR, TXT, MX, SRV, SOA, CAA). */
export function rr(text: string): Rr {
  const parts = text.trim().split(/\s+/);
  const [name, ttlText, type, ...data] = parts;
  const ttl = Number(ttlText);
  const base = { name: lower(name), ttl, class: 'IN' as const };
  switch (type) {
    case 'A': case 'AAAA': case 'NS': case 'CNAME': case 'DNAME': case 'PTR':
      return { ...base, type, data: type === 'A' || type === 'AAAA' ? data[0] : lower(data[0]) } as Rr;
    case 'TXT': return { ...base, type, data: data.join(' ') } as Rr;
    case 'MX': return { ...base, type, data: { preference: Number(data[0]), exchange: lower(data[1]) } } as Rr;
    case 'SRV': return { ...base, type, data: { priority: Number(data[0]), weight: Number(data[1]), port: Number(data[2]), target: lower(data[3]) } } as Rr;
    case 'CAA': return { ...base, type, data: { flags: Number(data[0]), tag: data[1], value: data.slice(2).join(' ') } } as Rr;
    case 'SOA': return soaRr(base.name, ttl, Number(data[0] ?? 60));
    default: throw new Error(`rr(): unsupported type in "${text}"`);
  }
}

export function soaRr(zone: string, ttl = 300, minimum = 60): Rr {
  return {
    name: zone, type: 'SOA', ttl, class: 'IN',
    data: { mname: `ns.${zone || 'root'}`, rname: `hostmaster.${zone || 'root'}`, serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
  } as Rr;
}

function toRr(r: Rr | string): Rr {
  if (typeof r === 'string') return rr(r);
  return { ...r, name: lower(r.name) } as Rr;
}

export function loadZone(z: Zone): ZoneData {
  const byName = new Map<string, Rr[]>();
  const exists = new Set<string>([z.origin]);
  for (const r0 of z.records) {
    const r = toRr(r0);
    if (!isUnder(r.name, z.origin)) throw new Error(`${r.name} is outside zone "${z.origin}"`);
    let list = byName.get(r.name);
    if (!list) byName.set(r.name, (list = []));
    list.push(r);
    for (let n = r.name; n !== z.origin && !exists.has(n); n = parent(n)) exists.add(n);
  }
  if (!byName.get(z.origin)?.some((r) => r.type === 'SOA')) {
    const list = byName.get(z.origin) ?? [];
    list.push(soaRr(z.origin));
    byName.set(z.origin, list);
  }
  return { origin: z.origin, byName, exists, junk: (z.junkGlue ?? []).map(toRr) };
}

interface Reply {
  rcode: number;
  aa: boolean;
  answers: Rr[];
  authorities: Rr[];
  additionals: Rr[];
}

const RC = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 };

/** The authoritative logic: the reply the zones give for (qname, qtype). */
export function lookupZones(zones: readonly ZoneData[], qname: string, qtype: string): Reply {
  let zone: ZoneData | undefined;
  for (const z of zones) if (isUnder(qname, z.origin) && (!zone || z.origin.length > zone.origin.length)) zone = z;
  if (!zone) return { rcode: RC.REFUSED, aa: false, answers: [], authorities: [], additionals: [] };
  const z = zone;
  const soa = (): Rr[] => (z.byName.get(z.origin) ?? []).filter((r) => r.type === 'SOA');
  const answers: Rr[] = [];
  let name = qname;
  outer: for (let hops = 0; hops < 8; hops++) {
    // Walk from just below the origin down to the name: a delegation or a DNAME on the way wins.
    const labels = name === z.origin ? [] : name.slice(0, name.length - z.origin.length).replace(/\.$/, '').split('.');
    for (let i = labels.length - 1; i >= 0; i--) {
      const n = labels.slice(i).join('.') + (z.origin ? '.' + z.origin : '');
      const here = z.byName.get(n) ?? [];
      const ns = here.filter((r) => r.type === 'NS');
      if (ns.length > 0 && !(n === name && qtype === 'DS')) {
        if (answers.length > 0) return { rcode: RC.NOERROR, aa: true, answers, authorities: [], additionals: [] };
        const glue: Rr[] = [];
        for (const r of ns) {
          const target = r.data as string;
          for (const g of z.byName.get(target) ?? []) if (g.type === 'A' || g.type === 'AAAA') glue.push(g);
        }
        return { rcode: RC.NOERROR, aa: false, answers: [], authorities: ns, additionals: [...glue, ...z.junk] };
      }
      const dname = here.find((r) => r.type === 'DNAME');
      if (dname && n !== name) {
        const target = name.slice(0, name.length - n.length) + (dname.data as string);
        answers.push(dname, { name, type: 'CNAME', ttl: dname.ttl, class: 'IN', data: target } as Rr);
        if (!isUnder(target, z.origin)) return { rcode: RC.NOERROR, aa: true, answers, authorities: [], additionals: [] };
        name = target;
        continue outer;
      }
    }
    const here = z.byName.get(name);
    let records = here ?? [];
    if (!here && !z.exists.has(name)) {
      // RFC 4592: the wildcard at the closest encloser, if any, synthesises the answer.
      let ce = parent(name);
      while (ce !== z.origin && !z.exists.has(ce)) ce = parent(ce);
      const wild = z.byName.get(ce ? `*.${ce}` : '*');
      if (!wild) return { rcode: RC.NXDOMAIN, aa: true, answers, authorities: soa(), additionals: [] };
      records = wild.map((r) => ({ ...r, name } as Rr));
    }
    const match = records.filter((r) => r.type === qtype || qtype === 'ANY');
    if (match.length > 0) {
      answers.push(...match);
      return { rcode: RC.NOERROR, aa: true, answers, authorities: [], additionals: [] };
    }
    const cname = records.find((r) => r.type === 'CNAME');
    if (cname && qtype !== 'CNAME') {
      answers.push(cname);
      const target = cname.data as string;
      if (!isUnder(target, z.origin) || answers.filter((a) => a.type === 'CNAME').length > 6) {
        return { rcode: RC.NOERROR, aa: true, answers, authorities: [], additionals: [] };
      }
      name = target;
      continue;
    }
    return { rcode: RC.NOERROR, aa: true, answers, authorities: soa(), additionals: [] };
  }
  return { rcode: RC.NOERROR, aa: true, answers, authorities: [], additionals: [] };
}

/** Starts one authoritative server; rejects (with the socket error) if the address/port is taken. */
export async function startAuthority(opts: AuthorityOptions): Promise<Authority> {
  const zones = opts.zones.map(loadZone);
  const udp = dgram.createSocket(opts.address.includes(':') ? 'udp6' : 'udp4');
  const tcp = net.createServer();
  const conns = new Set<net.Socket>();
  const log: ReceivedAuthQuery[] = [];
  const state: Authority = {
    address: opts.address, port: opts.port, behaviour: opts.behaviour ?? 'answer', delayMs: opts.delayMs ?? 0, log,
    close: () => new Promise<void>((resolve) => {
      for (const c of conns) c.destroy();
      let left = 2;
      const one = (): void => { if (--left === 0) resolve(); };
      try { udp.close(one); } catch { one(); }
      tcp.close(() => one());
    }),
  };
  const timers = new Set<NodeJS.Timeout>();

  const respond = (raw: Buffer, transport: 'udp' | 'tcp'): Buffer | null => {
    let q: dnsPacket.Packet;
    try { q = dnsPacket.decode(raw); } catch { return null; }
    const question = q.questions?.[0];
    if (!question) return null;
    const opt = (q.additionals ?? []).find((r) => r.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    log.push({ transport, name: question.name, type: question.type, edns: !!opt, rd: ((q.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0 });
    const b = state.behaviour;
    if (b === 'silent') return null;
    const base = { type: 'response' as const, id: q.id, questions: [b === 'lowercase' ? { ...question, name: question.name.toLowerCase() } : question] };
    if (b === 'refused') return dnsPacket.encode({ ...base, flags: RC.REFUSED });
    if (b === 'servfail') return dnsPacket.encode({ ...base, flags: RC.SERVFAIL });
    if (b === 'formerr-edns' && opt) return dnsPacket.encode({ ...base, flags: RC.FORMERR });
    let reply: Reply;
    if (b === 'upward') {
      reply = { rcode: 0, aa: false, answers: [], authorities: [{ name: '', type: 'NS', ttl: 3600, class: 'IN', data: 'a.root-servers.net' } as Rr], additionals: [] };
    } else {
      reply = lookupZones(zones, question.name.toLowerCase().replace(/\.$/, ''), question.type);
      if (b === 'noaa') reply.aa = false;
      if (b === 'nxdomain' && reply.aa) {
        const zone = zones.filter((z) => isUnder(lower(question.name), z.origin)).sort((x, y) => y.origin.length - x.origin.length)[0];
        const soa = (zone?.byName.get(zone.origin) ?? []).filter((r) => r.type === 'SOA');
        reply = { rcode: RC.NXDOMAIN, aa: true, answers: [], authorities: soa, additionals: [] };
      }
    }
    const flags = (reply.aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | reply.rcode;
    const additionals = [...reply.additionals];
    if (opt) additionals.push({ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as Rr);
    const full = dnsPacket.encode({ ...base, flags, answers: reply.answers as dnsPacket.Answer[], authorities: reply.authorities as dnsPacket.Answer[], additionals: additionals as dnsPacket.Answer[] });
    const limit = opt ? Math.max(512, opt.udpPayloadSize ?? 512) : 512;
    if (transport === 'udp' && full.length > limit) {
      return dnsPacket.encode({ ...base, flags: flags | dnsPacket.TRUNCATED_RESPONSE, additionals: (opt ? [additionals[additionals.length - 1]] : []) as dnsPacket.Answer[] });
    }
    return full;
  };
  const later = (f: () => void): void => {
    if (state.delayMs <= 0) { f(); return; }
    const t = setTimeout(() => { timers.delete(t); f(); }, state.delayMs);
    timers.add(t);
  };
  const close0 = state.close;
  (state as { close: () => Promise<void> }).close = () => { for (const t of timers) clearTimeout(t); timers.clear(); return close0(); };

  udp.on('message', (msg, rinfo) => {
    const out = respond(msg, 'udp');
    if (out) later(() => udp.send(out, rinfo.port, rinfo.address, () => undefined));
  });
  tcp.on('connection', (sock) => {
    conns.add(sock);
    sock.on('close', () => conns.delete(sock));
    sock.on('error', () => undefined);
    let pending = Buffer.alloc(0);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const len = pending.readUInt16BE(0);
        const msg = pending.subarray(2, 2 + len);
        pending = pending.subarray(2 + len);
        const out = respond(Buffer.from(msg), 'tcp');
        if (out) {
          const framed = Buffer.alloc(out.length + 2);
          framed.writeUInt16BE(out.length, 0);
          out.copy(framed, 2);
          later(() => { if (!sock.destroyed) sock.write(framed); });
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(opts.port, opts.address, () => { udp.off('error', reject); resolve(); });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(opts.port, opts.address, () => { tcp.off('error', reject); resolve(); });
    });
  } catch (e) {
    udp.close();
    throw e;
  }
  return state;
}

export interface ServerSpec {
  readonly address: string;
  readonly zones: readonly Zone[];
  readonly behaviour?: AuthBehaviour;
}

export interface Hierarchy {
  readonly port: number;
  /** Servers by address. */
  readonly servers: ReadonlyMap<string, Authority>;
  server(address: string): Authority;
  /** Clears every server's query log. */
  clearLogs(): void;
  close(): Promise<void>;
}

/** Starts every server on one port that is free on all their addresses, retrying another port on a conflict. */
export async function startServers(specs: readonly ServerSpec[], tries = 20): Promise<Hierarchy> {
  let lastError: unknown;
  for (let attempt = 0; attempt < tries; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const started: Authority[] = [];
    try {
      for (const s of specs) started.push(await startAuthority({ address: s.address, port, zones: s.zones, behaviour: s.behaviour }));
    } catch (e) {
      lastError = e;
      await Promise.all(started.map((a) => a.close()));
      continue;
    }
    const servers = new Map(started.map((a) => [a.address, a]));
    return {
      port, servers,
      server: (address) => {
        const a = servers.get(address);
        if (!a) throw new Error(`no server at ${address}`);
        return a;
      },
      clearLogs: () => { for (const a of started) a.log.length = 0; },
      close: async () => { await Promise.all(started.map((a) => a.close())); },
    };
  }
  throw new Error(`no port free on every address after ${tries} tries: ${String(lastError)}`);
}

export const ROOT_ADDRESS = '127.0.0.2';

/** Root hints for the fake root. */
export function rootHints(): { name: string; addresses: string[] }[] {
  return [{ name: 'a.root.test', addresses: [ROOT_ADDRESS] }];
}

const txtBig = Array.from({ length: 24 }, (_, i) => `big.example.com 300 TXT ${String(i).padStart(2, '0')}${'x'.repeat(90)}`);

/**
 * The test hierarchy: a root, TLDs com/org/vn, edu.vn delegated under vn, and zones that
 * exercise glue, glueless NS, CNAME chains across zones, DNAME, lame/silent/EDNS-broken
 * servers, an NXNS-style referral, a delegation loop, wildcards, big answers and IPv6.
 */
export function hierarchySpecs(opts: { ipv6?: boolean } = {}): ServerSpec[] {
  const nxnsNs = Array.from({ length: 20 }, (_, i) => `nxns.com 3600 NS ns${i + 1}.nxns-target.org`);
  const specs: ServerSpec[] = [
    { address: ROOT_ADDRESS, zones: [{ origin: '', records: [
      'com 172800 NS ns.nic.com', 'ns.nic.com 172800 A 127.0.0.3',
      'org 172800 NS ns.nic.org', 'ns.nic.org 172800 A 127.0.0.4',
      'vn 172800 NS ns.nic.vn', 'ns.nic.vn 172800 A 127.0.0.5',
    ] }] },
    { address: '127.0.0.3', zones: [{ origin: 'com', junkGlue: ['www.victim.test 3600 A 192.0.2.66', 'www.example.org 3600 A 192.0.2.67'], records: [
      'ns.nic.com 172800 A 127.0.0.3',
      'example.com 3600 NS ns1.example.com', 'ns1.example.com 3600 A 127.0.0.10',
      'glueless.com 3600 NS ns.hosting.org',
      'cname.com 3600 NS ns.cname.com', 'ns.cname.com 3600 A 127.0.0.13',
      'loop.com 3600 NS ns.cname.com',
      'lame.com 3600 NS ns1.lame.com', 'lame.com 3600 NS ns2.lame.com', 'ns1.lame.com 3600 A 127.0.0.15', 'ns2.lame.com 3600 A 127.0.0.16',
      // The only server's glue is the broadcast address, which the kernel will not connect a UDP socket to.
      'bcast.com 3600 NS ns1.bcast.com', 'ns1.bcast.com 3600 A 255.255.255.255',
      ...nxnsNs,
      'loop1.com 3600 NS ns.loop2.org',
      'selfref.com 3600 NS ns.selfref.com',
      'fe.com 3600 NS ns.fe.com', 'ns.fe.com 3600 A 127.0.0.19',
      'slow.com 3600 NS ns1.slow.com', 'slow.com 3600 NS ns2.slow.com', 'ns1.slow.com 3600 A 127.0.0.20', 'ns2.slow.com 3600 A 127.0.0.21',
      'v6.com 3600 NS ns.v6.com', 'ns.v6.com 3600 AAAA ::1',
    ] }] },
    { address: '127.0.0.4', zones: [{ origin: 'org', records: [
      'ns.nic.org 172800 A 127.0.0.4',
      'hosting.org 3600 NS ns1.hosting.org', 'ns1.hosting.org 3600 A 127.0.0.11',
      'example.org 3600 NS ns.example.org', 'ns.example.org 3600 A 127.0.0.14',
      'nxns-target.org 3600 NS ns.nxns-target.org', 'ns.nxns-target.org 3600 A 127.0.0.17',
      'loop2.org 3600 NS ns.loop1.com',
    ] }] },
    { address: '127.0.0.5', zones: [{ origin: 'vn', records: [
      'edu.vn 3600 NS ns.edu.vn', 'ns.edu.vn 3600 A 127.0.0.6',
      'example.vn 3600 NS ns.example.vn', 'ns.example.vn 3600 A 127.0.0.10',
    ] }] },
    { address: '127.0.0.6', zones: [{ origin: 'edu.vn', records: [
      'ns.edu.vn 3600 A 127.0.0.6',
      'www.school.edu.vn 300 A 10.1.1.1',
    ] }] },
    { address: '127.0.0.10', zones: [
      { origin: 'example.com', records: [
        'example.com 3600 NS ns1.example.com', 'ns1.example.com 3600 A 127.0.0.10',
        'www.example.com 300 A 192.0.2.1', 'www.example.com 300 AAAA 2001:db8::1',
        'example.com 300 MX 10 mail.example.com', 'mail.example.com 300 A 192.0.2.2',
        'example.com 300 TXT v=spf1 -all',
        '_sip._tcp.example.com 300 SRV 0 5 5060 sip.example.com',
        'example.com 300 CAA 0 issue letsencrypt.org',
        { name: 'example.com', type: 'UNKNOWN_65', ttl: 300, class: 'IN', data: Buffer.from('0001000001000302683200', 'hex') } as unknown as Rr,
        '*.wild.example.com 300 A 192.0.2.99',
        'short.example.com 1 A 192.0.2.5',
        'host.example.com 300 A 192.0.2.10',
        'a.b.c.deep.example.com 300 A 192.0.2.11',
        ...txtBig,
      ] },
      { origin: 'example.vn', records: ['ns.example.vn 3600 A 127.0.0.10', 'xn--bcher-kva.example.vn 300 A 192.0.2.20'] },
    ] },
    { address: '127.0.0.11', zones: [{ origin: 'hosting.org', records: ['ns1.hosting.org 3600 A 127.0.0.11', 'ns.hosting.org 3600 A 127.0.0.12'] }] },
    { address: '127.0.0.12', zones: [{ origin: 'glueless.com', records: ['glueless.com 3600 NS ns.hosting.org', 'www.glueless.com 300 A 192.0.2.30'] }] },
    { address: '127.0.0.13', zones: [
      { origin: 'cname.com', records: ['ns.cname.com 3600 A 127.0.0.13', 'www.cname.com 300 CNAME www.example.org'] },
      { origin: 'loop.com', records: ['a.loop.com 300 CNAME b.example.org'] },
    ] },
    { address: '127.0.0.14', zones: [{ origin: 'example.org', records: [
      'ns.example.org 3600 A 127.0.0.14',
      'www.example.org 300 CNAME host.example.com',
      'b.example.org 300 CNAME a.loop.com',
      'old.example.org 300 DNAME example.com',
      'nxd.example.org 300 CNAME nothere.example.com',
    ] }] },
    { address: '127.0.0.15', behaviour: 'refused', zones: [{ origin: 'lame.com', records: ['www.lame.com 300 A 192.0.2.40'] }] },
    { address: '127.0.0.16', zones: [{ origin: 'lame.com', records: ['www.lame.com 300 A 192.0.2.40'] }] },
    { address: '127.0.0.17', zones: [{ origin: 'nxns-target.org', records: ['ns.nxns-target.org 3600 A 127.0.0.17'] }] },
    { address: '127.0.0.19', behaviour: 'formerr-edns', zones: [{ origin: 'fe.com', records: ['www.fe.com 300 A 192.0.2.50'] }] },
    { address: '127.0.0.20', behaviour: 'silent', zones: [{ origin: 'slow.com', records: ['www.slow.com 300 A 192.0.2.60'] }] },
    { address: '127.0.0.21', zones: [{ origin: 'slow.com', records: ['www.slow.com 300 A 192.0.2.60'] }] },
  ];
  if (opts.ipv6 !== false) {
    specs.push({ address: '::1', zones: [{ origin: 'v6.com', records: ['ns.v6.com 3600 AAAA ::1', 'www.v6.com 300 A 192.0.2.70', 'www.v6.com 300 AAAA 2001:db8::6'] }] });
  }
  return specs;
}
