// The query log's parts on their own: the bounded queue, the privacy transforms, durations,
// the SQLite store (a real database in a temp dir) and the hash key file.
import Database from 'better-sqlite3';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encodeName } from '../../src/dns/name';
import { formatDuration, parseDuration } from '../../src/querylog/duration';
import { clientTransform, hashAddress, truncateAddress } from '../../src/querylog/privacy';
import { Aggregator, Row } from '../../src/querylog/aggregate';
import { ACTION_ALLOWED, ACTION_BLOCKED, ACTION_PASSED, Batch, RecordQueue, transferables } from '../../src/querylog/queue';
import { QueryLogStore, SCHEMA_VERSION } from '../../src/querylog/store';
import { loadOrCreateKey } from '../../src/querylog/key';

interface Rec { at?: number; school?: string; group?: string; category?: string | null; client?: string | null; name?: string; qtype?: number; action?: number; rcode?: number }

function push(q: RecordQueue, r: Rec = {}): boolean {
  const wire = encodeName(r.name ?? 'example.com');
  return q.push(r.at ?? 1000, r.school ?? 'S', r.group ?? 'kids', r.category ?? null, r.client === undefined ? '192.0.2.1' : r.client,
    wire, 0, wire.length, r.qtype ?? 1, r.action ?? ACTION_BLOCKED, r.rcode ?? 0);
}

function batchOf(recs: Rec[], offset = 0): Batch {
  const q = new RecordQueue(recs.length, recs.length);
  for (const r of recs) expect(push(q, r)).toBe(true);
  return q.take(offset)!;
}

describe('RecordQueue', () => {
  it('hands buffered records over as one batch, names as wire bytes back to back', () => {
    const q = new RecordQueue(100, 10);
    push(q, { name: 'WWW.Example.COM', category: 'adult', qtype: 28, at: 5.5 });
    push(q, { name: 'b.test', client: null, action: ACTION_PASSED, rcode: 3 });
    const b = q.take(1000)!;
    expect(b.count).toBe(2);
    expect(b.clockOffset).toBe(1000);
    expect([...b.at]).toEqual([5.5, 1000]);
    expect([...b.qtype]).toEqual([28, 1]);
    expect([...b.action]).toEqual([ACTION_BLOCKED, ACTION_PASSED]);
    expect([...b.rcode]).toEqual([0, 3]);
    expect([...b.category].map((k) => b.strings[k])).toEqual(['adult', null]);
    expect([...b.client].map((k) => b.strings[k])).toEqual(['192.0.2.1', null]);
    // Each distinct string crosses once per batch.
    expect(b.strings).toEqual([null, 'S', 'kids', 'adult', '192.0.2.1']);
    expect(new Set(transferables(b)).size).toBe(10);
    const first = encodeName('WWW.Example.COM');
    expect([...b.nameEnd]).toEqual([first.length, first.length + encodeName('b.test').length]);
    expect(Buffer.from(b.names.subarray(0, first.length)).equals(first)).toBe(true);
    expect(q.take(1000)).toBeNull();
  });

  it('is bounded: records in flight at the writer count until done(), and refused records are counted as dropped', () => {
    const q = new RecordQueue(3, 2);
    expect(push(q)).toBe(true);
    expect(push(q)).toBe(true);
    expect(q.batchFull).toBe(true);
    expect(push(q)).toBe(false); // the batch buffer is full until taken
    expect(q.take(0)!.count).toBe(2);
    expect(q.pending).toBe(2);
    expect(push(q)).toBe(true);
    expect(push(q)).toBe(false); // 2 in flight + 1 buffered = capacity
    expect(push(q)).toBe(false);
    expect(q.dropped).toBe(3);
    expect(q.pending).toBe(3);
    q.done(2);
    expect(q.pending).toBe(1);
    expect(push(q)).toBe(true);
    expect(q.take(0)!.count).toBe(2);
    expect(q.lose()).toBe(2);
    expect(q.pending).toBe(0);
  });

  it('never holds more than its capacity in one batch, and lets go of the strings it handed over', () => {
    const q = new RecordQueue(1, 512);
    expect(q.batchSize).toBe(1);
    expect(push(q, { school: 'A' })).toBe(true);
    expect(push(q, { school: 'B' })).toBe(false);
    const b = q.take(0)!;
    expect(b.strings[b.school[0]!]).toBe('A');
    expect((q as unknown as { school: string[] }).school).toEqual(['']);
  });

  it('refuses a capacity below one', () => {
    expect(() => new RecordQueue(0, 1)).toThrow(RangeError);
  });
});

