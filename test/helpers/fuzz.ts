// Fuzzing helpers: a seeded PRNG, a corpus of valid queries and responses (built with
// dns-packet, plus hand-assembled compressed and edge-case packets), mutators, and a
// reference classifier that says -- from RFC 1035 and RFC 6891, written apart from
// src/dns -- which outcomes a resolver may choose for a packet sent to it as a query.
import { randomInt } from 'node:crypto';
import { dnsPacket } from './packets';

// ---------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a tiny 32-bit generator; the same seed always gives the same sequence. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  u32(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      b[i] = v & 0xff;
      if (i + 1 < n) b[i + 1] = (v >>> 8) & 0xff;
      if (i + 2 < n) b[i + 2] = (v >>> 16) & 0xff;
      if (i + 3 < n) b[i + 3] = v >>> 24;
    }
    return b;
  }
}

/** The run's seed: FUZZ_SEED (decimal or 0x-hex) when set, else a fresh random one. */
export function fuzzSeed(env: string | undefined = process.env.FUZZ_SEED): number {
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env.trim());
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`FUZZ_SEED must be an integer in [0, 2^32): ${env}`);
    return n;
  }
  return randomInt(0x100000000);
}

/** The generator of case `index` in `stream`: each case can be replayed on its own. */
export function caseRng(seed: number, stream: string, index: number): Rng {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ index, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return new Rng(h);
}

// ---------------------------------------------------------------------------------------
// Corpus

const HEADER = 12;
const OPT = 41;

const NAMES = [
  'example.com', 'WWW.Example.COM', '.', 'a', 'mail.school.example', 'localhost', 'www.localhost',
  'test.invalid', '1.0.0.10.in-addr.arpa', '4.3.2.1.in-addr.arpa', '1.0.168.192.in-addr.arpa',
  'xn--bcher-kva.example', `${'a'.repeat(63)}.example`, 'under_score.example', 'a.b.c.d.e.f.g.h.i.j.k',
  `${'x'.repeat(60)}.${'y'.repeat(60)}.${'z'.repeat(60)}.${'w'.repeat(50)}.example`,
];
const QTYPES = ['A', 'AAAA', 'MX', 'TXT', 'NS', 'SOA', 'PTR', 'SRV', 'CAA', 'DS', 'DNSKEY', 'NAPTR', 'CNAME', 'ANY', 'TLSA', 'NSEC', 'HINFO', 'RRSIG', 'SSHFP'];
/** Query types patched in by number: HTTPS, SVCB, and the meta and reserved ones. */
const NUMERIC_QTYPES = [65, 64, 0, 41, 249, 250, 251, 252, 253, 254, 255, 128, 65535, 32769];
const QCLASSES = [1, 1, 1, 1, 3, 4, 254, 255, 0];
const UDP_SIZES = [512, 1232, 4096, 100, 0, 65535, 1400];

type EdnsOpt = { code: number; data?: Buffer; length?: number; family?: number; sourcePrefixLength?: number; ip?: string; tags?: number[] };

function randomOptions(rng: Rng): EdnsOpt[] {
  const out: EdnsOpt[] = [];
  const n = rng.pick([0, 0, 1, 1, 2, 3]);
  for (let i = 0; i < n; i++) {
    switch (rng.int(7)) {
      case 0: out.push({ code: 10, data: rng.bytes(rng.pick([8, 24, 40])) }); break; // COOKIE
      case 1: out.push({ code: 12, length: rng.range(0, 64) }); break; // PADDING
      case 2: out.push({ code: 8, family: 1, sourcePrefixLength: rng.pick([0, 8, 24, 32]), ip: '192.0.2.0' }); break; // ECS
      case 3: out.push({ code: 11 }); break; // TCP keepalive
      case 4: out.push({ code: 3, data: Buffer.alloc(0) }); break; // NSID
      case 5: out.push({ code: 14, tags: [rng.int(65536), rng.int(65536)] }); break; // KEY-TAG
      default: out.push({ code: rng.range(16, 65535), data: rng.bytes(rng.range(0, 20)) });
    }
  }
  return out;
}

function optRecord(rng: Rng, version = 0): dnsPacket.Answer {
  return {
    type: 'OPT', name: '.', udpPayloadSize: rng.pick(UDP_SIZES), extendedRcode: 0, ednsVersion: version,
    flags: rng.chance(0.3) ? dnsPacket.DNSSEC_OK : 0, options: randomOptions(rng),
  } as unknown as dnsPacket.Answer;
}

/** A valid query: one question, maybe EDNS with options. */
function validQuery(rng: Rng): Buffer {
  const buf = dnsPacket.encode({
    type: 'query', id: rng.int(65536),
    flags: rng.pick([dnsPacket.RECURSION_DESIRED, 0, dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED, dnsPacket.AUTHENTIC_DATA | dnsPacket.RECURSION_DESIRED]),
    questions: [{ name: rng.pick(NAMES), type: rng.pick(QTYPES) as dnsPacket.RecordType, class: 'IN' }],
    additionals: rng.chance(0.6) ? [optRecord(rng)] : [],
  });
  const qnameEnd = skipLoose(buf, HEADER);
  if (rng.chance(0.15)) buf.writeUInt16BE(rng.pick(NUMERIC_QTYPES), qnameEnd);
  if (rng.chance(0.1)) buf.writeUInt16BE(rng.pick(QCLASSES), qnameEnd + 2);
  return buf;
}

