// Scaling past one machine: two school-dns instances behind dnsdist (Debian's package, a DNS
// load balancer with health checks), all on loopback, with the PROXY protocol
// (useProxyProtocol=true; server.proxyProtocol.from on school-dns), so each instance still sees
// every device's own address: pupils on two source addresses, in two age groups, get different
// answers for the same name through dnsdist, over UDP and TCP. Then, under a steady load, one
// instance is stopped; dnsdist's health check (a LOCAL header) takes it out and every later
// query is answered by the other. This is the city-wide layout the README describes.
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, promValue, udpAsk, udpAskFrom } from '../helpers/client';
import { addressesOf, query, rcodeOf } from '../helpers/packets';
import { tcpAskFrom } from '../helpers/proxy-protocol';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';
import { stopChild } from '../helpers/process';

const DNSDIST = ['/usr/bin/dnsdist', '/usr/sbin/dnsdist'].find((p) => existsSync(p));

async function metricsOf(r: TestResolver): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${r.adminPort}/metrics`);
  return res.text();
}

async function queriesServed(r: TestResolver): Promise<number> {
  return promValue(await metricsOf(r), 'school_dns_queries_total', { transport: 'udp', qtype: 'A' });
}

/** The sum of the series of a metric whose labels include `match`. */
const total = (text: string, name: string, match = ''): number =>
  text.split('\n').filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(match)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);

/** Pupils on two loopback addresses, in two age groups: games are blocked for the younger only. */
const PRIMARY = '127.0.2.5';
const SECONDARY = '127.0.3.5';
const GAMES = 'games.school.example';
const GAMES_ADDRESS = '192.0.2.30';
const addressesV4 = (reply: Buffer): string[] => addressesOf(reply, ['A']);

/** A stub resolver's behaviour: ask, and ask once more after a second without an answer. */
async function ask(port: number, name: string): Promise<'first' | 'retry' | 'lost'> {
  if (await udpAsk(port, query(name, 'A'), { timeoutMs: 1000 })) return 'first';
  if (await udpAsk(port, query(name, 'A'), { timeoutMs: 1000 })) return 'retry';
  return 'lost';
}

describe('two instances behind dnsdist', () => {
  let upstream: ScriptedUpstream;
  let a: TestResolver;
  let b: TestResolver;
  let dir: string;
  let dnsdist: ChildProcess | null = null;
  let port: number;
  let log = '';

  beforeAll(async () => {
    if (!DNSDIST) throw new Error('dnsdist is not installed (Debian package "dnsdist"): .ci/run installs it');
    upstream = await ScriptedUpstream.start();
    upstream.records('www.school.example', 'A', [{ name: 'www.school.example', type: 'A', ttl: 300, class: 'IN', data: '192.0.2.10' }]);
    upstream.records(GAMES, 'A', [{ name: GAMES, type: 'A', ttl: 300, class: 'IN', data: GAMES_ADDRESS }]);
    dir = mkdtempSync(path.join(os.tmpdir(), 'school-dns-dnsdist-'));
    // One policy for both instances, as a district would copy it to every server.
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'games.txt'), `${GAMES}\n`);
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  games:
    sources: [lists/games.txt]
groups:
  primary:
    block: [games]
  secondary:
    block: []
schools:
  - name: North
    networks:
      - { cidr: 127.0.2.0/24, group: primary }
      - { cidr: 127.0.3.0/24, group: secondary }
defaultGroup: secondary
`);
    // dnsdist reaches the instances from 127.0.0.1: that is the proxy school-dns trusts.
    const over = {
      resolver: { upstreams: [{ host: '127.0.0.1', port: upstream.port, family: 4 as const }] },
      policy: { file: path.join(dir, 'policy.yaml') },
      server: { proxyProtocol: { from: ['127.0.0.1/32'] } },
    };
    a = await startTestResolver(over);
    b = await startTestResolver(over);
    port = await freePort();
    // The PROXY protocol to both; health checks every second, a backend is down after one
    // failed check; the check asks "localhost", which school-dns answers itself. No packet
    // cache (it would give one group's answer to another), no console, no security polling
    // (it would look up a PowerDNS name on the internet).
    writeFileSync(path.join(dir, 'dnsdist.conf'), `
setLocal("127.0.0.1:${port}")
setSecurityPollSuffix("")
newServer({address="127.0.0.1:${a.udpPort}", name="school-dns-a", useProxyProtocol=true, checkName="localhost.", checkInterval=1, maxCheckFailures=1, checkTimeout=500})
newServer({address="127.0.0.1:${b.udpPort}", name="school-dns-b", useProxyProtocol=true, checkName="localhost.", checkInterval=1, maxCheckFailures=1, checkTimeout=500})
setServerPolicy(leastOutstanding)
`);
    dnsdist = spawn(DNSDIST, ['--supervised', '--disable-syslog', '-C', path.join(dir, 'dnsdist.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    dnsdist.stdout!.on('data', (d) => { log += String(d); });
    dnsdist.stderr!.on('data', (d) => { log += String(d); });
    // Up when it answers through a backend.
    const until = Date.now() + 15_000;
    for (;;) {
      const reply = await udpAsk(port, query('www.school.example', 'A'), { timeoutMs: 300 });
      if (reply && rcodeOf(reply) === 0) break;
      if (Date.now() > until || dnsdist.exitCode !== null) throw new Error(`dnsdist did not come up:\n${log}`);
      await new Promise((res) => setTimeout(res, 100));
    }
  }, 30_000);

  afterAll(async () => {
    if (dnsdist) await stopChild(dnsdist);
    await Promise.allSettled([a?.close(), b?.close(), upstream?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('each pupil keeps the age group of their own address through dnsdist, over UDP and TCP', async () => {
    const before = [await metricsOf(a), await metricsOf(b)];
    for (let i = 0; i < 4; i++) {
      // Over UDP, a few times each so both instances are asked (dnsdist spreads the load).
      expect(addressesV4(await udpAskFrom(PRIMARY, port, query(GAMES, 'A', { id: i })))).toEqual(['127.0.0.1']);
      expect(addressesV4(await udpAskFrom(SECONDARY, port, query(GAMES, 'A', { id: i })))).toEqual([GAMES_ADDRESS]);
    }
    for (let i = 0; i < 2; i++) {
      expect(addressesV4(await tcpAskFrom(PRIMARY, port, query(GAMES, 'A')))).toEqual(['127.0.0.1']);
      expect(addressesV4(await tcpAskFrom(SECONDARY, port, query(GAMES, 'A')))).toEqual([GAMES_ADDRESS]);
    }
    const after = [await metricsOf(a), await metricsOf(b)];
    const count = (i: number, group: string): number =>
      promValue(after[i], 'school_dns_school_queries_total', { school: 'North', group }) - promValue(before[i], 'school_dns_school_queries_total', { school: 'North', group });
    // Every query was counted for the pupil's school and group, on one instance or the other.
    expect(count(0, 'primary') + count(1, 'primary')).toBe(6);
    expect(count(0, 'secondary') + count(1, 'secondary')).toBe(6);
    const tcp = (i: number): number => total(after[i], 'school_dns_queries_total', 'transport="tcp"') - total(before[i], 'school_dns_queries_total', 'transport="tcp"');
    expect(tcp(0) + tcp(1)).toBe(4);
    // Health checks (LOCAL headers) and queries alike carried a valid header.
    expect(total(after[0], 'school_dns_proxy_protocol_rejected_total') + total(after[1], 'school_dns_proxy_protocol_rejected_total')).toBe(0);
  }, 20_000);

  test('spreads queries over both, and keeps answering when one stops', async () => {
    const before = [await queriesServed(a), await queriesServed(b)];
    const results: { at: number; outcome: 'first' | 'retry' | 'lost' }[] = [];
    const start = Date.now();
    let stoppedAt = 0;
    let servedByA = 0;
    const pending: Promise<void>[] = [];
    // About 40 queries a second for 8 s (320 in all), distinct names so nothing is answered from a cache.
    for (let i = 0; i < 320; i++) {
      if (i === 80) {
        servedByA = (await queriesServed(a)) - before[0];
        await a.close(); // instance A goes away under load
        stoppedAt = Date.now() - start;
      }
      const at = Date.now() - start;
      pending.push(ask(port, `q${i}.load.school.example`).then((outcome) => { results.push({ at, outcome }); }));
      await new Promise((res) => setTimeout(res, 25));
    }
    await Promise.all(pending);
    const servedByB = (await queriesServed(b)) - before[1];

    // Before the stop both instances took part.
    const beforeStop = results.filter((r) => r.at < stoppedAt);
    expect(beforeStop.every((r) => r.outcome === 'first')).toBe(true);
    expect(servedByB).toBeGreaterThan(0);
    expect(servedByB).toBeLessThan(320 + 10);
    // No query is lost for a client that retries once, as stub resolvers do.
    expect(results.filter((r) => r.outcome === 'lost')).toEqual([]);
    // Once dnsdist's health check has taken A out (a check a second, one failure), every
    // query is answered at the first try by B.
    const settled = results.filter((r) => r.at > stoppedAt + 2500);
    expect(settled.length).toBeGreaterThan(60);
    expect(settled.filter((r) => r.outcome !== 'first')).toEqual([]);
    // And A did serve its share before it stopped.
    expect(servedByA).toBeGreaterThan(0);
  }, 30_000);
});
