// Age-group filtering end to end, on real sockets: clients in different groups (distinct
// loopback source addresses) ask the same names through a real resolver that forwards to
// a scripted upstream; reloads under traffic; the CLI against a running server.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { addressesOf, decode, dnsPacket, query, rcodeOf } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';
import { freePort, promValue, scrape, udpAskFrom } from '../helpers/client';
import { stopChild } from '../helpers/process';

const KIDS = '127.0.0.2';
const TEACHERS = '127.0.0.3';
const WALLED = '127.0.0.4';
const UNKNOWN = '127.0.0.9';
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');

const askFrom = (source: string, port: number, msg: Buffer): Promise<Buffer> => udpAskFrom(source, port, msg, 3000);

const edeOf = (reply: Buffer): { code: number; text: string } | null => {
  const opt = decode(reply).additionals.find((r) => r.type === 'OPT');
  const o = opt?.options?.find((x) => x.code === 15);
  return o?.data ? { code: o.data.readUInt16BE(0), text: o.data.subarray(2).toString('utf8') } : null;
};

function writePolicy(dir: string, extra = ''): string {
  const file = path.join(dir, 'policy.yaml');
  writeFileSync(file, `
categories:
  adult:
    sources: [{ path: lists/adult.hosts, format: hosts }]
  games:
    sources: [lists/games.txt]
  edu:
    sources: [lists/edu.txt]
groups:
  kids:
    allowCategories: [edu]
    block: [adult, games]
    deny: [denied.example]
  teachers:
    block: [adult]
  walled:
    mode: allow-only
    allowCategories: [edu]
schools:
  - name: "Test school"
    networks:
      - { cidr: ${KIDS}, group: kids }
      - { cidr: ${TEACHERS}, group: teachers }
      - { cidr: ${WALLED}, group: walled }
defaultGroup: kids
${extra}`);
  return file;
}

