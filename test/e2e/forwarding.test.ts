// End to end, on real loopback sockets: a real school-dns forwarding to scripted
// upstreams, asked by dns2 (an independent DNS implementation) and by raw sockets.
import type { Config } from '../../src/config/types';
import { Dns2Packet, dns2Client, httpGet, promValue, scrape, sleep, tcpAsk, udpAsk, udpAskAll } from '../helpers/client';
import { decode, Decoded, query, rcodeOf } from '../helpers/packets';
import { drained, startTestResolver, TestResolver } from '../helpers/resolver';

type Over = Parameters<typeof startTestResolver>[0];
import { DECOY_ADDRESS, ScriptedUpstream, soa, txtRecords } from '../helpers/upstream';

let up1: ScriptedUpstream;
let up2: ScriptedUpstream;
const running: TestResolver[] = [];

beforeAll(async () => {
  up1 = await ScriptedUpstream.start();
  up2 = await ScriptedUpstream.start();
});

afterAll(async () => {
  await Promise.all([up1?.close(), up2?.close()]);
});

beforeEach(() => {
  up1.reset();
  up2.reset();
});

afterEach(async () => {
  const done = running.splice(0);
  await Promise.all(done.map(drained));
  await Promise.all(done.map((r) => r.close()));
});

/**
 * A fresh resolver (empty cache, no upstream history) forwarding to `ups`; tests about
 * timeouts set small ones, the rest keep a per-attempt timeout a loaded machine will not hit.
 */
async function resolverFor(ups: ScriptedUpstream[], resolver: Partial<Config['resolver']> = {}, over: Over = {}): Promise<TestResolver> {
  const r = await startTestResolver({
    ...over,
    resolver: { upstreams: ups.map((u) => u.hostPort), timeoutMs: 1000, attempts: 4, totalTimeoutMs: 3000, ...resolver },
  });
  running.push(r);
  return r;
}

/** The Extended DNS Error INFO-CODE in a decoded reply's OPT, or undefined. */
function edeCode(d: Decoded): number | undefined {
  const opt = d.additionals.find((a) => a.type === 'OPT');
  const ede = opt?.options?.find((o) => o.code === 15);
  return ede?.data ? Buffer.from(ede.data).readUInt16BE(0) : undefined;
}

function elapsedSince(t0: number): number {
  return Date.now() - t0;
}

