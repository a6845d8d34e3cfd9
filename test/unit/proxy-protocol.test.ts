// The PROXY protocol v2 parser (src/server/proxy-protocol.ts), the trusted-sender set and the
// server.proxyProtocol.from configuration key. Headers are built here byte by byte from the
// spec, and the first cases are the exact bytes dnsdist 1.7 sent to a capturing listener.
import { isIPv6 } from 'node:net';
import { ConfigError, parseConfig } from '../../src/config/load';
import {
  parseProxyHeader,
  PROXY_INCOMPLETE,
  PROXY_REJECT_REASONS,
  PROXY_V2_SIGNATURE,
  ProxyHeader,
  proxyRejectReason,
  TrustedProxies,
} from '../../src/server/proxy-protocol';
import { addressBytes } from '../helpers/proxy-protocol';

const SIG = Buffer.from(PROXY_V2_SIGNATURE);
/** A DNS query for localhost. A, as dnsdist's health check sends it. */
const QUERY = Buffer.from('6401000001000000000000096c6f63616c686f73740000010001', 'hex');

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

/** A header: signature, version/command byte, family/protocol byte, then the block (its length computed unless given). */
function header(vc: number, fp: number, block: Buffer, length = block.length): Buffer {
  return Buffer.concat([SIG, Buffer.from([vc, fp]), u16(length), block]);
}

/** The address block of an INET or INET6 header: source and destination addresses (4 or 16 bytes each), then ports. */
function addrBlock(src: string, dst: string, sport: number, dport: number): Buffer {
  return Buffer.concat([addressBytes(src), addressBytes(dst), u16(sport), u16(dport)]);
}

function tlv(type: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), u16(value.length), value]);
}

/** parse() as a plain object: the header length and what was read, or the reason. */
function parse(buf: Buffer, complete = true): { length: number; header: ProxyHeader } | { rejected: string } | 'incomplete' {
  const h = new ProxyHeader();
  const n = parseProxyHeader(buf, h, complete);
  if (n === PROXY_INCOMPLETE) return 'incomplete';
  if (n < 0) return { rejected: proxyRejectReason(n) };
  return { length: n, header: { ...h } };
}

describe('parseProxyHeader: what dnsdist 1.7 sends', () => {
  test('a UDP query: PROXY, UDP over IPv4, the client 127.0.0.5:59621 asking 127.0.0.1:15398', () => {
    const bytes = Buffer.from('0d0a0d0a000d0a515549540a2112000c7f0000057f000001e8e53c26', 'hex');
    const datagram = Buffer.concat([bytes, QUERY]);
    expect(parse(datagram)).toEqual({
      length: 28,
      header: { local: false, family: 4, protocol: 'dgram', source: '127.0.0.5', sourcePort: 59621, destination: '127.0.0.1', destinationPort: 15398 },
    });
  });

  test('a TCP connection: PROXY, TCP over IPv4, then the first framed query in the same segment', () => {
    const bytes = Buffer.from('0d0a0d0a000d0a515549540a2111000c7f0000067f000001d5153c26', 'hex');
    const r = parse(Buffer.concat([bytes, u16(QUERY.length), QUERY]), false);
    expect(r).toEqual({
      length: 28,
      header: { local: false, family: 4, protocol: 'stream', source: '127.0.0.6', sourcePort: 54549, destination: '127.0.0.1', destinationPort: 15398 },
    });
  });

  test('a health check: LOCAL, UNSPEC, no block', () => {
    const bytes = Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex');
    expect(parse(Buffer.concat([bytes, QUERY]))).toEqual({
      length: 16,
      header: { local: true, family: 0, protocol: 'unspec', source: '', sourcePort: 0, destination: '', destinationPort: 0 },
    });
  });
});

