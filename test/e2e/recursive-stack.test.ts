// The whole resolver in recursive mode: school-dns iterates from a fake root on loopback
// (scripted authoritative servers on 127.0.0.x), with age-group filtering on the answers,
// including CNAME chains that pass through a blocked zone.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hierarchy, hierarchySpecs, ROOT_ADDRESS, startServers } from '../helpers/authority';
import { dns2Client, promValue, scrape, udpAskFrom } from '../helpers/client';
import { decode, query, rcodeOf } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';

const KIDS = '127.0.0.50';
const TEACHERS = '127.0.0.51';

const askFrom = (source: string, port: number, msg: Buffer): Promise<Buffer> => udpAskFrom(source, port, msg, 4000);

const data = (reply: Buffer): string[] => decode(reply).answers.map((a) => String(a.data));

describe('school-dns in recursive mode', () => {
  let h: Hierarchy;
  let r: TestResolver;
  let dir: string;

  beforeAll(async () => {
    h = await startServers(hierarchySpecs({ ipv6: false }));
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-recursive-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'blocked.txt'), 'example.org\n');
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  social: { sources: [lists/blocked.txt] }
groups:
  kids: { block: [social] }
  teachers: {}
schools:
  - name: Test
    networks:
      - { cidr: ${KIDS}, group: kids }
      - { cidr: ${TEACHERS}, group: teachers }
defaultGroup: kids
`);
    r = await startTestResolver({
      resolver: { mode: 'recursive', rootHints: [ROOT_ADDRESS], authPort: h.port, timeoutMs: 300, totalTimeoutMs: 3000 },
      policy: { file: path.join(dir, 'policy.yaml') },
      blocking: { sinkholeIPv4: '10.9.9.9' },
    });
  });

  afterAll(async () => {
    await r?.close();
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resolves from the root for an independent client (dns2), and answers the second time from its cache', async () => {
    const client = dns2Client(r.udpPort);
    const first = await client.resolveA('www.example.com');
    expect(first.answers.map((a) => a.address)).toEqual(['192.0.2.1']);
    expect(first.header.id).toBeDefined();
    const before = [...h.servers.values()].reduce((n, s) => n + s.log.length, 0);
    const second = await client.resolveA('WWW.Example.COM');
    expect(second.answers.map((a) => a.address)).toEqual(['192.0.2.1']);
    expect([...h.servers.values()].reduce((n, s) => n + s.log.length, 0)).toBe(before);
  });

  it('answers NXDOMAIN with the SOA for a name that does not exist', async () => {
    const reply = await askFrom(TEACHERS, r.udpPort, query('nothere.example.com', 'A'));
    expect(rcodeOf(reply)).toBe(3);
    expect(decode(reply).authorities.map((a) => a.type)).toEqual(['SOA']);
  });

  it('follows a CNAME chain across zones for teachers, and blocks it for kids because it passes through a blocked zone', async () => {
    const teachers = await askFrom(TEACHERS, r.udpPort, query('www.cname.com', 'A'));
    expect(decode(teachers).answers.map((a) => a.type)).toEqual(['CNAME', 'CNAME', 'A']);
    expect(data(teachers)).toEqual(['www.example.org', 'host.example.com', expect.stringMatching(/^192\.0\.2\./)]);
    const kids = await askFrom(KIDS, r.udpPort, query('www.cname.com', 'A'));
    expect(data(kids)).toEqual(['10.9.9.9']);
    // The question itself is blocked too, without asking any server.
    expect(data(await askFrom(KIDS, r.udpPort, query('www.example.org', 'A')))).toEqual(['10.9.9.9']);
  });

  it('answers SERVFAIL quickly and counts it when a resolution limit is hit (a CNAME loop)', async () => {
    const t0 = Date.now();
    const reply = await askFrom(TEACHERS, r.udpPort, query('a.loop.com', 'A'));
    expect(rcodeOf(reply)).toBe(2);
    expect(Date.now() - t0).toBeLessThan(2000);
    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_recursor_events_total', { kind: 'limit' })).toBeGreaterThanOrEqual(1);
    expect(promValue(text, 'school_dns_recursor_events_total', { kind: 'query', detail: 'udp' })).toBeGreaterThanOrEqual(3);
  });

  it('`school-dns flush` empties the caches: the next query goes back to the root', async () => {
    const asked = (): number => [...h.servers.values()].reduce((n, s) => n + s.log.length, 0);
    const root = h.servers.get(ROOT_ADDRESS)!;
    await askFrom(TEACHERS, r.udpPort, query('www.example.com', 'A'));
    const before = asked();
    await askFrom(TEACHERS, r.udpPort, query('www.example.com', 'A'));
    expect(asked()).toBe(before); // cached
    const cli = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, 'flush', '--admin', `http://127.0.0.1:${r.adminPort}`]);
    expect(stdout).toMatch(/^flushed: \d+ cached answers and \d+ cached records and delegations/);
    expect(r.cache.size).toBe(0);
    const rootBefore = root.log.length;
    const reply = await askFrom(TEACHERS, r.udpPort, query('www.example.com', 'A'));
    expect(data(reply)).toEqual(['192.0.2.1']);
    expect(root.log.length).toBeGreaterThan(rootBefore); // iterated from the root again
  });

  it('takes its limits from the configuration: a CNAME chain longer than resolver.limits.maxCnameChain is refused', async () => {
    const strict = await startTestResolver({
      resolver: {
        // Generous timeouts: on a loaded machine a slow answer must not be what fails the query.
        mode: 'recursive', rootHints: [ROOT_ADDRESS], authPort: h.port, timeoutMs: 2000, totalTimeoutMs: 6000,
        limits: { maxQueriesPerRequest: 60, maxReferralDepth: 16, maxNsNamesPerReferral: 4, maxCnameChain: 1, maxDependencyDepth: 4, maxConcurrentOutgoing: 500, maxConcurrentPrefetch: 32 },
      },
    });
    try {
      const reply = await askFrom(TEACHERS, strict.udpPort, query('www.cname.com', 'A'));
      expect(rcodeOf(reply)).toBe(2);
      const text = await scrape(strict.adminPort!);
      expect(promValue(text, 'school_dns_recursor_events_total', { kind: 'limit', detail: 'maxCnameChain' })).toBe(1);
    } finally {
      await strict.close();
    }
    // The same chain within the default limit resolves (the test above).
  });
});
