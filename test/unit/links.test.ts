import { AnswerCache } from '../../src/cache/answer-cache';
import { cacheLink } from '../../src/chain/cache-link';
import { clientLink } from '../../src/chain/client-link';
import { filterLink } from '../../src/chain/filter-link';
import { resolverLink } from '../../src/chain/resolve-link';
import { metricsLink } from '../../src/chain/metrics-link';
import { specialLink } from '../../src/chain/special-link';
import { answerFromMessage } from '../../src/dns/answer';
import { scanMessage } from '../../src/dns/message';
import { emptyReply } from '../../src/dns/reply';
import { Metrics, Transport } from '../../src/metrics/metrics';
import type { Forwarder } from '../../src/upstream/forwarder';
import { UpstreamError } from '../../src/upstream/forwarder';
import { ctxFor, fakeNext } from '../helpers/context';
import { decode, dnsPacket, query, rcodeOf } from '../helpers/packets';

const POLICY = { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 };

function upstreamAnswer(name: string, ip = '192.0.2.1', ttl = 300) {
  const buf = dnsPacket.encode({
    type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE,
    questions: [{ name, type: 'A', class: 'IN' }],
    answers: [{ name, type: 'A', ttl, data: ip }],
  } as dnsPacket.Packet);
  return answerFromMessage(buf, scanMessage(buf), POLICY, Date.now());
}

async function metricValue(m: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const json = await m.registry.getMetricsAsJSON();
  const metric = json.find((x) => x.name === name);
  const v = metric?.values.find((x) => Object.entries(labels).every(([k, val]) => (x.labels as Record<string, unknown>)[k] === val));
  return v?.value ?? NaN;
}

describe('metrics link', () => {
  it('counts the query by transport and type and the answer by rcode (sync next)', async () => {
    const m = new Metrics([], { processMetrics: false });
    const ctx = ctxFor(query('a.example', 'AAAA'));
    const next = fakeNext(() => emptyReply(ctx.buf, ctx.query, 3));
    metricsLink(m)(ctx, next.fn);
    expect(next.calls).toHaveLength(1);
    expect(await metricValue(m, 'school_dns_queries_total', { transport: 'udp', qtype: 'AAAA' })).toBe(1);
    expect(await metricValue(m, 'school_dns_responses_total', { rcode: 'NXDOMAIN' })).toBe(1);
    expect(await metricValue(m, 'school_dns_request_duration_seconds', { transport: 'udp' })).toBeGreaterThanOrEqual(0);
    expect(m.inflight).toBe(0);
  });

  it('keeps a query in flight until an async answer arrives, and counts unknown types as other', async () => {
    const m = new Metrics([], { processMetrics: false });
    const ctx = ctxFor(query('a.example', 'UNKNOWN_65000'), Transport.Tcp);
    const r = metricsLink(m)(ctx, fakeNext(() => emptyReply(ctx.buf, ctx.query, 0), { async: true }).fn);
    expect(m.inflight).toBe(1);
    await r;
    expect(m.inflight).toBe(0);
    expect(await metricValue(m, 'school_dns_queries_total', { transport: 'tcp', qtype: 'other' })).toBe(1);
  });

  it('ends the in-flight count when next throws, and rethrows', async () => {
    const m = new Metrics([], { processMetrics: false });
    const ctx = ctxFor(query('a.example', 'A'));
    expect(() => metricsLink(m)(ctx, fakeNext(new Error('boom')).fn)).toThrow('boom');
    await expect(metricsLink(m)(ctx, fakeNext(new Error('late'), { async: true }).fn)).rejects.toThrow('late');
    expect(m.inflight).toBe(0);
  });
});

describe('client link', () => {
  it('asks the identifier about the client address and passes on', () => {
    const ctx = ctxFor(query('a.example', 'A'), Transport.Udp, '10.1.2.3');
    const seen: string[] = [];
    const next = fakeNext(() => Buffer.alloc(12));
    clientLink((addr) => { seen.push(addr); return { school: 'Kim Lien', group: 'primary' }; })(ctx, next.fn);
    expect(seen).toEqual(['10.1.2.3']);
    expect(next.calls[0].client).toEqual({ school: 'Kim Lien', group: 'primary' });
  });
});