function record(rng: Rng, name: string): dnsPacket.Answer {
  const ttl = rng.pick([0, 1, 300, 86400, 0x7fffffff]);
  const a = (type: string, data: unknown): dnsPacket.Answer => ({ type, name, ttl, data } as unknown as dnsPacket.Answer);
  switch (rng.int(20)) {
    case 0: return a('A', '192.0.2.1');
    case 1: return a('AAAA', '2001:db8::1');
    case 2: return a('CNAME', `alias.${name}`);
    case 3: return a('MX', { preference: 10, exchange: `mx.${name}` });
    case 4: return a('NS', 'ns1.example.net');
    case 5: return a('SOA', { mname: 'ns1.example.net', rname: 'hostmaster.example.net', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 });
    case 6: return a('TXT', ['hello', 'v=spf1 -all', 'x'.repeat(200)].slice(0, rng.range(1, 3)));
    case 7: return a('SRV', { priority: 1, weight: 2, port: 443, target: `srv.${name}` });
    case 8: return a('PTR', 'host.example.net');
    case 9: return a('CAA', { flags: 0, tag: 'issue', value: 'ca.example.net' });
    case 10: return a('DS', { keyTag: 12345, algorithm: 8, digestType: 2, digest: rng.bytes(32) });
    case 11: return a('DNSKEY', { flags: 257, algorithm: 13, key: rng.bytes(64) });
    case 12: return a('RRSIG', { typeCovered: 'A', algorithm: 13, labels: 2, originalTTL: 300, expiration: 2000000000, inception: 1700000000, keyTag: 1, signersName: 'example.com', signature: rng.bytes(64) });
    case 13: return a('NAPTR', { order: 100, preference: 10, flags: 'S', services: 'SIP+D2U', regexp: '', replacement: `_sip._udp.${name}` });
    case 14: return a('TLSA', { usage: 3, selector: 1, matchingType: 1, certificate: rng.bytes(32) });
    case 15: return a('SSHFP', { algorithm: 4, hash: 2, fingerprint: rng.bytes(32).toString('hex') });
    case 16: return a('HINFO', { cpu: 'RFC8482', os: '' });
    case 17: return a('NULL', rng.bytes(rng.range(0, 30)));
    case 18: return a('NSEC', { nextDomain: `next.${name}`, rrtypes: ['A', 'AAAA', 'RRSIG'] });
    default: return a('RP', { mbox: 'admin.example.net', txt: 'txt.example.net' });
  }
}

/** A valid response built by dns-packet (no compression: it does not compress). */
function validResponse(rng: Rng): Buffer {
  const name = rng.pick(NAMES.filter((n) => n.length < 100 && n !== '.'));
  const answers = Array.from({ length: rng.range(0, 4) }, () => record(rng, name));
  const authorities = Array.from({ length: rng.range(0, 2) }, () => record(rng, name));
  const additionals = Array.from({ length: rng.range(0, 2) }, () => record(rng, name));
  if (rng.chance(0.6)) additionals.push(optRecord(rng));
  return dnsPacket.encode({
    type: 'response', id: rng.int(65536), flags: (rng.int(6) & 0xf) | dnsPacket.RECURSION_AVAILABLE | (rng.chance(0.5) ? dnsPacket.RECURSION_DESIRED : 0),
    questions: [{ name, type: rng.pick(QTYPES) as dnsPacket.RecordType, class: 'IN' }],
    answers, authorities, additionals,
  });
}

