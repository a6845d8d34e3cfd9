// Serve-stale (RFC 8767) and prefetch, against a small fake hierarchy on loopback whose
// zone servers are silenced, slowed or broken while the tests run. Each test has its own
// zone, server and recursor, so the tests run concurrently and the file stays short
// although it has to wait for TTLs to run out.
import { Hierarchy, ROOT_ADDRESS, ServerSpec, rootHints, startServers } from '../helpers/authority';
import { decode } from '../helpers/packets';
import { encodeName } from '../../src/dns/name';
import { Type } from '../../src/dns/constants';
import { Recursor, RecursorAnswer, RecursorEvent, RecursorOptions } from '../../src/recursor/recursor';

/** One zone under "test" per scenario, each on its own server. */
const ZONES: Record<string, { address: string; records: string[] }> = {
  'down.test': { address: '127.0.0.30', records: ['down.test 1 SOA 60', 'www.down.test 1 A 192.0.2.1'] },
  'slow.test': { address: '127.0.0.31', records: ['www.slow.test 2 A 192.0.2.2'] },
  'recheck.test': { address: '127.0.0.32', records: ['www.recheck.test 1 A 192.0.2.3', 'alias.recheck.test 300 CNAME www.recheck.test'] },
  'broken.test': { address: '127.0.0.33', records: ['www.broken.test 1 A 192.0.2.4'] },
  'off.test': { address: '127.0.0.35', records: ['www.off.test 1 A 192.0.2.7'] },
  'pf.test': { address: '127.0.0.34', records: ['www.pf.test 4 A 192.0.2.5', 'other.pf.test 300 A 192.0.2.6'] },
};

function specs(): ServerSpec[] {
  const tld: string[] = ['ns.nic.test 172800 A 127.0.0.3'];
  const out: ServerSpec[] = [];
  for (const [origin, z] of Object.entries(ZONES)) {
    tld.push(`${origin} 3600 NS ns.${origin}`, `ns.${origin} 3600 A ${z.address}`);
    out.push({ address: z.address, zones: [{ origin, records: [`ns.${origin} 3600 A ${z.address}`, ...z.records] }] });
  }
  return [
    { address: ROOT_ADDRESS, zones: [{ origin: '', records: ['test 172800 NS ns.nic.test', 'ns.nic.test 172800 A 127.0.0.3'] }] },
    { address: '127.0.0.3', zones: [{ origin: 'test', records: tld }] },
    ...out,
  ];
}

// Started on first use rather than in beforeAll: concurrent tests may start before hooks settle.
let started: Promise<Hierarchy> | null = null;
const hierarchy = (): Promise<Hierarchy> => (started ??= startServers(specs()));
const recursors: Recursor[] = [];
afterAll(async () => {
  for (const r of recursors) r.close();
  if (started) await (await started).close();
});

async function make(extra: Partial<RecursorOptions>, events: RecursorEvent[] = []): Promise<{ r: Recursor; h: Hierarchy }> {
  const h = await hierarchy();
  const r = new Recursor({
    // 500 ms per query: short against the 1 s stale windows and client response timers here, long
    // enough that a loaded machine (the whole suite runs in parallel) does not time out a live server.
    rootHints: rootHints(), authPort: h.port, timeoutMs: 500, totalTimeoutMs: 3000, ipv6: false,
    ttlPolicy: { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 },
    observe: (e) => events.push(e), ...extra,
  });
  recursors.push(r);
  return { r, h };
}

function request(name: string, type: keyof typeof Type) {
  const n = encodeName(name);
  const question = Buffer.alloc(n.length + 4);
  n.copy(question);
  question.writeUInt16BE(Type[type], n.length);
  question.writeUInt16BE(1, n.length + 2);
  return { key: `${name}/${type}`, question, dnssecOk: false, checkingDisabled: false };
}

const ask = (r: Recursor, name: string, type: keyof typeof Type = 'A'): Promise<RecursorAnswer> => r.resolve(request(name, type));
const sleepUntil = (t: number): Promise<void> => new Promise((res) => setTimeout(res, Math.max(0, t - Date.now())));
const records = (a: RecursorAnswer) => { const d = decode(a.wire); return [...d.answers, ...d.authorities].map((x) => [x.name, x.type, x.ttl]); };
const addresses = (a: RecursorAnswer) => decode(a.wire).answers.filter((x) => x.type === 'A').map((x) => x.data);
const queriesFor = (h: Hierarchy, zone: string, name: string) => h.server(ZONES[zone].address).log.filter((l) => l.name.toLowerCase() === name).length;

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, maxMs = 3000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!cond() && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
  expect(cond()).toBe(true);
}