describe('filter link', () => {
  const pass = { check: () => null, recheck: (_c: unknown, r: Buffer) => r };

  it('answers with the filter verdict and does not call next', () => {
    const ctx = ctxFor(query('bad.example', 'A'));
    const verdict = emptyReply(ctx.buf, ctx.query, 3);
    const next = fakeNext(() => Buffer.alloc(12));
    expect(filterLink({ ...pass, check: () => verdict })(ctx, next.fn)).toBe(verdict);
    expect(next.calls).toHaveLength(0);
    expect(ctx.source).toBe('blocked');
  });

  it('passes when the filter has no verdict, and does not recheck answers without aliases', () => {
    const ctx = ctxFor(query('good.example', 'A'));
    const next = fakeNext(() => { ctx.answer = upstreamAnswer('good.example'); return Buffer.from('r'); });
    let rechecked = 0;
    const out = filterLink({ check: () => null, recheck: (_c, r) => { rechecked++; return r; } })(ctx, next.fn);
    expect(next.calls).toHaveLength(1);
    expect(rechecked).toBe(0);
    expect(out.toString()).toBe('r');
  });

  it('rechecks an answer that has CNAME targets, sync and async, and can replace it', async () => {
    const buf = dnsPacket.encode({
      type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE,
      questions: [{ name: 'cloak.example', type: 'A', class: 'IN' }],
      answers: [{ name: 'cloak.example', type: 'CNAME', ttl: 60, data: 'tracker.bad.example' }, { name: 'tracker.bad.example', type: 'A', ttl: 60, data: '192.0.2.66' }],
    } as dnsPacket.Packet);
    const aliased = answerFromMessage(buf, scanMessage(buf), POLICY, Date.now());
    const blocked = Buffer.from('blocked');
    const filter = { check: () => null, recheck: () => blocked };
    for (const async of [false, true]) {
      const ctx = ctxFor(query('cloak.example', 'A'));
      const next = fakeNext(() => { ctx.answer = aliased; ctx.source = 'upstream'; return Buffer.from('upstream'); }, { async });
      expect(await filterLink(filter)(ctx, next.fn)).toBe(blocked);
      expect(ctx.source).toBe('blocked');
    }
  });
});

