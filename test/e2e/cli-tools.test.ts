// `school-dns validate` and `school-dns query`, run as real child processes: validate on
// good and broken configurations, policies and lists (files and a URL served on loopback);
// query against a running school-dns (answers, a blocked name with its extended error,
// NXDOMAIN, TCP, an unknown type) and against nothing.
import http from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CliRun, runCli } from '../helpers/cli';
import { dnsPacket } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const cli = (args: string[]): Promise<CliRun> => runCli(args);

describe('school-dns validate', () => {
  let dir: string;
  let server: http.Server;
  let listUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-validate-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\nplay.example\n1.2.3.4\nbad..name\n');
    server = http.createServer((req, res) => {
      if (req.url === '/adult.hosts') res.end('0.0.0.0 adult-a.example\n0.0.0.0 adult-b.example\n0.0.0.0 adult-c.example\n');
      else { res.statusCode = 404; res.end('no'); }
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
    listUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/adult.hosts`;
  });
  afterAll(async () => {
    await new Promise((res) => server.close(res));
    rmSync(dir, { recursive: true, force: true });
  });

  function write(name: string, policySources: string, configExtra = ''): string {
    writeFileSync(path.join(dir, `${name}.policy.yaml`), `
categories:
  games: { sources: [lists/games.txt] }
  adult: { sources: [${policySources}] }
groups:
  kids: { block: [games, adult] }
`);
    const config = path.join(dir, `${name}.yaml`);
    writeFileSync(config, `policy: { file: ${name}.policy.yaml }\n${configExtra}`);
    return config;
  }

  test('the embedded default configuration, its policy and lists are valid', async () => {
    const r = await cli(['validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration <embedded default>: ok');
    expect(r.stdout).toMatch(/policy .*school-dns-policy\.yaml: ok \(5 groups: preschool, primary, lower-secondary, staff, guest/);
    expect(r.stdout).toContain('everything can be used.');
  });

  test('reads files and URLs, counts entries and names the invalid lines', async () => {
    const r = await cli(['validate', '--config', write('good', JSON.stringify(listUrl)), '--json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    const games = report.sources.find((s: { category: string }) => s.category === 'games');
    expect(games).toMatchObject({ entries: 2, invalid: 2, error: null, format: 'plain' });
    expect(games.firstInvalid.map((i: { line: number }) => i.line)).toEqual([3, 4]);
    expect(report.sources.find((s: { category: string }) => s.category === 'adult')).toMatchObject({ origin: listUrl, entries: 3, format: 'hosts', error: null });
    const text = await cli(['validate', '--config', path.join(dir, 'good.yaml')]);
    expect(text.stdout).toMatch(/line 3: .*1\.2\.3\.4/);
  });

  test('--no-fetch leaves URL sources alone', async () => {
    const r = await cli(['validate', '--config', write('nofetch', JSON.stringify('http://127.0.0.1:9/never.txt')), '--no-fetch']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('not fetched (--no-fetch)');
  });

  test('a source that cannot be read: exit 1, and which one', async () => {
    const r = await cli(['validate', '--config', write('missing', `lists/nowhere.txt, ${JSON.stringify(listUrl.replace('adult.hosts', 'gone.txt'))}`)]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/! +adult +.*nowhere\.txt/);
    expect(r.stdout).toMatch(/! +adult +.*gone\.txt.*404/);
    expect(r.stdout).toContain('2 sources cannot be read');
  });

  test('an invalid configuration: exit 2, with the file, line and key', async () => {
    const config = path.join(dir, 'typo.yaml');
    writeFileSync(config, 'server:\n  listne: ["127.0.0.1:53"]\n');
    const r = await cli(['validate', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('INVALID');
    expect(r.stdout).toContain(`${config}:2`);
    expect(r.stdout).toContain('listne');
  });

  test('an invalid policy: exit 2, with the policy file and line', async () => {
    writeFileSync(path.join(dir, 'bad.policy.yaml'), 'categories:\n  games: { sources: [lists/games.txt] }\ngroups:\n  kids: { block: [gamez] }\n');
    const config = path.join(dir, 'bad.yaml');
    writeFileSync(config, 'policy: { file: bad.policy.yaml }\n');
    const r = await cli(['validate', '--config', config]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`${path.join(dir, 'bad.policy.yaml')}:4`);
    expect(r.stdout).toContain('gamez');
  });
});

describe('school-dns query', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;
  let server: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-query-'));
    writeFileSync(path.join(dir, 'games.txt'), 'games-site.example\n');
    writeFileSync(path.join(dir, 'policy.yaml'), `
categories:
  games: { sources: [games.txt] }
groups:
  staff: { block: [games] }
schools:
  - name: "Test school"
    networks: [{ cidr: 127.0.0.0/8, group: staff }]
`);
    upstream = await ScriptedUpstream.start();
    upstream.records('www.school.example', 'A', [{ name: 'www.school.example', type: 'A', ttl: 300, class: 'IN', data: '192.0.2.10' }]);
    upstream.records('www.school.example', 'MX', [{ name: 'www.school.example', type: 'MX', ttl: 300, class: 'IN', data: { preference: 10, exchange: 'mail.school.example' } }] as dnsPacket.Answer[]);
    upstream.nxdomain('nothing.school.example', 'A', 'school.example');
    // A private-use type (65280) neither dns2 nor school-dns knows: passed through opaquely.
    upstream.records('odd.school.example', 'UNKNOWN_65280', [{ name: 'odd.school.example', type: 'UNKNOWN_65280', ttl: 300, class: 'IN', data: Buffer.from('0001000001000302683200', 'hex') }] as unknown as dnsPacket.Answer[]);
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: path.join(dir, 'policy.yaml') },
      blocking: { sinkholeIPv4: '10.9.9.9' },
    });
    server = `127.0.0.1:${r.udpPort}`;
  });
  afterAll(async () => {
    await r.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('prints the answer as dig would', async () => {
    const q = await cli(['query', 'www.school.example', '--server', server]);
    expect(q.code).toBe(0);
    expect(q.stdout).toContain('status: NOERROR');
    expect(q.stdout).toMatch(/flags: qr rd ra/);
    expect(q.stdout).toMatch(/^www\.school\.example\.\t\d+\tIN\tA\t192\.0\.2\.10$/m);
    const mx = await cli(['query', 'www.school.example', 'mx', '--server', server]);
    expect(mx.stdout).toMatch(/IN\tMX\t10 mail\.school\.example\.$/m);
  });

  test('a blocked name: the sinkhole address and the extended error that says why', async () => {
    const q = await cli(['query', 'play.games-site.example', '--server', server]);
    expect(q.code).toBe(0);
    expect(q.stdout).toMatch(/IN\tA\t10\.9\.9\.9$/m);
    expect(q.stdout).toMatch(/extended error 17: .*games.*staff/);
  });

  test('NXDOMAIN, over TCP, and a type it has no name for (RFC 3597 form)', async () => {
    const nx = await cli(['query', 'nothing.school.example', '--server', server, '--tcp']);
    expect(nx.code).toBe(0);
    expect(nx.stdout).toContain('status: NXDOMAIN');
    expect(nx.stdout).toContain('over TCP');
    const odd = await cli(['query', 'odd.school.example', 'TYPE65280', '--server', server, '--json']);
    const res = JSON.parse(odd.stdout);
    expect(res.answers[0]).toMatch(/\tTYPE65280\t\\# 11 0001000001000302683200$/);
  });

  test('bad input: exit 1; nobody answering: exit 4', async () => {
    const badType = await cli(['query', 'x.example', 'NOPE', '--server', server]);
    expect(badType.code).toBe(1);
    expect(badType.stderr).toContain('unknown record type "NOPE"');
    const badServer = await cli(['query', 'x.example', '--server', 'nowhere']);
    expect(badServer.code).toBe(1);
    const silent = await cli(['query', 'x.example', '--server', '127.0.0.1:9', '--timeout', '300']);
    expect(silent.code).toBe(4);
    expect(silent.stderr).toContain('no answer from 127.0.0.1:9');
  });
});
