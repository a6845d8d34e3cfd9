// PROXY protocol v2 end to end, on real sockets: a "proxy" at 127.0.0.9 (trusted in
// server.proxyProtocol.from) sends datagrams and TCP streams it crafts itself, each naming a
// client inside its header; the policy must see that client (and the address it asked on),
// not the proxy. Headers from anyone else are never believed, and a trusted sender's packet
// without a valid header is dropped and counted.
//
// Three groups tell every identification apart by two names: kids block games.example,
// teachers block video.example, and guests (the default group, for anyone no network names)
// block both.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { frame, promValue, scrape, udpAskFrom } from '../helpers/client';
import { addressesOf, decode, query, rcodeOf } from '../helpers/packets';
import { localV2, proxyV2, TcpFrom, udpSendFrom } from '../helpers/proxy-protocol';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const PROXY = '127.0.0.9';
const KID = '127.0.2.5';
const TEACHER = '127.0.3.5';
const KID6 = '2001:db8:2::7';
const NOBODY = '127.0.9.9';
/** A listener address in the policy (teachers), as a proxy's frontend address. */
const STAFF_LISTENER = '127.0.4.53';
const GAMES = 'games.example';
const VIDEO = 'video.example';
const SINKHOLE = '127.0.0.1';
const REAL: Record<string, string> = { [GAMES]: '192.0.2.10', [VIDEO]: '192.0.2.20' };

const addressesV4 = (reply: Buffer): string[] => addressesOf(reply, ['A']);
/** What the policy decided for a reply: blocked (sinkhole) or resolved. */
const verdict = (reply: Buffer | null, name: string): string => {
  if (reply === null) return 'no reply';
  const a = addressesV4(reply);
  if (a.length === 1 && a[0] === SINKHOLE) return 'blocked';
  if (a.length === 1 && a[0] === REAL[name]) return 'resolved';
  return `rcode ${rcodeOf(reply)}, answers ${JSON.stringify(a)}`;
};

const KIDS = { [GAMES]: 'blocked', [VIDEO]: 'resolved' };
const TEACHERS = { [GAMES]: 'resolved', [VIDEO]: 'blocked' };
const GUESTS = { [GAMES]: 'blocked', [VIDEO]: 'blocked' };

describe('PROXY protocol v2 from a trusted proxy', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;

  const rejected = async (transport: string, reason: string): Promise<number> =>
    promValue(await scrape(r.adminPort!), 'school_dns_proxy_protocol_rejected_total', { transport, reason });

  /** Both names through the proxy over UDP, each in its own datagram: header + query. */
  async function viaUdp(header: Buffer, from = PROXY): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const name of [GAMES, VIDEO]) {
      const q = query(name, 'A', { id: 0x4242 });
      const reply = await udpSendFrom(from, r.udpPort, Buffer.concat([header, q]), 2000);
      // The reply is a plain DNS message for the proxy: no header in front.
      if (reply !== null) expect(decode(reply).id).toBe(0x4242);
      out[name] = verdict(reply, name);
    }
    return out;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-proxy-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'games.txt'), `${GAMES}\n`);
    writeFileSync(path.join(dir, 'lists', 'video.txt'), `${VIDEO}\n`);
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  games:
    sources: [lists/games.txt]
  video:
    sources: [lists/video.txt]
groups:
  kids:
    block: [games]
  teachers:
    block: [video]
  guests:
    block: [games, video]
schools:
  - name: North
    networks:
      - { cidr: 127.0.2.0/24, group: kids }
      - { cidr: "2001:db8:2::/48", group: kids }
      - { cidr: 127.0.3.0/24, group: teachers }
listeners:
  - { address: "${STAFF_LISTENER}", group: teachers, school: North }