describe('special link', () => {
  const link = specialLink();
  const run = (buf: Buffer) => {
    const ctx = ctxFor(buf);
    const next = fakeNext(() => Buffer.from('passed'));
    const out = link(ctx, next.fn) as Buffer;
    return { out, passed: next.calls.length === 1, ctx };
  };

  it('answers ANY with one synthesized HINFO "RFC8482" (RFC 8482)', () => {
    const { out, passed } = run(query('Example.COM', 'ANY', { edns: true }));
    expect(passed).toBe(false);
    const d = decode(out);
    expect(d.questions[0].name).toBe('Example.COM');
    expect(d.answers).toHaveLength(1);
    expect(d.answers[0].type).toBe('HINFO');
    expect((d.answers[0] as { data: { cpu: string; os: string } }).data).toEqual({ cpu: 'RFC8482', os: '' });
    expect(d.additionals.some((a) => a.type === 'OPT')).toBe(true);
  });

  it.each([
    ['localhost', 'A', '127.0.0.1'],
    ['LocalHost', 'AAAA', '::1'],
    ['printer.localhost', 'A', '127.0.0.1'],
  ])('answers %s %s with loopback', (name, type, ip) => {
    const { out, passed } = run(query(name, type));
    expect(passed).toBe(false);
    expect((decode(out).answers[0] as { data: string }).data).toBe(ip);
  });

  it.each([
    ['localhost MX is NODATA', 'localhost', 'MX', 0],
    ['invalid names are NXDOMAIN', 'shop.invalid', 'A', 3],
    ['private reverse zones are NXDOMAIN', '1.1.168.192.in-addr.arpa', 'PTR', 3],
    ['10/8 reverse is NXDOMAIN', '4.3.2.10.in-addr.arpa', 'PTR', 3],
    ['172.20/16 reverse is NXDOMAIN', '9.9.20.172.in-addr.arpa', 'PTR', 3],
    ['ULA reverse is NXDOMAIN', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa', 'PTR', 3],
  ])('%s', (_d, name, type, rcode) => {
    const { out, passed } = run(query(name, type));
    expect(passed).toBe(false);
    expect(rcodeOf(out)).toBe(rcode);
    expect(decode(out).answers).toHaveLength(0);
  });

  it('refuses classes other than IN', () => {
    const buf = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] } as dnsPacket.Packet);
    const { out, passed } = run(buf);
    expect(passed).toBe(false);
    expect(rcodeOf(out)).toBe(5);
  });

  // The encrypted-DNS and relay signals: [name as asked, type, rcode, SOA owner as it appears in the reply]
  it.each([
    ['use-application-dns.net', 'A', 3, 'use-application-dns.net'],
    ['Use-Application-DNS.NET', 'AAAA', 3, 'Use-Application-DNS.NET'],
    ['x.use-application-dns.net', 'UNKNOWN_65', 3, 'use-application-dns.net'], // HTTPS
    ['mask.icloud.com', 'A', 3, 'mask.icloud.com'],
    ['MASK-H2.icloud.com', 'AAAA', 3, 'MASK-H2.icloud.com'],
    ['mask.icloud.com', 'ANY', 3, 'mask.icloud.com'],
    ['_dns.resolver.arpa', 'UNKNOWN_64', 0, 'resolver.arpa'], // SVCB (DDR)
    ['resolver.arpa', 'A', 0, 'resolver.arpa'],
    ['_dns.Resolver.ARPA', 'UNKNOWN_65', 0, 'Resolver.ARPA'],
  ])('answers the bypass signal %s %s with rcode %d, no answer and an SOA', (name, type, rcode, zone) => {
    const { out, passed, ctx } = run(query(name, type as string, { edns: true, dnssecOk: true }));
    expect(passed).toBe(false);
    expect(ctx.source).toBe('local');
    const d = decode(out);
    expect(rcodeOf(out)).toBe(rcode);
    expect(d.id).toBe(0x1234);
    expect(d.flag_qr && d.flag_ra && d.flag_rd).toBe(true);
    expect(d.flag_aa || d.flag_ad).toBe(false);
    expect(d.questions[0]).toEqual({ name, type, class: 'IN' });
    expect(d.answers).toHaveLength(0);
    expect(d.authorities).toHaveLength(1);
    const soa = d.authorities[0];
    expect(soa.type).toBe('SOA');
    expect(soa.name).toBe(zone);
    expect(soa.ttl).toBe(300);
    expect(soa.data).toMatchObject({ mname: zone, rname: 'nobody.invalid', serial: 1, minimum: 300 });
    const opt = d.additionals.find((a) => a.type === 'OPT') as unknown as { flags: number } | undefined;
    expect(opt?.flags).toBe(dnsPacket.DNSSEC_OK);
  });

  it('answers the signals without EDNS too', () => {
    const { out } = run(query('use-application-dns.net', 'A'));
    expect(rcodeOf(out)).toBe(3);
    expect(decode(out).additionals).toHaveLength(0);
    expect(decode(out).authorities[0].type).toBe('SOA');
  });

  it.each([
    ['application-dns.net', 'A'], ['use-application-dns.net.example', 'A'], ['xuse-application-dns.net', 'A'],
    ['icloud.com', 'A'], ['www.icloud.com', 'A'], ['mask.icloud.com.evil.example', 'A'], ['nomask.icloud.com', 'A'],
    ['arpa', 'NS'], ['xresolver.arpa', 'A'], ['resolver.arpa.example', 'A'],
  ])('passes the near miss %s %s on', (name, type) => {
    expect(run(query(name, type)).passed).toBe(true);
  });

  it.each([['example.com', 'A'], ['8.8.8.8.in-addr.arpa', 'PTR'], ['172.in-addr.arpa', 'NS'], ['localhost.example.com', 'A'], ['', 'NS']])(
    'passes %s %s on', (name, type) => {
      expect(run(query(name || '.', type)).passed).toBe(true);
    });
});

