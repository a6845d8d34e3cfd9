// The query log end to end, on real sockets: clients of two schools and two age groups (distinct
// loopback source addresses) ask blocked and allowed names through a real resolver that forwards
// to a scripted upstream; the rows land in the SQLite file (read here, read-only), with the
// client address transformed; `school-dns report` runs as a child process against the admin
// port; retention deletes old rows; a writer that cannot write makes the queue drop and count
// records while every query is still answered.
import Database from 'better-sqlite3';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { promValue, scrape, sleep, udpAskAll, udpAskFrom } from '../helpers/client';
import { addressesOf, query } from '../helpers/packets';
import { startTestResolver, TestResolver } from '../helpers/resolver';
import { ScriptedUpstream } from '../helpers/upstream';

const NORTH_KIDS = '127.0.0.2';
const NORTH_TEACHERS = '127.0.0.3';
const SOUTH_KIDS = '127.0.1.5';
const CLI = path.resolve(__dirname, '..', '..', 'dist', 'cli', 'main.js');
const run = promisify(execFile);

interface Row { time: number; school: string; age_group: string; category: string | null; name: string; qtype: string; action: string; rcode: number; client: string | null; count: number }

const ask = (source: string, port: number, name: string, type = 'A'): Promise<Buffer> => udpAskFrom(source, port, query(name, type), 3000);

function rows(file: string): Row[] {
  if (!existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM queries ORDER BY time, rowid').all() as Row[];
  } finally {
    db.close();
  }
}

const total = (r: Row[]): number => r.reduce((sum, x) => sum + x.count, 0);

/** Waits (at most 8 s) until the log's rows count at least `n` queries; returns them. */
async function waitRows(file: string, n: number): Promise<Row[]> {
  let r: Row[] = [];
  for (let i = 0; i < 80; i++) {
    r = rows(file);
    if (total(r) >= n) return r;
    await sleep(100);
  }
  throw new Error(`the query log's rows count ${total(r)} queries, expected ${n}`);
}

/**
 * Rows summed up by what they say (a write window of a second may or may not split repeats
 * of one query into two rows), sorted by what they say: queries a millisecond apart may land
 * in either order (each batch converts its clock readings to Unix time on its own).
 */
function summed(r: Row[]): (Omit<Row, 'time' | 'count' | 'rcode' | 'action'> & { count: number })[] {
  const out = new Map<string, Omit<Row, 'time' | 'count' | 'rcode' | 'action'> & { count: number }>();
  for (const { school, age_group, category, name, qtype, client, count } of r) {
    const k = JSON.stringify([school, age_group, category, name, qtype, client]);
    const e = out.get(k);
    if (e) e.count += count;
    else out.set(k, { school, age_group, category, name, qtype, client, count });
  }
  return [...out.values()].sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1));
}

function setup(): { dir: string; policy: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'school-dns-querylog-'));
  mkdirSync(path.join(dir, 'lists'));
  writeFileSync(path.join(dir, 'lists', 'adult.txt'), 'adult-site.example\n');
  writeFileSync(path.join(dir, 'lists', 'games.txt'), 'games-site.example\n');
  const policy = path.join(dir, 'policy.yaml');
  writeFileSync(policy, `
categories:
  adult:
    sources: [lists/adult.txt]
  games:
    sources: [lists/games.txt]
groups:
  kids:
    block: [adult, games]
    allow: [allowed.games-site.example]
  teachers:
    block: [adult]
schools:
  - name: North
    networks:
      - { cidr: ${NORTH_KIDS}, group: kids }
      - { cidr: ${NORTH_TEACHERS}, group: teachers }
  - name: South
    networks:
      - { cidr: 127.0.1.0/24, group: kids }
defaultGroup: kids
`);
  return { dir, policy };
}

