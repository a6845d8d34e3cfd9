// The recursor against a fake DNS hierarchy on loopback: root, com/org/vn, edu.vn and zones
// built to exercise glue, glueless NS, CNAME/DNAME chains, lame and silent servers, limits.
import { Hierarchy, hierarchySpecs, rootHints, startServers } from '../helpers/authority';
import { decode } from '../helpers/packets';
import { encodeName } from '../../src/dns/name';
import { TYPE_NAMES, Type } from '../../src/dns/constants';
import { Rank } from '../../src/recursor/cache';
import { Recursor, RecursorAnswer, RecursorEvent, RecursorOptions } from '../../src/recursor/recursor';
import type { Answer } from '../../src/dns/answer';

let h: Hierarchy;
const recursors: Recursor[] = [];

beforeAll(async () => { h = await startServers(hierarchySpecs()); });
afterAll(async () => { for (const r of recursors) r.close(); await h.close(); });
beforeEach(() => h.clearLogs());

function make(extra: Partial<RecursorOptions> = {}, events: RecursorEvent[] = []): Recursor {
  const r = new Recursor({
    rootHints: rootHints(), authPort: h.port, timeoutMs: 300, totalTimeoutMs: 3000,
    ttlPolicy: { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 },
    observe: (e) => events.push(e), ...extra,
  });
  recursors.push(r);
  return r;
}

function question(name: string, type: number): Buffer {
  const n = encodeName(name);
  const q = Buffer.alloc(n.length + 4);
  n.copy(q);
  q.writeUInt16BE(type, n.length);
  q.writeUInt16BE(1, n.length + 2);
  return q;
}

function ask(r: Recursor, name: string, type: keyof typeof Type): Promise<Answer> {
  return r.resolve({ key: `${name}/${type}`, question: question(name, Type[type]), dnssecOk: false, checkingDisabled: false });
}

const total = (): number => [...h.servers.values()].reduce((n, s) => n + s.log.length, 0);
const rrs = (a: Answer) => decode(a.wire).answers.map((x) => [x.name, x.type, x.data]);

describe('iteration', () => {
  test('follows referrals from the root; the answer is canonical; cold and warm query counts', async () => {
    const r = make();
    const a = await ask(r, 'www.example.com', 'A');
    const d = decode(a.wire);
    expect(d.id).toBe(0);
    expect(d.flag_qr && d.flag_ra && !d.flag_aa).toBe(true);
    expect(d.answers.map((x) => [x.name, x.type, x.data])).toEqual([['www.example.com', 'A', '192.0.2.1']]);
    expect(a.lifetime).toBe(300);
    const cold = total();
    expect(cold).toBe(3); // root, com, example.com
    h.clearLogs();
    await ask(r, 'www.example.com', 'A');
    expect(total()).toBe(0);
    await ask(r, 'www.example.com', 'AAAA');
    expect(total()).toBe(1); // delegation cached: straight to example.com
    expect(h.server('127.0.0.10').log.every((l) => !l.rd)).toBe(true);
  });

  test('QNAME minimisation: the root sees only the TLD, the TLD only the next label', async () => {
    const r = make();
    await ask(r, 'www.school.edu.vn', 'A');
    expect(h.server('127.0.0.2').log.map((l) => [l.name, l.type])).toEqual([['vn', 'A']]);
    expect(h.server('127.0.0.5').log.map((l) => l.name)).toEqual(['edu.vn']);
    expect(h.server('127.0.0.6').log.map((l) => l.name)).toEqual(['school.edu.vn', 'www.school.edu.vn']);
  });

  test('without minimisation the full name goes to every server', async () => {
    const r = make({ qnameMinimisation: false });
    await ask(r, 'www.example.com', 'A');
    expect(h.server('127.0.0.2').log.map((l) => l.name)).toEqual(['www.example.com']);
  });

  test('an empty non-terminal on the way is asked label by label, then the full name', async () => {
    const r = make();
    const a = await ask(r, 'a.b.c.deep.example.com', 'A');
    expect(rrs(a)).toEqual([['a.b.c.deep.example.com', 'A', '192.0.2.11']]);
    expect(h.server('127.0.0.10').log.map((l) => l.name)).toEqual(['deep.example.com', 'c.deep.example.com', 'b.c.deep.example.com', 'a.b.c.deep.example.com']);
  });

  test('0x20: the query name goes out in mixed case and the answer still resolves', async () => {
    const r = make({ caseRandomisation: true, qnameMinimisation: false });
    const a = await ask(r, 'www.example.com', 'A');
    expect(rrs(a)).toEqual([['www.example.com', 'A', '192.0.2.1']]);
    const sent = [...h.servers.values()].flatMap((s) => s.log.map((l) => l.name));
    expect(sent.some((n) => n !== n.toLowerCase())).toBe(true);
    expect(decode(a.wire).questions[0].name).toBe('www.example.com');
  });
});