describe('parseProxyHeader: valid headers', () => {
  test('IPv4 over UDP and TCP; the message after the header is left alone', () => {
    for (const [fp, protocol] of [[0x12, 'dgram'], [0x11, 'stream']] as const) {
      const h = header(0x21, fp, addrBlock('10.2.3.44', '10.0.0.53', 40000, 53));
      const r = parse(Buffer.concat([h, QUERY]));
      expect(r).toEqual({ length: 28, header: { local: false, family: 4, protocol, source: '10.2.3.44', sourcePort: 40000, destination: '10.0.0.53', destinationPort: 53 } });
    }
    expect(parse(header(0x21, 0x12, addrBlock('0.0.0.0', '255.255.255.255', 0, 65535)))).toMatchObject({ header: { source: '0.0.0.0', sourcePort: 0, destination: '255.255.255.255', destinationPort: 65535 } });
  });

  test('IPv6, written as RFC 5952 says', () => {
    const cases: [string, string][] = [
      ['2001:db8:0:0:0:0:0:7', '2001:db8::7'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['0:0:0:0:0:0:0:0', '::'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // one zero group is not shortened
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // the first of two equal runs
      ['ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
      ['0:0:0:0:0:ffff:c000:207', '::ffff:192.0.2.7'], // IPv4-mapped: dotted, as Node reports such clients
    ];
    for (const [raw, text] of cases) {
      const r = parse(header(0x21, 0x22, addrBlock(raw, '2001:db8:53::1', 5353, 53)));
      expect({ raw, r }).toEqual({ raw, r: { length: 52, header: { local: false, family: 6, protocol: 'dgram', source: text, sourcePort: 5353, destination: '2001:db8:53::1', destinationPort: 53 } } });
    }
  });

  test('IPv6 text agrees with the URL parser of Node (WHATWG) for random addresses with zero runs', () => {
    let seed = 7;
    const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    for (let i = 0; i < 500; i++) {
      const groups = Array.from({ length: 8 }, () => (rnd() % 3 === 0 ? (rnd() & 0xffff).toString(16) : '0'));
      if (groups.slice(0, 6).join(':') === '0:0:0:0:0:ffff') continue; // mapped: written dotted here, hex there
      const raw = groups.join(':');
      const r = parse(header(0x21, 0x21, addrBlock(raw, '::1', 1, 2)));
      const expected = new URL(`http://[${raw}]/`).hostname.slice(1, -1);
      expect({ raw, source: (r as { header: ProxyHeader }).header.source }).toEqual({ raw, source: expected });
      expect(isIPv6(expected)).toBe(true);
    }
  });

  test('TLVs after the addresses are skipped; the header length includes them', () => {
    const tlvs = Buffer.concat([tlv(0x02, Buffer.from('dns.school.example')), tlv(0x04, Buffer.alloc(0)), tlv(0xe0, Buffer.alloc(300, 7))]);
    const h4 = header(0x21, 0x12, Buffer.concat([addrBlock('10.2.3.4', '10.0.0.53', 1234, 53), tlvs]));
    expect(parse(Buffer.concat([h4, QUERY]))).toMatchObject({ length: 16 + 12 + tlvs.length, header: { source: '10.2.3.4', destination: '10.0.0.53' } });
    const h6 = header(0x21, 0x22, Buffer.concat([addrBlock('2001:db8::9', '2001:db8::53', 1234, 53), tlvs]));
    expect(parse(Buffer.concat([h6, QUERY]))).toMatchObject({ length: 16 + 36 + tlvs.length, header: { source: '2001:db8::9' } });
  });

  test('LOCAL ignores the family and the block, whatever they hold', () => {
    for (const [fp, block] of [[0x11, addrBlock('10.9.9.9', '10.0.0.53', 1, 53)], [0x22, addrBlock('2001:db8::1', '::1', 1, 2)], [0x00, Buffer.from([1, 2])], [0x31, Buffer.alloc(216)], [0x77, Buffer.alloc(5)]] as const) {
      expect(parse(Buffer.concat([header(0x20, fp, block), QUERY]))).toMatchObject({ length: 16 + block.length, header: { local: true, family: 0, source: '', destination: '' } });
    }
  });

  test('a reused ProxyHeader holds the last header only', () => {
    const h = new ProxyHeader();
    expect(parseProxyHeader(header(0x21, 0x12, addrBlock('10.1.1.1', '10.0.0.53', 1, 53)), h, true)).toBe(28);
    expect(parseProxyHeader(header(0x20, 0x00, Buffer.alloc(0)), h, true)).toBe(16);
    expect({ ...h }).toEqual({ local: true, family: 0, protocol: 'unspec', source: '', sourcePort: 0, destination: '', destinationPort: 0 });
  });
});

describe('parseProxyHeader: every malformed header is refused, with its reason', () => {
  const good = header(0x21, 0x12, addrBlock('10.2.3.4', '10.0.0.53', 1234, 53));
  const with13 = (b: number): Buffer => { const c = Buffer.from(good); c[13] = b; return c; };
  const with12 = (b: number): Buffer => { const c = Buffer.from(good); c[12] = b; return c; };

  test.each<[string, Buffer, string]>([
    ['empty', Buffer.alloc(0), 'short'],
    ['the signature alone', SIG, 'short'],
    ['15 of the 16 fixed bytes', good.subarray(0, 15), 'short'],
    ['a plain DNS query (no header)', QUERY, 'signature'],
    ['a version 1 text header', Buffer.from('PROXY TCP4 10.2.3.4 10.0.0.53 1234 53\r\n'), 'signature'],
    ['one signature byte wrong', (() => { const c = Buffer.from(good); c[7] ^= 0x20; return c; })(), 'signature'],
    ['the last signature byte wrong', (() => { const c = Buffer.from(good); c[11] = 0x0d; return c; })(), 'signature'],
    ['version 1 in the binary form', with12(0x11), 'version'],
    ['version 3', with12(0x31), 'version'],
    ['version 0', with12(0x01), 'version'],
    ['command 2', with12(0x22), 'command'],
    ['command 15', with12(0x2f), 'command'],
    ['PROXY with family UNSPEC', with13(0x00), 'family'],
    ['PROXY with family UNIX (stream)', with13(0x31), 'family'],
    ['PROXY with family UNIX (dgram)', with13(0x32), 'family'],
    ['INET with protocol UNSPEC', with13(0x10), 'family'],
    ['INET with protocol 3', with13(0x13), 'family'],
    ['INET6 with protocol UNSPEC', with13(0x20), 'family'],
    ['family 4', with13(0x41), 'family'],
    ['INET with an 11-byte block', header(0x21, 0x12, addrBlock('10.2.3.4', '10.0.0.53', 1, 53).subarray(0, 11)), 'length'],
    ['INET with an empty block', header(0x21, 0x11, Buffer.alloc(0)), 'length'],
    ['INET6 with an INET-sized block', header(0x21, 0x22, addrBlock('10.2.3.4', '10.0.0.53', 1, 53)), 'length'],
    ['INET6 with 35 bytes', header(0x21, 0x21, Buffer.alloc(35)), 'length'],
    ['INET addresses cut short', good.subarray(0, 20), 'truncated'],
    ['INET ports cut short', good.subarray(0, 27), 'truncated'],
    ['INET6 addresses cut short', header(0x21, 0x22, addrBlock('2001:db8::1', '2001:db8::2', 1, 2)).subarray(0, 40), 'truncated'],
    ['a length past the end of the datagram', header(0x21, 0x12, addrBlock('10.2.3.4', '10.0.0.53', 1, 53), 200), 'truncated'],
    ['LOCAL with a length past the end', header(0x20, 0x00, Buffer.alloc(0), 4), 'truncated'],
    ['one byte after the addresses', header(0x21, 0x12, Buffer.concat([addrBlock('10.2.3.4', '10.0.0.53', 1, 53), Buffer.from([0x04])])), 'tlv'],
    ['a TLV header cut after two bytes', header(0x21, 0x12, Buffer.concat([addrBlock('10.2.3.4', '10.0.0.53', 1, 53), Buffer.from([0x04, 0x00])])), 'tlv'],
    ['a TLV longer than the block', header(0x21, 0x12, Buffer.concat([addrBlock('10.2.3.4', '10.0.0.53', 1, 53), Buffer.from([0x02, 0x00, 0x05, 0x61, 0x62])])), 'tlv'],
    ['a TLV one byte longer than the block', header(0x21, 0x12, Buffer.concat([addrBlock('10.2.3.4', '10.0.0.53', 1, 53), Buffer.from([0x02, 0x00, 0x02, 0x61])])), 'tlv'],
    ['a good TLV, then one longer than the block', header(0x21, 0x22, Buffer.concat([addrBlock('::1', '::1', 1, 2), tlv(0x04, Buffer.alloc(2)), Buffer.from([0x02, 0xff, 0xff])])), 'tlv'],
  ])('%s: %s', (_what, buf, reason) => {
    // The message that would follow is no part of the header: it changes nothing.
    const datagram = reason === 'truncated' || reason === 'short' ? buf : Buffer.concat([buf, QUERY]);
    const h = new ProxyHeader();
    h.source = 'untouched';
    const n = parseProxyHeader(datagram, h, true);
    expect(n).toBeLessThan(0);
    expect(proxyRejectReason(n)).toBe(reason);
    expect(h.source).toBe('untouched');
  });

  test('every reason has a code and back', () => {
    PROXY_REJECT_REASONS.forEach((r, i) => expect(proxyRejectReason(-1 - i)).toBe(r));
  });
});

describe('parseProxyHeader on a stream (TCP): waits for the rest of a header that may still be valid', () => {
  test('every strict prefix of a valid header is incomplete, and the whole is accepted', () => {
    for (const h of [
      header(0x21, 0x11, addrBlock('10.2.3.4', '10.0.0.53', 1234, 53)),
      header(0x21, 0x21, Buffer.concat([addrBlock('2001:db8::9', '2001:db8::53', 1234, 53), tlv(0x02, Buffer.from('x'))])),
      header(0x20, 0x00, Buffer.alloc(0)),
    ]) {
      for (let i = 0; i < h.length; i++) expect({ i, r: parse(h.subarray(0, i), false) }).toEqual({ i, r: 'incomplete' });
      expect(parse(h, false)).toMatchObject({ length: h.length });
    }
  });

  test('a wrong byte is refused as soon as it arrives, without waiting for more', () => {
    expect(parse(Buffer.from([0x0d, 0x0a, 0x0d, 0x0b]), false)).toEqual({ rejected: 'signature' });
    expect(parse(Buffer.from([0x00, 0x1c]), false)).toEqual({ rejected: 'signature' }); // a DNS length prefix
    expect(parse(Buffer.concat([SIG, Buffer.from([0x11])]), false)).toEqual({ rejected: 'version' });
    expect(parse(Buffer.concat([SIG, Buffer.from([0x23])]), false)).toEqual({ rejected: 'command' });
    expect(parse(Buffer.concat([SIG, Buffer.from([0x21, 0x00, 0x00, 0x0c])]), false)).toEqual({ rejected: 'family' });
    expect(parse(Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0x00, 0x04])]), false)).toEqual({ rejected: 'length' });
  });
});

