import { canonicalAddress, CidrTable, formatWords, parseAddress, parseCidr } from '../../src/policy/cidr';

describe('parseAddress', () => {
  it.each([
    ['10.1.2.3', 4, [0x0a010203]],
    ['0.0.0.0', 4, [0]],
    ['255.255.255.255', 4, [0xffffffff]],
    ['::', 6, [0, 0, 0, 0]],
    ['::1', 6, [0, 0, 0, 1]],
    ['2001:db8::1', 6, [0x20010db8, 0, 0, 1]],
    ['2001:DB8:0:0:0:0:0:1', 6, [0x20010db8, 0, 0, 1]],
    ['2001:db8:1:2:3:4:5:6', 6, [0x20010db8, 0x00010002, 0x00030004, 0x00050006]],
    ['1::', 6, [0x00010000, 0, 0, 0]],
    ['fe80::1%eth0', 6, [0xfe800000, 0, 0, 1]],
    ['fe80::1%25', 6, [0xfe800000, 0, 0, 1]],
    ['::ffff:10.1.2.3', 4, [0x0a010203]],
    ['::FFFF:a01:203', 4, [0x0a010203]],
    ['64:ff9b::10.1.2.3', 6, [0x0064ff9b, 0, 0, 0x0a010203]],
    ['::10.1.2.3', 6, [0, 0, 0, 0x0a010203]],
  ])('%s', (text, family, words) => {
    expect(parseAddress(text)).toEqual({ family, words });
  });

  it.each([
    '', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', '1.2.3.4 ', ' 1.2.3.4', '1..3.4', 'a.b.c.d', '1.2.3.4%eth0',
    ':', ':::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '1::2::3', '12345::', 'g::1', '1:', ':1', '::1%', '1:2:3:4:5:6:7::8',
    '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', 'example.com', '10.1.2.3:53',
  ])('refuses %j', (text) => {
    expect(parseAddress(text)).toBeNull();
  });
});

describe('formatWords and canonicalAddress', () => {
  it.each([
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['fe80::1%eth0', 'fe80::1'],
    ['nonsense', null],
  ])('%s -> %s', (text, canonical) => {
    expect(canonicalAddress(text)).toBe(canonical);
  });

  it('prints IPv4 words', () => {
    expect(formatWords(4, [0xc0000201])).toBe('192.0.2.1');
  });
});

describe('parseCidr', () => {
  it.each([
    ['10.1.0.0/24', 4, 24, '10.1.0.0/24'],
    ['10.1.2.3', 4, 32, '10.1.2.3/32'],
    ['0.0.0.0/0', 4, 0, '0.0.0.0/0'],
    ['2001:DB8:1:0::/64', 6, 64, '2001:db8:1::/64'],
    ['::/0', 6, 0, '::/0'],
    ['2001:db8::1', 6, 128, '2001:db8::1/128'],
    ['::ffff:10.0.0.0/104', 4, 8, '10.0.0.0/8'],
  ])('%s', (text, family, length, canonical) => {
    const c = parseCidr(text);
    expect(c).toMatchObject({ family, length, text: canonical });
  });

  it.each([
    ['10.1.0.5/24', 'is not a network address: the /24 network that holds it is 10.1.0.0/24'],
    ['2001:db8:1::1/64', 'the /64 network that holds it is 2001:db8:1::/64'],
    ['::ffff:10.1.0.1/120', 'the /120 network that holds it is ::ffff:10.1.0.0/120'],
    ['10.1.0.0/33', 'from 0 to 32'],
    ['2001:db8::/129', 'from 0 to 128'],
    ['10.1.0.0/', 'bad prefix length'],
    ['10.1.0.0/2a', 'bad prefix length'],
    ['10.1.0.300/24', 'is not an IP prefix'],
    ['school.example', 'is not an IP prefix'],
    ['fe80::/64%eth0', 'must not have a zone'],
  ])('refuses %s', (text, message) => {
    const r = parseCidr(text);
    expect(typeof r).toBe('string');
    expect(r).toContain(message);
  });
});

