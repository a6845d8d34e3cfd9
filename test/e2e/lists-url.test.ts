// URL list sources end to end: a real list host on loopback (ETag, Last-Modified, 304, and
// failures on demand), a real resolver that filters with the list, clients asking over UDP
// from a pupil's address, and the `school-dns lists` commands run as child processes against
// the admin port.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI, CliRun, runCli } from '../helpers/cli';
import { decode, query } from '../helpers/packets';
import { promValue, scrape, sleep, udpAskFrom } from '../helpers/client';
import { ListHost, plainList } from '../helpers/list-host';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const KIDS = '127.0.0.2';
const SINKHOLE = '10.9.9.9';
const ADULT = '/adult.txt';

const cli = (args: string[]): Promise<CliRun> => runCli(args, { timeoutMs: 30_000 });

async function answerFor(r: TestResolver, name: string): Promise<string[]> {
  const reply = decode(await udpAskFrom(KIDS, r.udpPort, query(name, 'A')));
  return reply.answers.filter((a) => a.type === 'A').map((a) => a.data as string);
}

function writePolicy(dir: string, adultUrl: string, extraCategory = ''): string {
  mkdirSync(path.join(dir, 'lists'), { recursive: true });
  writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\n');
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, `
categories:
  adult:
    sources: [{ url: "${adultUrl}", format: plain }]
  games:
    sources: [lists/games.txt]
${extraCategory}
groups:
  kids:
    block: [adult, games${extraCategory ? ', extra' : ''}]
schools:
  - name: "Test school"
    networks:
      - { cidr: ${KIDS}, group: kids }
defaultGroup: kids
`);
  return file;
}

