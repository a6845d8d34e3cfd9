import { answerFromMessage, remainingTtl, renderAnswer, TtlPolicy } from '../../src/dns/answer';
import { MessageError, scanMessage, Section } from '../../src/dns/message';
import { isRejection, parseQuery, Query } from '../../src/dns/query';
import { decode, dnsPacket, query } from '../helpers/packets';

const POLICY: TtlPolicy = { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 };

function q(buf: Buffer): Query {
  const r = parseQuery(buf);
  if (isRejection(r)) throw new Error(r.reason);
  return r;
}

function response(p: Partial<dnsPacket.Packet> & { question: [string, string] }): Buffer {
  return dnsPacket.encode({
    type: 'response', id: 7, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | dnsPacket.AUTHORITATIVE_ANSWER | (p.flags ?? 0),
    questions: [{ name: p.question[0], type: p.question[1] as dnsPacket.RecordType, class: 'IN' }],
    answers: p.answers ?? [], authorities: p.authorities ?? [], additionals: p.additionals ?? [],
  } as dnsPacket.Packet);
}

const SOA = { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: 300 };

describe('scanMessage', () => {
  it('finds every record, its type, TTL and where its TTL lives, for many types', () => {
    const buf = response({
      question: ['example.com', 'A'],
      answers: [
        { name: 'example.com', type: 'CNAME', ttl: 100, data: 'www.example.net' },
        { name: 'www.example.net', type: 'A', ttl: 200, data: '192.0.2.1' },
        { name: 'www.example.net', type: 'AAAA', ttl: 300, data: '2001:db8::1' },
        { name: 'example.com', type: 'MX', ttl: 400, data: { preference: 10, exchange: 'mail.example.com' } },
        { name: 'example.com', type: 'TXT', ttl: 500, data: ['hello'] },
        { name: '_sip._udp.example.com', type: 'SRV', ttl: 600, data: { priority: 1, weight: 2, port: 5060, target: 'sip.example.com' } },
        { name: 'example.com', type: 'CAA', ttl: 700, data: { flags: 0, tag: 'issue', value: 'ca.example' } },
        // An unknown type: RDATA is opaque (RFC 3597).
        { name: 'example.com', type: 'UNKNOWN_65280' as never, ttl: 800, data: Buffer.from([1, 2, 3]) } as never,
      ],
      authorities: [{ name: 'example.com', type: 'SOA', ttl: 900, data: SOA }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never],
    });
    const m = scanMessage(buf);
    expect(m.records.map((r) => r.type)).toEqual([5, 1, 28, 15, 16, 33, 257, 65280, 6, 41]);
    expect(m.records.map((r) => r.ttl).slice(0, 9)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900]);
    for (const r of m.records.slice(0, 9)) expect(buf.readUInt32BE(r.ttlOffset)).toBe(r.ttl);
    expect(m.records[8].section).toBe(Section.Authority);
    expect(m.opt).not.toBeNull();
    expect(m.ancount).toBe(8);
    expect(m.maxPointerTarget).toBe(-1); // dns-packet does not compress
  });

  // a.example A, answer owner compressed to the question (0xc00c).
  const compressed = (): Buffer => Buffer.from('0007818000010001000000000161076578616d706c650000010001c00c000100010000003c0004c0000201', 'hex');

  it('follows compression: records the pointer targets', () => {
    const m = scanMessage(compressed());
    expect(m.maxPointerTarget).toBe(12);
    expect(m.records[0].ttl).toBe(60);
  });

  it('rejects a pointer that points forward', () => {
    const c = compressed();
    c[27] = 0xc0; c[28] = 0x40;
    expect(() => scanMessage(c)).toThrow(MessageError);
  });

  const bad: [string, (b: Buffer) => Buffer][] = [
    ['cut in the middle of a record', (b) => b.subarray(0, b.length - 3)],
    ['trailing byte', (b) => Buffer.concat([b, Buffer.from([0])])],
    ['answer count larger than the records', (b) => { const c = Buffer.from(b); c.writeUInt16BE(5, 6); return c; }],
    ['a reserved label type', (b) => { const c = Buffer.from(b); c[12] = 0x80; return c; }],
  ];
  it.each(bad)('rejects a message with %s', (_n, mutate) => {
    const buf = response({ question: ['a.example', 'A'], answers: [{ name: 'a.example', type: 'A', ttl: 60, data: '192.0.2.9' }] });
    expect(() => scanMessage(mutate(buf))).toThrow(MessageError);
  });

  it('rejects a CNAME whose RDATA length does not match its name', () => {
    const buf = response({ question: ['a.example', 'CNAME'], answers: [{ name: 'a.example', type: 'CNAME', ttl: 60, data: 'b.example' }] });
    const c = Buffer.concat([buf, Buffer.from([0])]);
    c.writeUInt16BE(c.readUInt16BE(c.length - 14) + 1, c.length - 14); // rdlength + 1 with a stray byte
    expect(() => scanMessage(c)).toThrow(MessageError);
  });
});

