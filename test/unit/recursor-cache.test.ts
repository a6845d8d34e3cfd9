// The recursor's pieces: RDATA decompression, the encoder, the record cache, server selection.
import { answerFromMessage } from '../../src/dns/answer';
import { Type } from '../../src/dns/constants';
import { scanMessage } from '../../src/dns/message';
import { encodeName } from '../../src/dns/name';
import { Rank, RecordCache } from '../../src/recursor/cache';
import { answersQuery, authQuery, buildAuthQuery } from '../../src/recursor/exchange';
import { groupRrsets, ipText } from '../../src/recursor/recursor';
import { ServerTable } from '../../src/recursor/servers';
import { Rr, answerFromRecords, decompressRdata, encodeResponse, isServerAddress, isSubdomain, labelsOf, parentName, sectionsOf, suffix } from '../../src/recursor/wire';
import { decode } from '../helpers/packets';

const policy = { minTtl: 0, maxTtl: 3600, maxNegativeTtl: 900 };
const a = (name: string, ip: string, ttl = 300): Rr => ({ name, type: Type.A, klass: 1, ttl, rdata: Buffer.from(ip.split('.').map(Number)) });
const soa = (zone: string, ttl: number, minimum: number): Rr => {
  const tail = Buffer.alloc(20);
  tail.writeUInt32BE(minimum, 16);
  return { name: zone, type: Type.SOA, klass: 1, ttl, rdata: Buffer.concat([encodeName(`ns.${zone}`), encodeName(`h.${zone}`), tail]) };
};

describe('RDATA decompression', () => {
  test('compressed names inside NS, CNAME, SOA, MX, SRV RDATA are expanded; other types stay opaque', () => {
    // Built by hand with compression pointers (dns-packet does not compress): 0xc00c is "example.com".
    const rec = (owner: number[], type: number, rdata: number[]): number[] => [...owner, 0, type, 0, 1, 0, 0, 0, 1, rdata.length >> 8, rdata.length & 0xff, ...rdata];
    const ptr = [0xc0, 0x0c];
    const lbl = (s: string): number[] => [s.length, ...Buffer.from(s)];
    const soaTail = [0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4];
    const msg = Buffer.from([
      0, 1, 0x84, 0, 0, 1, 0, 4, 0, 2, 0, 0,
      ...lbl('example'), ...lbl('com'), 0, 0, 1, 0, 1,
      ...rec([...lbl('www'), ...ptr], Type.CNAME, [...lbl('web'), ...ptr]),
      ...rec(ptr, Type.MX, [0, 5, ...lbl('mail'), ...ptr]),
      ...rec([...lbl('_x'), ...lbl('_tcp'), ...ptr], Type.SRV, [0, 1, 0, 2, 0, 3, ...lbl('srv'), ...ptr]),
      ...rec(ptr, Type.TXT, lbl('example.com')),
      ...rec(ptr, Type.NS, [...lbl('ns'), ...ptr]),
      ...rec(ptr, Type.SOA, [...lbl('ns'), ...ptr, ...lbl('h'), ...ptr, ...soaTail]),
    ]);
    const scanned = scanMessage(msg);
    expect(scanned.maxPointerTarget).toBeGreaterThan(0); // dns-packet did compress
    const sections = sectionsOf(msg, scanned, '');
    const recs = [...sections.answer, ...sections.authority, ...sections.additional];
    for (const r of recs) {
      if (r.type === Type.TXT) continue;
      // No byte of the form 11xxxxxx starting a label: every name ends in a root label.
      const out = encodeResponse(Buffer.concat([encodeName('q'), Buffer.from([0, 1, 0, 1])]), 0, [r], []);
      const d = decode(out).answers[0];
      expect(d.name).toBe(r.name);
    }
    const byType = new Map(recs.map((r) => [r.type, r]));
    expect(byType.get(Type.CNAME)!.rdata).toEqual(encodeName('web.example.com'));
    expect(byType.get(Type.NS)!.rdata).toEqual(encodeName('ns.example.com'));
    expect(byType.get(Type.MX)!.rdata).toEqual(Buffer.concat([Buffer.from([0, 5]), encodeName('mail.example.com')]));
    expect(byType.get(Type.SRV)!.rdata.subarray(6)).toEqual(encodeName('srv.example.com'));
    const s = byType.get(Type.SOA)!.rdata;
    expect(s.length).toBe(encodeName('ns.example.com').length + encodeName('h.example.com').length + 20);
    expect(s.readUInt32BE(s.length - 4)).toBe(4);
    expect(byType.get(Type.TXT)!.rdata).toEqual(Buffer.from(lbl('example.com')));
    expect(sections.authority.map((r) => r.type)).toEqual([Type.NS, Type.SOA]);
  });

  test('malformed RDATA is refused', () => {
    expect(decompressRdata(Buffer.from([0, 5, 3, 0x61]), Type.MX, 0, 4)).toBeNull();
    expect(decompressRdata(Buffer.from([1, 0x61, 0, 9]), Type.CNAME, 0, 4)).toBeNull(); // trailing byte
    expect(decompressRdata(Buffer.from([1, 2, 3]), 999, 0, 3)).toEqual(Buffer.from([1, 2, 3]));
    expect(decompressRdata(Buffer.from([3, 0x61, 0x62, 0x63, 0]), Type.CNAME, 0, 3)).toBeNull(); // the name runs past RDLENGTH
    expect(decompressRdata(Buffer.from([3, 0x61, 0x62, 0x63, 0]), Type.NS, 0, 5)).toEqual(encodeName('abc'));
  });

  test('opaque RDATA is copied out, short or long, at an offset', () => {
    const big = Buffer.from(Array.from({ length: 300 }, (_, i) => i & 0xff));
    for (const [off, len] of [[0, 4], [7, 16], [10, 32], [3, 33], [0, 300], [100, 200]]) {
      const out = decompressRdata(big, Type.TXT, off, len)!;
      expect(out).toEqual(big.subarray(off, off + len));
      out[0] ^= 0xff; // a copy, not a view
      expect(big[off]).toBe(off & 0xff);
    }
  });
});