describe('answers through an upstream (dns2 as the client)', () => {
  it('answers A with the question echoed exactly as asked, mixed case', async () => {
    up1.records('www.example.com', 'A', [{ name: 'www.example.com', type: 'A', ttl: 300, class: 'IN', data: '192.0.2.10' }]);
    const r = await resolverFor([up1]);
    const res = await dns2Client(r.udpPort).resolveA('WwW.ExAmple.COM');
    expect(res.header.qr).toBe(1);
    expect(res.header.rcode).toBe(Dns2Packet.RCODE.NOERROR);
    expect(res.header.ra).toBe(1);
    expect(res.questions).toEqual([expect.objectContaining({ name: 'WwW.ExAmple.COM', type: Dns2Packet.TYPE.A, class: Dns2Packet.CLASS.IN })]);
    expect(res.answers).toHaveLength(1);
    expect(res.answers[0]).toMatchObject({ type: Dns2Packet.TYPE.A, address: '192.0.2.10', ttl: 300 });
    expect(up1.count()).toBe(1);
  });

  it('answers AAAA, MX and TXT', async () => {
    up1.records('v6.example.com', 'AAAA', [{ name: 'v6.example.com', type: 'AAAA', ttl: 120, class: 'IN', data: '2001:db8::42' }]);
    up1.records('example.com', 'MX', [
      { name: 'example.com', type: 'MX', ttl: 600, class: 'IN', data: { preference: 10, exchange: 'mail1.example.com' } },
      { name: 'example.com', type: 'MX', ttl: 600, class: 'IN', data: { preference: 20, exchange: 'mail2.example.com' } },
    ]);
    up1.records('txt.example.com', 'TXT', [{ name: 'txt.example.com', type: 'TXT', ttl: 60, class: 'IN', data: ['v=spf1 -all', 'second string'] }]);
    const r = await resolverFor([up1]);
    const dns = dns2Client(r.udpPort);

    const v6 = await dns.resolveAAAA('V6.example.com');
    expect(v6.answers.map((a) => a.address)).toEqual(['2001:db8::42']);
    expect(v6.questions[0].name).toBe('V6.example.com');

    const mx = await dns.resolveMX('Example.Com');
    expect(mx.answers.map((a) => [a.priority, a.exchange])).toEqual([[10, 'mail1.example.com'], [20, 'mail2.example.com']]);

    const txt = await dns.resolve('txt.EXAMPLE.com', 'TXT');
    expect(txt.answers).toHaveLength(1);
    expect(txt.answers[0].data).toEqual(['v=spf1 -all', 'second string']);
    expect(up1.count()).toBe(3);
  });

  it('answers a CNAME chain with every record of the chain', async () => {
    up1.records('alias.example.com', 'A', [
      { name: 'alias.example.com', type: 'CNAME', ttl: 300, class: 'IN', data: 'middle.example.net' },
      { name: 'middle.example.net', type: 'CNAME', ttl: 300, class: 'IN', data: 'target.example.org' },
      { name: 'target.example.org', type: 'A', ttl: 300, class: 'IN', data: '192.0.2.77' },
    ]);
    const r = await resolverFor([up1]);
    const res = await dns2Client(r.udpPort).resolveA('Alias.Example.com');
    expect(res.questions[0].name).toBe('Alias.Example.com');
    expect(res.answers.map((a) => [a.type, a.domain ?? a.address])).toEqual([
      [Dns2Packet.TYPE.CNAME, 'middle.example.net'],
      [Dns2Packet.TYPE.CNAME, 'target.example.org'],
      [Dns2Packet.TYPE.A, '192.0.2.77'],
    ]);
  });

  it('replies with the client ID and the question bytes exactly as sent, over UDP and TCP', async () => {
    const r = await resolverFor([up1]);
    for (const [i, ask] of [(b: Buffer) => udpAsk(r.udpPort, b), (b: Buffer) => tcpAsk(r.tcpPort, b)].entries()) {
      const q = query(i === 0 ? 'MiXeD.CaSe.Example.ORG' : 'mIxEd.cAsE.eXaMpLe.org', 'A', { id: 0xbe00 + i });
      const reply = await ask(q);
      expect(reply).not.toBeNull();
      expect(reply!.readUInt16BE(0)).toBe(0xbe00 + i);
      // Header, then the question byte for byte.
      expect(reply!.subarray(12, q.length).equals(q.subarray(12))).toBe(true);
      expect(decode(reply!).answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    }
    // The cache key folds case: the second spelling was a hit.
    expect(up1.count()).toBe(1);
  });
});

describe('upstream queries', () => {
  it('use a random ID and a fresh source port each, and ask for the name lowercased', async () => {
    const r = await resolverFor([up1]);
    const names = Array.from({ length: 20 }, (_, i) => `Q${i}.RandOm.Example.NET`);
    for (const name of names) {
      const reply = await udpAsk(r.udpPort, query(name, 'A', { id: 0x1234 }));
      expect(reply && rcodeOf(reply)).toBe(0);
    }
    expect(up1.count()).toBe(20);
    expect(up1.queries.map((q) => q.name)).toEqual(names.map((n) => n.toLowerCase()));
    const ids = new Set(up1.queries.map((q) => q.id));
    const ports = new Set(up1.queries.map((q) => q.port));
    // Random 16-bit IDs and OS-chosen ephemeral ports: 20 draws collide rarely, never mostly.
    expect(ids.size).toBeGreaterThanOrEqual(15);
    expect(ports.size).toBeGreaterThanOrEqual(10);
    // Not the client's ID passed through.
    expect(up1.queries.filter((q) => q.id === 0x1234).length).toBeLessThanOrEqual(1);
    expect(up1.queries.every((q) => q.rd && q.transport === 'udp')).toBe(true);
  });

  it.each([
    ['wrong-id-first' as const, 'an ID that is not ours'],
    ['wrong-question-first' as const, 'another question'],
  ])('ignore a reply with %s (%s) and wait for the right one', async (behaviour, _why) => {
    up1.behaviour = behaviour;
    up1.gapMs = 150;
    const r = await resolverFor([up1], { timeoutMs: 1000 });
    const t0 = Date.now();
    const reply = await udpAsk(r.udpPort, query('spoof.example.com', 'A'));
    const d = decode(reply!);
    expect(d.rcode).toBe('NOERROR');
    expect(d.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(d.answers.map((a) => a.data)).not.toContain(DECOY_ADDRESS);
    expect(elapsedSince(t0)).toBeGreaterThanOrEqual(140);
    expect(up1.count()).toBe(1);
  });
});

describe('ignored upstream replies in metrics', () => {
  it('counts a reply with the wrong ID as outcome="mismatch"', async () => {
    up1.behaviour = 'wrong-id-first';
    const r = await resolverFor([up1], { timeoutMs: 1000 });
    const d = decode((await udpAsk(r.udpPort, query('mismatch.example.com', 'A')))!);
    expect(d.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_upstream_queries_total', { upstream: up1.label, outcome: 'ok' })).toBe(1);
    expect(promValue(text, 'school_dns_upstream_queries_total', { upstream: up1.label, outcome: 'mismatch' })).toBe(1);
  });
});

describe('fail-over between upstreams', () => {
  const MARGIN = 700;
  /** Per-attempt timeout for fail-over on silence: short, yet long enough for the second upstream on a loaded machine. */
  const TIMEOUT = 400;

  it('asks the second upstream when the first stays silent, within timeoutMs + a margin', async () => {
    up1.behaviour = 'silent';
    const r = await resolverFor([up1, up2], { timeoutMs: TIMEOUT });
    const t0 = Date.now();
    const res = await dns2Client(r.udpPort).resolveA('failover.example.com');
    const took = elapsedSince(t0);
    expect(res.answers.map((a) => a.address)).toEqual(['192.0.2.1']);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT - 10);
    expect(took).toBeLessThan(TIMEOUT + MARGIN);
    expect(up1.count()).toBe(1);
    expect(up2.count()).toBe(1);
  });

  it('ignores garbage from the first upstream like any stray packet and fails over after its timeout', async () => {
    up1.behaviour = 'garbage';
    const r = await resolverFor([up1, up2], { timeoutMs: TIMEOUT });
    const t0 = Date.now();
    const res = await dns2Client(r.udpPort).resolveA('garbage.example.com');
    const took = elapsedSince(t0);
    expect(res.answers.map((a) => a.address)).toEqual(['192.0.2.1']);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT - 10);
    expect(took).toBeLessThan(TIMEOUT + MARGIN);
    expect([up1.count(), up2.count()]).toEqual([1, 1]);
  });

  it('fails over at once when the first upstream answers with a malformed message', async () => {
    up1.behaviour = 'malformed';
    // A long per-attempt timeout: answering well before it shows no timeout was waited for.
    const r = await resolverFor([up1, up2], { timeoutMs: 3000, totalTimeoutMs: 6000 });
    const t0 = Date.now();
    const res = await dns2Client(r.udpPort).resolveA('malformed.example.com');
    expect(res.answers.map((a) => a.address)).toEqual(['192.0.2.1']);
    expect(elapsedSince(t0)).toBeLessThan(1500);
    expect([up1.count(), up2.count()]).toEqual([1, 1]);
  });

  it.each(['servfail', 'refused'] as const)('asks the second upstream when the first answers %s', async (behaviour) => {
    up1.behaviour = behaviour;
    const r = await resolverFor([up1, up2], { timeoutMs: 3000, totalTimeoutMs: 6000 });
    const t0 = Date.now();
    const res = await dns2Client(r.udpPort).resolveA(`${behaviour}.example.com`);
    expect(res.header.rcode).toBe(Dns2Packet.RCODE.NOERROR);
    expect(res.answers.map((a) => a.address)).toEqual(['192.0.2.1']);
    expect(elapsedSince(t0)).toBeLessThan(1500);
    expect([up1.count(), up2.count()]).toEqual([1, 1]);
  });

  it('answers SERVFAIL with EDE 22 within totalTimeoutMs + a margin when every upstream is silent', async () => {
    up1.behaviour = 'silent';
    up2.behaviour = 'silent';
    // More attempts than fit: totalTimeoutMs, not the attempt count, ends the search.
    const r = await resolverFor([up1, up2], { timeoutMs: 200, totalTimeoutMs: 600, attempts: 10 });
    const t0 = Date.now();
    const reply = await udpAsk(r.udpPort, query('dead.example.com', 'A', { id: 0x5151, edns: true }), { timeoutMs: 3000 });
    const took = elapsedSince(t0);
    expect(reply).not.toBeNull();
    const d = decode(reply!);
    expect(d.id).toBe(0x5151);
    expect(d.rcode).toBe('SERVFAIL');
    expect(d.answers).toEqual([]);
    expect(edeCode(d)).toBe(22);
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(600 + MARGIN);
    // Three attempts of 200 ms fit in 600 ms, alternating between the upstreams.
    expect(up1.count()).toBeGreaterThanOrEqual(1);
    expect(up2.count()).toBeGreaterThanOrEqual(1);
    expect(up1.count() + up2.count()).toBeLessThanOrEqual(4);
  });

  it('answers SERVFAIL without OPT to a client that did not use EDNS', async () => {
    up1.behaviour = 'silent';
    const r = await resolverFor([up1], { timeoutMs: 150, totalTimeoutMs: 300 });
    const reply = await udpAsk(r.udpPort, query('dead2.example.com', 'A'), { timeoutMs: 3000 });
    const d = decode(reply!);
    expect(d.rcode).toBe('SERVFAIL');
    expect(d.additionals).toEqual([]);
  });

  it('does not cache SERVFAIL: the next query asks upstream again', async () => {
    up1.behaviour = 'servfail';
    const r = await resolverFor([up1], { attempts: 1 });
    expect(rcodeOf((await udpAsk(r.udpPort, query('flaky.example.com', 'A')))!)).toBe(2);
    up1.behaviour = 'answer';
    const d = decode((await udpAsk(r.udpPort, query('flaky.example.com', 'A')))!);
    expect(d.rcode).toBe('NOERROR');
    expect(up1.count()).toBe(2);
  });
});

describe('truncation and EDNS towards upstreams', () => {
  it('retries over TCP when the upstream sets TC over UDP, and the client gets the full answer', async () => {
    up1.behaviour = 'truncate';
    up1.records('tc.example.com', 'TXT', txtRecords('tc.example.com', 5, 40));
    const r = await resolverFor([up1]);
    const res = await dns2Client(r.udpPort).resolve('tc.example.com', 'TXT');
    expect(res.header.tc).toBe(0);
    expect(res.answers).toHaveLength(5);
    expect(res.answers.map((a) => (a.data as string[])[0].slice(0, 3))).toEqual(['000', '001', '002', '003', '004']);
    expect(up1.count('udp')).toBe(1);
    expect(up1.count('tcp')).toBe(1);
  });

  it('asks again without EDNS when the upstream answers FORMERR to EDNS, and remembers it', async () => {
    up1.formerrOnEdns = true;
    const r = await resolverFor([up1]);
    const first = decode((await udpAsk(r.udpPort, query('old.example.com', 'A', { edns: true })))!);
    expect(first.rcode).toBe('NOERROR');
    expect(first.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(up1.queries.map((q) => q.edns)).toEqual([true, false]);
    // That server is now asked without OPT straight away.
    const second = decode((await udpAsk(r.udpPort, query('old2.example.com', 'A', { edns: true })))!);
    expect(second.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    expect(up1.queries.map((q) => q.edns)).toEqual([true, false, false]);
  });
});

describe('coalescing', () => {
  it('sends 20 identical queries in flight upstream once and answers each client with its own ID and spelling', async () => {
    up1.delayMs = 200;
    const r = await resolverFor([up1]);
    const spellings = ['coalesce.example.com', 'COALESCE.example.com', 'Coalesce.Example.Com', 'cOaLeScE.eXaMpLe.cOm'];
    const qs = Array.from({ length: 20 }, (_, i) => query(spellings[i % spellings.length], 'A', { id: 0x4000 + i }));
    const replies = await udpAskAll(r.udpPort, qs, { timeoutMs: 3000 });
    replies.forEach((reply, i) => {
      expect(reply).not.toBeNull();
      const d = decode(reply!);
      expect(d.id).toBe(0x4000 + i);
      expect(d.questions[0].name).toBe(spellings[i % spellings.length]);
      expect(d.answers.map((a) => a.data)).toEqual(['192.0.2.1']);
    });
    expect(up1.count()).toBe(1);
    const text = await scrape(r.adminPort!);
    const coalesced = promValue(text, 'school_dns_upstream_coalesced_total');
    const hits = promValue(text, 'school_dns_cache_requests_total', { result: 'hit' });
    expect(coalesced + hits).toBe(19);
    expect(coalesced).toBeGreaterThanOrEqual(10);
  });
});

describe('answer cache', () => {
  it('answers a repeated query without asking upstream', async () => {
    const r = await resolverFor([up1]);
    const dns = dns2Client(r.udpPort);
    const a = await dns.resolveA('cached.example.com');
    const b = await dns.resolveA('CACHED.example.com');
    expect(b.answers.map((x) => x.address)).toEqual(a.answers.map((x) => x.address));
    expect(b.questions[0].name).toBe('CACHED.example.com');
    expect(up1.count()).toBe(1);
  });

  it('counts TTLs down while an answer is cached', async () => {
    up1.records('ttl.example.com', 'A', [{ name: 'ttl.example.com', type: 'A', ttl: 300, class: 'IN', data: '192.0.2.5' }]);
    const r = await resolverFor([up1]);
    const dns = dns2Client(r.udpPort);
    const first = await dns.resolveA('ttl.example.com');
    expect(first.answers[0].ttl).toBe(300);
    await sleep(1200);
    const second = await dns.resolveA('ttl.example.com');
    expect(second.answers[0].ttl).toBeLessThanOrEqual(299);
    expect(second.answers[0].ttl).toBeGreaterThanOrEqual(290);
    expect(up1.count()).toBe(1);
  });

  it.each([
    [300, 60, 60],
    [30, 60, 30],
  ])('caches NXDOMAIN with an SOA (TTL %i, minimum %i): served from the cache with SOA TTL %i', async (ttl, minimum, expected) => {
    up1.nxdomain('nope.example.com', 'A', 'example.com', ttl, minimum);
    const r = await resolverFor([up1]);
    for (let i = 0; i < 2; i++) {
      const d = decode((await udpAsk(r.udpPort, query('nope.example.com', 'A', { id: 100 + i })))!);
      expect(d.id).toBe(100 + i);
      expect(d.rcode).toBe('NXDOMAIN');
      expect(d.answers).toEqual([]);
      expect(d.authorities).toHaveLength(1);
      expect(d.authorities[0].type).toBe('SOA');
      expect(d.authorities[0].name).toBe('example.com');
      expect(d.authorities[0].data.minimum).toBe(minimum);
      expect(d.authorities[0].ttl).toBeLessThanOrEqual(expected);
      expect(d.authorities[0].ttl).toBeGreaterThanOrEqual(expected - 1);
    }
    expect(up1.count()).toBe(1);
  });

  it('caches NODATA (NOERROR, no records, SOA)', async () => {
    up1.set('v4only.example.com', 'AAAA', { authorities: [soa('example.com', 300, 45)] });
    const r = await resolverFor([up1]);
    for (let i = 0; i < 2; i++) {
      const d = decode((await udpAsk(r.udpPort, query('v4only.example.com', 'AAAA')))!);
      expect(d.rcode).toBe('NOERROR');
      expect(d.answers).toEqual([]);
      expect(d.authorities.map((a) => [a.type, a.ttl])).toEqual([['SOA', 45]]);
    }
    expect(up1.count()).toBe(1);
  });

  it('clamps served TTLs to cache.minTtl and cache.maxTtl', async () => {
    up1.records('low.example.com', 'A', [{ name: 'low.example.com', type: 'A', ttl: 5, class: 'IN', data: '192.0.2.11' }]);
    up1.records('high.example.com', 'A', [{ name: 'high.example.com', type: 'A', ttl: 100000, class: 'IN', data: '192.0.2.12' }]);
    up1.records('mid.example.com', 'A', [{ name: 'mid.example.com', type: 'A', ttl: 500, class: 'IN', data: '192.0.2.13' }]);
    const r = await resolverFor([up1], {}, { cache: { minTtl: 100, maxTtl: 1000 } });
    const dns = dns2Client(r.udpPort);
    expect((await dns.resolveA('low.example.com')).answers[0].ttl).toBe(100);
    expect((await dns.resolveA('high.example.com')).answers[0].ttl).toBe(1000);
    expect((await dns.resolveA('mid.example.com')).answers[0].ttl).toBe(500);
    // And from the cache too.
    expect((await dns.resolveA('low.example.com')).answers[0].ttl).toBeGreaterThanOrEqual(99);
    expect(up1.count()).toBe(3);
  });

  it('asks upstream again once a cached answer has expired', async () => {
    up1.records('short.example.com', 'A', [{ name: 'short.example.com', type: 'A', ttl: 1, class: 'IN', data: '192.0.2.20' }]);
    const r = await resolverFor([up1]);
    const dns = dns2Client(r.udpPort);
    await dns.resolveA('short.example.com');
    await dns.resolveA('short.example.com');
    expect(up1.count()).toBe(1);
    await sleep(1200);
    const again = await dns.resolveA('short.example.com');
    expect(again.answers.map((a) => [a.address, a.ttl])).toEqual([['192.0.2.20', 1]]);
    expect(up1.count()).toBe(2);
  });
});

describe('metrics and health', () => {
  it('exports query, response, cache, upstream and duration metrics after traffic', async () => {
    up1.behaviour = 'silent';
    const r = await resolverFor([up1, up2], { timeoutMs: 500 });
    const dns = dns2Client(r.udpPort);
    await dns.resolveA('metrics.example.com'); // up1 times out, up2 answers: a miss
    await dns.resolveA('metrics.example.com'); // a hit
    await dns.resolve('metrics.example.com', 'MX'); // up2 first now (up1 penalised): a miss, NODATA
    const mx = await tcpAsk(r.tcpPort, query('metrics.example.com', 'MX'));
    expect(rcodeOf(mx)).toBe(0); // a hit over TCP

    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_queries_total', { transport: 'udp', qtype: 'A' })).toBe(2);
    expect(promValue(text, 'school_dns_queries_total', { transport: 'udp', qtype: 'MX' })).toBe(1);
    expect(promValue(text, 'school_dns_queries_total', { transport: 'tcp', qtype: 'MX' })).toBe(1);
    expect(promValue(text, 'school_dns_responses_total', { rcode: 'NOERROR' })).toBe(4);
    expect(promValue(text, 'school_dns_responses_total', { rcode: 'SERVFAIL' })).toBe(0);
    expect(promValue(text, 'school_dns_cache_requests_total', { result: 'hit' })).toBe(2);
    expect(promValue(text, 'school_dns_cache_requests_total', { result: 'miss' })).toBe(2);
    expect(promValue(text, 'school_dns_upstream_queries_total', { upstream: up1.label, outcome: 'timeout' })).toBe(1);
    expect(promValue(text, 'school_dns_upstream_queries_total', { upstream: up1.label, outcome: 'ok' })).toBe(0);
    expect(promValue(text, 'school_dns_upstream_queries_total', { upstream: up2.label, outcome: 'ok' })).toBe(2);
    expect(promValue(text, 'school_dns_upstream_duration_seconds_count', { upstream: up2.label })).toBe(2);
    expect(promValue(text, 'school_dns_upstream_duration_seconds_count', { upstream: up1.label })).toBe(0);
    // Durations by transport and by how the query was answered: two UDP misses forwarded, one UDP and one TCP hit.
    expect(promValue(text, 'school_dns_request_duration_seconds_bucket', { transport: 'udp', source: 'forwarded', le: '+Inf' })).toBe(2);
    expect(promValue(text, 'school_dns_request_duration_seconds_count', { transport: 'udp', source: 'cached' })).toBe(1);
    expect(promValue(text, 'school_dns_request_duration_seconds_count', { transport: 'tcp', source: 'cached' })).toBe(1);
    expect(promValue(text, 'school_dns_request_duration_seconds_count', { transport: 'tcp', source: 'forwarded' })).toBe(0);
    // The miss that waited for up1's timeout took over 0.1 s.
    expect(promValue(text, 'school_dns_request_duration_seconds_bucket', { transport: 'udp', source: 'forwarded', le: '0.1' })).toBeLessThanOrEqual(1);
    expect(promValue(text, 'school_dns_inflight_queries')).toBe(0);
    expect(up1.count() + up2.count()).toBe(3);
  });

  it('counts a timeout and a SERVFAIL answer when every upstream fails', async () => {
    up1.behaviour = 'silent';
    const r = await resolverFor([up1], { timeoutMs: 150, totalTimeoutMs: 300, attempts: 2 });
    const reply = await udpAsk(r.udpPort, query('down.example.com', 'A'), { timeoutMs: 3000 });
    expect(rcodeOf(reply!)).toBe(2);
    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_upstream_queries_total', { upstream: up1.label, outcome: 'timeout' })).toBe(2);
    expect(promValue(text, 'school_dns_responses_total', { rcode: 'SERVFAIL' })).toBe(1);
  });

  it('answers /healthz with 200 and JSON ok, and 404 elsewhere', async () => {
    const r = await resolverFor([up1]);
    const h = await httpGet(r.adminPort!, '/healthz');
    expect(h.status).toBe(200);
    expect(h.contentType).toMatch(/^application\/json/);
    expect(JSON.parse(h.body)).toMatchObject({ ok: true, inflight: 0 });
    const m = await httpGet(r.adminPort!, '/metrics');
    expect(m.status).toBe(200);
    expect(m.contentType).toMatch(/^text\/plain/);
    expect((await httpGet(r.adminPort!, '/nope')).status).toBe(404);
  });
});