describe('cache link', () => {
  it('on a miss calls next and stashes the upstream answer; the next query is a hit without next', () => {
    const m = new Metrics([], { processMetrics: false });
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
    const link = cacheLink(cache, m);
    const first = ctxFor(query('www.example.com', 'A', { id: 1 }));
    const next = fakeNext(() => { first.answer = upstreamAnswer('www.example.com'); first.source = 'upstream'; return Buffer.from('upstream-reply'); });
    link(first, next.fn);
    expect(next.calls).toHaveLength(1);
    expect(cache.size).toBe(1);

    const second = ctxFor(query('WWW.example.COM', 'A', { id: 2 }));
    const out = link(second, next.fn) as Buffer;
    expect(next.calls).toHaveLength(1);
    expect(second.source).toBe('cache');
    const d = decode(out);
    expect(d.id).toBe(2);
    expect(d.questions[0].name).toBe('WWW.example.COM');
    expect((d.answers[0] as { data: string }).data).toBe('192.0.2.1');
  });

  it('stashes async answers too, and nothing that did not come from upstream', async () => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
    const link = cacheLink(cache, new Metrics([], { processMetrics: false }));
    const a = ctxFor(query('a.example', 'A'));
    await link(a, fakeNext(() => { a.answer = upstreamAnswer('a.example'); a.source = 'upstream'; return Buffer.alloc(12); }, { async: true }).fn);
    expect(cache.size).toBe(1);
    const b = ctxFor(query('b.example', 'A'));
    link(b, fakeNext(() => { b.source = 'local'; return Buffer.alloc(12); }).fn);
    expect(cache.size).toBe(1);
  });

  it('keeps answers for DO and non-DO clients apart', () => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
    const link = cacheLink(cache, new Metrics([], { processMetrics: false }));
    const plain = ctxFor(query('a.example', 'A'));
    link(plain, fakeNext(() => { plain.answer = upstreamAnswer('a.example'); plain.source = 'upstream'; return Buffer.alloc(12); }).fn);
    const withDo = ctxFor(query('a.example', 'A', { edns: true, dnssecOk: true }));
    const next = fakeNext(() => Buffer.alloc(12));
    link(withDo, next.fn);
    expect(next.calls).toHaveLength(1);
  });
});

describe('resolver link (last link)', () => {
  const fake = (impl: () => Promise<unknown>) => ({ resolve: impl } as unknown as Forwarder);

  it('renders the upstream answer for the client and marks it for the cache', async () => {
    const ctx = ctxFor(query('Up.Example', 'A', { id: 77 }));
    const out = await resolverLink(fake(async () => upstreamAnswer('up.example', '198.51.100.7')))(ctx);
    const d = decode(out);
    expect(d.id).toBe(77);
    expect(d.questions[0].name).toBe('Up.Example');
    expect((d.answers[0] as { data: string }).data).toBe('198.51.100.7');
    expect(ctx.source).toBe('upstream');
  });

  it('answers SERVFAIL with EDE 22 when every upstream failed', async () => {
    const ctx = ctxFor(query('down.example', 'A', { edns: true }));
    const out = await resolverLink(fake(async () => { throw new UpstreamError('all failed', []); }))(ctx);
    expect(rcodeOf(out)).toBe(2);
    const opt = decode(out).additionals.find((r) => r.type === 'OPT') as unknown as { options: { code: number; data?: Buffer }[] };
    expect(opt.options[0].code).toBe(15);
    expect(opt.options[0].data!.readUInt16BE(0)).toBe(22);
  });

  it('lets unexpected errors through to the dispatcher', async () => {
    const ctx = ctxFor(query('bug.example', 'A'));
    await expect(resolverLink(fake(async () => { throw new TypeError('bug'); }))(ctx)).rejects.toThrow('bug');
  });
});