describe('Aggregator (one row per same query within a write window)', () => {
  it('sums up records that say the same thing, whatever the case of the name, keeping the earliest time', () => {
    const agg = new Aggregator(truncateAddress);
    agg.add(batchOf([
      { at: 30, name: 'Ads.Example' },
      { at: 10, name: 'ads.example' },
      { at: 20, name: 'ADS.EXAMPLE', client: '192.0.2.200' }, // same /24: the same row once truncated
    ]));
    agg.add(batchOf([{ at: 5, name: 'ads.example' }], 100));
    expect(agg.size).toBe(1);
    expect(agg.records).toBe(4);
    const { rows, records } = agg.drain();
    expect(records).toBe(4);
    expect(rows).toEqual([{ time: 10, school: 'S', group: 'kids', category: null, name: 'ads.example', qtype: 'A', action: 'blocked', rcode: 0, client: '192.0.2.0/24', count: 4 }]);
    expect(agg.size).toBe(0);
    expect(agg.drain()).toEqual({ rows: [], records: 0 });
  });

  it('keeps apart what differs: name, type, action, rcode, school, group, category, client', () => {
    const agg = new Aggregator((a) => a);
    const base: Rec = { name: 'x.example', qtype: 1, action: ACTION_BLOCKED, rcode: 0, school: 'S', group: 'kids', category: 'adult', client: '192.0.2.1' };
    agg.add(batchOf([
      base,
      { ...base, name: 'y.example' }, { ...base, qtype: 28 }, { ...base, action: ACTION_PASSED }, { ...base, rcode: 3 },
      { ...base, school: 'T' }, { ...base, group: 'teens' }, { ...base, category: 'games' }, { ...base, category: null },
      { ...base, client: '192.0.2.2' }, { ...base, client: null },
    ]));
    expect(agg.size).toBe(11);
    expect(agg.drain().rows.every((r) => r.count === 1)).toBe(true);
  });

  it('writes rows oldest first', () => {
    const agg = new Aggregator(() => null);
    agg.add(batchOf([{ at: 3, name: 'c.example' }, { at: 1, name: 'a.example' }, { at: 2, name: 'b.example' }]));
    expect(agg.drain().rows.map((r) => r.name)).toEqual(['a.example', 'b.example', 'c.example']);
  });
});

describe('client address privacy', () => {
  it.each([
    ['192.0.2.77', '192.0.2.0/24'],
    ['10.1.2.3', '10.1.2.0/24'],
    ['::ffff:10.1.2.3', '10.1.2.0/24'],
    ['2001:db8:5:6::1', '2001:db8:5::/48'],
    ['2001:DB8:ffff:ffff:1:2:3:4', '2001:db8:ffff::/48'],
    ['fe80::1%eth0', 'fe80::/48'],
    ['::1', '::/48'],
    ['not an address', '?'],
  ])('truncate %s -> %s', (address, expected) => {
    expect(truncateAddress(address)).toBe(expected);
  });

  it('hash: HMAC-SHA-256 of the canonical address under the key, 64 bits in hex', () => {
    const key = Buffer.alloc(32, 7);
    const expected = `h:${createHmac('sha256', key).update('10.1.2.3').digest('hex').slice(0, 16)}`;
    expect(hashAddress(key, '10.1.2.3')).toBe(expected);
    expect(hashAddress(key, '::ffff:10.1.2.3')).toBe(expected);
    expect(hashAddress(key, '10.1.2.4')).not.toBe(expected);
    expect(hashAddress(Buffer.alloc(32, 8), '10.1.2.3')).not.toBe(expected);
    expect(hashAddress(key, '2001:DB8::1')).toBe(hashAddress(key, '2001:db8:0::1'));
  });

  it('modes: truncate, hash (needs a key), omit (nothing), full (only when asked)', () => {
    expect(clientTransform('truncate')('192.0.2.9')).toBe('192.0.2.0/24');
    expect(clientTransform('omit')('192.0.2.9')).toBeNull();
    expect(clientTransform('full')('192.0.2.9')).toBe('192.0.2.9');
    expect(clientTransform('hash', Buffer.alloc(32, 1))('192.0.2.9')).toMatch(/^h:[0-9a-f]{16}$/);
    expect(() => clientTransform('hash')).toThrow(/key/);
  });

  it('memoises within its bound and stays correct past it', () => {
    const t = clientTransform('truncate', null, 2);
    for (let i = 0; i < 10; i++) expect(t(`10.0.${i}.1`)).toBe(`10.0.${i}.0/24`);
    expect(t('10.0.0.1')).toBe('10.0.0.0/24');
  });
});