describe('encoder', () => {
  test('a valid message whose Answer has the right TTL offsets, negative flag and alias targets', () => {
    const q = Buffer.concat([encodeName('www.example.com'), Buffer.from([0, 1, 0, 1])]);
    const cname: Rr = { name: 'www.example.com', type: Type.CNAME, klass: 1, ttl: 120, rdata: encodeName('x.example.net') };
    const wire = encodeResponse(q, 0, [cname, a('x.example.net', '192.0.2.9', 60)], []);
    const d = decode(wire);
    expect(d.answers.map((r) => [r.name, r.type, r.ttl, r.data])).toEqual([['www.example.com', 'CNAME', 120, 'x.example.net'], ['x.example.net', 'A', 60, '192.0.2.9']]);
    const ans = answerFromMessage(wire, scanMessage(wire), policy, 0);
    expect([ans.lifetime, ans.negative, ans.rcode]).toEqual([60, false, 0]);
    expect(Array.from(ans.ttlOffsets).map((o) => ans.wire.readUInt32BE(o))).toEqual([120, 60]);
    expect(ans.aliasTargets).toHaveLength(1);
    expect(ans.wire.subarray(ans.aliasTargets[0], ans.aliasTargets[0] + encodeName('x.example.net').length)).toEqual(encodeName('x.example.net'));
    const neg = encodeResponse(q, 3, [], [soa('example.com', 300, 30)]);
    const n = answerFromMessage(neg, scanMessage(neg), policy, 0);
    expect([n.negative, n.lifetime, n.rcode]).toEqual([true, 30, 3]);
  });
});