describe('answerFromMessage and renderAnswer', () => {
  const upstream = response({
    question: ['www.example.com', 'A'],
    answers: [{ name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.1' }, { name: 'www.example.com', type: 'A', ttl: 120, data: '192.0.2.2' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: 0, options: [{ code: 10, data: Buffer.alloc(8, 1) }] } as never],
  });

  it('stores the answer without OPT, with AA cleared, a lowercase question and the smallest TTL as lifetime', () => {
    const a = answerFromMessage(upstream, scanMessage(upstream), POLICY, 1_000_000);
    const d = decode(a.wire);
    expect(d.additionals).toHaveLength(0);
    expect(d.flag_aa).toBe(false);
    expect(d.questions[0].name).toBe('www.example.com');
    expect(a.lifetime).toBe(120);
    expect(a.negative).toBe(false);
  });

  it('renders a hit with the client ID, question spelling, RD bit and an OPT record when asked', () => {
    const a = answerFromMessage(upstream, scanMessage(upstream), POLICY, 1_000_000);
    const client = query('WwW.ExAmPlE.CoM', 'A', { id: 0xbeef, edns: true });
    const out = renderAnswer(a, client, q(client), 1_000_000);
    const d = decode(out);
    expect(d.id).toBe(0xbeef);
    expect(d.questions[0].name).toBe('WwW.ExAmPlE.CoM');
    expect(d.flag_rd).toBe(true);
    expect(d.flag_qr).toBe(true);
    expect(d.flag_ra).toBe(true);
    expect(d.answers.map((r) => (r as { data: string }).data)).toEqual(['192.0.2.1', '192.0.2.2']);
    const opt = d.additionals.find((r) => r.type === 'OPT') as unknown as { udpPayloadSize: number; options: unknown[] };
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.options).toHaveLength(0); // the upstream's cookie does not leak to the client
  });

  it('counts TTLs down by whole seconds since storing', () => {
    const a = answerFromMessage(upstream, scanMessage(upstream), POLICY, 1_000_000);
    const client = query('www.example.com', 'A');
    const d = decode(renderAnswer(a, client, q(client), 1_000_000 + 100_900));
    expect(d.answers.map((r) => r.ttl)).toEqual([200, 20]);
    expect(remainingTtl(a, 1_000_000 + 100_900)).toBe(20);
    expect(d.additionals).toHaveLength(0);
  });

  it('clamps TTLs to the configured minimum and maximum', () => {
    const buf = response({ question: ['x.example', 'A'], answers: [{ name: 'x.example', type: 'A', ttl: 5, data: '192.0.2.1' }, { name: 'x.example', type: 'A', ttl: 999999, data: '192.0.2.2' }] });
    const a = answerFromMessage(buf, scanMessage(buf), { minTtl: 30, maxTtl: 3600, maxNegativeTtl: 900 }, 0);
    expect(Array.from(a.ttls)).toEqual([30, 3600]);
    expect(a.lifetime).toBe(30);
  });

  it('gives NXDOMAIN the lifetime min(SOA TTL, SOA MINIMUM) per RFC 2308 and rewrites the SOA TTL', () => {
    const buf = dnsPacket.encode({
      type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE | 3,
      questions: [{ name: 'nope.example.com', type: 'A', class: 'IN' }],
      authorities: [{ name: 'example.com', type: 'SOA', ttl: 3600, data: SOA }],
    } as dnsPacket.Packet);
    const a = answerFromMessage(buf, scanMessage(buf), POLICY, 0);
    expect(a.rcode).toBe(3);
    expect(a.negative).toBe(true);
    expect(a.lifetime).toBe(300);
    expect(decode(a.wire).authorities[0].ttl).toBe(300);
  });

  it('caps a negative lifetime at maxNegativeTtl', () => {
    const buf = response({ question: ['example.com', 'AAAA'], authorities: [{ name: 'example.com', type: 'SOA', ttl: 86400, data: { ...SOA, minimum: 86400 } }] });
    const a = answerFromMessage(buf, scanMessage(buf), POLICY, 0);
    expect(a.negative).toBe(true); // NODATA
    expect(a.lifetime).toBe(3600);
  });

  it('treats a CNAME chain that ends without the asked type as NODATA', () => {
    const buf = response({
      question: ['a.example.com', 'AAAA'],
      answers: [{ name: 'a.example.com', type: 'CNAME', ttl: 600, data: 'b.example.com' }],
      authorities: [{ name: 'example.com', type: 'SOA', ttl: 3600, data: SOA }],
    });
    const a = answerFromMessage(buf, scanMessage(buf), POLICY, 0);
    expect(a.negative).toBe(true);
    expect(a.lifetime).toBe(300);
  });

  it('does not make reusable a negative answer without SOA, nor a SERVFAIL', () => {
    const nx = dnsPacket.encode({ type: 'response', id: 1, flags: 3, questions: [{ name: 'x.example', type: 'A', class: 'IN' }] } as dnsPacket.Packet);
    expect(answerFromMessage(nx, scanMessage(nx), POLICY, 0).lifetime).toBe(0);
    const sf = dnsPacket.encode({ type: 'response', id: 1, flags: 2, questions: [{ name: 'x.example', type: 'A', class: 'IN' }], authorities: [{ name: 'example', type: 'SOA', ttl: 60, data: SOA }] } as dnsPacket.Packet);
    expect(answerFromMessage(sf, scanMessage(sf), POLICY, 0).lifetime).toBe(0);
  });

  it('clears AD unless the client asked for it (RFC 6840 §5.8)', () => {
    const buf = response({ question: ['s.example', 'A'], flags: dnsPacket.AUTHENTIC_DATA, answers: [{ name: 's.example', type: 'A', ttl: 60, data: '192.0.2.1' }] });
    const a = answerFromMessage(buf, scanMessage(buf), POLICY, 0);
    const plain = query('s.example', 'A');
    expect(decode(renderAnswer(a, plain, q(plain), 0)).flag_ad).toBe(false);
    const withDo = query('s.example', 'A', { edns: true, dnssecOk: true });
    expect(decode(renderAnswer(a, withDo, q(withDo), 0)).flag_ad).toBe(true);
  });

  it('drops records after OPT only when that cannot break compression', () => {
    // TSIG after OPT: both are dropped, the rest is intact.
    const buf = response({
      question: ['t.example', 'A'], answers: [{ name: 't.example', type: 'A', ttl: 60, data: '192.0.2.1' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never, { name: 'key.example', type: 'TSIG' as never, ttl: 0, data: Buffer.alloc(0) } as never],
    });
    let scanned;
    try { scanned = scanMessage(buf); } catch { return; /* dns-packet cannot encode an empty TSIG; nothing to check */ }
    const a = answerFromMessage(buf, scanned, POLICY, 0);
    expect(decode(a.wire).additionals).toHaveLength(0);
  });
});

describe('alias targets (for CNAME-cloaking checks)', () => {
  it('records where each CNAME target lives in the stored answer, compressed or not', () => {
    const { flattenName, readName } = require('../../src/dns/name') as typeof import('../../src/dns/name');
    const buf = response({
      question: ['www.school.example', 'A'],
      answers: [
        { name: 'www.school.example', type: 'CNAME', ttl: 60, data: 'tracker.cloak.example' },
        { name: 'tracker.cloak.example', type: 'CNAME', ttl: 60, data: 'edge.cdn.example' },
        { name: 'edge.cdn.example', type: 'A', ttl: 60, data: '192.0.2.1' },
      ],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as never],
    });
    const a = answerFromMessage(buf, scanMessage(buf), POLICY, 0);
    expect(Array.from(a.aliasTargets).map((o) => readName(a.wire, o))).toEqual(['tracker.cloak.example', 'edge.cdn.example']);
    const compressed = Buffer.from('00078180000100020000000003777777076578616d706c650000010001c00c0005000100000e10000603636e6ec010c02d000100010000003c0004c0000201', 'hex');
    const c = answerFromMessage(compressed, scanMessage(compressed), POLICY, 0);
    expect(c.aliasTargets).toHaveLength(1);
    const scratch = Buffer.alloc(256);
    const n = flattenName(c.wire, c.aliasTargets[0], scratch);
    expect(scratch.subarray(0, n).toString('hex')).toBe('03636e6e076578616d706c6500');
  });

  it('has none for a plain answer', () => {
    const buf = response({ question: ['a.example', 'A'], answers: [{ name: 'a.example', type: 'A', ttl: 60, data: '192.0.2.1' }] });
    expect(answerFromMessage(buf, scanMessage(buf), POLICY, 0).aliasTargets).toHaveLength(0);
  });
});