describe('parseProxyHeader never throws', () => {
  test('on random bytes, and on random changes to valid headers', () => {
    let seed = 11;
    const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const valid = [
      header(0x21, 0x12, addrBlock('10.2.3.4', '10.0.0.53', 1234, 53)),
      header(0x21, 0x22, Buffer.concat([addrBlock('2001:db8::9', '2001:db8::53', 1234, 53), tlv(1, Buffer.from('h2'))])),
      header(0x20, 0x00, Buffer.alloc(0)),
    ];
    const h = new ProxyHeader();
    for (let i = 0; i < 20000; i++) {
      let buf: Buffer;
      if (i % 2 === 0) {
        buf = Buffer.alloc(rnd(80));
        for (let k = 0; k < buf.length; k++) buf[k] = rnd(256);
        if (buf.length >= 12 && rnd(2) === 0) SIG.copy(buf);
      } else {
        buf = Buffer.concat([valid[rnd(valid.length)], QUERY]);
        buf[12 + rnd(buf.length - 12)] = rnd(256);
        buf = buf.subarray(0, rnd(buf.length + 1));
      }
      for (const complete of [true, false]) {
        const n = parseProxyHeader(buf, h, complete);
        if (n > 0) expect(n).toBeGreaterThanOrEqual(16);
        expect(n).toBeLessThanOrEqual(buf.length);
        if (complete) expect(n).not.toBe(PROXY_INCOMPLETE);
      }
    }
  });
});