/** Writes DNS wire bytes and remembers where things went; names may end in a pointer. */
class Asm {
  readonly b: number[] = [];
  get off(): number { return this.b.length; }
  u8(v: number): this { this.b.push(v & 0xff); return this; }
  u16(v: number): this { return this.u8(v >> 8).u8(v); }
  u32(v: number): this { return this.u16(v >>> 16).u16(v & 0xffff); }
  raw(bytes: ArrayLike<number>): this { for (let i = 0; i < bytes.length; i++) this.b.push(bytes[i]); return this; }
  /** Labels, then the root or a pointer to `to`; returns the name's offset. */
  name(labels: string[], to?: number): number {
    const at = this.off;
    for (const l of labels) this.u8(l.length).raw(Buffer.from(l, 'latin1'));
    if (to === undefined) this.u8(0); else this.u16(0xc000 | to);
    return at;
  }
  header(id: number, flags: number, qd: number, an: number, ns: number, ar: number): this {
    return this.u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  /** Record header after the owner; returns the offset of RDLENGTH to patch. */
  rr(type: number, klass = 1, ttl = 300): number {
    this.u16(type).u16(klass).u32(ttl);
    const at = this.off;
    this.u16(0);
    return at;
  }
  fix(rdlenAt: number): void {
    const len = this.off - rdlenAt - 2;
    this.b[rdlenAt] = len >> 8;
    this.b[rdlenAt + 1] = len & 0xff;
  }
  buf(): Buffer { return Buffer.from(this.b); }
}

/** A response compressed by hand: owners, CNAME/NS/MX/SOA targets all use pointers. */
function compressedResponse(rng: Rng): Buffer {
  const a = new Asm().header(rng.int(65536), 0x8180, 1, 3, 2, 2);
  const q = a.name(rng.pick([['www', 'example', 'com'], ['a', 'school', 'example'], ['mail', 'example', 'org']]));
  a.u16(rng.pick([1, 28, 15])).u16(1);
  // Answer: qname CNAME alias.<qname>; alias A; qname MX 10 mx.<qname+4>
  a.u16(0xc000 | q);
  let at = a.rr(5);
  const alias = a.name(['alias'], q);
  a.fix(at);
  a.u16(0xc000 | alias);
  at = a.rr(1);
  a.raw([192, 0, 2, rng.int(256)]);
  a.fix(at);
  a.u16(0xc000 | q);
  at = a.rr(15);
  a.u16(10);
  a.name(['mx'], q + 1 + (a.b[q] as number));
  a.fix(at);
  // Authority: NS ns1.<parent>, SOA with pointer names.
  const parent = q + 1 + (a.b[q] as number);
  a.u16(0xc000 | parent);
  at = a.rr(2);
  const ns = a.name(['ns1'], parent);
  a.fix(at);
  a.u16(0xc000 | parent);
  at = a.rr(6, 1, 3600);
  a.u16(0xc000 | ns);
  a.name(['hostmaster'], parent);
  a.u32(2024010101).u32(3600).u32(600).u32(86400).u32(300);
  a.fix(at);
  // Additional: glue for ns1, then OPT.
  a.u16(0xc000 | ns);
  at = a.rr(1);
  a.raw([198, 51, 100, 53]);
  a.fix(at);
  a.u8(0).u16(OPT).u16(1232).u8(0).u8(0).u16(rng.chance(0.5) ? 0x8000 : 0);
  at = a.off;
  a.u16(0);
  if (rng.chance(0.5)) { a.u16(10).u16(8).raw(rng.bytes(8)); }
  a.fix(at);
  return a.buf();
}

const label = (n: number, c = 'a'): string => c.repeat(n);

/** Hand-made packets at the edges of the format, queries and responses. */
function craftedPackets(): Buffer[] {
  const out: Buffer[] = [];
  const qhdr = (a: Asm, ar = 0, an = 0): Asm => a.header(0xbeef, 0x0100, 1, an, 0, ar);
  const q = (labels: string[], type = 1, klass = 1, ar = 0): Asm => {
    const a = qhdr(new Asm(), ar);
    a.name(labels);
    return a.u16(type).u16(klass);
  };
  // Question name is a pointer to itself (c00c at offset 12), or into the header.
  out.push(qhdr(new Asm()).u16(0xc00c).u16(1).u16(1).buf());
  out.push(qhdr(new Asm()).u16(0xc000).u16(1).u16(1).buf());
  out.push(qhdr(new Asm()).u16(0xc004).u16(1).u16(1).buf());
  // Two pointers pointing at each other: 12 -> 14 and 14 -> 12.
  out.push(qhdr(new Asm()).u16(0xc00e).u16(0xc00c).u16(1).u16(1).buf());
  // An answer whose owner is a pointer to itself, and one pointing forward to a pointer back.
  {
    const a = qhdr(new Asm(), 0, 1);
    a.name(['example', 'com']);
    a.u16(1).u16(1);
    a.u16(0xc000 | a.off);
    a.fix(a.rr(1));
    out.push(a.buf());
    const b = qhdr(new Asm(), 0, 2);
    b.name(['example', 'com']);
    b.u16(1).u16(1);
    const first = b.off;
    b.u16(0xc000 | (first + 2)).u16(0xc000 | first);
    out.push(b.buf());
  }
  // A CNAME whose RDATA is a pointer to itself.
  {
    const a = new Asm().header(7, 0x8180, 1, 1, 0, 0);
    a.name(['loop', 'example']);
    a.u16(5).u16(1);
    a.u16(0xc00c);
    const at = a.rr(5);
    a.u16(0xc000 | a.off);
    a.fix(at);
    out.push(a.buf());
  }
  // Names of 255 octets (the most allowed) and 256 (one too many); labels of 63 and 64.
  out.push(q([label(63), label(63), label(63), label(61, 'b')]).buf()); // 255
  out.push(q([label(63), label(63), label(63), label(62, 'b')]).buf()); // 256
  out.push(q([label(63), 'example']).buf());
  out.push(q([label(64), 'example']).buf());
  out.push(q(Array.from({ length: 127 }, () => 'a')).buf()); // 127 one-octet labels: 255
  out.push(q(Array.from({ length: 128 }, () => 'a')).buf()); // 256
  // A name that is short on the wire but longer than 255 octets once decompressed.
  {
    const a = qhdr(new Asm(), 0, 1);
    a.name([label(63), label(63), label(63), label(50)]);
    a.u16(1).u16(1);
    a.name([label(63, 'x'), label(63, 'y')], 12);
    a.fix(a.rr(1));
    out.push(a.buf());
  }
  // A chain of 70 pointers, each to the one before it.
  {
    const a = qhdr(new Asm(), 0, 1);
    a.name(['chain', 'example']);
    a.u16(1).u16(1);
    let prev = 12;
    for (let i = 0; i < 70; i++) { const at = a.off; a.u16(0xc000 | prev); prev = at; }
    out.push(a.buf());
  }
  // EDNS: overrunning option, truncated option header, rdlength past the end, two OPTs,
  // OPT not owned by the root, OPT owned by a pointer to the root, OPT in the answer section,
  // and versions 1 and 255 on otherwise good queries.
  const withOpt = (optBytes: number[], ar = 1, labels = ['example', 'com']): Buffer => Buffer.concat([q(labels, 1, 1, ar).buf(), Buffer.from(optBytes)]);
  out.push(withOpt([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 8, 0, 10, 0, 20, 1, 2, 3, 4]));
  out.push(withOpt([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 2, 0, 10]));
  out.push(withOpt([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 40, 0, 10, 0, 4]));
  out.push(withOpt([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0], 2));
  out.push(withOpt([1, 0x61, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]));
  out.push(withOpt([0xc0, 0x0c, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0], 1, []));
  out.push(withOpt([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0], 2)); // A, then OPT
  {
    const a = qhdr(new Asm(), 0, 1);
    a.name(['example', 'com']);
    a.u16(1).u16(1);
    a.u8(0).u16(OPT).u16(1232).u8(0).u8(0).u16(0).u16(0);
    out.push(a.buf());
  }
  for (const v of [1, 255]) out.push(withOpt([0, 0, 41, 4, 0xd0, 0, v, 0x80, 0, 0, 0]));
  // Header-only oddities: exactly 12 bytes, 11 bytes, counts of 0, 2 and 0xffff, trailing bytes.
  out.push(new Asm().header(1, 0x0100, 1, 0, 0, 0).buf());
  out.push(new Asm().header(1, 0x0100, 1, 0, 0, 0).buf().subarray(0, 11));
  out.push(new Asm().header(1, 0x0100, 0, 0, 0, 0).buf());
  out.push(Buffer.concat([new Asm().header(1, 0x0100, 2, 0, 0, 0).buf(), Buffer.from([0, 0, 1, 0, 1, 0, 0, 1, 0, 1])]));
  out.push(Buffer.concat([q(['example']).buf(), Buffer.from([0xde, 0xad])]));
  {
    const b = q(['example']).buf();
    b.writeUInt16BE(0xffff, 10);
    out.push(b);
  }
  // Every opcode but QUERY, QR set, each interesting qtype and qclass.
  for (let op = 1; op < 16; op++) { const b = q(['example', 'com']).buf(); b[2] |= op << 3; out.push(b); }
  { const b = q(['example', 'com']).buf(); b[2] |= 0x80; out.push(b); }
  for (const t of NUMERIC_QTYPES) out.push(q(['example', 'com'], t).buf());
  for (const c of QCLASSES) out.push(q(['example', 'com'], 1, c).buf());
  // Extended (0x40) and reserved (0x80) label types.
  out.push(qhdr(new Asm()).u8(0x41).u8(0).u8(0).u16(1).u16(1).buf());
  out.push(qhdr(new Asm()).u8(0x81).u8(0x61).u8(0).u16(1).u16(1).buf());
  return out;
}

export interface Corpus {
  readonly queries: readonly Buffer[];
  readonly responses: readonly Buffer[];
  readonly crafted: readonly Buffer[];
}

let corpusMemo: Corpus | null = null;

/** The seed packets, the same on every run (a fixed generator builds them). */
export function corpus(): Corpus {
  if (corpusMemo) return corpusMemo;
  const rng = new Rng(0x5eed);
  const queries = Array.from({ length: 400 }, () => validQuery(rng));
  const responses = [
    ...Array.from({ length: 200 }, () => validResponse(rng)),
    ...Array.from({ length: 50 }, () => compressedResponse(rng)),
  ];
  corpusMemo = { queries, responses, crafted: craftedPackets() };
  return corpusMemo;
}

// ---------------------------------------------------------------------------------------
// Layout: a lenient walk of a packet, to aim mutations at its parts.

interface RecordLayout {
  readonly start: number;
  readonly nameEnd: number;
  readonly type: number;
  readonly section: number;
  readonly end: number;
}

interface Layout {
  /** Offsets of the question name's length octets. */
  readonly labels: number[];
  /** -1 when the question does not parse. */
  readonly qnameEnd: number;
  readonly records: RecordLayout[];
}

/** Skips a name without checking much: labels to the root or a pointer. -1 if it runs out. */
function skipLoose(buf: Uint8Array, off: number, labels?: number[]): number {
  for (let n = 0; n < 256; n++) {
    if (off >= buf.length) return -1;
    const l = buf[off];
    labels?.push(off);
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    off += (l & 0x3f) + 1;
  }
  return -1;
}

function layout(buf: Uint8Array): Layout {
  const labels: number[] = [];
  const records: RecordLayout[] = [];
  if (buf.length < HEADER) return { labels, qnameEnd: -1, records };
  const qnameEnd = skipLoose(buf, HEADER, labels);
  if (qnameEnd < 0) return { labels, qnameEnd, records };
  const counts = [(buf[6] << 8) | buf[7], (buf[8] << 8) | buf[9], (buf[10] << 8) | buf[11]];
  let off = qnameEnd + 4;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section] && records.length < 64; i++) {
      const nameEnd = skipLoose(buf, off);
      if (nameEnd < 0 || nameEnd + 10 > buf.length) return { labels, qnameEnd, records };
      const end = nameEnd + 10 + ((buf[nameEnd + 8] << 8) | buf[nameEnd + 9]);
      if (end > buf.length) return { labels, qnameEnd, records };
      records.push({ start: off, nameEnd, type: (buf[nameEnd] << 8) | buf[nameEnd + 1], section, end });
      off = end;
    }
  }
  return { labels, qnameEnd, records };
}