describe('durations', () => {
  it.each([
    ['7d', 7 * 86_400_000], ['24h', 86_400_000], ['30m', 1_800_000], ['2w', 14 * 86_400_000],
    ['1d12h', 36 * 3_600_000], [' 7D ', 7 * 86_400_000], ['90m', 5_400_000],
  ])('%j is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'a duration is needed'],
    ['7', 'a unit is needed'],
    ['30s', 'seconds are too fine'],
    ['7 days', 'is not a duration'],
    ['-7d', 'is not a duration'],
    ['1.5d', 'is not a duration'],
    ['0d', 'no time at all'],
    ['9999999d', 'longer than ten years'],
  ])('refuses %j with code BAD_DURATION', (text, message) => {
    let err: unknown;
    try { parseDuration(text); } catch (e) { err = e; }
    expect(err).toMatchObject({ code: 'BAD_DURATION', message: expect.stringContaining(message) });
  });

  it('formats whole minutes in the shortest way', () => {
    expect(formatDuration(7 * 86_400_000)).toBe('7d');
    expect(formatDuration(36 * 3_600_000)).toBe('1d12h');
    expect(formatDuration(90 * 60_000)).toBe('1h30m');
    expect(formatDuration(0)).toBe('0m');
  });
});

describe('QueryLogStore (SQLite)', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'school-dns-qlstore-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const rowsOf = (recs: Rec[], offset = 0, client: (a: string) => string | null = () => null): Row[] => {
    const agg = new Aggregator(client);
    agg.add(batchOf(recs, offset));
    return agg.drain().rows;
  };

  it('creates the file with mode 0600 in a 0700 directory, in WAL mode, and writes a batch as rows', () => {
    const file = path.join(dir, 'sub', 'querylog.sqlite');
    const store = QueryLogStore.open(file);
    store.insert(rowsOf([
      { at: 10.4, name: 'WWW.Adult-Site.Example', category: 'adult', qtype: 28, client: '192.0.2.77' },
      { at: 20, name: 'ok.example', action: ACTION_ALLOWED, client: '2001:db8:1:2::9', rcode: 3, qtype: 65 },
      { at: 30, name: 'odd\\.name.example', action: ACTION_PASSED, qtype: 4242, client: null },
      { at: 12, name: 'www.adult-site.example', category: 'adult', qtype: 28, client: '192.0.2.78' },
    ], 1_700_000_000_000, truncateAddress));
    store.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(db.prepare('SELECT * FROM queries ORDER BY time').all()).toEqual([
        { time: 1_700_000_000_010, school: 'S', age_group: 'kids', category: 'adult', name: 'www.adult-site.example', qtype: 'AAAA', action: 'blocked', rcode: 0, client: '192.0.2.0/24', count: 2 },
        { time: 1_700_000_000_020, school: 'S', age_group: 'kids', category: null, name: 'ok.example', qtype: 'HTTPS', action: 'allowed', rcode: 3, client: '2001:db8:1::/48', count: 1 },
        { time: 1_700_000_000_030, school: 'S', age_group: 'kids', category: null, name: 'odd\\.name.example', qtype: '4242', action: 'passed', rcode: 0, client: null, count: 1 },
      ]);
    } finally {
      db.close();
    }
  });

  it('reports blocked names and categories per school and group: counts, top N, filters, window', () => {
    const store = QueryLogStore.open(path.join(dir, 'q.sqlite'));
    const recs: Rec[] = [];
    const add = (n: number, r: Rec): void => { for (let i = 0; i < n; i++) recs.push(r); };
    add(5, { school: 'North', group: 'kids', name: 'a.example', category: 'adult', at: 100 });
    add(3, { school: 'North', group: 'kids', name: 'g.example', category: 'games', at: 100 });
    add(3, { school: 'North', group: 'kids', name: 'b.example', category: 'adult', at: 100 });
    add(1, { school: 'North', group: 'kids', name: 'c.example', category: null, at: 100 });
    add(2, { school: 'North', group: 'teens', name: 'a.example', category: 'adult', at: 100 });
    add(4, { school: 'South', group: 'kids', name: 'g.example', category: 'games', at: 100 });
    add(9, { school: 'North', group: 'kids', name: 'passed.example', action: ACTION_PASSED, at: 100 });
    add(7, { school: 'North', group: 'kids', name: 'old.example', category: 'adult', at: 10 });
    store.insert(rowsOf(recs));

    const r = store.report({ since: 50, until: 200, school: null, group: null, top: 2 });
    expect(r.blocked).toBe(18);
    expect(r.oldest).toBe(10);
    expect(r.groups).toEqual([
      { school: 'North', group: 'kids', blocked: 12, categories: [{ category: 'adult', count: 8 }, { category: 'games', count: 3 }], names: [{ name: 'a.example', count: 5 }, { name: 'b.example', count: 3 }] },
      { school: 'North', group: 'teens', blocked: 2, categories: [{ category: 'adult', count: 2 }], names: [{ name: 'a.example', count: 2 }] },
      { school: 'South', group: 'kids', blocked: 4, categories: [{ category: 'games', count: 4 }], names: [{ name: 'g.example', count: 4 }] },
    ]);
    // A category-less block is "unknown"; ties are broken by name.
    const kids = store.report({ since: 50, until: 200, school: 'North', group: 'kids', top: 10 });
    expect(kids.groups.map((g) => g.categories)).toEqual([[{ category: 'adult', count: 8 }, { category: 'games', count: 3 }, { category: 'unknown', count: 1 }]]);
    expect(kids.groups[0]!.names.map((n) => n.name)).toEqual(['a.example', 'b.example', 'g.example', 'c.example']);
    expect(store.report({ since: 0, until: 50, school: null, group: null, top: 5 }).groups).toEqual([
      { school: 'North', group: 'kids', blocked: 7, categories: [{ category: 'adult', count: 7 }], names: [{ name: 'old.example', count: 7 }] },
    ]);
    expect(store.report({ since: 50, until: 200, school: 'Nowhere', group: null, top: 5 })).toEqual({ blocked: 0, groups: [], oldest: 10 });
    store.close();
  });

  it('retention deletes rows older than the cutoff, in chunks of at most the limit', () => {
    const store = QueryLogStore.open(path.join(dir, 'q.sqlite'));
    const recs: Rec[] = [];
    for (let i = 0; i < 25; i++) recs.push({ at: i < 20 ? 5 : 500, name: `n${i}.example` });
    store.insert(rowsOf(recs));
    expect(store.deleteOlderThan(100, 8)).toBe(8);
    expect(store.deleteOlderThan(100, 8)).toBe(8);
    expect(store.deleteOlderThan(100, 8)).toBe(4);
    expect(store.deleteOlderThan(100, 8)).toBe(0);
    expect(store.report({ since: 0, until: 1000, school: null, group: null, top: 1 }).blocked).toBe(5);
    store.close();
  });

  it('upgrades a version 1 log (one row per query) in place: old rows count 1', () => {
    const file = path.join(dir, 'v1.sqlite');
    const db = new Database(file);
    db.exec(`CREATE TABLE queries (time INTEGER NOT NULL, school TEXT NOT NULL, age_group TEXT NOT NULL, category TEXT, name TEXT NOT NULL,
      qtype TEXT NOT NULL, action TEXT NOT NULL CHECK (action IN ('blocked', 'allowed', 'passed')), rcode INTEGER NOT NULL, client TEXT);
      CREATE INDEX queries_time ON queries (time);
      CREATE INDEX queries_blocked ON queries (time, school, age_group, category, name) WHERE action = 'blocked';
      INSERT INTO queries VALUES (100, 'S', 'kids', 'adult', 'old.example', 'A', 'blocked', 0, NULL);
      PRAGMA user_version = 1;`);
    db.close();
    const store = QueryLogStore.open(file);
    store.insert(rowsOf([{ at: 200, name: 'new.example', category: 'adult' }, { at: 201, name: 'new.example', category: 'adult' }]));
    expect(store.report({ since: 0, until: 1000, school: null, group: null, top: 5 }).groups[0]!.names).toEqual([{ name: 'new.example', count: 2 }, { name: 'old.example', count: 1 }]);
    store.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name").pluck().all()).toEqual(['queries_time']);
    check.close();
  });

  it('refuses a file that is not an SQLite database, or one from a newer schema, with code QUERYLOG_UNUSABLE', () => {
    const junk = path.join(dir, 'junk.sqlite');
    writeFileSync(junk, 'this is not a database, just some text that is long enough to have a header'.repeat(10));
    expect(() => QueryLogStore.open(junk)).toThrow(expect.objectContaining({ code: 'QUERYLOG_UNUSABLE', message: expect.stringContaining('not an SQLite database') }));
    const newer = path.join(dir, 'newer.sqlite');
    const db = new Database(newer);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => QueryLogStore.open(newer)).toThrow(expect.objectContaining({ code: 'QUERYLOG_UNUSABLE', message: expect.stringContaining('newer school-dns') }));
  });
});

describe('the hash key file', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'school-dns-qlkey-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is made once (32 random bytes, mode 0600), then read back unchanged', () => {
    const file = path.join(dir, 'querylog.key');
    const a = loadOrCreateKey(file);
    expect(a.created).toBe(true);
    expect(a.key).toHaveLength(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const b = loadOrCreateKey(file);
    expect(b.created).toBe(false);
    expect(b.key.equals(a.key)).toBe(true);
    expect(readFileSync(file).equals(a.key)).toBe(true);
    expect(loadOrCreateKey(path.join(dir, 'other.key')).key.equals(a.key)).toBe(false);
  });

  it('is refused, not replaced, when damaged', () => {
    const file = path.join(dir, 'querylog.key');
    writeFileSync(file, 'short');
    expect(() => loadOrCreateKey(file)).toThrow(/damaged/);
    expect(readFileSync(file, 'utf8')).toBe('short');
  });
});