describe('TrustedProxies', () => {
  test('matches the listed prefixes and addresses, in the spellings Node reports', () => {
    const t = new TrustedProxies(['10.0.0.0/8', '192.0.2.53/32', '2001:db8:53::/64']);
    expect(t.size).toBe(3);
    for (const a of ['10.0.0.1', '10.255.1.2', '192.0.2.53', '::ffff:10.1.2.3', '2001:db8:53::1', '2001:db8:53:0:ffff::9']) expect({ a, trusted: t.has(a) }).toEqual({ a, trusted: true });
    for (const a of ['11.0.0.1', '192.0.2.54', '2001:db8:54::1', '::1', '127.0.0.1', '', 'not an address']) expect({ a, trusted: t.has(a) }).toEqual({ a, trusted: false });
    // Not addresses, though they start like one inside 10.0.0.0/8.
    for (const a of ['10.0.0.1.5', '10.0.0', '10.0.0.', '10..0.1', '10.0.0.256', '10.0.0.1000', '10.0.0.1 ', '10.0.0.1:53', '10.0.0.1%eth0']) expect({ a, trusted: t.has(a) }).toEqual({ a, trusted: false });
  });

  test('an empty set trusts nobody', () => {
    expect(new TrustedProxies([]).has('127.0.0.1')).toBe(false);
  });
});