// ---------------------------------------------------------------------------------------
// Mutators

const INTERESTING_BYTES = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xfe, 0xff];
const INTERESTING_COUNTS = [0, 1, 2, 3, 0x7f, 0xff, 0x100, 0x7fff, 0xffff];

type Mutator = (rng: Rng, b: Buffer) => Buffer;

const splice = (b: Buffer, at: number, del: number, ins: Uint8Array): Buffer =>
  Buffer.concat([b.subarray(0, at), ins, b.subarray(Math.min(b.length, at + del))]);

/** Builds a plain name of about `wire` octets on the wire (labels of at most 63). */
function plainName(rng: Rng, wire: number, maxLabel = 63): Buffer {
  const parts: number[] = [];
  let left = wire - 1;
  while (left > 0) {
    let l = Math.min(maxLabel, left - 1, rng.range(1, maxLabel));
    if (left - (l + 1) === 1) l = l > 1 ? l - 1 : l + 1; // never leave one octet: it cannot hold a label
    parts.push(l);
    for (let i = 0; i < l; i++) parts.push(0x61 + rng.int(26));
    left -= l + 1;
  }
  parts.push(0);
  return Buffer.from(parts);
}

const MUTATORS: readonly [string, Mutator][] = [
  ['flip-bits', (rng, b) => {
    if (b.length === 0) return b;
    for (let n = rng.range(1, 4); n > 0; n--) { const i = rng.int(b.length); b[i] ^= 1 << rng.int(8); }
    return b;
  }],
  ['set-byte', (rng, b) => {
    if (b.length === 0) return b;
    for (let n = rng.range(1, 3); n > 0; n--) b[rng.int(b.length)] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
    return b;
  }],
  ['truncate', (rng, b) => b.subarray(0, rng.chance(0.5) ? rng.int(b.length + 1) : Math.max(0, b.length - rng.range(1, 4)))],
  ['extend', (rng, b) => Buffer.concat([b, rng.chance(0.3) ? Buffer.alloc(rng.range(1, 16)) : rng.bytes(rng.range(1, 64))])],
  ['count', (rng, b) => {
    if (b.length < HEADER) return b;
    const at = 4 + 2 * rng.int(4);
    const cur = b.readUInt16BE(at);
    b.writeUInt16BE(rng.chance(0.5) ? rng.pick(INTERESTING_COUNTS) : (cur + rng.pick([1, -1, 2, rng.int(65536)]) + 65536) & 0xffff, at);
    return b;
  }],
  ['label-length', (rng, b) => {
    const { labels } = layout(b);
    if (labels.length === 0) return b;
    const at = rng.pick(labels);
    b[at] = rng.chance(0.5) ? rng.pick([0, 1, 62, 63, 64, 65, 0x7f, 0x80, 0xbf, 0xc0, 0xff]) : (b[at] + rng.pick([1, -1, 2, -2]) + 256) & 0xff;
    return b;
  }],
  ['pointer-loop', (rng, b) => {
    const { labels, records } = layout(b);
    const spots = [...labels, ...records.map((r) => r.start)].filter((o) => o + 4 <= b.length);
    if (spots.length === 0) return b;
    const at = rng.pick(spots);
    if (rng.chance(0.5)) {
      b.writeUInt16BE(0xc000 | at, at); // points at itself
    } else {
      b.writeUInt16BE(0xc000 | (at + 2), at); // two pointers pointing at each other
      b.writeUInt16BE(0xc000 | at, at + 2);
    }
    return b;
  }],
  ['pointer-back', (rng, b) => {
    const { labels, records } = layout(b);
    const spots = [...labels, ...records.map((r) => r.start)].filter((o) => o + 2 <= b.length);
    if (spots.length === 0) return b;
    const at = rng.pick(spots);
    const target = rng.chance(0.7) && labels.length > 0 ? rng.pick(labels) : rng.int(Math.max(1, at));
    return splice(b, at, rng.chance(0.5) ? 0 : Math.max(0, skipLoose(b, at) - at), Buffer.from([0xc0 | (target >> 8), target & 0xff]));
  }],
  ['opcode', (rng, b) => { if (b.length >= 3) b[2] = (b[2] & 0x87) | (rng.int(16) << 3); return b; }],
  ['qr', (_rng, b) => { if (b.length >= 3) b[2] |= 0x80; return b; }],
  ['flags', (rng, b) => { if (b.length >= 4) { b[2] = (b[2] & 0xf8) | rng.int(8); b[3] = rng.int(256); } return b; }],
  ['edns-version', (rng, b) => {
    const opt = layout(b).records.find((r) => r.type === OPT);
    if (opt) { b[opt.nameEnd + 5] = rng.chance(0.5) ? rng.range(1, 3) : rng.int(256); return b; }
    if (b.length < HEADER) return b;
    b.writeUInt16BE((b.readUInt16BE(10) + 1) & 0xffff, 10);
    return Buffer.concat([b, Buffer.from([0, 0, OPT, 4, 0xd0, 0, rng.int(256), 0, 0, 0, 0])]);
  }],
  ['opt-options', (rng, b) => {
    const opt = layout(b).records.find((r) => r.type === OPT);
    if (!opt) return b;
    const rdata = opt.nameEnd + 10;
    if (opt.end - rdata >= 4 && rng.chance(0.6)) {
      const len = b.readUInt16BE(rdata + 2);
      b.writeUInt16BE(rng.chance(0.5) ? (len + rng.range(1, 8)) & 0xffff : rng.pick([0xffff, 0, (len + 0xffff) & 0xffff, rng.int(65536)]), rdata + 2);
      return b;
    }
    // Append an option whose length runs past the record (and maybe the packet).
    const extra = Buffer.from([0, 10, 0, rng.range(5, 40), 1, 2, 3]);
    b.writeUInt16BE((b.readUInt16BE(opt.nameEnd + 8) + extra.length) & 0xffff, opt.nameEnd + 8);
    return splice(b, opt.end, 0, extra);
  }],
  ['rdlength', (rng, b) => {
    const { records } = layout(b);
    if (records.length === 0) return b;
    const r = rng.pick(records);
    const cur = b.readUInt16BE(r.nameEnd + 8);
    b.writeUInt16BE(rng.chance(0.5) ? rng.pick(INTERESTING_COUNTS) : (cur + rng.pick([1, -1, 4]) + 65536) & 0xffff, r.nameEnd + 8);
    return b;
  }],
  ['qtype-qclass', (rng, b) => {
    const { qnameEnd } = layout(b);
    if (qnameEnd < 0 || qnameEnd + 4 > b.length) return b;
    const at = qnameEnd + (rng.chance(0.6) ? 0 : 2);
    b.writeUInt16BE(rng.chance(0.5) ? rng.pick([...NUMERIC_QTYPES, ...QCLASSES]) : rng.int(65536), at);
    return b;
  }],
  ['long-name', (rng, b) => {
    const { qnameEnd } = layout(b);
    if (qnameEnd < 0) return b;
    const name = rng.chance(0.5)
      ? plainName(rng, rng.pick([254, 255, 256, 257]), rng.pick([63, 1, 20]))
      : Buffer.from([rng.pick([63, 64]), ...Buffer.alloc(rng.pick([63, 64]), 0x62), 0]);
    return splice(b, HEADER, qnameEnd - HEADER, name);
  }],
  ['insert', (rng, b) => splice(b, rng.int(b.length + 1), 0, rng.bytes(rng.range(1, 8)))],
  ['delete', (rng, b) => (b.length === 0 ? b : splice(b, rng.int(b.length), rng.range(1, 8), new Uint8Array(0)))],
  ['splice', (rng, b) => {
    const c = corpus();
    const other = rng.pick(rng.chance(0.5) ? c.queries : c.responses);
    const from = rng.int(other.length);
    const chunk = other.subarray(from, from + rng.range(1, 40));
    return splice(b, rng.int(b.length + 1), rng.chance(0.5) ? chunk.length : 0, chunk);
  }],
  ['duplicate-record', (rng, b) => {
    const { records } = layout(b);
    if (records.length === 0 || b.length < HEADER) return b;
    const r = rng.pick(records);
    b.writeUInt16BE((b.readUInt16BE(10) + 1) & 0xffff, 10);
    return Buffer.concat([b, b.subarray(r.start, r.end)]);
  }],
];