describe('record types and names', () => {
  const r = () => make();
  test.each([
    ['www.example.com', 'AAAA', [['www.example.com', 'AAAA', '2001:db8::1']]],
    ['example.com', 'MX', [['example.com', 'MX', { preference: 10, exchange: 'mail.example.com' }]]],
    ['example.com', 'TXT', [['example.com', 'TXT', [Buffer.from('v=spf1 -all')]]]],
    ['_sip._tcp.example.com', 'SRV', [['_sip._tcp.example.com', 'SRV', { priority: 0, weight: 5, port: 5060, target: 'sip.example.com' }]]],
    ['xn--bcher-kva.example.vn', 'A', [['xn--bcher-kva.example.vn', 'A', '192.0.2.20']]],
    ['x.y.wild.example.com', 'A', [['x.y.wild.example.com', 'A', '192.0.2.99']]],
  ] as const)('%s %s', async (name, type, expected) => {
    expect(rrs(await ask(r(), name, type as keyof typeof Type))).toEqual(expected);
  });

  test('CAA and HTTPS (type 65, opaque RDATA) come back byte for byte', async () => {
    const rec = make();
    const caa = decode((await ask(rec, 'example.com', 'CAA')).wire).answers[0];
    expect([caa.type, caa.data.tag, caa.data.value]).toEqual(['CAA', 'issue', 'letsencrypt.org']);
    const https = decode((await ask(rec, 'example.com', 'HTTPS')).wire).answers[0];
    expect(https.type).toBe('UNKNOWN_65');
    expect(Buffer.from(https.data).toString('hex')).toBe('0001000001000302683200');
  });

  test('an answer too big for UDP is fetched over TCP', async () => {
    const rec = make();
    const a = await ask(rec, 'big.example.com', 'TXT');
    expect(decode(a.wire).answers).toHaveLength(24);
    expect(h.server('127.0.0.10').log.map((l) => l.transport)).toEqual(['udp', 'tcp']);
  });

  test('IPv6 server address from AAAA glue', async () => {
    const a = await ask(make(), 'www.v6.com', 'AAAA');
    expect(rrs(a)).toEqual([['www.v6.com', 'AAAA', '2001:db8::6']]);
    expect(h.server('::1').log.length).toBeGreaterThan(0);
  });
});