describe('age-group filtering over real sockets', () => {
  let dir: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-filter-'));
    rmSync(path.join(dir, 'lists'), { recursive: true, force: true });
    require('node:fs').mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'adult.hosts'), '127.0.0.1 localhost\n0.0.0.0 adult-site.example www.adult-site.example # inline comment\n0.0.0.0 learn-and-adult.example\n');
    writeFileSync(path.join(dir, 'lists', 'games.txt'), '||games-site.example^\n@@||homework.games-site.example^\n');
    writeFileSync(path.join(dir, 'lists', 'edu.txt'), 'learn-and-adult.example\nschool-books.example\n');
    upstream = await ScriptedUpstream.start();
    upstream.records('cloak.school.example', 'A', [
      { name: 'cloak.school.example', type: 'CNAME', ttl: 300, class: 'IN', data: 'play.games-site.example' },
      { name: 'play.games-site.example', type: 'A', ttl: 300, class: 'IN', data: '198.51.100.77' },
    ] as dnsPacket.Answer[]);
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      // A listener address this server never receives on: only `check --listener` reaches it.
      policy: { file: writePolicy(dir, 'listeners:\n  - { address: "10.99.0.53", group: teachers, school: "Listener school" }\n') },
      blocking: { sinkholeIPv4: '10.9.9.9', sinkholeIPv6: 'fd00::9', ttl: 30 },
    });
  });

  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('blocks an adult name for both groups: sinkhole A with the configured TTL and EDE 17 naming the category', async () => {
    for (const client of [KIDS, TEACHERS]) {
      const reply = await askFrom(client, r.udpPort, query('WWW.Adult-Site.example', 'A', { edns: true }));
      const d = decode(reply);
      expect(d.questions[0].name).toBe('WWW.Adult-Site.example');
      expect(addressesOf(reply)).toEqual(['10.9.9.9']);
      expect(d.answers[0].ttl).toBe(30);
      expect(edeOf(reply)).toEqual({ code: 17, text: expect.stringContaining('adult') });
    }
    expect(upstream.queries.filter((q) => q.name.toLowerCase().includes('adult-site'))).toHaveLength(0);
  });

  it('blocks AAAA with the IPv6 sinkhole and other types with NODATA', async () => {
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('adult-site.example', 'AAAA')))).toEqual(['fd00::9']);
    const mx = await askFrom(KIDS, r.udpPort, query('adult-site.example', 'MX'));
    expect(rcodeOf(mx)).toBe(0);
    expect(decode(mx).answers).toHaveLength(0);
  });

  it('gives two age groups different answers for the same game name', async () => {
    const kids = await askFrom(KIDS, r.udpPort, query('games-site.example', 'A'));
    const teachers = await askFrom(TEACHERS, r.udpPort, query('games-site.example', 'A'));
    expect(addressesOf(kids)).toEqual(['10.9.9.9']);
    expect(addressesOf(teachers)).toEqual(['192.0.2.1']);
    // And again, now that the teachers' answer sits in the cache: the kids are still blocked.
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('games-site.example', 'A')))).toEqual(['10.9.9.9']);
  });

  it('lets an adblock @@ exception through, for its category only', async () => {
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('homework.games-site.example', 'A')))).toEqual(['192.0.2.1']);
  });

  it('lets an allowed category win over a blocked one (allow beats block), and a deny name block with EDE 15', async () => {
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('learn-and-adult.example', 'A')))).toEqual(['192.0.2.1']);
    expect(addressesOf(await askFrom(TEACHERS, r.udpPort, query('learn-and-adult.example', 'A')))).toEqual(['10.9.9.9']);
    const denied = await askFrom(KIDS, r.udpPort, query('www.denied.example', 'A', { edns: true }));
    expect(addressesOf(denied)).toEqual(['10.9.9.9']);
    expect(edeOf(denied)?.code).toBe(15);
    expect(addressesOf(await askFrom(TEACHERS, r.udpPort, query('www.denied.example', 'A')))).toEqual(['192.0.2.1']);
  });

  it('keeps an allow-only group inside its walled garden', async () => {
    expect(addressesOf(await askFrom(WALLED, r.udpPort, query('school-books.example', 'A')))).toEqual(['192.0.2.1']);
    const out = await askFrom(WALLED, r.udpPort, query('news.example', 'A', { edns: true }));
    expect(addressesOf(out)).toEqual(['10.9.9.9']);
    expect(edeOf(out)?.text).toContain('only allowlisted');
  });

  it('gives unknown clients the default group', async () => {
    expect(addressesOf(await askFrom(UNKNOWN, r.udpPort, query('games-site.example', 'A')))).toEqual(['10.9.9.9']);
  });

  it('blocks an answer whose CNAME leads to a blocked name (cloaking), from upstream and from the cache', async () => {
    const first = await askFrom(KIDS, r.udpPort, query('cloak.school.example', 'A'));
    expect(addressesOf(first)).toEqual(['10.9.9.9']);
    expect(decode(first).answers).toHaveLength(1);
    const teachers = await askFrom(TEACHERS, r.udpPort, query('cloak.school.example', 'A'));
    expect(addressesOf(teachers)).toEqual(['198.51.100.77']);
    const before = upstream.queries.filter((q) => q.name === 'cloak.school.example').length;
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('cloak.school.example', 'A')))).toEqual(['10.9.9.9']);
    expect(upstream.queries.filter((q) => q.name === 'cloak.school.example').length).toBe(before); // served from cache, still blocked
  });

  it('counts blocks by group and category in /metrics, and shows list sizes', async () => {
    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_blocked_queries_total', { group: 'kids', category: 'adult' })).toBeGreaterThanOrEqual(1);
    expect(promValue(text, 'school_dns_blocked_queries_total', { group: 'walled', category: 'not-allowlisted' })).toBeGreaterThanOrEqual(1);
    expect(promValue(text, 'school_dns_list_entries', { category: 'adult' })).toBe(3);
    expect(promValue(text, 'school_dns_list_reloads_total', { result: 'ok' })).toBeGreaterThanOrEqual(1);
  });

  it('reloads through the admin API: a changed list takes effect, an unchanged one is not rebuilt', async () => {
    const same = await fetch(`http://127.0.0.1:${r.adminPort}/reload`, { method: 'POST' });
    expect(((await same.json()) as { changed: boolean }).changed).toBe(false);
    writeFileSync(path.join(dir, 'lists', 'games.txt'), '||games-site.example^\n@@||homework.games-site.example^\n||new-game.example^\n');
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('new-game.example', 'A')))).toEqual(['192.0.2.1']);
    const res = await fetch(`http://127.0.0.1:${r.adminPort}/reload`, { method: 'POST' });
    const body = (await res.json()) as { ok: boolean; changed: boolean };
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ ok: true, changed: true });
    // new-game.example was cached for the kids before; the filter sits above the cache, so it is blocked now.
    expect(addressesOf(await askFrom(KIDS, r.udpPort, query('new-game.example', 'A')))).toEqual(['10.9.9.9']);
  });

  it('keeps the old lists when a reload fails, and says why', async () => {
    const good = require('node:fs').readFileSync(path.join(dir, 'policy.yaml'), 'utf8');
    writeFileSync(path.join(dir, 'policy.yaml'), good.replace('block: [adult, games]', 'block: [adult, gamez]'));
    try {
      const res = await fetch(`http://127.0.0.1:${r.adminPort}/reload`, { method: 'POST' });
      const body = (await res.json()) as { ok: boolean; error: string };
      expect(res.status).toBe(500);
      expect(body.ok).toBe(false);
      expect(body.error).toMatch(/policy\.yaml:\d+: .*gamez/);
      expect(addressesOf(await askFrom(KIDS, r.udpPort, query('games-site.example', 'A')))).toEqual(['10.9.9.9']);
      expect(promValue(await scrape(r.adminPort!), 'school_dns_list_reloads_total', { result: 'failed' })).toBeGreaterThanOrEqual(1);
      expect(r.logs.some((l) => l.level === 'error' && String(l.msg).includes('reload failed'))).toBe(true);
    } finally {
      writeFileSync(path.join(dir, 'policy.yaml'), good);
    }
  });

  it('answers every query, consistently, while the lists are rebuilt and swapped repeatedly', async () => {
    const names = ['adult-site.example', 'games-site.example', 'school-books.example', 'plain.example'];
    const expected: Record<string, Record<string, string>> = {
      [KIDS]: { 'adult-site.example': '10.9.9.9', 'games-site.example': '10.9.9.9', 'school-books.example': '192.0.2.1', 'plain.example': '192.0.2.1' },
      [TEACHERS]: { 'adult-site.example': '10.9.9.9', 'games-site.example': '192.0.2.1', 'school-books.example': '192.0.2.1', 'plain.example': '192.0.2.1' },
    };
    let stop = false;
    const wrong: string[] = [];
    let answered = 0;
    const traffic = async (client: string): Promise<void> => {
      for (let i = 0; !stop && i < 2000; i++) {
        const name = names[i % names.length];
        const reply = await askFrom(client, r.udpPort, query(name, 'A', { id: i }));
        answered++;
        const got = addressesOf(reply)[0];
        if (got !== expected[client][name]) wrong.push(`${client} ${name} -> ${got}`);
      }
    };
    const loops = [traffic(KIDS), traffic(TEACHERS), traffic(KIDS), traffic(TEACHERS)];
    for (let i = 0; i < 5; i++) {
      // Touch a list so every reload really rebuilds.
      writeFileSync(path.join(dir, 'lists', 'edu.txt'), `learn-and-adult.example\nschool-books.example\n# reload ${i}\n`);
      const res = await fetch(`http://127.0.0.1:${r.adminPort}/reload`, { method: 'POST' });
      expect(((await res.json()) as { changed: boolean }).changed).toBe(true);
    }
    stop = true;
    await Promise.all(loops); // askFrom rejects on a missing reply: every query was answered
    expect(answered).toBeGreaterThan(20);
    expect(wrong).toEqual([]);
  });

  it('explains a decision through the admin API with the file and line that matched', async () => {
    const res = await fetch(`http://127.0.0.1:${r.adminPort}/explain?name=www.adult-site.example&client=${KIDS}`);
    const e = await res.json();
    expect(e).toMatchObject({
      decision: 'block', category: 'adult', client: { school: 'Test school', group: 'kids' },
      matches: [{ category: 'adult', matched: 'www.adult-site.example', kind: 'block', source: path.join(dir, 'lists', 'adult.hosts'), line: 2 }],
    });
    const allowed = await (await fetch(`http://127.0.0.1:${r.adminPort}/explain?name=learn-and-adult.example&client=${KIDS}`)).json();
    expect(allowed).toMatchObject({ decision: 'allow', overrode: 'adult', allowedBy: { category: 'edu', line: 1 } });
    expect((await fetch(`http://127.0.0.1:${r.adminPort}/explain?name=1.2.3.4&client=${KIDS}`)).status).toBe(400);
  });

  it('runs school-dns check and reload from the command line against the running server', async () => {
    const run = promisify(execFile);
    const admin = `http://127.0.0.1:${r.adminPort}`;
    const check = await run(process.execPath, [CLI, 'check', 'games-site.example', '--client', KIDS, '--admin', admin]);
    expect(check.stdout).toContain('decision: BLOCK (games)');
    expect(check.stdout).toContain(`${path.join(dir, 'lists', 'games.txt')}:1`);
    // A client no network names: the default group, unless the address it asks has a group (listeners:).
    const plain = await run(process.execPath, [CLI, 'check', 'games-site.example', '--client', '192.0.2.77', '--admin', admin]);
    expect(plain.stdout).toContain('client:   192.0.2.77 -> school "unknown", group "kids"');
    expect(plain.stdout).toContain('decision: BLOCK (games)');
    const via = await run(process.execPath, [CLI, 'check', 'games-site.example', '--client', '192.0.2.77', '--listener', '10.99.0.53', '--admin', admin]);
    expect(via.stdout).toContain('client:   192.0.2.77 (asking 10.99.0.53) -> school "Listener school", group "teachers"');
    expect(via.stdout).toContain('decision: PASS');
    // A network's client keeps its own group whatever address it asks.
    const kids = await run(process.execPath, [CLI, 'check', 'games-site.example', '--client', KIDS, '--listener', '10.99.0.53', '--admin', admin, '--json']);
    expect(JSON.parse(kids.stdout)).toMatchObject({ client: { address: KIDS, listener: '10.99.0.53', school: 'Test school', group: 'kids' }, decision: 'block' });
    await expect(run(process.execPath, [CLI, 'check', 'games-site.example', '--client', KIDS, '--listener', 'school-dns.local', '--admin', admin]))
      .rejects.toMatchObject({ code: 1, stdout: expect.stringContaining('is not an IP address') });
    const reload = await run(process.execPath, [CLI, 'reload', '--admin', admin]);
    expect(reload.stdout).toMatch(/nothing changed|reloaded/);
    await expect(run(process.execPath, [CLI, 'reload', '--admin', 'http://127.0.0.1:1'])).rejects.toMatchObject({ code: 4 });
  });
});

