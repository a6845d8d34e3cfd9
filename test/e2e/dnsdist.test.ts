// Scaling past one machine: two school-dns instances behind dnsdist (Debian's package, a DNS
// load balancer with health checks), all on loopback. Under a steady load one instance is
// stopped; dnsdist's health check takes it out and every later query is answered by the
// other. This is the city-wide layout the README describes.
import { ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promValue, udpAsk } from '../helpers/client';
import { query, rcodeOf } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const DNSDIST = ['/usr/bin/dnsdist', '/usr/sbin/dnsdist'].find((p) => existsSync(p));

async function freeUdpPort(): Promise<number> {
  return new Promise((res) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); });
  });
}

async function queriesServed(r: TestResolver): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${r.adminPort}/metrics`);
  const text = await res.text();
  return promValue(text, 'school_dns_queries_total', { transport: 'udp', qtype: 'A' });
}

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
    const over = { resolver: { upstreams: [{ host: '127.0.0.1', port: upstream.port, family: 4 as const }] } };
    a = await startTestResolver(over);
    b = await startTestResolver(over);
    dir = mkdtempSync(path.join(os.tmpdir(), 'school-dns-dnsdist-'));
    port = await freeUdpPort();
    // Health checks every second, a backend is down after one failed check; the check
    // asks "localhost", which school-dns answers itself. No console, no security polling
    // (it would look up a PowerDNS name on the internet).
    writeFileSync(path.join(dir, 'dnsdist.conf'), `
setLocal("127.0.0.1:${port}")
setSecurityPollSuffix("")
newServer({address="127.0.0.1:${a.udpPort}", name="school-dns-a", checkName="localhost.", checkInterval=1, maxCheckFailures=1, checkTimeout=500})
newServer({address="127.0.0.1:${b.udpPort}", name="school-dns-b", checkName="localhost.", checkInterval=1, maxCheckFailures=1, checkTimeout=500})
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
    if (dnsdist && dnsdist.exitCode === null) {
      dnsdist.kill('SIGTERM');
      await new Promise((res) => dnsdist!.once('exit', res));
    }
    await Promise.allSettled([a?.close(), b?.close(), upstream?.close()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

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
