// Encrypted-DNS and relay bypass, end to end on real sockets: the signals browsers and phones
// ask before going around the school's resolver get the negative answers that keep them on it
// (for every group, even when a list carries the name), the bypass category from the shipped
// seed list is sinkholed for pupils and passed for staff, and HTTPS/SVCB records of blocked
// names, CNAME cloaking included, are NODATA so no other endpoint or ECH key leaks.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tcpAsk, udpAskFrom } from '../helpers/client';
import { addressesOf, decode, dnsPacket, query, rcodeOf } from '../helpers/packets';
import { drained, startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const PUPIL = '127.0.0.2';
const STAFF = '127.0.0.3';
const SINKHOLE = '10.9.9.9';
const SHIPPED_BYPASS_LIST = path.resolve(__dirname, '..', '..', 'lists', 'bypass.txt');

// dns-packet has no names for these types: it writes and reads them as UNKNOWN_<n>.
const HTTPS = 'UNKNOWN_65';
const SVCB = 'UNKNOWN_64';

/** HTTPS/SVCB RDATA (RFC 9460): priority 1, target ".", alpn=h2, ipv4hint, ech (a stand-in key). */
function svcbRdata(ipv4: number[]): Buffer {
  const ech = Buffer.from('fake-ech-config-list');
  return Buffer.concat([
    Buffer.from([0, 1, 0]), // SvcPriority 1, TargetName "."
    Buffer.from([0, 1, 0, 3, 2]), Buffer.from('h2'), // alpn
    Buffer.from([0, 4, 0, 4, ...ipv4]), // ipv4hint
    Buffer.from([0, 5, 0, ech.length]), ech, // ech
  ]);
}
const svcb = (name: string, type: string, ipv4: number[]): dnsPacket.Answer =>
  ({ name, type, ttl: 300, class: 'IN', data: svcbRdata(ipv4) }) as unknown as dnsPacket.Answer;


describe('bypass resistance over real sockets', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-bypass-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\n');
    // A list that carries the signal names, as public bypass lists do: it must change nothing.
    writeFileSync(path.join(dir, 'lists', 'signals.txt'), 'use-application-dns.net\nmask.icloud.com\nmask-h2.icloud.com\n_dns.resolver.arpa\nresolver.arpa\n');
    writeFileSync(path.join(dir, 'policy.yaml'), [
      'categories:',
      `  bypass: { sources: [${JSON.stringify(SHIPPED_BYPASS_LIST)}, lists/signals.txt] }`,
      '  games: { sources: [lists/games.txt] }',
      'groups:',
      '  pupils: { block: [bypass, games] }',
      '  staff: {}',
      'schools:',
      '  - name: "Test school"',
      '    networks:',
      `      - { cidr: ${PUPIL}, group: pupils }`,
      `      - { cidr: ${STAFF}, group: staff }`,
      '      - { cidr: 127.0.0.1, group: staff }',
      'defaultGroup: pupils',
      '',
    ].join('\n'));
    upstream = await ScriptedUpstream.start();
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: path.join(dir, 'policy.yaml') },
      blocking: { sinkholeIPv4: SINKHOLE, sinkholeIPv6: null, ttl: 30 },
    });
  });

  beforeEach(() => {
    upstream.reset();
    r.cache.clear();
    for (const name of ['dns.google', 'cloudflare-dns.com', 'www.example.com']) {
      upstream.records(name, HTTPS, [svcb(name, HTTPS, [198, 51, 100, 1])]);
    }
    upstream.records('_dns.dns.google', SVCB, [svcb('_dns.dns.google', SVCB, [198, 51, 100, 2])]);
    // CNAME cloaking: an innocent-looking name whose answer leads to a blocked one.
    for (const type of [HTTPS, SVCB]) {
      upstream.records('cloak.school.example', type, [
        { name: 'cloak.school.example', type: 'CNAME', ttl: 300, class: 'IN', data: 'play.games-site.example' } as dnsPacket.Answer,
        svcb('play.games-site.example', type, [198, 51, 100, 77]),
      ]);
    }
  });

  afterEach(async () => drained(r));

  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Every upstream query so far, lowercase names. */
  const upstreamNames = (): string[] => upstream.queries.map((q) => q.name.toLowerCase());

  describe('the encrypted-DNS and relay signals, for every group', () => {
    it.each([
      // [name, type, rcode, the SOA's owner]
      ['use-application-dns.net', 'A', 3, 'use-application-dns.net'],
      ['use-application-dns.net', 'AAAA', 3, 'use-application-dns.net'],
      ['Use-Application-DNS.net', HTTPS, 3, 'Use-Application-DNS.net'],
      ['mask.icloud.com', 'A', 3, 'mask.icloud.com'],
      ['mask.icloud.com', 'AAAA', 3, 'mask.icloud.com'],
      ['mask-h2.icloud.com', 'A', 3, 'mask-h2.icloud.com'],
      ['mask-h2.icloud.com', HTTPS, 3, 'mask-h2.icloud.com'],
      ['_dns.resolver.arpa', SVCB, 0, 'resolver.arpa'],
      ['resolver.arpa', SVCB, 0, 'resolver.arpa'],
      ['resolver.arpa', 'A', 0, 'resolver.arpa'],
      ['_dns.resolver.arpa', HTTPS, 0, 'resolver.arpa'],
    ])('%s %s: rcode %d, no answer, an SOA, never asked upstream', async (name, type, rcode, zone) => {
      for (const client of [PUPIL, STAFF]) {
        const reply = await udpAskFrom(client, r.udpPort, query(name, type, { edns: true }), 3000);
        const d = decode(reply);
        expect(rcodeOf(reply)).toBe(rcode);
        expect(d.questions[0]).toEqual({ name, type, class: 'IN' });
        expect(d.answers).toHaveLength(0);
        expect(d.authorities.map((a) => [a.name, a.type, a.ttl])).toEqual([[zone, 'SOA', 300]]);
        // No Extended DNS Error: these are not blocks, they are the network's answer.
        expect(d.additionals.find((a) => a.type === 'OPT')?.options ?? []).toEqual([]);
      }
      expect(upstream.queries).toHaveLength(0);
    });

    it('answers them over TCP too', async () => {
      const reply = await tcpAsk(r.tcpPort, query('mask.icloud.com', 'A'));
      expect(rcodeOf(reply)).toBe(3);
      expect(decode(reply).answers).toHaveLength(0);
    });
  });

  describe('the bypass category from the shipped seed list', () => {
    it.each([
      'dns.google', 'cloudflare-dns.com', 'mozilla.cloudflare-dns.com', 'chrome.cloudflare-dns.com', 'one.one.one.one', 'dns.quad9.net',
      'doh.opendns.com', 'dns.adguard.com', 'dns.adguard-dns.com', 'dns.nextdns.io', 'abc123.dns.nextdns.io', 'doh.cleanbrowsing.org', 'doh.dns.apple.com',
      'nordvpn.com', 'www.expressvpn.com', 'protonvpn.com', 'psiphon.ca', 'www.torproject.org', 'croxyproxy.com', 'engage.cloudflareclient.com',
    ])('%s: sinkholed for pupils, passed for staff', async (name) => {
      const pupil = await udpAskFrom(PUPIL, r.udpPort, query(name, 'A', { edns: true }), 3000);
      expect(addressesOf(pupil)).toEqual([SINKHOLE]);
      const ede = decode(pupil).additionals.find((a) => a.type === 'OPT')?.options?.find((o) => o.code === 15);
      expect(ede?.data?.readUInt16BE(0)).toBe(17); // Filtered
      expect(ede?.data?.subarray(2).toString()).toContain('bypass');
      expect(upstreamNames()).not.toContain(name);
      expect(addressesOf(await udpAskFrom(STAFF, r.udpPort, query(name, 'A'), 3000))).toEqual(['192.0.2.1']);
      expect(upstreamNames()).toContain(name);
    });
  });

  describe('HTTPS and SVCB records of blocked names are NODATA', () => {
    it.each([
      ['dns.google', HTTPS],
      ['cloudflare-dns.com', HTTPS],
      ['_dns.dns.google', SVCB],
      ['games-site.example', HTTPS],
      ['games-site.example', SVCB],
    ])('%s %s: NODATA for pupils, never asked upstream; the records for staff', async (name, type) => {
      const pupil = await udpAskFrom(PUPIL, r.udpPort, query(name, type, { edns: true }), 3000);
      expect(rcodeOf(pupil)).toBe(0);
      expect(decode(pupil).answers).toHaveLength(0);
      expect(upstreamNames()).not.toContain(name);
      if (name !== 'games-site.example') {
        // The same question from staff gets the record: the NODATA above is the block.
        const staff = decode(await udpAskFrom(STAFF, r.udpPort, query(name, type), 3000));
        expect(staff.answers.map((a) => a.type)).toEqual([type]);
      }
    });

    it.each([HTTPS, SVCB])('cloaked through a CNAME (%s): NODATA for pupils, no endpoint or ECH key in the reply', async (type) => {
      const pupil = await udpAskFrom(PUPIL, r.udpPort, query('cloak.school.example', type, { edns: true }), 3000);
      expect(rcodeOf(pupil)).toBe(0);
      expect(decode(pupil).answers).toHaveLength(0);
      expect(pupil.includes(Buffer.from('fake-ech-config-list'))).toBe(false);
      expect(pupil.includes(Buffer.from([198, 51, 100, 77]))).toBe(false);
      // It did come from upstream (the filter checks answers, not only questions) ...
      expect(upstreamNames()).toContain('cloak.school.example');
      // ... and the cached answer is checked again for the next pupil, while staff get it whole.
      expect(decode(await udpAskFrom(PUPIL, r.udpPort, query('cloak.school.example', type), 3000)).answers).toHaveLength(0);
      const staff = decode(await udpAskFrom(STAFF, r.udpPort, query('cloak.school.example', type), 3000));
      expect(staff.answers.map((a) => a.type)).toEqual(['CNAME', type]);
      expect(upstream.queries.filter((q) => q.name === 'cloak.school.example')).toHaveLength(1);
    });

    it('passes HTTPS records of names that are not blocked', async () => {
      const d = decode(await udpAskFrom(PUPIL, r.udpPort, query('www.example.com', HTTPS), 3000));
      expect(d.answers.map((a) => a.type)).toEqual([HTTPS]);
    });
  });
});