describe('URL list sources through a running resolver', () => {
  let host: ListHost;
  let upstream: ScriptedUpstream;
  let dir: string;
  let stateDir: string;
  let policyFile: string;
  let r: TestResolver;
  const admin = (): string => `http://127.0.0.1:${r.adminPort}`;

  const start = (lists: Record<string, unknown> = {}): Promise<TestResolver> => startTestResolver({
    resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
    policy: { file: policyFile },
    state: { directory: stateDir },
    blocking: { sinkholeIPv4: SINKHOLE, sinkholeIPv6: null, ttl: 1 },
    lists: { refreshIntervalMs: null, refreshJitter: 0, connectTimeoutMs: 1000, downloadTimeoutMs: 5000, maxBytes: 1024 * 1024, maxRedirects: 2, ...lists },
    log: { level: 'info' },
  });

  beforeAll(async () => {
    host = await ListHost.start();
    host.set(ADULT, { body: plainList(100, 'adult.example'), gzip: true });
    upstream = await ScriptedUpstream.start();
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-urllists-'));
    stateDir = path.join(dir, 'state');
    policyFile = writePolicy(dir, host.url(ADULT));
    r = await start();
  });

  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads the list at start (gzip), blocks its names, and keeps a copy in the state directory', async () => {
    expect(host.requestsFor(ADULT)).toHaveLength(1);
    expect(host.requestsFor(ADULT)[0]!.headers['if-none-match']).toBeUndefined();
    expect(await answerFor(r, 'name-7.adult.example')).toEqual([SINKHOLE]);
    expect(await answerFor(r, 'sub.name-99.adult.example')).toEqual([SINKHOLE]);
    expect(await answerFor(r, 'not-listed.example')).toEqual(['192.0.2.1']);
    const files = readdirSync(path.join(stateDir, 'lists')).sort();
    expect(files).toHaveLength(2);
    const meta = JSON.parse(readFileSync(path.join(stateDir, 'lists', files.find((f) => f.endsWith('.json'))!), 'utf8'));
    expect(meta).toMatchObject({ url: host.url(ADULT), names: 100, etag: expect.stringMatching(/^"/) });
    expect(readFileSync(path.join(stateDir, 'lists', files.find((f) => f.endsWith('.txt'))!), 'utf8')).toBe(plainList(100, 'adult.example'));
  });

  it('a reload asks with If-None-Match, gets 304 and rebuilds nothing', async () => {
    const meta = JSON.parse(readFileSync(path.join(stateDir, 'lists', readdirSync(path.join(stateDir, 'lists')).find((f) => f.endsWith('.json'))!), 'utf8'));
    const out = await r.reload();
    expect(out).toMatchObject({ ok: true, changed: false });
    const seen = host.requestsFor(ADULT).at(-1)!;
    expect(seen.headers['if-none-match']).toBe(meta.etag);
    expect(seen.headers['if-modified-since']).toBe(meta.lastModified);
    expect(seen.status).toBe(304);
    const metrics = await scrape(r.adminPort!);
    expect(promValue(metrics, 'school_dns_list_reloads_total', { result: 'unchanged' })).toBe(1);
    expect(r.logs.some((l) => l.msg === 'policy and lists unchanged; nothing rebuilt')).toBe(true);
    expect(await answerFor(r, 'name-8.adult.example')).toEqual([SINKHOLE]);
  });

  it('when the list host fails, the names stay blocked; lists status, the log and the metrics say so', async () => {
    host.mode(ADULT, 'error');
    const out = await r.reload();
    expect(out).toMatchObject({ ok: true, changed: false });
    expect(await answerFor(r, 'name-9.adult.example')).toEqual([SINKHOLE]);

    const status = await cli(['lists', 'status', '--admin', admin()]);
    expect(status.code).toBe(5);
    expect(status.stdout).toMatch(/STALE\s+#0 http:\/\/127\.0\.0\.1:\d+\/adult\.txt/);
    expect(status.stdout).toContain('SOURCE_HTTP_STATUS');
    expect(status.stdout).toContain('HTTP status 500');
    expect(status.stdout).toMatch(/serving the saved copy for \d+ s: 100 names/);
    expect(status.stdout).toMatch(/ok\s+#0 .*games\.txt \(file\)/);
    expect(status.stdout).toContain('1 of 2 sources failing (exit code 5)');

    const json = await cli(['lists', 'status', '--json', '--admin', admin()]);
    expect(json.code).toBe(5);
    const body = JSON.parse(json.stdout);
    expect(body.sources[0]).toMatchObject({ kind: 'url', category: 'adult', state: 'stale', status: 500, names: 100, consecutiveFailures: 1, copy: { names: 100 } });
    expect(Date.parse(body.sources[0].copyInUseSince)).toBeLessThanOrEqual(Date.now());
    expect(body.sources[1]).toMatchObject({ kind: 'file', category: 'games', state: 'ok', names: 1 });

    const metrics = await scrape(r.adminPort!);
    const labels = { category: 'adult', source: '0' };
    expect(promValue(metrics, 'school_dns_list_source_failures_total', labels)).toBe(1);
    expect(promValue(metrics, 'school_dns_list_source_up', labels)).toBe(0);
    expect(promValue(metrics, 'school_dns_list_source_names', labels)).toBe(100);
    expect(promValue(metrics, 'school_dns_list_source_last_success_timestamp_seconds', labels)).toBeGreaterThan(Date.now() / 1000 - 120);

    const warn = r.logs.find((l) => l.msg === 'list source failed; serving the saved copy');
    expect(warn).toMatchObject({ level: 'warn', category: 'adult', url: host.url(ADULT), code: 'SOURCE_HTTP_STATUS', names: 100 });
  });

  it('refuses a list that shrank by more than half, until `lists update --force`', async () => {
    host.set(ADULT, { body: plainList(40, 'adult.example') });
    const refused = await cli(['lists', 'update', '--admin', admin()]);
    expect(refused.code).toBe(5);
    expect(refused.stdout).toContain('Fetching 1 URL source...');
    expect(refused.stdout).toMatch(/REFUSED\s+adult #0 .*SOURCE_SHRUNK: has 40 names, less than half of the 100/);
    expect(refused.stdout).toContain('school-dns lists update --force');
    expect(refused.stdout).not.toContain('\r'); // no progress line when the output is not a terminal
    expect(await answerFor(r, 'name-90.adult.example')).toEqual([SINKHOLE]);

    const forced = await cli(['lists', 'update', '--force', '--admin', admin()]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('(--force: the sanity checks are off)');
    expect(forced.stdout).toMatch(/ok\s+adult #0 .*: downloaded, 40 names/);
    expect(forced.stdout).toMatch(/Lists rebuilt in [\d.]+ s: 41 names\./);
    expect(await answerFor(r, 'name-90.adult.example')).toEqual(['192.0.2.1']);
    expect(await answerFor(r, 'name-39.adult.example')).toEqual([SINKHOLE]);

    const status = await cli(['lists', 'status', '--admin', admin()]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('All 2 sources ok.');
    expect(r.logs.some((l) => l.msg === 'list source works again')).toBe(true);
  });

  it('`lists update` shows download progress on a terminal', async () => {
    host.set(ADULT, { body: plainList(3000, 'adult.example'), mode: 'slow' });
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} lists update --admin ${admin()}`;
    const out = await new Promise<CliRun>((resolve) => {
      // script(1) gives the command a terminal; -e passes its exit code on.
      execFile('script', ['-qec', cmd, '/dev/null'], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
    });
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/\r\x1b\[K {2}downloading adult #0 http:\/\/127\.0\.0\.1:\d+\/adult\.txt: [\d.]+ KiB of [\d.]+ KiB \(\d+%\)/);
    expect(out.stdout).toMatch(/ok\s+adult #0 .*: downloaded, 3000 names/);
    expect(await answerFor(r, 'name-2999.adult.example')).toEqual([SINKHOLE]);
  });

  it('after a restart with the list host down, the saved copy serves from the start, without waiting for the host', async () => {
    await r.close();
    host.set(ADULT, { body: plainList(3000, 'adult.example'), mode: 'hang' });
    const t0 = Date.now();
    r = await start({ downloadTimeoutMs: 4000 });
    expect(Date.now() - t0).toBeLessThan(3000); // the hanging host was not waited for
    expect(await answerFor(r, 'name-2500.adult.example')).toEqual([SINKHOLE]);
    const first = await cli(['lists', 'status', '--admin', admin()]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/pending\s+#0 .*\n\s+serving the saved copy until the list host answers: 3000 names \([\d.]+ KiB\), downloaded \d+ s ago/);
    // Then the host is asked in the background, and times out.
    let status: CliRun = first;
    for (let i = 0; i < 80 && status.code !== 5; i++) {
      await sleep(100);
      status = await cli(['lists', 'status', '--json', '--admin', admin()]);
    }
    expect(status.code).toBe(5);
    expect(Date.now() - t0).toBeGreaterThan(3500);
    const s = JSON.parse(status.stdout).sources[0];
    expect(s).toMatchObject({ state: 'stale', code: 'SOURCE_TIMEOUT', names: 3000 });
    // What the host last confirmed survives the restart, in the copy's metadata.
    expect(s.lastSuccessAt).not.toBeNull();
    expect(Date.parse(s.lastSuccessAt)).toBeLessThan(t0);
    expect(r.logs.find((l) => l.msg === 'list source failed; serving the saved copy')).toMatchObject({ code: 'SOURCE_TIMEOUT' });
    host.mode(ADULT, 'ok');
  });

  it('fetches again by itself on the configured period (conditional requests)', async () => {
    await r.close();
    host.mode(ADULT, 'ok');
    r = await start({ refreshIntervalMs: 1000, refreshJitter: 0.2 });
    // One request right after the start (the saved copy served it), then one per period.
    const before = host.requestsFor(ADULT).length;
    for (let i = 0; i < 60 && host.requestsFor(ADULT).length < before + 3; i++) await sleep(100);
    const later = host.requestsFor(ADULT).slice(before);
    expect(later.length).toBeGreaterThanOrEqual(3);
    expect(later.every((q) => q.headers['if-none-match'] !== undefined && q.status === 304)).toBe(true);
    const status = JSON.parse((await cli(['lists', 'status', '--json', '--admin', admin()])).stdout);
    expect(status.refresh).toMatchObject({ intervalSeconds: 1, jitter: 0.2 });
    expect(Date.parse(status.refresh.nextAt)).toBeGreaterThan(Date.now() - 1000);
  });
});

describe('a URL source that has never worked', () => {
  let host: ListHost;
  let dir: string;
  let r: TestResolver;

  beforeAll(async () => {
    host = await ListHost.start();
    host.set(ADULT, { body: plainList(10, 'adult.example') });
    host.set('/extra.txt', { body: 'x', mode: 'error' });
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-urllists-'));
    const file = writePolicy(dir, host.url(ADULT), `  extra:\n    sources: ["${host.url('/extra.txt')}"]\n`);
    r = await startTestResolver({
      policy: { file },
      state: { directory: path.join(dir, 'state') },
      lists: { refreshIntervalMs: null, refreshJitter: 0, connectTimeoutMs: 1000, downloadTimeoutMs: 1500, maxBytes: 1024 * 1024, maxRedirects: 2 },
      log: { level: 'info' },
    });
  });

  afterAll(async () => {
    await r?.close();
    await host?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('does not stop the server from starting; its category goes without it, and status says FAILING', async () => {
    expect(r.filter!.state!.trie.nameCount).toBe(11); // adult's 10 and the games file's 1
    const status = await cli(['lists', 'status', '--admin', `http://127.0.0.1:${r.adminPort}`]);
    expect(status.code).toBe(5);
    expect(status.stdout).toMatch(/FAILING\s+#0 http:\/\/127\.0\.0\.1:\d+\/extra\.txt/);
    expect(status.stdout).toContain('no saved copy: its names are missing from the lists');
    expect(status.stdout).toContain('last success: never');
    expect(r.logs.find((l) => l.msg === 'list source failed and there is no saved copy: its category has no names from it'))
      .toMatchObject({ level: 'error', category: 'extra', code: 'SOURCE_HTTP_STATUS' });
  });

  it('`lists update` while it still fails: nothing to rebuild, exit code 5', async () => {
    const out = await cli(['lists', 'update', '--admin', `http://127.0.0.1:${r.adminPort}`]);
    expect(out.code).toBe(5);
    expect(out.stdout).toMatch(/ok\s+adult #0 .*: not modified, 10 names/);
    expect(out.stdout).toMatch(/FAILED\s+extra #0 .*HTTP status 500.*no saved copy/);
    expect(out.stdout).toContain('Nothing changed: no list was rebuilt (11 names).');
    expect(r.filter!.state!.trie.nameCount).toBe(11);
  });

  it('does not hold back a rebuild for the other lists: a list file that changed is taken in', async () => {
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\nmore-games.example\n');
    const out = await cli(['lists', 'update', '--admin', `http://127.0.0.1:${r.adminPort}`]);
    expect(out.code).toBe(5);
    expect(out.stdout).toMatch(/FAILED\s+extra #0 /);
    expect(out.stdout).toMatch(/Lists rebuilt in [\d.]+ s: 12 names\./);
    expect(r.filter!.state!.trie.nameCount).toBe(12);
  });

  it('but a URL source that served before and now has nothing (its copy gone) fails the reload: the old lists stay', async () => {
    // adult served from the start; take its copy away, then its host.
    rmSync(path.join(dir, 'state', 'lists'), { recursive: true, force: true });
    host.mode(ADULT, 'error');
    writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\n');
    const out = await cli(['lists', 'update', '--admin', `http://127.0.0.1:${r.adminPort}`]);
    expect(out.code).toBe(5);
    expect(out.stdout).toMatch(/The reload FAILED; the previous lists keep serving: .*adult\.txt/);
    expect(r.filter!.state!.trie.nameCount).toBe(12);
  });

  it('answers a wrong --force value and an unknown admin address with what to do', async () => {
    const bad = await fetch(`http://127.0.0.1:${r.adminPort}/lists/update?force=yes`, { method: 'POST' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('force must be 1');
    const gone = await cli(['lists', 'status', '--admin', 'http://127.0.0.1:9']);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toContain('Is it running?');
  });

  it('has --help with the exit codes', async () => {
    const help = await cli(['lists', 'status', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/5 +at least one source is failing/);
    const update = await cli(['lists', 'update', '--help']);
    expect(update.stdout).toContain('--force');
    const top = await cli(['lists', '--help']);
    expect(top.stdout).toContain('school-dns lists update --force');
  });
});