defaultGroup: guests
`);
    upstream = await ScriptedUpstream.start();
    for (const [name, a] of Object.entries(REAL)) upstream.records(name, 'A', [{ name, type: 'A', ttl: 300, class: 'IN', data: a }]);
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort] },
      policy: { file: path.join(dir, 'policy.yaml') },
      server: { proxyProtocol: { from: [`${PROXY}/32`, '::1/128'] } },
    });
  }, 30_000);

  afterAll(async () => {
    await Promise.allSettled([r?.close(), upstream?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('direct clients are identified by their own address, as always', async () => {
    for (const [from, expected] of [[KID, KIDS], [TEACHER, TEACHERS], [NOBODY, GUESTS]] as const) {
      const got: Record<string, string> = {};
      for (const name of [GAMES, VIDEO]) got[name] = verdict(await udpAskFrom(from, r.udpPort, query(name, 'A')), name);
      expect({ from, got }).toEqual({ from, got: expected });
    }
  });

  test('UDP: the policy sees the client named in the header, IPv4 or IPv6, not the proxy', async () => {
    expect(await viaUdp(proxyV2({ source: KID, destination: '127.0.0.1', protocol: 'udp' }))).toEqual(KIDS);
    expect(await viaUdp(proxyV2({ source: TEACHER, destination: '127.0.0.1', protocol: 'udp' }))).toEqual(TEACHERS);
    expect(await viaUdp(proxyV2({ source: KID6, destination: '2001:db8:53::1', protocol: 'udp' }))).toEqual(KIDS);
    // TLVs (here an authority name and padding) are skipped.
    const tlvs = Buffer.concat([Buffer.from([0x02, 0x00, 0x03]), Buffer.from('dns'), Buffer.from([0x04, 0x00, 0x02, 0, 0])]);
    expect(await viaUdp(proxyV2({ source: TEACHER, destination: '127.0.0.1', protocol: 'udp', tlvs }))).toEqual(TEACHERS);
  });

  test('UDP: the destination in the header is the listener for the policy', async () => {
    // A client no network names gets the group of the address it asked on (the proxy's frontend).
    expect(await viaUdp(proxyV2({ source: NOBODY, destination: STAFF_LISTENER, protocol: 'udp' }))).toEqual(TEACHERS);
    expect(await viaUdp(proxyV2({ source: NOBODY, destination: '127.0.0.1', protocol: 'udp' }))).toEqual(GUESTS);
  });

  test('UDP: LOCAL (a health check) is answered for the proxy itself', async () => {
    expect(await viaUdp(localV2())).toEqual(GUESTS);
    const reply = await udpSendFrom(PROXY, r.udpPort, Buffer.concat([localV2(), query('localhost', 'A')]));
    expect(reply && addressesV4(reply)).toEqual(['127.0.0.1']);
  });

  test('UDP: a trusted sender without a valid header is dropped and counted', async () => {
    const before = { signature: await rejected('udp', 'signature'), truncated: await rejected('udp', 'truncated'), version: await rejected('udp', 'version') };
    // A plain query (a proxy that does not send the header): no answer, not even for a kid's name.
    expect(await udpSendFrom(PROXY, r.udpPort, query(GAMES, 'A'), 500)).toBeNull();
    // A header cut short, and a version 1 binary header.
    const good = proxyV2({ source: TEACHER, destination: '127.0.0.1', protocol: 'udp' });
    expect(await udpSendFrom(PROXY, r.udpPort, good.subarray(0, 20), 500)).toBeNull();
    const v1 = Buffer.from(good);
    v1[12] = 0x11;
    expect(await udpSendFrom(PROXY, r.udpPort, Buffer.concat([v1, query(VIDEO, 'A')]), 500)).toBeNull();
    expect({ signature: await rejected('udp', 'signature'), truncated: await rejected('udp', 'truncated'), version: await rejected('udp', 'version') })
      .toEqual({ signature: before.signature + 1, truncated: before.truncated + 1, version: before.version + 1 });
  });

  test('UDP: a header from an untrusted sender is never believed', async () => {
    const before = await scrape(r.adminPort!);
    const sum = (text: string, name: string): number => text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    // A kid claiming to be a teacher: the header is just a malformed DNS message.
    const claim = proxyV2({ source: TEACHER, destination: STAFF_LISTENER, protocol: 'udp' });
    for (const name of [GAMES, VIDEO]) {
      const reply = await udpSendFrom(KID, r.udpPort, Buffer.concat([claim, query(name, 'A')]), 500);
      if (reply !== null) {
        expect(rcodeOf(reply)).not.toBe(0);
        expect(addressesV4(reply)).toEqual([]);
      }
    }
    const after = await scrape(r.adminPort!);
    expect(sum(after, 'school_dns_rejected_queries_total')).toBe(sum(before, 'school_dns_rejected_queries_total') + 2);
    expect(sum(after, 'school_dns_proxy_protocol_rejected_total')).toBe(sum(before, 'school_dns_proxy_protocol_rejected_total'));
    // The same kid without a header is answered as a kid.
    expect(verdict(await udpAskFrom(KID, r.udpPort, query(GAMES, 'A')), GAMES)).toBe('blocked');
  });

  test('TCP: one header at the start of the connection names the client of every query on it', async () => {
    for (const [source, expected] of [[KID, KIDS], [TEACHER, TEACHERS]] as const) {
      const c = await TcpFrom.connect(PROXY, r.tcpPort);
      try {
        // The header and the first query in one segment, as dnsdist sends them; the second
        // query pipelined behind it.
        const q1 = query(GAMES, 'A', { id: 1 });
        const q2 = query(VIDEO, 'A', { id: 2 });
        await c.write(Buffer.concat([proxyV2({ source, destination: '127.0.0.1', protocol: 'tcp' }), frame(q1), frame(q2)]));
        const got: Record<string, string> = {};
        for (let i = 0; i < 2; i++) {
          const reply = await c.next(2000);
          expect(reply).not.toBeNull();
          const name = decode(reply!).id === 1 ? GAMES : VIDEO;
          got[name] = verdict(reply, name);
        }
        expect({ source, got }).toEqual({ source, got: expected });
      } finally {
        c.destroy();
      }
    }
  });

  test('TCP: a header that arrives in pieces is waited for', async () => {
    const c = await TcpFrom.connect(PROXY, r.tcpPort);
    try {
      const h = proxyV2({ source: KID6, destination: '2001:db8:53::1', protocol: 'tcp' });
      for (const [from, to] of [[0, 5], [5, 14], [14, 30], [30, h.length]]) {
        await c.write(h.subarray(from, to));
        await new Promise((res) => setTimeout(res, 30));
      }
      await c.send(query(GAMES, 'A'));
      expect(verdict(await c.next(2000), GAMES)).toBe('blocked');
      await c.send(query(VIDEO, 'A'));
      expect(verdict(await c.next(2000), VIDEO)).toBe('resolved');
    } finally {
      c.destroy();
    }
  });

  test('TCP: LOCAL is the proxy asking for itself', async () => {
    const c = await TcpFrom.connect(PROXY, r.tcpPort);
    try {
      await c.write(Buffer.concat([localV2(), frame(query(VIDEO, 'A'))]));
      expect(verdict(await c.next(2000), VIDEO)).toBe('blocked');
    } finally {
      c.destroy();
    }
  });

  test('TCP: a trusted connection without a valid header is closed and counted', async () => {
    const before = { signature: await rejected('tcp', 'signature'), family: await rejected('tcp', 'family'), short: await rejected('tcp', 'short') };
    const plain = await TcpFrom.connect(PROXY, r.tcpPort);
    await plain.send(query(GAMES, 'A'));
    expect(await plain.waitClosed(2000)).toBe(true);
    expect(await plain.next(100)).toBeNull();
    const unspec = await TcpFrom.connect(PROXY, r.tcpPort);
    const h = proxyV2({ source: KID, destination: '127.0.0.1', protocol: 'tcp' });
    h[13] = 0x00; // PROXY for family UNSPEC: no address to take
    await unspec.write(Buffer.concat([h, frame(query(GAMES, 'A'))]));
    expect(await unspec.waitClosed(2000)).toBe(true);
    // Gone before the header was whole.
    const cut = await TcpFrom.connect(PROXY, r.tcpPort);
    await cut.write(h.subarray(0, 10));
    await new Promise((res) => setTimeout(res, 50));
    cut.destroy();
    await new Promise((res) => setTimeout(res, 100));
    expect({ signature: await rejected('tcp', 'signature'), family: await rejected('tcp', 'family'), short: await rejected('tcp', 'short') })
      .toEqual({ signature: before.signature + 1, family: before.family + 1, short: before.short + 1 });
  });

  test('TCP: from an untrusted sender the header is not believed', async () => {
    const before = await scrape(r.adminPort!);
    const c = await TcpFrom.connect(KID, r.tcpPort);
    try {
      // Its first two bytes read as a length prefix of 3338: nothing is answered, nothing proxied.
      await c.write(Buffer.concat([proxyV2({ source: TEACHER, destination: '127.0.0.1', protocol: 'tcp' }), frame(query(GAMES, 'A'))]));
      expect(await c.next(500)).toBeNull();
    } finally {
      c.destroy();
    }
    const after = await scrape(r.adminPort!);
    const total = (t: string): number => t.split('\n').filter((l) => l.startsWith('school_dns_proxy_protocol_rejected_total{')).reduce((s, l) => s + Number(l.split(' ').pop()), 0);
    expect(total(after)).toBe(total(before));
    // And a plain TCP query from that kid is answered as a kid.
    const k = await TcpFrom.connect(KID, r.tcpPort);
    try {
      await k.send(query(GAMES, 'A'));
      expect(verdict(await k.next(2000), GAMES)).toBe('blocked');
    } finally {
      k.destroy();
    }
  });
});

describe('without server.proxyProtocol (the default)', () => {
  let upstream: ScriptedUpstream;
  let r: TestResolver;

  beforeAll(async () => {
    upstream = await ScriptedUpstream.start();
    upstream.records(VIDEO, 'A', [{ name: VIDEO, type: 'A', ttl: 300, class: 'IN', data: REAL[VIDEO] }]);
    r = await startTestResolver({ resolver: { upstreams: [upstream.hostPort] } });
  });

  afterAll(async () => {
    await Promise.allSettled([r?.close(), upstream?.close()]);
  });

  test('a header is a malformed message from anyone, and plain queries are answered', async () => {
    const reply = await udpSendFrom(PROXY, r.udpPort, Buffer.concat([localV2(), query(VIDEO, 'A')]), 500);
    if (reply !== null) expect(addressesV4(reply)).toEqual([]);
    expect(addressesV4((await udpSendFrom(PROXY, r.udpPort, query(VIDEO, 'A')))!)).toEqual([REAL[VIDEO]]);
  });
});