describe('server.proxyProtocol.from', () => {
  function problems(text: string): [number | null, string, string][] {
    try {
      parseConfig(text, 'school.yaml');
    } catch (e) {
      if ((e as { code?: string }).code === 'CONFIG_INVALID') return (e as ConfigError).problems.map((p) => [p.line, p.key, p.message]);
      throw e;
    }
    throw new Error('the configuration was accepted');
  }

  test('off by default', () => {
    expect(parseConfig('', 'school.yaml').server.proxyProtocol).toEqual({ from: [] });
  });

  test('prefixes and bare addresses, kept in their canonical spelling', () => {
    const c = parseConfig('server:\n  proxyProtocol:\n    from: ["127.0.0.1", "10.0.0.0/8", "2001:DB8:53::/64", "::1", "::ffff:10.9.0.0/112"]\n', 'school.yaml');
    expect(c.server.proxyProtocol.from).toEqual(['127.0.0.1/32', '10.0.0.0/8', '2001:db8:53::/64', '::1/128', '10.9.0.0/16']);
    expect(Object.isFrozen(c.server.proxyProtocol.from)).toBe(true);
  });

  test('each mistake is named with its line and key', () => {
    expect(problems('server:\n  proxyProtocol:\n    from: "10.0.0.5"\n')).toEqual([
      [3, 'server.proxyProtocol.from', 'must be a list of the proxies\' addresses or prefixes, such as ["10.0.0.5", "10.0.1.0/24"], or [] for none, even for one: ["10.0.0.5"] (got "10.0.0.5")'],
    ]);
    const p = problems('server:\n  proxyProtocol:\n    from:\n      - 10.0.0.0/8\n      - dnsdist.school.example\n      - 10.1.2.3/24\n      - 0.0.0.0/0\n      - "::/0"\n      - 10.0.0.0/8\n      - 53\n      - 10.0.0.1/33\n');
    expect(p.map(([line, key]) => [line, key])).toEqual([5, 6, 7, 8, 9, 10, 11].map((l) => [l, 'server.proxyProtocol.from']));
    expect(p.map(([, , m]) => m)).toEqual([
      expect.stringContaining('is not an IP prefix'),
      expect.stringContaining('is not a network address: the /24 network that holds it is 10.1.2.0/24'),
      expect.stringContaining('would trust every address'),
      expect.stringContaining('would trust every address'),
      expect.stringContaining('lists 10.0.0.0/8 more than once'),
      expect.stringContaining('must be a list of the proxies\' addresses'),
      expect.stringContaining('has a bad prefix length'),
    ]);
  });

  test('an unknown key under proxyProtocol is refused with a suggestion', () => {
    expect(problems('server:\n  proxyProtocol:\n    form: ["127.0.0.1"]\n')).toEqual([[3, 'server.proxyProtocol.form', 'unknown key; did you mean "server.proxyProtocol.from"?']]);
  });
});