describe('resolver link: limits', () => {
  it('answers SERVFAIL with EDE 0 when the resolver hit a resolution limit', async () => {
    const ctx = ctxFor(query('loop.example', 'A', { edns: true }));
    const out = await resolverLink({ resolve: async () => { throw Object.assign(new Error('cname chain'), { code: 'RESOLUTION_LIMIT' }); } })(ctx);
    expect(rcodeOf(out)).toBe(2);
    const opt = decode(out).additionals.find((r) => r.type === 'OPT')!;
    expect(opt.options![0].data!.readUInt16BE(0)).toBe(0);
    expect(opt.options![0].data!.subarray(2).toString()).toContain('limit');
  });
});

describe('resolver link: stale answers', () => {
  it('marks a stale answer (RFC 8767) with Extended DNS Error 3', async () => {
    const ctx = ctxFor(query('old.example', 'A', { edns: true }));
    const stale = Object.assign(upstreamAnswer('old.example', '192.0.2.9', 30), { stale: true });
    const out = await resolverLink({ resolve: async () => stale })(ctx);
    const opt = decode(out).additionals.find((r) => r.type === 'OPT')!;
    expect(opt.options![0].code).toBe(15);
    expect(opt.options![0].data!.readUInt16BE(0)).toBe(3);
    const fresh = await resolverLink({ resolve: async () => upstreamAnswer('old.example') })(ctxFor(query('old.example', 'A', { edns: true })));
    expect(decode(fresh).additionals.find((r) => r.type === 'OPT')!.options).toHaveLength(0);
  });
});

describe('cache link: prefetch', () => {
  const setup = (ttl: number, ageMs: number) => {
    const cache = new AnswerCache({ maxEntries: 10, maxBytes: 1 << 20 });
    const calls: { key: string; onAnswer: (a: ReturnType<typeof upstreamAnswer>) => void }[] = [];
    const link = cacheLink(cache, new Metrics([], { processMetrics: false }), (req, onAnswer) => calls.push({ key: req.key, onAnswer }));
    const ctx = ctxFor(query('pop.example', 'A'));
    const a = upstreamAnswer('pop.example', '192.0.2.1', ttl);
    cache.set(ctx.key, { ...a, storedAt: Date.now() - ageMs });
    return { cache, calls, link, ctx };
  };

  it('refreshes in the background a hit with under a tenth of its lifetime left, and stores what comes back', () => {
    const { cache, calls, link, ctx } = setup(100, 91_000);
    const next = fakeNext(() => Buffer.alloc(12));
    link(ctx, next.fn);
    expect(next.calls).toHaveLength(0); // still answered from the cache
    expect(calls).toHaveLength(1);
    expect(calls[0].key).toBe(ctx.key);
    calls[0].onAnswer(upstreamAnswer('pop.example', '192.0.2.2', 100));
    const again = ctxFor(query('pop.example', 'A'));
    expect(decode(link(again, next.fn) as Buffer).answers[0].data).toBe('192.0.2.2');
    expect(cache.size).toBe(1);
  });

  it('does not refresh a hit with plenty of time left, nor a short-lived answer', () => {
    const fresh = setup(100, 50_000);
    fresh.link(fresh.ctx, fakeNext(() => Buffer.alloc(12)).fn);
    expect(fresh.calls).toHaveLength(0);
    const short = setup(5, 4_600);
    short.link(short.ctx, fakeNext(() => Buffer.alloc(12)).fn);
    expect(short.calls).toHaveLength(0);
  });
});