describe('school-dns serve as a process', () => {
  it('reloads its lists on SIGHUP', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'school-dns-hup-'));
    require('node:fs').mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'lists', 'adult.hosts'), '0.0.0.0 adult-site.example\n');
    writeFileSync(path.join(dir, 'lists', 'games.txt'), '||games-site.example^\n');
    writeFileSync(path.join(dir, 'lists', 'edu.txt'), 'school-books.example\n');
    writePolicy(dir);
    const upstream = await ScriptedUpstream.start();
    const dnsPort = await freePort();
    const adminPort = await freePort();
    writeFileSync(path.join(dir, 'config.yaml'), `
server: { listen: ["127.0.0.1:${dnsPort}"] }
admin: { listen: "127.0.0.1:${adminPort}" }
resolver: { mode: forward, upstreams: ["127.0.0.1:${upstream.port}"] }
policy: { file: policy.yaml }
blocking: { sinkholeIPv4: "10.9.9.9" }
state: { directory: state }
log: { level: info, format: json }
`);
    const child = spawn(process.execPath, [CLI, 'serve', '--config', path.join(dir, 'config.yaml')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (b) => { log += String(b); });
    try {
      const waitFor = async (re: RegExp, ms = 10000): Promise<void> => {
        const until = Date.now() + ms;
        while (!re.test(log)) {
          if (Date.now() > until || child.exitCode !== null) throw new Error(`log never matched ${re} (exit code ${child.exitCode}):\n${log}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      };
      await waitFor(/"msg":"listening"/);
      expect(addressesOf(await askFrom(KIDS, dnsPort, query('new.example', 'A')))).toEqual(['192.0.2.1']);
      writeFileSync(path.join(dir, 'lists', 'games.txt'), '||games-site.example^\n||new.example^\n');
      child.kill('SIGHUP');
      await waitFor(/"msg":"lists reloaded"/);
      expect(addressesOf(await askFrom(KIDS, dnsPort, query('new.example', 'A')))).toEqual(['10.9.9.9']);
    } finally {
      await stopChild(child); // also when it has exited already (a failed start)
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