export const MUTATOR_NAMES = MUTATORS.map(([n]) => n);

/** Applies one to four mutations to a copy of `base`. */
export function mutate(rng: Rng, base: Uint8Array, applied?: string[]): Buffer {
  let b = Buffer.from(base);
  const n = rng.chance(0.6) ? 1 : rng.chance(0.6) ? 2 : rng.range(3, 4);
  for (let i = 0; i < n; i++) {
    const [name, fn] = rng.pick(MUTATORS);
    applied?.push(name);
    b = Buffer.from(fn(rng, b));
  }
  return b;
}

export type CaseKind = 'random' | 'header+random' | 'crafted' | 'query' | 'mutated-query' | 'mutated-response' | 'mutated-crafted';

export interface FuzzCase {
  readonly kind: CaseKind;
  readonly buf: Buffer;
  readonly mutations: readonly string[];
}

/**
 * One fuzz case: random bytes (length 0..600), a random body behind a plausible header,
 * a crafted edge case, a valid query, or a mutated query, response or crafted packet.
 */
export function fuzzCase(rng: Rng): FuzzCase {
  const c = corpus();
  const r = rng.int(100);
  const mutations: string[] = [];
  if (r < 12) return { kind: 'random', buf: rng.bytes(rng.int(601)), mutations };
  if (r < 18) {
    const h = Buffer.from([rng.int(256), rng.int(256), 0x01, 0x00, 0, 1, 0, rng.pick([0, 0, 1]), 0, 0, 0, rng.pick([0, 0, 1])]);
    return { kind: 'header+random', buf: Buffer.concat([h, rng.bytes(rng.int(300))]), mutations };
  }
  if (r < 22) return { kind: 'crafted', buf: Buffer.from(rng.pick(c.crafted)), mutations };
  if (r < 27) return { kind: 'query', buf: Buffer.from(rng.pick(c.queries)), mutations };
  if (r < 75) return { kind: 'mutated-query', buf: mutate(rng, rng.pick(c.queries), mutations), mutations };
  if (r < 90) return { kind: 'mutated-response', buf: mutate(rng, rng.pick(c.responses), mutations), mutations };
  return { kind: 'mutated-crafted', buf: mutate(rng, rng.pick(c.crafted), mutations), mutations };
}