test.concurrent('servers unreachable: expired answers come back stale (TTL 30, marked), then SERVFAIL past the window, then fresh again', async () => {
  const events: RecursorEvent[] = [];
  const { r, h } = await make({ serveStale: { maxStaleSeconds: 1, staleAnswerTtl: 30, clientResponseTimerMs: 1000, failureRecheckMs: 0 } }, events);
  const server = h.server(ZONES['down.test'].address);
  const fresh = await Promise.all([ask(r, 'www.down.test'), ask(r, 'nx.down.test'), ask(r, 'www.down.test', 'AAAA')]);
  const storedBy = Date.now();
  expect(fresh.map((a) => [a.rcode, a.lifetime, a.stale])).toEqual([[0, 1, undefined], [3, 1, undefined], [0, 1, undefined]]);
  server.behaviour = 'silent';
  try {
    await sleepUntil(storedBy + 1100);
    const t0 = Date.now();
    const [a, nx, nodata] = await Promise.all([ask(r, 'www.down.test'), ask(r, 'nx.down.test'), ask(r, 'www.down.test', 'AAAA')]);
    expect(Date.now() - t0).toBeLessThan(1000); // within the client response timer: the timeouts decided it
    expect([a.stale, a.lifetime, a.rcode]).toEqual([true, 0, 0]);
    expect(records(a)).toEqual([['www.down.test', 'A', 30]]);
    expect(addresses(a)).toEqual(['192.0.2.1']);
    expect([nx.stale, nx.lifetime, nx.rcode, nx.negative]).toEqual([true, 0, 3, true]);
    expect(records(nx)).toEqual([['down.test', 'SOA', 30]]);
    expect([nodata.stale, nodata.rcode, nodata.negative, decode(nodata.wire).answers.length]).toEqual([true, 0, true, 0]);
    expect(events.filter((e) => e.kind === 'stale')).toHaveLength(3);
    expect(events.some((e) => e.kind === 'timeout')).toBe(true);

    // Past the stale window (expiry + 1 s): nothing to serve.
    await sleepUntil(storedBy + 2200);
    await expect(ask(r, 'www.down.test')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', unreachable: true });
  } finally {
    server.behaviour = 'answer';
  }
  const back = await ask(r, 'www.down.test');
  expect([back.stale, back.lifetime, addresses(back)]).toEqual([undefined, 1, ['192.0.2.1']]);
});

test.concurrent('a slow server: stale data at the client response timer, the resolution goes on and refreshes the cache', async () => {
  const { r, h } = await make({ timeoutMs: 1500, serveStale: { clientResponseTimerMs: 200, failureRecheckMs: 0 } });
  const server = h.server(ZONES['slow.test'].address);
  await ask(r, 'www.slow.test');
  const storedBy = Date.now();
  await sleepUntil(storedBy + 2100);
  server.delayMs = 1000;
  try {
    const before = queriesFor(h, 'slow.test', 'www.slow.test');
    const t0 = Date.now();
    const a = await ask(r, 'www.slow.test');
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(950);
    expect([a.stale, records(a)]).toEqual([true, [['www.slow.test', 'A', 30]]]);
    expect(queriesFor(h, 'slow.test', 'www.slow.test')).toBe(before + 1);
    await until(() => r.inflightCount === 0);
  } finally {
    server.delayMs = 0;
  }
  // The slow answer arrived after the client had its stale one, and was cached.
  const n = queriesFor(h, 'slow.test', 'www.slow.test');
  const b = await ask(r, 'www.slow.test');
  expect(b.stale).toBeUndefined();
  expect(b.lifetime).toBeGreaterThanOrEqual(1);
  expect(queriesFor(h, 'slow.test', 'www.slow.test')).toBe(n);
});

test.concurrent('after a failed refresh, stale data is served without asking again while the failure recheck timer runs; CNAME chains too', async () => {
  const { r, h } = await make({ serveStale: { failureRecheckMs: 5000 } });
  const server = h.server(ZONES['recheck.test'].address);
  await Promise.all([ask(r, 'www.recheck.test'), ask(r, 'alias.recheck.test')]);
  const storedBy = Date.now();
  server.behaviour = 'silent';
  try {
    await sleepUntil(storedBy + 1100);
    const first = await ask(r, 'www.recheck.test');
    expect(first.stale).toBe(true);
    const asked = queriesFor(h, 'recheck.test', 'www.recheck.test');
    const again = await ask(r, 'www.recheck.test');
    expect(again.stale).toBe(true);
    expect(queriesFor(h, 'recheck.test', 'www.recheck.test')).toBe(asked);
    // A fresh CNAME in front of a stale target: the whole answer is stale, every TTL at most 30.
    const alias = await ask(r, 'alias.recheck.test');
    expect([alias.stale, records(alias)]).toEqual([true, [['alias.recheck.test', 'CNAME', 30], ['www.recheck.test', 'A', 30]]]);
    expect(alias.aliasTargets).toHaveLength(1);
  } finally {
    server.behaviour = 'answer';
  }
  // The server is back, but the recheck timer still runs: stale, no query.
  const asked = queriesFor(h, 'recheck.test', 'www.recheck.test');
  expect((await ask(r, 'www.recheck.test')).stale).toBe(true);
  expect(queriesFor(h, 'recheck.test', 'www.recheck.test')).toBe(asked);
});

test.concurrent('no stale answer when a reachable server says something: SERVFAIL and REFUSED fail, NXDOMAIN is the answer', async () => {
  const { r, h } = await make({ serveStale: { failureRecheckMs: 0 } });
  const server = h.server(ZONES['broken.test'].address);
  await ask(r, 'www.broken.test');
  await sleepUntil(Date.now() + 1100);
  try {
    server.behaviour = 'servfail';
    await expect(ask(r, 'www.broken.test')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', unreachable: false });
    server.behaviour = 'refused';
    await expect(ask(r, 'www.broken.test')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', unreachable: false });
    server.behaviour = 'nxdomain';
    const nx = await ask(r, 'www.broken.test');
    expect([nx.rcode, nx.stale, nx.negative]).toEqual([3, undefined, true]);
  } finally {
    server.behaviour = 'answer';
  }
});

test.concurrent('serve-stale off: expired data is never served', async () => {
  const { r, h } = await make({ serveStale: false });
  const server = h.server(ZONES['off.test'].address);
  await ask(r, 'www.off.test');
  await sleepUntil(Date.now() + 1100);
  server.behaviour = 'silent';
  try {
    await expect(ask(r, 'www.off.test')).rejects.toMatchObject({ code: 'UPSTREAM_FAILED', unreachable: true });
  } finally {
    server.behaviour = 'answer';
  }
});

test.concurrent('prefetch: a hit with under the threshold of its TTL left refreshes it in the background; after the original expiry it is still a cache hit', async () => {
  const events: RecursorEvent[] = [];
  const { r, h } = await make({ prefetch: { minTtlSeconds: 2, remainingFraction: 0.25 } }, events);
  const t0 = Date.now();
  const first = await ask(r, 'www.pf.test');
  expect(first.lifetime).toBe(4);
  const count = () => queriesFor(h, 'pf.test', 'www.pf.test');
  expect(count()).toBe(1);
  // 3.2 s in: under 25 % (1 s) of the 4 s left. The client is answered from the cache at once.
  await sleepUntil(t0 + 3200);
  const hit = await ask(r, 'www.pf.test');
  expect(decode(hit.wire).answers[0].ttl).toBeLessThanOrEqual(1);
  expect(events.filter((e) => e.kind === 'prefetch')).toHaveLength(1);
  await until(() => r.prefetchCount === 0);
  expect(count()).toBe(2);
  expect(r.cache.lifeOf('www.pf.test', Type.A, Date.now())!.leftMs).toBeGreaterThan(2000);
  // Past the first answer's expiry: still a hit, with a fresh TTL, and no query.
  await sleepUntil(t0 + 4300);
  const later = await ask(r, 'www.pf.test');
  expect(decode(later.wire).answers[0].ttl).toBeGreaterThanOrEqual(2);
  expect(later.stale).toBeUndefined();
  expect(count()).toBe(2);
});

test.concurrent('prefetch(): one per key at a time, the fresh answer handed over, bounded by maxConcurrentPrefetch, off when disabled', async () => {
  const events: RecursorEvent[] = [];
  const { r, h } = await make({ limits: { maxConcurrentPrefetch: 1 } }, events);
  await ask(r, 'other.pf.test');
  const count = () => queriesFor(h, 'pf.test', 'other.pf.test');
  expect(count()).toBe(1);
  const got: RecursorAnswer[] = [];
  r.prefetch(request('other.pf.test', 'A'), (a) => got.push(a));
  r.prefetch(request('other.pf.test', 'A'), (a) => got.push(a));
  expect(r.prefetchCount).toBe(1);
  r.prefetch(request('www.pf.test', 'AAAA'));
  expect(r.prefetchCount).toBe(1);
  expect(events).toContainEqual({ kind: 'limit', limit: 'maxConcurrentPrefetch' });
  await until(() => r.prefetchCount === 0);
  expect(count()).toBe(2); // the cached answer was bypassed, once
  expect(got.map((a) => [addresses(a), a.lifetime])).toEqual([[['192.0.2.6'], 300]]);

  const { r: off } = await make({ prefetch: false });
  off.prefetch(request('other.pf.test', 'A'));
  expect(off.prefetchCount).toBe(0);
});