describe('bailiwick and glue', () => {
  test('out-of-bailiwick additional records are neither used nor cached', async () => {
    const r = make();
    await ask(r, 'www.example.com', 'A');
    const now = Date.now();
    expect(r.cache.getRrset('www.victim.test', Type.A, now)).toBeUndefined();
    expect(r.cache.getRrset('www.example.org', Type.A, now)).toBeUndefined();
    expect(r.cache.getRrset('ns1.example.com', Type.A, now)).toBeDefined(); // the real glue
    const victim = await ask(r, 'www.victim.test', 'A');
    expect(victim.rcode).toBe(3);
    const org = await ask(r, 'www.example.org', 'A');
    expect(rrs(org)).toEqual([['www.example.org', 'CNAME', 'host.example.com'], ['host.example.com', 'A', '192.0.2.10']]);
  });

  test('an NS name without glue is resolved first', async () => {
    const r = make();
    const a = await ask(r, 'www.glueless.com', 'A');
    expect(rrs(a)).toEqual([['www.glueless.com', 'A', '192.0.2.30']]);
    expect(h.server('127.0.0.11').log.map((l) => l.name)).toContain('ns.hosting.org');
  });

  test('an in-zone NS name without glue is unresolvable: SERVFAIL, not a loop', async () => {
    const r = make();
    await expect(ask(r, 'www.selfref.com', 'A')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED' });
    expect(total()).toBeLessThan(6);
  });
});

describe('chains and negatives', () => {
  test('a CNAME chain across three zones, records in order, alias targets marked', async () => {
    const r = make();
    const a = await ask(r, 'www.cname.com', 'A');
    expect(rrs(a)).toEqual([
      ['www.cname.com', 'CNAME', 'www.example.org'],
      ['www.example.org', 'CNAME', 'host.example.com'],
      ['host.example.com', 'A', '192.0.2.10'],
    ]);
    expect(a.aliasTargets).toHaveLength(2);
  });

  test('DNAME: the CNAME is synthesised and followed', async () => {
    const a = await ask(make(), 'www.old.example.org', 'A');
    expect(rrs(a)).toEqual([
      ['old.example.org', 'DNAME', 'example.com'],
      ['www.old.example.org', 'CNAME', 'www.example.com'],
      ['www.example.com', 'A', '192.0.2.1'],
    ]);
  });

  test('NXDOMAIN with the SOA, cached (RFC 2308) and covering names below (RFC 8020)', async () => {
    const r = make();
    const a = await ask(r, 'nope.example.com', 'A');
    const d = decode(a.wire);
    expect([a.rcode, a.negative, d.authorities[0].type, d.authorities[0].name]).toEqual([3, true, 'SOA', 'example.com']);
    expect(a.lifetime).toBe(60); // min(SOA TTL 300, MINIMUM 60)
    h.clearLogs();
    expect((await ask(r, 'nope.example.com', 'AAAA')).rcode).toBe(3);
    expect((await ask(r, 'x.nope.example.com', 'A')).rcode).toBe(3);
    expect(total()).toBe(0);
  });

  test('NODATA with the SOA', async () => {
    const a = await ask(make(), 'www.example.com', 'MX');
    expect([a.rcode, a.negative, decode(a.wire).answers.length, decode(a.wire).authorities[0].type]).toEqual([0, true, 0, 'SOA']);
  });

  test('a CNAME into a name that does not exist: the chain, then NXDOMAIN', async () => {
    const a = await ask(make(), 'nxd.example.org', 'A');
    expect(a.rcode).toBe(3);
    expect(rrs(a)).toEqual([['nxd.example.org', 'CNAME', 'nothere.example.com']]);
  });

  test('a 1-second TTL is asked again once expired', async () => {
    const r = make();
    await ask(r, 'short.example.com', 'A');
    await ask(r, 'short.example.com', 'A');
    const count = () => h.server('127.0.0.10').log.filter((l) => l.name === 'short.example.com').length;
    expect(count()).toBe(1);
    await new Promise((res) => setTimeout(res, 1100));
    await ask(r, 'short.example.com', 'A');
    expect(count()).toBe(2);
  });
});

describe('broken servers', () => {
  test('a REFUSED (lame) server beside a working one', async () => {
    const events: RecursorEvent[] = [];
    const r = make({}, events);
    for (let i = 0; i < 3; i++) {
      expect(rrs(await ask(r, `www.lame.com`, 'A'))).toEqual([['www.lame.com', 'A', '192.0.2.40']]);
      r.cache.clear();
    }
    // Once marked lame it is not asked first again.
    expect(h.server('127.0.0.15').log.length).toBeLessThanOrEqual(1);
  });

  test('glue that is no server address (broadcast) is never queried: SERVFAIL at once, and the resolver goes on', async () => {
    const events: RecursorEvent[] = [];
    const r = make({}, events);
    const t0 = Date.now();
    await expect(ask(r, 'www.bcast.com', 'A')).rejects.toThrow(/no server of bcast\.com answered .*no addresses/);
    expect(Date.now() - t0).toBeLessThan(250); // not the 300 ms timeout
    // Nothing was sent towards it: no network error, no timeout; com was asked once for the referral.
    expect(events.filter((e) => e.kind === 'network' || e.kind === 'timeout')).toEqual([]);
    expect(rrs(await ask(r, 'www.example.com', 'A'))).toEqual([['www.example.com', 'A', '192.0.2.1']]);
  });

  test('a silent server beside a working one: timeout, then the other, then remembered', async () => {
    const r = make();
    for (let i = 0; i < 3; i++) {
      expect(rrs(await ask(r, 'www.slow.com', 'A'))).toEqual([['www.slow.com', 'A', '192.0.2.60']]);
      r.cache.clear();
    }
    expect(h.server('127.0.0.20').log.length).toBeLessThanOrEqual(1);
  });

  test('FORMERR to EDNS: asked again without OPT, and remembered', async () => {
    const r = make();
    expect(rrs(await ask(r, 'www.fe.com', 'A'))).toEqual([['www.fe.com', 'A', '192.0.2.50']]);
    await ask(r, 'www.fe.com', 'AAAA');
    expect(h.server('127.0.0.19').log.map((l) => l.edns)).toEqual([true, false, false]);
  });
});

describe('limits', () => {
  test('NXNS: 20 glueless NS names, at most maxNsNamesPerReferral resolved', async () => {
    const events: RecursorEvent[] = [];
    const r = make({}, events);
    await expect(ask(r, 'www.nxns.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT', limit: 'maxNsNamesPerReferral' });
    const asked = new Set(h.server('127.0.0.17').log.map((l) => l.name));
    expect(asked.size).toBeLessThanOrEqual(4);
    expect(events).toContainEqual({ kind: 'limit', limit: 'maxNsNamesPerReferral' });
  });

  test('a CNAME loop across zones', async () => {
    const r = make();
    await expect(ask(r, 'a.loop.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT', limit: 'maxCnameChain' });
  });

  test('a delegation loop (each zone\'s NS name lives in the other)', async () => {
    const r = make();
    const t0 = Date.now();
    await expect(ask(r, 'www.loop1.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT' });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(total()).toBeLessThan(15);
  });

  test('queries per client query', async () => {
    const events: RecursorEvent[] = [];
    const r = make({ limits: { maxQueriesPerRequest: 2 } }, events);
    await expect(ask(r, 'www.example.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT', limit: 'maxQueriesPerRequest' });
    expect(total()).toBe(2);
  });

  test('referral depth', async () => {
    const r = make({ limits: { maxReferralDepth: 1 } });
    await expect(ask(r, 'www.example.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT', limit: 'maxReferralDepth' });
  });

  test('CNAME chain length', async () => {
    const r = make({ limits: { maxCnameChain: 1 } });
    await expect(ask(r, 'www.cname.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT', limit: 'maxCnameChain' });
  });

  test('concurrent outgoing queries', async () => {
    const r = make({ limits: { maxConcurrentOutgoing: 1 } });
    const results = await Promise.allSettled([ask(r, 'www.example.com', 'A'), ask(r, 'mail.example.com', 'A')]);
    expect(results.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect((results.find((x) => x.status === 'rejected') as PromiseRejectedResult).reason).toMatchObject({ limit: 'maxConcurrentOutgoing' });
  });

  test('dependency depth', async () => {
    const r = make({ limits: { maxDependencyDepth: 0 } });
    await expect(ask(r, 'www.glueless.com', 'A')).rejects.toMatchObject({ code: 'RESOLUTION_LIMIT', limit: 'maxDependencyDepth' });
  });
});

test('identical questions in flight are coalesced', async () => {
  const events: RecursorEvent[] = [];
  const r = make({}, events);
  const all = await Promise.all(Array.from({ length: 10 }, () => ask(r, 'www.example.com', 'A')));
  expect(new Set(all).size).toBe(1);
  expect(total()).toBe(3);
  expect(events.filter((e) => e.kind === 'coalesced')).toHaveLength(9);
});

test('different questions that need the same referral at once: each referral query is sent once (RFC 5452 §5)', async () => {
  const events: RecursorEvent[] = [];
  const r = make({}, events);
  const names = ['www.example.com', 'mail.example.com', 'host.example.com', 'short.example.com'];
  const answers = await Promise.all(names.map((n) => ask(r, n, 'A')));
  expect(answers.map((a) => decode(a.wire).rcode)).toEqual(names.map(() => 'NOERROR'));
  // With QNAME minimisation every resolution first asks the root for "com" and com's server
  // for "example.com": each sent once and shared, then one query per name to example.com's server.
  const asked = (name: string): number => [...h.servers.values()].reduce((n, s) => n + s.log.filter((l) => l.name.toLowerCase() === name).length, 0);
  expect(asked('com')).toBe(1);
  expect(asked('example.com')).toBe(1);
  for (const n of names) expect(asked(n)).toBe(1);
  const sent = events.filter((e) => e.kind === 'query').length;
  expect(sent).toBe(2 + names.length);
  expect(total()).toBe(sent);
  expect(events.filter((e) => e.kind === 'shared')).toHaveLength(2 * (names.length - 1));
  // One after another nothing is in flight to share: the referrals come from the cache instead.
  const seq: RecursorEvent[] = [];
  const r2 = make({}, seq);
  h.clearLogs();
  for (const n of names) await ask(r2, n, 'A');
  expect(seq.filter((e) => e.kind === 'shared')).toHaveLength(0);
  expect(total()).toBe(2 + names.length);
});

test('TYPE_NAMES covers what the tests ask', () => {
  expect(TYPE_NAMES[65]).toBe('HTTPS');
});

describe('more lameness and spoofing resistance', () => {
  test('0x20: a reply whose question is not in our exact case is ignored (counted as mismatch)', async () => {
    const events: RecursorEvent[] = [];
    const r = make({ caseRandomisation: true, totalTimeoutMs: 1500 }, events);
    await ask(r, 'ns1.example.com', 'A').catch(() => undefined); // warm the delegation
    const s = h.server('127.0.0.10');
    s.behaviour = 'lowercase';
    try {
      await expect(ask(r, 'www.example.com', 'A')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED' });
      expect(events.some((e) => e.kind === 'mismatch')).toBe(true);
    } finally {
      s.behaviour = 'answer';
    }
  });

  test('a non-authoritative answer and an upward referral are lame; the other server answers', async () => {
    for (const b of ['noaa', 'upward'] as const) {
      const events: RecursorEvent[] = [];
      const r = make({}, events);
      h.server('127.0.0.15').behaviour = b;
      try {
        for (let i = 0; i < 4; i++) {
          expect(rrs(await ask(r, 'www.lame.com', 'A'))).toEqual([['www.lame.com', 'A', '192.0.2.40']]);
          r.cache.clear();
        }
      } finally {
        h.server('127.0.0.15').behaviour = 'refused';
      }
      const askedLame = h.server('127.0.0.15').log.length;
      expect(askedLame).toBeLessThanOrEqual(1);
      if (askedLame === 1) expect(events.some((e) => e.kind === 'lame')).toBe(true);
      h.clearLogs();
    }
  });

  test('expired glue for an in-zone NS name: the parent is asked again', async () => {
    const r = make();
    await ask(r, 'www.example.com', 'A');
    // Simulate the glue expiring while the NS set lives on.
    const now = Date.now();
    const ns = r.cache.getRrset('example.com', Type.NS, now)!;
    r.cache.clear();
    r.cache.putRrset(ns, 2, now);
    h.clearLogs();
    expect(rrs(await ask(r, 'mail.example.com', 'A'))).toEqual([['mail.example.com', 'A', '192.0.2.2']]);
    expect(h.server('127.0.0.3').log.length).toBe(1);
  });
});

describe('serve-stale and prefetch (the timed scenarios are in recursor-stale.test.ts)', () => {
  const gone = (ttl: number) => [{ name: 'gone.example.com', type: Type.A, klass: 1, ttl, rdata: Buffer.from([192, 0, 2, 77]) }] as const;

  test('an expired RRset is served stale (TTL 30, marked, lifetime 0) when the zone\'s server is silent', async () => {
    const events: RecursorEvent[] = [];
    const r = make({}, events);
    await ask(r, 'ns1.example.com', 'A'); // the delegation
    r.cache.putRrset(gone(5), Rank.AuthAnswer, Date.now() - 10_000);
    const s = h.server('127.0.0.10');
    s.behaviour = 'silent';
    let a: RecursorAnswer;
    try {
      a = await ask(r, 'gone.example.com', 'A');
    } finally {
      s.behaviour = 'answer';
    }
    expect([a.stale, a.lifetime, rrs(a)]).toEqual([true, 0, [['gone.example.com', 'A', '192.0.2.77']]]);
    expect(decode(a.wire).answers[0].ttl).toBe(30);
    expect(events).toContainEqual({ kind: 'stale' });
  });

  test('a record-cache hit with under 10 % of its TTL left starts one background refresh', async () => {
    const events: RecursorEvent[] = [];
    const r = make({}, events);
    await ask(r, 'www.example.com', 'A');
    const ttl = r.cache.getRrset('www.example.com', Type.A, Date.now())!;
    r.cache.putRrset(ttl.map((x) => ({ ...x, ttl: 100 })), Rank.AuthAnswer, Date.now() - 95_000);
    h.clearLogs();
    const a = await ask(r, 'www.example.com', 'A');
    expect(decode(a.wire).answers[0].ttl).toBeLessThanOrEqual(5);
    expect(events.filter((e) => e.kind === 'prefetch')).toHaveLength(1);
    for (let i = 0; i < 100 && r.prefetchCount > 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(h.server('127.0.0.10').log.map((l) => l.name)).toEqual(['www.example.com']);
    expect(r.cache.getRrset('www.example.com', Type.A, Date.now())![0].ttl).toBe(300);
  });

  test('a prefetch that finds the servers unreachable is not tried again before the failure recheck time', async () => {
    const events: RecursorEvent[] = [];
    const r = make({}, events);
    await ask(r, 'www.example.com', 'A');
    const s = h.server('127.0.0.10');
    s.behaviour = 'silent';
    const req = { key: 'www.example.com/A', question: question('www.example.com', Type.A), dnssecOk: false, checkingDisabled: false };
    try {
      r.prefetch(req);
      for (let i = 0; i < 200 && r.prefetchCount > 0; i++) await new Promise((res) => setTimeout(res, 10));
      expect(r.prefetchCount).toBe(0);
      r.prefetch(req);
      expect(r.prefetchCount).toBe(0);
    } finally {
      s.behaviour = 'answer';
    }
    expect(events.filter((e) => e.kind === 'prefetch')).toHaveLength(1);
    expect(s.log.length).toBe(2); // the first resolution and the one prefetch
  });
});