// ---------------------------------------------------------------------------------------
// Reference: names

export interface RefName {
  /** The name flattened (pointers followed), lowercase, ending in the root; null if malformed. */
  readonly wire: Buffer | null;
  /** Compression pointers followed. */
  readonly hops: number;
}

/**
 * Reads a possibly compressed name (RFC 1035 §4.1.4): labels of 0..63 octets, pointers only
 * to a prior offset, at most 255 octets once decompressed. No limit on pointer hops (pointers
 * only go backwards, so there cannot be a loop); callers judge deep chains themselves.
 */
export function refName(buf: Uint8Array, off: number, end: number = buf.length): RefName {
  const out: number[] = [];
  let hops = 0;
  for (;;) {
    if (off < 0 || off >= end) return { wire: null, hops };
    const l = buf[off];
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= end) return { wire: null, hops };
      const target = ((l & 0x3f) << 8) | buf[off + 1];
      if (target >= off) return { wire: null, hops };
      hops++;
      off = target;
      continue;
    }
    if (l > 63) return { wire: null, hops };
    if (off + 1 + l > end) return { wire: null, hops };
    out.push(l);
    if (l === 0) return { wire: out.length > 255 ? null : Buffer.from(out), hops };
    for (let i = off + 1; i <= off + l; i++) { const c = buf[i]; out.push(c >= 0x41 && c <= 0x5a ? c | 0x20 : c); }
    if (out.length + 1 > 255) return { wire: null, hops };
    off += l + 1;
  }
}