describe('isServerAddress', () => {
  const bytes = (ip: string): Buffer => {
    if (!ip.includes(':')) return Buffer.from(ip.split('.').map(Number));
    // Expand "::" and an embedded IPv4 tail, then 8 groups of 16 bits.
    let [head, tail] = ip.split('::') as [string, string | undefined];
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
    const toGroups = (x: string | undefined): string[] => (x ? x.split(':') : []);
    if (v4) {
      const [a, b, c, d] = v4[1].split('.').map(Number);
      const g = [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
      if (tail !== undefined) tail = tail.replace(v4[1], g.join(':')); else head = head.replace(v4[1], g.join(':'));
    }
    const h = toGroups(head);
    const t = toGroups(tail);
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    const out = Buffer.alloc(16);
    groups.forEach((x, i) => out.writeUInt16BE(parseInt(x, 16), i * 2));
    return out;
  };
  test.each([
    ['192.0.2.1', true], ['127.0.0.1', true], ['10.1.2.3', true], ['223.255.255.255', true],
    ['0.0.0.0', false], ['0.1.2.3', false], ['224.0.0.1', false], ['239.255.255.250', false], ['240.0.0.1', false], ['255.255.255.255', false],
    ['::1', true], ['2001:db8::1', true], ['fe80::1', true], ['::ffff:192.0.2.1', true],
    ['::', false], ['ff02::1', false], ['ff05::1:3', false], ['::ffff:255.255.255.255', false], ['::ffff:0.0.0.0', false], ['::ffff:224.0.0.251', false],
  ])('%s: %s', (ip, ok) => {
    expect(isServerAddress(bytes(ip))).toBe(ok);
  });
  test('RDATA of another length is no address', () => {
    expect(isServerAddress(Buffer.from([192, 0, 2, 1, 0]))).toBe(false);
  });
});

describe('answerFromRecords', () => {
  const question = (name: string, type: number): Buffer => Buffer.concat([encodeName(name), Buffer.from([type >> 8, type & 0xff, 0, 1])]);
  const rr = (name: string, type: number, ttl: number, rdata: Buffer): Rr => ({ name, type, klass: 1, ttl, rdata });
  const cname = (name: string, target: string, ttl = 120): Rr => rr(name, Type.CNAME, ttl, encodeName(target));
  const dname = (name: string, target: string, ttl = 120): Rr => rr(name, Type.DNAME, ttl, encodeName(target));
  const cases: [string, Buffer, number, Rr[], Rr[]][] = [
    ['positive', question('www.example.com', Type.A), 0, [a('www.example.com', '192.0.2.1', 60), a('www.example.com', '192.0.2.2', 90)], []],
    ['question case folded', question('WwW.ExAmPlE.cOm', Type.A), 0, [a('www.example.com', '192.0.2.1')], []],
    ['CNAME chain to an answer', question('www.example.com', Type.A), 0, [cname('www.example.com', 'x.example.net'), a('x.example.net', '192.0.2.9', 60)], []],
    ['DNAME, synthesised CNAME, answer', question('a.old.example', Type.A), 0, [dname('old.example', 'new.example'), cname('a.old.example', 'a.new.example'), a('a.new.example', '192.0.2.3')], []],
    ['NXDOMAIN with SOA (MINIMUM below TTL)', question('nx.example.com', Type.A), 3, [], [soa('example.com', 300, 30)]],
    ['NXDOMAIN, SOA MINIMUM above the cap', question('nx.example.com', Type.A), 3, [], [soa('example.com', 86400, 86400)]],
    ['NODATA with SOA', question('www.example.com', Type.AAAA), 0, [], [soa('example.com', 300, 60)]],
    ['NODATA at the end of a CNAME chain', question('www.example.com', Type.AAAA), 0, [cname('www.example.com', 'x.example.com')], [soa('example.com', 300, 60)]],
    ['NXDOMAIN without SOA', question('nx.example.com', Type.A), 3, [], []],
    ['TTLs clamped and fractional TTLs floored', question('www.example.com', Type.A), 0, [a('www.example.com', '192.0.2.1', 99999), a('www.example.com', '192.0.2.2', 0.7)], []],
    ['ANY', question('example.com', Type.ANY), 0, [a('example.com', '192.0.2.1'), rr('example.com', Type.TXT, 30, Buffer.from([2, 0x68, 0x69]))], []],
    ['owner with an escape', question('a\\.b.example', Type.A), 0, [a('a\\.b.example', '192.0.2.4')], []],
    ['SERVFAIL', question('www.example.com', Type.A), 2, [], []],
  ];
  test.each(cases)('%s: the same Answer as encoding, scanning and answerFromMessage', (_, q, rcode, answer, authority) => {
    for (const p of [policy, { minTtl: 100, maxTtl: 200, maxNegativeTtl: 50 }]) {
      const wire = encodeResponse(q, rcode, answer, authority);
      const expected = answerFromMessage(wire, scanMessage(wire), p, 1234);
      const got = answerFromRecords(q, rcode, answer, authority, p, 1234);
      expect(got).toEqual(expected);
    }
  });
});

describe('names', () => {
  test('subdomains, labels, parents, suffixes (escaped dots are not separators)', () => {
    expect(isSubdomain('a.example.com', 'example.com')).toBe(true);
    expect(isSubdomain('example.com', 'example.com')).toBe(true);
    expect(isSubdomain('badexample.com', 'example.com')).toBe(false);
    expect(isSubdomain('anything', '')).toBe(true);
    expect(isSubdomain('a\\.example.com', 'example.com')).toBe(false); // one label "a.example" under com
    expect(isSubdomain('a\\.example.com', 'com')).toBe(true);
    expect(labelsOf('a\\.b.c')).toEqual(['a\\.b', 'c']);
    expect(labelsOf('')).toEqual([]);
    expect(parentName('a.b.c')).toBe('b.c');
    expect(parentName('c')).toBe('');
    expect(parentName('')).toBeNull();
    expect(suffix('www.school.edu.vn', 2)).toBe('edu.vn');
  });
  test('IP text', () => {
    expect(ipText(Buffer.from([192, 0, 2, 1]))).toBe('192.0.2.1');
    expect(ipText(Buffer.from('00000000000000000000000000000001', 'hex'))).toBe('::1');
    expect(ipText(Buffer.from('20010db8000000000000000000000006', 'hex'))).toBe('2001:db8::6');
    expect(ipText(Buffer.from('20010db8000100000001000100010001', 'hex'))).toBe('2001:db8:1:0:1:1:1:1');
    // IPv4-mapped, as Node reports such a peer: an exchange compares the reply's sender with this text.
    expect(ipText(Buffer.from('00000000000000000000ffffc0000201', 'hex'))).toBe('::ffff:192.0.2.1');
  });
  test('RRsets are grouped by owner and type', () => {
    const g = groupRrsets([a('x', '1.1.1.1'), a('y', '2.2.2.2'), a('x', '3.3.3.3')]);
    expect(g.map((s) => s.length)).toEqual([2, 1]);
  });
});

describe('record cache', () => {
  test('credibility: glue never replaces an authoritative answer; an answer replaces glue', () => {
    const c = new RecordCache(policy);
    expect(c.putRrset([a('ns.example.com', '192.0.2.1')], Rank.Glue, 0)).toBe(true);
    expect(c.getRrset('ns.example.com', Type.A, 0, Rank.NonAuthAnswer)).toBeUndefined(); // glue does not answer clients
    expect(c.putRrset([a('ns.example.com', '192.0.2.2')], Rank.AuthAnswer, 0)).toBe(true);
    expect(c.putRrset([a('ns.example.com', '6.6.6.6')], Rank.Glue, 1000)).toBe(false);
    expect(c.putRrset([a('ns.example.com', '6.6.6.6')], Rank.Additional, 1000)).toBe(false);
    expect(c.getRrset('ns.example.com', Type.A, 1000)!.map((r) => r.rdata.join('.'))).toEqual(['192.0.2.2']);
    // Once expired, anything may replace it.
    expect(c.putRrset([a('ns.example.com', '192.0.2.3')], Rank.Glue, 301_000)).toBe(true);
  });

  test('TTLs: counted down, capped by the policy, zero not stored, RRset TTL is its minimum', () => {
    const c = new RecordCache(policy);
    c.putRrset([a('x', '1.1.1.1', 100), a('x', '1.1.1.2', 50)], Rank.AuthAnswer, 0);
    expect(c.getRrset('x', Type.A, 20_000)!.map((r) => r.ttl)).toEqual([30, 30]);
    expect(c.getRrset('x', Type.A, 50_000)).toBeUndefined();
    c.putRrset([a('y', '1.1.1.1', 999_999)], Rank.AuthAnswer, 0);
    expect(c.getRrset('y', Type.A, 0)![0].ttl).toBe(3600);
    expect(c.putRrset([a('z', '1.1.1.1', 0)], Rank.AuthAnswer, 0)).toBe(false);
    c.putRrset([a('d', '1.1.1.1'), a('d', '1.1.1.1')], Rank.AuthAnswer, 0);
    expect(c.getRrset('d', Type.A, 0)).toHaveLength(1);
  });

  test('negative answers: min(SOA TTL, MINIMUM), NXDOMAIN covers names below, NODATA per type', () => {
    const c = new RecordCache(policy);
    c.putNegative('nope.example.com', null, soa('example.com', 300, 30), Rank.AuthAuthority, 0);
    expect(c.getNegative('nope.example.com', Type.A, 0)).toMatchObject({ kind: 'nxdomain', name: 'nope.example.com' });
    expect(c.getNegative('a.b.nope.example.com', Type.MX, 10_000)!.soa!.ttl).toBe(20);
    expect(c.getNegative('nope.example.com', Type.A, 30_000)).toBeUndefined();
    expect(c.getNegative('xnope.example.com', Type.A, 0)).toBeUndefined();
    c.putNegative('www.example.com', Type.MX, soa('example.com', 10, 600), Rank.AuthAuthority, 0);
    expect(c.getNegative('www.example.com', Type.MX, 0)).toMatchObject({ kind: 'nodata' });
    expect(c.getNegative('www.example.com', Type.A, 0)).toBeUndefined();
    expect(c.getNegative('www.example.com', Type.MX, 10_000)).toBeUndefined();
    expect(c.putNegative('q', Type.A, null, Rank.AuthAuthority, 0)).toBe(false); // no SOA: not cached
  });

  test('stale window (RFC 8767): expired RRsets come back marked, with the stale TTL, until the window ends; fresh ones are capped', () => {
    const c = new RecordCache(policy, 100, 10_000);
    c.putRrset([a('x', '1.1.1.1', 100)], Rank.AuthAnswer, 0);
    expect(c.getRrsetStale('x', Type.A, 20_000, 30)).toMatchObject({ stale: false, storedAt: 0, value: [{ ttl: 30 }] });
    expect(c.getRrsetStale('x', Type.A, 95_000, 30)).toMatchObject({ stale: false, value: [{ ttl: 5 }] });
    expect(c.getRrset('x', Type.A, 100_000)).toBeUndefined(); // the ordinary getter never serves stale
    expect(c.getRrsetStale('x', Type.A, 100_000, 30)).toMatchObject({ stale: true, value: [{ ttl: 30 }] });
    expect(c.getRrsetStale('x', Type.A, 109_999, 30)).toMatchObject({ stale: true });
    expect(c.getRrsetStale('x', Type.A, 109_999, 30, Rank.AuthAnswer + 1)).toBeUndefined();
    expect(c.getRrsetStale('x', Type.A, 110_000, 30)).toBeUndefined();
    expect(c.size).toBe(0); // past the window it is dropped
    // A record with a TTL below the stale TTL is still served with the stale TTL.
    c.putRrset([a('y', '1.1.1.1', 1)], Rank.AuthAnswer, 0);
    expect(c.getRrsetStale('y', Type.A, 5_000, 30)!.value[0].ttl).toBe(30);
    // Without a window (the default), nothing stale.
    const plain = new RecordCache(policy);
    plain.putRrset([a('x', '1.1.1.1', 1)], Rank.AuthAnswer, 0);
    expect(plain.getRrsetStale('x', Type.A, 999, 30)).toMatchObject({ stale: false });
    expect(plain.getRrsetStale('x', Type.A, 1_000, 30)).toBeUndefined();
  });

  test('stale negatives: NXDOMAIN covers names below, NODATA per type, fresh beats stale', () => {
    const c = new RecordCache(policy, 100, 60_000);
    c.putNegative('nope.example.com', null, soa('example.com', 300, 10), Rank.AuthAuthority, 0);
    c.putNegative('www.example.com', Type.MX, soa('example.com', 10, 600), Rank.AuthAuthority, 0);
    expect(c.getNegativeStale('a.nope.example.com', Type.A, 5_000, 30)).toMatchObject({ stale: false, value: { kind: 'nxdomain', name: 'nope.example.com', soa: { ttl: 5 } } });
    expect(c.getNegative('a.nope.example.com', Type.A, 20_000)).toBeUndefined();
    expect(c.getNegativeStale('a.nope.example.com', Type.A, 20_000, 30)).toMatchObject({ stale: true, value: { kind: 'nxdomain', soa: { ttl: 30 } } });
    expect(c.getNegativeStale('www.example.com', Type.MX, 20_000, 30)).toMatchObject({ stale: true, value: { kind: 'nodata', name: 'www.example.com' } });
    expect(c.getNegativeStale('www.example.com', Type.A, 20_000, 30)).toBeUndefined();
    // A fresh NODATA below a stale NXDOMAIN wins.
    c.putNegative('x.nope.example.com', Type.A, soa('example.com', 300, 300), Rank.AuthAuthority, 20_000);
    expect(c.getNegativeStale('x.nope.example.com', Type.A, 21_000, 30)).toMatchObject({ stale: false, value: { kind: 'nodata' } });
    expect(c.getNegativeStale('a.nope.example.com', Type.A, 80_000, 30)).toBeUndefined();
  });

  test('lifeOf: the stored TTL and the time left of a fresh entry, for prefetch', () => {
    const c = new RecordCache(policy, 100, 60_000);
    c.putRrset([a('x', '1.1.1.1', 100)], Rank.AuthAnswer, 0);
    c.putNegative('nope.example.com', null, soa('example.com', 300, 20), Rank.AuthAuthority, 0);
    expect(c.lifeOf('x', Type.A, 95_500)).toEqual({ ttl: 100, leftMs: 4_500 });
    expect(c.lifeOf('x', Type.A, 100_000)).toBeUndefined();
    expect(c.lifeOf('nope.example.com', null, 1_000)).toEqual({ ttl: 20, leftMs: 19_000 });
  });

  test('bounded', () => {
    const c = new RecordCache(policy, 10);
    for (let i = 0; i < 50; i++) c.putRrset([a(`n${i}`, '1.1.1.1')], Rank.AuthAnswer, 0);
    expect(c.size).toBe(10);
  });
});

describe('server selection', () => {
  test('lowest smoothed RTT first; timeouts back off; lame only for its zone', () => {
    const t = new ServerTable(100, () => 0.5);
    t.rtt('a', 50); t.rtt('b', 10); t.rtt('c', 30);
    expect(t.order(['a', 'b', 'c'], 'z', 0)).toEqual(['b', 'c', 'a']);
    t.timeout('b', 800, 0);
    expect(t.order(['a', 'b', 'c'], 'z', 0)).toEqual(['c', 'a', 'b']);
    expect(t.order(['a', 'b', 'c'], 'z', 10_000)[0]).toBe('c'); // backoff over, but its RTT doubled
    t.markLame('z', 'c', 0);
    expect(t.order(['a', 'c'], 'z', 1)).toEqual(['a', 'c']);
    expect(t.order(['a', 'c'], 'other', 1)).toEqual(['c', 'a']);
    t.rtt('b', 5);
    expect(t.get('b').timeouts).toBe(0);
  });

  test('best() is the head of order() in every state: measured, unknown, backed off, lame', () => {
    const t = new ServerTable(100, () => 0.5);
    const all = ['a', 'b', 'c', 'd'];
    const agree = (list: string[], zone: string, now: number): void => expect(t.best(list, zone, now)).toBe(t.order(list, zone, now)[0]);
    agree(all, 'z', 0); // nothing measured: all tie, the first wins in both
    t.rtt('a', 50); t.rtt('b', 10); t.rtt('c', 30);
    agree(all, 'z', 0);
    expect(t.best(all, 'z', 0)).toBe('b');
    t.timeout('b', 800, 0);
    agree(all, 'z', 0);
    t.markLame('z', 'c', 0);
    t.markLame('z', 'd', 0);
    agree(all, 'z', 1);
    agree(['b', 'c'], 'z', 1); // backed off beats lame
    expect(t.best(['b', 'c'], 'z', 1)).toBe('b');
    agree(all, 'other', 1);
    expect(t.best([], 'z', 0)).toBeUndefined();
  });

  test('exploration sometimes picks another usable server', () => {
    let n = 0;
    const seq = [0.01, 0.9];
    const t = new ServerTable(100, () => seq[n++ % seq.length]);
    t.rtt('a', 10); t.rtt('b', 20);
    expect(t.order(['a', 'b'], 'z', 0)[0]).toBe('b');
    n = 0;
    expect(t.best(['a', 'b'], 'z', 0)).toBe('b');
    n = 1; // no exploration this time
    expect(t.best(['a', 'b'], 'z', 0)).toBe('a');
  });
});

describe('iterative query', () => {
  test('RD clear, EDNS on request; 0x20 requires the exact case back', () => {
    const question = Buffer.concat([encodeName('WwW.ExAmple.com'), Buffer.from([0, 1, 0, 1])]);
    const q = buildAuthQuery(0x4242, authQuery(question, true, true));
    const d = decode(q);
    expect(d.flag_rd).toBe(false);
    expect(d.additionals[0].type).toBe('OPT');
    const reply = Buffer.from(q);
    reply[2] |= 0x80;
    expect(answersQuery(reply, 0x4242, authQuery(question, true, true))).toBe(true);
    const lowered = Buffer.from(reply);
    lowered[13] = 0x77; // 'W' → 'w'
    expect(answersQuery(lowered, 0x4242, authQuery(question, true, true))).toBe(false);
    expect(answersQuery(lowered, 0x4242, authQuery(question, true, false))).toBe(true);
    expect(answersQuery(reply, 0x4243, authQuery(question, true, false))).toBe(false);
  });
});