describe('CidrTable: longest-prefix match', () => {
  const table = new CidrTable<string>();
  const prefixes: [string, string][] = [
    ['10.0.0.0/8', 'district'],
    ['10.2.0.0/16', 'school B'],
    ['10.2.1.0/24', 'school B preschool'],
    ['10.2.1.128/25', 'school B preschool annex'],
    ['10.2.1.10/32', 'school B teacher laptop'],
    ['192.0.2.0/24', 'doc'],
    ['2001:db8::/32', 'v6 district'],
    ['2001:db8:2::/48', 'v6 school B'],
    ['2001:db8:2:1::/64', 'v6 school B preschool'],
    ['2001:db8:2:1::10/128', 'v6 one host'],
    ['fe80::/10', 'link-local'],
    ['::ffff:198.51.100.0/120', 'mapped prefix stored as IPv4'],
  ];
  for (const [p, v] of prefixes) table.add(p, v);

  it.each([
    ['10.9.9.9', 'district'],
    ['10.2.200.1', 'school B'],
    ['10.2.1.1', 'school B preschool'],
    ['10.2.1.127', 'school B preschool'],
    ['10.2.1.128', 'school B preschool annex'],
    ['10.2.1.255', 'school B preschool annex'],
    ['10.2.1.10', 'school B teacher laptop'],
    ['10.2.1.11', 'school B preschool'],
    ['::ffff:10.2.1.10', 'school B teacher laptop'],
    ['::ffff:10.2.1.200', 'school B preschool annex'],
    ['192.0.2.77', 'doc'],
    ['198.51.100.9', 'mapped prefix stored as IPv4'],
    ['::ffff:198.51.100.9', 'mapped prefix stored as IPv4'],
    ['11.0.0.1', undefined],
    ['2001:db8:ffff::1', 'v6 district'],
    ['2001:db8:2:ff::1', 'v6 school B'],
    ['2001:db8:2:1::1', 'v6 school B preschool'],
    ['2001:db8:2:1::10', 'v6 one host'],
    ['2001:db8:2:1:0:0:0:11', 'v6 school B preschool'],
    ['fe80::1%eth0', 'link-local'],
    ['fe80::abcd%wlan0', 'link-local'],
    ['2001:db9::1', undefined],
    ['not an address', undefined],
    ['', undefined],
  ])('%s -> %s', (address, value) => {
    expect(table.lookup(address)).toBe(value);
  });

  it('counts its prefixes and refuses an exact duplicate (keeping the first)', () => {
    const t = new CidrTable<number>();
    expect(t.add('10.0.0.0/8', 1)).toBe(true);
    expect(t.add('10.0.0.0/8', 2)).toBe(false);
    expect(t.add('::ffff:10.0.0.0/104', 3)).toBe(false); // the same prefix, written as IPv6
    expect(t.add('10.0.0.0/9', 4)).toBe(true);
    expect(t.size).toBe(2);
    expect(t.lookup('10.200.0.1')).toBe(1);
    expect(t.lookup('10.1.0.1')).toBe(4);
  });

  it('throws on a malformed prefix', () => {
    expect(() => new CidrTable<number>().add('10.0.0.1/8', 1)).toThrow('invalid prefix "10.0.0.1/8"');
  });

  describe('/0, /32 and /128', () => {
    const t = new CidrTable<string>();
    t.add('0.0.0.0/0', 'any v4');
    t.add('::/0', 'any v6');
    t.add('203.0.113.7/32', 'one v4');
    t.add('2001:db8::7/128', 'one v6');
    it.each([
      ['1.2.3.4', 'any v4'],
      ['203.0.113.7', 'one v4'],
      ['203.0.113.6', 'any v4'],
      ['2001:db8::7', 'one v6'],
      ['2001:db8::8', 'any v6'],
      ['::1', 'any v6'],
      // an IPv4 client on a dual-stack socket is IPv4: ::/0 does not cover it
      ['::ffff:1.2.3.4', 'any v4'],
    ])('%s -> %s', (address, value) => {
      expect(t.lookup(address)).toBe(value);
    });

    it('::/0 alone does not match IPv4 or IPv4-mapped clients', () => {
      const only6 = new CidrTable<string>();
      only6.add('::/0', 'v6');
      expect(only6.lookup('::ffff:1.2.3.4')).toBeUndefined();
      expect(only6.lookup('1.2.3.4')).toBeUndefined();
      expect(only6.lookup('2001:db8::1')).toBe('v6');
    });
  });

  it('matches a few thousand prefixes by longest prefix', () => {
    const t = new CidrTable<number>();
    // 4096 school subnets /24 under 10.0.0.0/8 ... with every fourth split into /26s
    let n = 0;
    for (let i = 0; i < 4096; i++) {
      const b = i >> 8;
      const c = i & 255;
      t.add(`10.${b}.${c}.0/24`, i);
      if (i % 4 === 0) t.add(`10.${b}.${c}.64/26`, 100000 + i);
      t.add(`2001:db8:${i.toString(16)}::/48`, 200000 + i);
      n++;
    }
    expect(t.size).toBe(n * 2 + 1024);
    expect(t.lookup('10.3.7.1')).toBe(3 * 256 + 7);
    expect(t.lookup('10.3.8.65')).toBe(100000 + 3 * 256 + 8);
    expect(t.lookup('10.3.9.65')).toBe(3 * 256 + 9);
    expect(t.lookup('2001:db8:fff:1::1')).toBe(200000 + 0xfff);
    expect(t.lookup('10.16.0.1')).toBeUndefined();
  });
});