/**
 * Where a name in a message ends, without following its pointer: labels, then the root or a
 * pointer to a prior offset. -1 if that much is already malformed. `pointer` tells whether
 * it ended in one (and so whether the name as a whole still needs checking).
 */
function refNameEnd(buf: Uint8Array, off: number): { end: number; pointer: boolean } {
  const start = off;
  for (;;) {
    if (off >= buf.length) return { end: -1, pointer: false };
    const l = buf[off];
    if ((l & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) return { end: -1, pointer: false };
      const target = ((l & 0x3f) << 8) | buf[off + 1];
      return { end: target < off ? off + 2 : -1, pointer: true };
    }
    if (l > 63) return { end: -1, pointer: false };
    if (l === 0) return { end: off + 1 - start > 255 ? -1 : off + 1, pointer: false };
    off += l + 1;
    if (off - start > 255) return { end: -1, pointer: false };
  }
}

// ---------------------------------------------------------------------------------------
// Reference: what a resolver may do with a packet received as a query

export const NOERROR = 0;
export const FORMERR = 1;
export const NOTIMP = 4;
export const REFUSED = 5;
export const BADVERS = 16;

/** 'drop': no answer at all; 'query': resolve it; a number: answer with that rcode. */
export type Outcome = 'drop' | 'query' | number;

export interface Verdict {
  /** Every outcome a correct resolver may choose. */
  readonly allowed: ReadonlySet<Outcome>;
  /** What the reference saw, for failure messages. */
  readonly why: string;
  /** Offset after the question when it parsed, else 0. */
  readonly questionEnd: number;
  /** The query's OPT record, when it had a well-formed one. */
  readonly edns: { udpSize: number; version: number; dnssecOk: boolean } | null;
}

const only = (o: Outcome, why: string, questionEnd = 0): Verdict => ({ allowed: new Set([o]), why, questionEnd, edns: null });

/**
 * Classifies a packet sent to a recursive resolver's port, per RFC 1035 and RFC 6891:
 * - shorter than a header, or a response (QR set): no answer is possible or wanted;
 * - opcode other than QUERY: NOTIMP;
 * - not exactly one question, a question or record that does not parse, bytes after the
 *   last record, an OPT not owned by the root, a second OPT, EDNS options that do not tile
 *   the OPT RDATA: FORMERR;
 * - an OPT with version above 0: BADVERS;
 * - a question of type 0 or OPT, or a meta-type a resolver does not serve (AXFR, IXFR,
 *   MAILA, MAILB, TKEY, TSIG): an error (FORMERR, NOTIMP or REFUSED, by policy);
 * - anything else: resolve it.
 * Where the RFCs leave room (a pointer to a bad name, an OPT outside the additional section,
 * an OPT owned by a compressed root), both FORMERR and what would happen otherwise are allowed.
 */