describe('query log: blocked queries, privacy by default, report, retention', () => {
  let dir: string;
  let state: string;
  let upstream: ScriptedUpstream;
  let r: TestResolver;
  let file: string;
  let sentFrom = 0;
  let sentTo = 0;

  beforeAll(async () => {
    const s = setup();
    dir = s.dir;
    state = path.join(dir, 'state');
    file = path.join(state, 'querylog.sqlite');
    upstream = await ScriptedUpstream.start();
    r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: s.policy },
      state: { directory: state },
    });
    sentFrom = Date.now();
    for (let i = 0; i < 3; i++) expect(addressesOf(await ask(NORTH_KIDS, r.udpPort, 'WWW.Adult-Site.example'))).toEqual(['127.0.0.1']);
    await ask(NORTH_KIDS, r.udpPort, 'games-site.example');
    await ask(NORTH_KIDS, r.udpPort, 'games-site.example', 'MX');
    expect(addressesOf(await ask(NORTH_KIDS, r.udpPort, 'allowed.games-site.example'))).toEqual(['192.0.2.1']);
    expect(addressesOf(await ask(NORTH_KIDS, r.udpPort, 'ok.example'))).toEqual(['192.0.2.1']);
    expect(addressesOf(await ask(NORTH_TEACHERS, r.udpPort, 'games-site.example'))).toEqual(['192.0.2.1']);
    await ask(NORTH_TEACHERS, r.udpPort, 'adult-site.example', 'AAAA');
    await ask(SOUTH_KIDS, r.udpPort, 'games-site.example');
    sentTo = Date.now();
  });

  afterAll(async () => {
    await r?.close();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records each blocked query once, with time, school, group, category, name and a truncated client address; nothing else', async () => {
    await waitRows(file, 7);
    await sleep(1300); // one more write window: nothing else may arrive
    const got = rows(file);
    expect(total(got)).toBe(7);
    for (const row of got) {
      expect(row.time).toBeGreaterThanOrEqual(sentFrom - 5);
      expect(row.time).toBeLessThanOrEqual(sentTo + 5);
      expect(row.action).toBe('blocked');
      expect(row.rcode).toBe(0);
    }
    // The three asks of www.adult-site.example: one row with count 3 (or two, across a window).
    expect(got.filter((x) => x.name === 'www.adult-site.example').length).toBeLessThanOrEqual(2);
    expect(summed(got)).toEqual(summed([
      { school: 'North', age_group: 'kids', category: 'adult', name: 'www.adult-site.example', qtype: 'A', client: '127.0.0.0/24', count: 3 },
      { school: 'North', age_group: 'kids', category: 'games', name: 'games-site.example', qtype: 'A', client: '127.0.0.0/24', count: 1 },
      { school: 'North', age_group: 'kids', category: 'games', name: 'games-site.example', qtype: 'MX', client: '127.0.0.0/24', count: 1 },
      { school: 'North', age_group: 'teachers', category: 'adult', name: 'adult-site.example', qtype: 'AAAA', client: '127.0.0.0/24', count: 1 },
      { school: 'South', age_group: 'kids', category: 'games', name: 'games-site.example', qtype: 'A', client: '127.0.1.0/24', count: 1 },
    ] as Row[]));
    // Never the full address, anywhere in the file.
    const raw = readFileSync(file).toString('latin1') + (existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`).toString('latin1') : '');
    for (const a of [NORTH_KIDS, NORTH_TEACHERS, SOUTH_KIDS]) expect(raw).not.toContain(a);
    // Readable by the service's user only.
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_querylog_records_total', { result: 'written' })).toBe(7);
    expect(promValue(text, 'school_dns_querylog_records_total', { result: 'dropped' })).toBe(0);
    expect(promValue(text, 'school_dns_querylog_queue_records')).toBe(0);
  });

  it('school-dns report prints the top blocked names and categories per school and group', async () => {
    await waitRows(file, 7);
    const admin = `http://127.0.0.1:${r.adminPort}`;
    const { stdout } = await run(process.execPath, [CLI, 'report', '--since', '7d', '--admin', admin]);
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^Blocked queries, last 7d \(.* to .*\), all schools: 7$/);
    const block = (title: string): string[] => {
      const i = lines.indexOf(title);
      expect(i).toBeGreaterThan(0);
      const end = lines.findIndex((l, k) => k > i && l === '');
      return lines.slice(i + 1, end < 0 ? undefined : end);
    };
    expect(block('North / kids: 5 blocked')).toEqual([
      '  top categories:', '    3  adult', '    2  games',
      '  top names:', '    3  www.adult-site.example', '    2  games-site.example',
    ]);
    expect(block('North / teachers: 1 blocked')).toEqual(['  top categories:', '    1  adult', '  top names:', '    1  adult-site.example']);
    expect(block('South / kids: 1 blocked')).toEqual(['  top categories:', '    1  games', '  top names:', '    1  games-site.example']);

    const south = JSON.parse((await run(process.execPath, [CLI, 'report', '--school', 'South', '--json', '--admin', admin])).stdout);
    expect(south).toMatchObject({ ok: true, window: '7d', school: 'South', blocked: 1, retentionDays: 30, allQueries: false, dropped: 0 });
    expect(south.groups).toEqual([{ school: 'South', group: 'kids', blocked: 1, categories: [{ category: 'games', count: 1 }], names: [{ name: 'games-site.example', count: 1 }] }]);

    const top1 = JSON.parse((await run(process.execPath, [CLI, 'report', '--group', 'kids', '--top', '1', '--json', '--admin', admin])).stdout);
    expect(top1.groups.map((g: { school: string; names: unknown[]; categories: unknown[] }) => [g.school, g.names.length, g.categories.length])).toEqual([['North', 1, 1], ['South', 1, 1]]);

    // A window that ended before the queries: nothing.
    const recent = (await run(process.execPath, [CLI, 'report', '--since', '1m', '--school', 'Nowhere', '--admin', admin])).stdout;
    expect(recent).toContain('school "Nowhere": 0');
    expect(recent).toContain('Nothing was blocked in this time.');
  });

  it('refuses bad input with a clear message and its exit code; an unreachable server is exit 4', async () => {
    const admin = `http://127.0.0.1:${r.adminPort}`;
    await expect(run(process.execPath, [CLI, 'report', '--since', '7x', '--admin', admin])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--since: "7x" is not a duration') });
    await expect(run(process.execPath, [CLI, 'report', '--since', '30s', '--admin', admin])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('seconds are too fine') });
    await expect(run(process.execPath, [CLI, 'report', '--top', '0', '--admin', admin])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--top must be a whole number') });
    await expect(run(process.execPath, [CLI, 'report', '--admin', 'http://127.0.0.1:1'])).rejects.toMatchObject({ code: 4, stderr: expect.stringContaining('cannot reach school-dns') });
    for (const [q, message] of [['since=soon', 'is not a duration'], ['top=abc', 'top must be'], ['school=', 'school must be'], ['colour=red', 'unknown parameter']]) {
      const res = await fetch(`${admin}/report?${q}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ ok: false, code: 'INVALID', error: expect.stringContaining(message) });
    }
  });

  it('retention deletes rows older than retentionDays and keeps the rest', async () => {
    await waitRows(file, 7);
    const day = 86_400_000;
    const db = new Database(file, { timeout: 5000 });
    const insert = db.prepare("INSERT INTO queries (time, school, age_group, category, name, qtype, action, rcode, client) VALUES (?, 'North', 'kids', 'adult', ?, 'A', 'blocked', 0, NULL)");
    for (let i = 0; i < 4; i++) insert.run(Date.now() - 31 * day - i * 1000, `old${i}.example`);
    insert.run(Date.now() - 29 * day, 'recent.example');
    db.close();
    const before = rows(file);
    expect(total(before)).toBe(12);
    expect(await r.queryLog!.retention()).toBe(4);
    const left = rows(file);
    expect(left).toHaveLength(before.length - 4);
    expect(total(left)).toBe(8);
    expect(left.some((x) => x.name.startsWith('old'))).toBe(false);
    expect(left.filter((x) => x.name === 'recent.example')).toHaveLength(1);
    expect(await r.queryLog!.retention()).toBe(0);
  });
});

describe('query log: all queries, hashed client addresses', () => {
  it('records passed and allowed queries too, with the action and rcode, and a keyed hash of the client', async () => {
    const { dir, policy } = setup();
    const state = path.join(dir, 'state');
    const upstream = await ScriptedUpstream.start();
    const r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: policy },
      state: { directory: state },
      queryLog: { allQueries: true, clientAddress: 'hash' },
    });
    try {
      await ask(NORTH_KIDS, r.udpPort, 'adult-site.example');
      await ask(NORTH_KIDS, r.udpPort, 'allowed.games-site.example');
      await ask(NORTH_TEACHERS, r.udpPort, 'ok.example', 'AAAA');
      const got = await waitRows(path.join(state, 'querylog.sqlite'), 3);
      const keyFile = path.join(state, 'querylog.key');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile);
      expect(key).toHaveLength(32);
      const h = (a: string): string => `h:${createHmac('sha256', key).update(a).digest('hex').slice(0, 16)}`;
      const byName = [...got].sort((x, y) => (x.name < y.name ? -1 : 1));
      expect(byName.map(({ school, age_group, category, name, qtype, action, client }) => ({ school, age_group, category, name, qtype, action, client }))).toEqual([
        { school: 'North', age_group: 'kids', category: 'adult', name: 'adult-site.example', qtype: 'A', action: 'blocked', client: h(NORTH_KIDS) },
        { school: 'North', age_group: 'kids', category: null, name: 'allowed.games-site.example', qtype: 'A', action: 'allowed', client: h(NORTH_KIDS) },
        { school: 'North', age_group: 'teachers', category: null, name: 'ok.example', qtype: 'AAAA', action: 'passed', client: h(NORTH_TEACHERS) },
      ]);
      // The report counts blocked queries only.
      const res = await (await fetch(`http://127.0.0.1:${r.adminPort}/report`)).json();
      expect(res).toMatchObject({ blocked: 1, allQueries: true });
    } finally {
      await r.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('query log: a writer that cannot keep up', () => {
  it('drops and counts records when the queue is full, and never delays an answer', async () => {
    const { dir, policy } = setup();
    const state = path.join(dir, 'state');
    const file = path.join(state, 'querylog.sqlite');
    const upstream = await ScriptedUpstream.start();
    const r = await startTestResolver({
      resolver: { upstreams: [upstream.hostPort], timeoutMs: 500, totalTimeoutMs: 1500 },
      policy: { file: policy },
      state: { directory: state },
      queryLog: { queueSize: 4 },
    });
    const gauge = async (): Promise<number> => promValue(await scrape(r.adminPort!), 'school_dns_querylog_queue_records');
    const blocked = (from: number, n: number): Buffer[] => Array.from({ length: n }, (_, i) => query(`q${from + i}.adult-site.example`, 'A'));
    // Another connection holds the database's write lock.
    const lock = new Database(file, { timeout: 5000 });
    try {
      lock.exec('BEGIN EXCLUSIVE');
      // The writer takes these, and blocks on the lock when its write window (1 s) comes.
      expect((await udpAskAll(r.udpPort, blocked(0, 4))).every((b) => b !== null)).toBe(true);
      // Until the writer has taken them (on a loaded machine its low-priority thread may be late).
      for (let i = 0; i < 100 && (await gauge()) !== 0; i++) await sleep(100);
      expect(await gauge()).toBe(0);
      await sleep(2000); // and is stuck on the lock, its write window (1 s) past
      // A blocked writer takes nothing more: this record stays queued (two flush intervals on).
      expect(addressesOf(await ask(NORTH_KIDS, r.udpPort, 'q4.adult-site.example'))).toEqual(['127.0.0.1']);
      await sleep(600);
      expect(await gauge()).toBe(1);
      const started = Date.now();
      const replies = await udpAskAll(r.udpPort, blocked(5, 20), { timeoutMs: 3000 });
      const took = Date.now() - started;
      expect(replies.every((b) => b !== null && addressesOf(b).includes('127.0.0.1'))).toBe(true);
      expect(took).toBeLessThan(2500); // every query answered while the writer waits on the lock
      const text = await scrape(r.adminPort!);
      expect(promValue(text, 'school_dns_querylog_records_total', { result: 'dropped' })).toBe(17); // 3 more fitted
      expect(promValue(text, 'school_dns_querylog_queue_records')).toBe(4);
      expect(r.queryLog!.dropped).toBe(17);
      expect(r.queryLog!.written).toBe(0);
      lock.exec('COMMIT');
      const got = await waitRows(file, 8);
      expect(total(got)).toBe(8);
      expect(got.map((x) => x.name).sort()).toEqual(['q0', 'q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7'].map((q) => `${q}.adult-site.example`));
      for (let i = 0; i < 20 && r.queryLog!.written < 8; i++) await sleep(100);
      expect(r.queryLog!.written).toBe(8);
      expect(await gauge()).toBe(0);
      expect(r.queryLog!.failed).toBe(0);
    } finally {
      if (lock.inTransaction) lock.exec('ROLLBACK');
      lock.close();
      await r.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('query log: off, or unusable', () => {
  it('answers 409 for /report when the log is off, and school-dns report says why (exit 1)', async () => {
    const r = await startTestResolver({ queryLog: { enabled: false } });
    try {
      expect(r.queryLog).toBeNull();
      const res = await fetch(`http://127.0.0.1:${r.adminPort}/report`);
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({ code: 'QUERYLOG_OFF', error: expect.stringContaining('queryLog.enabled is false') });
      await expect(run(process.execPath, [CLI, 'report', '--admin', `http://127.0.0.1:${r.adminPort}`])).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('the query log is off') });
    } finally {
      await r.close();
    }
  });

  it('does not start a writer without a policy unless all queries are logged', async () => {
    const r = await startTestResolver();
    try {
      expect(r.queryLog).toBeNull();
      expect(await (await fetch(`http://127.0.0.1:${r.adminPort}/report`)).json()).toMatchObject({ error: expect.stringContaining('filtering is off') });
    } finally {
      await r.close();
    }
  });

  it('refuses to start, with a clear error, when the log file is not a database', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'school-dns-querylog-bad-'));
    const junk = path.join(dir, 'junk.sqlite');
    writeFileSync(junk, 'not a database '.repeat(100));
    try {
      await expect(startTestResolver({ queryLog: { allQueries: true, path: junk } }))
        .rejects.toMatchObject({ code: 'STARTUP_FAILED', message: expect.stringContaining(`the query log ${junk} cannot be used: it is not an SQLite database`) });
      expect(readFileSync(junk, 'utf8')).toBe('not a database '.repeat(100));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