export function classifyQuery(buf: Uint8Array): Verdict {
  const len = buf.length;
  if (len < HEADER) return only('drop', 'shorter than a header');
  if (buf[2] & 0x80) return only('drop', 'QR set: a response');
  const opcode = (buf[2] >> 3) & 0xf;
  if (opcode !== 0) return only(NOTIMP, `opcode ${opcode}`);
  const qd = (buf[4] << 8) | buf[5];
  if (qd !== 1) return only(FORMERR, `qdcount ${qd}`);

  // The question: nothing precedes it that a pointer could usefully point to.
  let off = HEADER;
  for (;;) {
    if (off >= len) return only(FORMERR, 'question name runs past the end');
    const l = buf[off];
    if (l === 0) break;
    if (l > 63) return only(FORMERR, `question label octet 0x${l.toString(16)}`);
    off += l + 1;
    if (off - HEADER > 254) return only(FORMERR, 'question name longer than 255 octets');
  }
  const qnameEnd = off + 1;
  if (qnameEnd + 4 > len) return only(FORMERR, 'question cut short');
  const qtype = (buf[qnameEnd] << 8) | buf[qnameEnd + 1];
  const questionEnd = qnameEnd + 4;

  const allowed = new Set<Outcome>();
  const doubts: string[] = [];
  const doubt = (why: string): void => { allowed.add(FORMERR); doubts.push(why); };
  const counts = [(buf[6] << 8) | buf[7], (buf[8] << 8) | buf[9], (buf[10] << 8) | buf[11]];
  let edns: Verdict['edns'] = null;
  off = questionEnd;
  for (let section = 0; section < 3; section++) {
    for (let i = 0; i < counts[section]; i++) {
      const where = `${['answer', 'authority', 'additional'][section]} record ${i}`;
      const start = off;
      const name = refNameEnd(buf, off);
      if (name.end < 0) return only(FORMERR, `${where}: malformed owner`, questionEnd);
      if (name.pointer) {
        const full = refName(buf, start);
        if (full.wire === null) doubt(`${where}: owner decompresses to a malformed name`);
        else if (full.hops > 64) doubt(`${where}: owner takes ${full.hops} pointer hops`);
      }
      const at = name.end;
      if (at + 10 > len) return only(FORMERR, `${where}: cut short`, questionEnd);
      const type = (buf[at] << 8) | buf[at + 1];
      const next = at + 10 + ((buf[at + 8] << 8) | buf[at + 9]);
      if (next > len) return only(FORMERR, `${where}: RDATA runs past the end`, questionEnd);
      if (type === OPT && section !== 2) {
        doubt(`${where}: OPT outside the additional section`);
      } else if (type === OPT) {
        if (edns !== null) return only(FORMERR, `${where}: second OPT`, questionEnd);
        if (name.end !== start + 1) {
          const owner = refName(buf, start);
          if (owner.wire === null || owner.wire.length !== 1) return only(FORMERR, `${where}: OPT not owned by the root`, questionEnd);
          doubt(`${where}: OPT owned by a compressed root`);
        }
        let o = at + 10;
        while (o < next) {
          if (o + 4 > next) return only(FORMERR, `${where}: truncated EDNS option header`, questionEnd);
          o += 4 + ((buf[o + 2] << 8) | buf[o + 3]);
        }
        if (o !== next) return only(FORMERR, `${where}: EDNS option runs past the OPT RDATA`, questionEnd);
        edns = { udpSize: (buf[at + 2] << 8) | buf[at + 3], version: buf[at + 5], dnssecOk: (buf[at + 6] & 0x80) !== 0 };
      }
      off = next;
    }
  }
  if (off !== len) return only(FORMERR, `${len - off} bytes after the last record`, questionEnd);

  const whys = [...doubts];
  const forQtype = (): void => {
    if (qtype === 0 || qtype === OPT) { allowed.add(FORMERR); allowed.add(NOTIMP); allowed.add(REFUSED); whys.push(`qtype ${qtype}`); }
    else if (qtype === 251 || qtype === 252) { allowed.add(REFUSED); allowed.add(NOTIMP); whys.push(`zone transfer qtype ${qtype}`); }
    else if (qtype >= 249 && qtype <= 254) { allowed.add(NOTIMP); allowed.add(REFUSED); allowed.add(FORMERR); whys.push(`meta qtype ${qtype}`); }
    else return;
  };
  if (edns !== null && edns.version > 0) {
    allowed.add(BADVERS);
    whys.push(`EDNS version ${edns.version}`);
    forQtype();
  } else {
    const before = whys.length;
    forQtype();
    if (whys.length === before) { allowed.add('query'); whys.push('a good query'); }
  }
  return { allowed, why: whys.join('; '), questionEnd, edns };
}

export function describeOutcome(o: Outcome): string {
  if (typeof o === 'string') return o;
  return ({ 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' } as Record<number, string>)[o] ?? `rcode ${o}`;
}
