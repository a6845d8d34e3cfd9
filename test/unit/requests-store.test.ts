// The review-request store on a real temporary directory: journal replay after a restart,
// a torn last line, the fsync before acknowledging, failed writes, rate limit, cap,
// duplicates, validation, the approve/reject/revoke state machine and compaction.
import { appendFileSync, chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/log/logger';
import { ApprovalSet } from '../../src/requests/approvals';
import { cleanText, JournalIo, JOURNAL_FILE, REAL_IO, RequestLimits, RequestStore, sourceKey } from '../../src/requests/store';
import type { ReviewSubmission } from '../../src/requests/types';

const T0 = Date.parse('2025-03-10T02:00:00Z');

let dir: string;
let logs: Record<string, unknown>[];
let clock: number;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'school-dns-requests-'));
  logs = [];
  clock = T0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function logger() {
  const stream = new Writable({ write(chunk, _e, cb) { for (const l of String(chunk).split('\n')) if (l.trim()) logs.push(JSON.parse(l)); cb(); } });
  return createLogger({ level: 'debug', format: 'json', stream });
}

function open(opts: { limits?: Partial<RequestLimits>; io?: JournalIo; onApprovals?: (a: ApprovalSet) => void; directory?: string } = {}): Promise<RequestStore> {
  return RequestStore.open({ directory: opts.directory ?? dir, log: logger(), now: () => clock, ...opts });
}

const sub = (name: string, over: Partial<ReviewSubmission> = {}): ReviewSubmission =>
  ({ name, school: 'Hoa Sen Primary', group: 'primary', category: 'games', message: '', ...over });

const journal = (): string => readFileSync(path.join(dir, JOURNAL_FILE), 'utf8');

describe('RequestStore: durability', () => {
  it('creates the state directory with mode 0700 and the journal with 0600', async () => {
    const nested = path.join(dir, 'a', 'state');
    const s = await open({ directory: nested });
    await s.submit(sub('example.com'), '10.0.0.1');
    expect(statSync(nested).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(nested, JOURNAL_FILE)).mode & 0o777).toBe(0o600);
    await s.close();
  });

  it('keeps requests and decisions across a restart, with the same ids, and goes on numbering after them', async () => {
    const a = await open();
    const r1 = await a.submit(sub('games.example', { message: 'for maths' }), '10.0.0.1');
    const r2 = await a.submit(sub('video.example', { group: 'teachers', category: null }), '10.0.0.2');
    const r3 = await a.submit(sub('chat.example'), '10.0.0.3');
    expect([r1, r2, r3]).toEqual([{ ok: true, id: 1, duplicate: false }, { ok: true, id: 2, duplicate: false }, { ok: true, id: 3, duplicate: false }]);
    clock += 60_000;
    await a.approve(1, { scope: 'school', note: 'maths class', by: 'hoa' });
    await a.reject(2, { note: 'no' });
    await a.close();

    const b = await open();
    expect(b.list('all')).toEqual([
      { id: 1, name: 'games.example', school: 'Hoa Sen Primary', group: 'primary', category: 'games', message: 'for maths', createdAt: '2025-03-10T02:00:00.000Z',
        status: 'approved', decidedAt: '2025-03-10T02:01:00.000Z', decidedBy: 'hoa', note: 'maths class', scope: 'school' },
      expect.objectContaining({ id: 2, status: 'rejected', category: null, group: 'teachers', note: 'no', decidedBy: null, scope: null }),
      expect.objectContaining({ id: 3, status: 'pending', decidedAt: null }),
    ]);
    expect(b.approvals.match('www.games.example', 'Hoa Sen Primary', 'staff')?.id).toBe(1);
    expect((await b.submit(sub('new.example'), '10.0.0.4'))).toMatchObject({ ok: true, id: 4 });
    await b.close();
  });

  it('never stores the source address', async () => {
    const a = await open();
    await a.submit(sub('games.example', { message: 'hello' }), '10.77.66.55');
    await a.submit(sub('other.example'), '2001:db8:77:66::55');
    await a.close();
    const text = readdirSync(dir).map((f) => readFileSync(path.join(dir, f), 'utf8')).join('\n');
    expect(text).not.toMatch(/10\.77\.66\.55|2001:db8|77:66/);
    expect(JSON.stringify(logs)).not.toMatch(/10\.77\.66\.55|2001:db8/);
  });

  it('drops a torn last line (a write that never finished) and appends cleanly after it', async () => {
    const a = await open();
    await a.submit(sub('one.example'), '10.0.0.1');
    await a.submit(sub('two.example'), '10.0.0.2');
    await a.close();
    const whole = journal();
    appendFileSync(path.join(dir, JOURNAL_FILE), '{"t":"submit","id":3,"name":"thr'); // crash mid-write
    const b = await open();
    expect(b.list('all').map((r) => r.name)).toEqual(['one.example', 'two.example']);
    expect(journal()).toBe(whole); // cut back to the last complete line
    expect(logs.some((l) => String(l.msg).includes('incomplete write'))).toBe(true);
    expect(await b.submit(sub('three.example'), '10.0.0.3')).toMatchObject({ ok: true, id: 3 });
    await b.close();
    const c = await open();
    expect(c.list('all').map((r) => r.name)).toEqual(['one.example', 'two.example', 'three.example']);
    await c.close();
  });

  it('treats zeros at the end (a crash on some filesystems) as a torn write too', async () => {
    const a = await open();
    await a.submit(sub('one.example'), '10.0.0.1');
    await a.close();
    appendFileSync(path.join(dir, JOURNAL_FILE), Buffer.concat([Buffer.alloc(40), Buffer.from('\n'), Buffer.alloc(10)]));
    const b = await open();
    expect(b.list('all').map((r) => r.id)).toEqual([1]);
    expect(b.journalLines).toBe(1);
    await b.close();
  });

  it('skips a damaged line in the middle, copies the file aside and rewrites the journal without it', async () => {
    const a = await open();
    await a.submit(sub('one.example'), '10.0.0.1');
    await a.submit(sub('two.example'), '10.0.0.2');
    await a.approve(2);
    await a.close();
    const lines = journal().split('\n');
    lines[0] = 'garbage that is not json';
    writeFileSync(path.join(dir, JOURNAL_FILE), lines.join('\n'));
    const b = await open();
    expect(b.list('all').map((r) => [r.id, r.status])).toEqual([[2, 'approved']]);
    expect(readdirSync(dir).some((f) => f.startsWith(`${JOURNAL_FILE}.damaged-`))).toBe(true);
    expect(journal()).not.toContain('garbage');
    expect(logs.some((l) => l.level === 'error' && String(l.msg).includes('damaged'))).toBe(true);
    expect(await b.submit(sub('three.example'), '10.0.0.3')).toMatchObject({ ok: true, id: 3 });
    await b.close();
  });

  it('writes, then fsyncs, then acknowledges: the line is in the file when submit resolves', async () => {
    const calls: string[] = [];
    const io: JournalIo = {
      write: async (fh, data) => { calls.push(`write ${data.toString().trim().slice(0, 12)}`); await REAL_IO.write(fh, data); },
      sync: async (fh) => { calls.push('sync'); await REAL_IO.sync(fh); },
    };
    const s = await open({ io });
    const p = s.submit(sub('one.example'), '10.0.0.1').then((r) => { calls.push('resolved'); return r; });
    await p;
    await s.approve(1).then(() => calls.push('approved'));
    expect(calls).toEqual(['write {"t":"submit', 'sync', 'resolved', 'write {"t":"approv', 'sync', 'approved']);
    expect(journal().trim().split('\n')).toHaveLength(2);
    await s.close();
  });

  it('reports a failed write as STORE_FAILED, keeps nothing of it, and works again afterwards', async () => {
    let failSync = false;
    const io: JournalIo = {
      write: REAL_IO.write,
      sync: async (fh: FileHandle) => { if (failSync) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }); await REAL_IO.sync(fh); },
    };
    const s = await open({ io });
    await s.submit(sub('one.example'), '10.0.0.1');
    const good = journal();
    failSync = true;
    expect(await s.submit(sub('two.example'), '10.0.0.2')).toEqual({ ok: false, code: 'STORE_FAILED', message: expect.stringContaining('EIO') });
    await expect(s.approve(1)).rejects.toMatchObject({ code: 'STORE_FAILED' });
    expect(journal()).toBe(good); // the unacknowledged line was cut off again
    expect(s.list('all').map((r) => [r.id, r.status])).toEqual([[1, 'pending']]);
    failSync = false;
    expect(await s.submit(sub('two.example'), '10.0.0.2')).toEqual({ ok: true, id: 2, duplicate: false });
    await s.close();
    const again = await open();
    expect(again.list('all').map((r) => r.name)).toEqual(['one.example', 'two.example']);
    await again.close();
  });

  it('refuses a state directory it cannot use, with a clear error', async () => {
    const file = path.join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    await expect(open({ directory: file })).rejects.toMatchObject({ code: 'STATE_DIR_UNUSABLE', message: expect.stringContaining(`the state directory ${file} cannot be used`) });
    await expect(open({ directory: path.join(file, 'below') })).rejects.toMatchObject({ code: 'STATE_DIR_UNUSABLE', message: expect.stringContaining('cannot be created') });
    if (process.getuid?.() !== 0) {
      const ro = path.join(dir, 'ro');
      require('node:fs').mkdirSync(ro, { mode: 0o500 });
      await expect(open({ directory: ro })).rejects.toMatchObject({ code: 'STATE_DIR_UNUSABLE' });
      chmodSync(ro, 0o700);
    }
  });
});

describe('RequestStore: submissions', () => {
  it('returns the existing id for an identical pending request (same name, school and group)', async () => {
    const s = await open();
    expect(await s.submit(sub('games.example'), '10.0.0.1')).toEqual({ ok: true, id: 1, duplicate: false });
    expect(await s.submit(sub('GAMES.example.', { message: 'again' }), '10.0.0.2')).toEqual({ ok: true, id: 1, duplicate: true });
    expect(await s.submit(sub('games.example', { group: 'teachers' }), '10.0.0.2')).toEqual({ ok: true, id: 2, duplicate: false });
    expect(await s.submit(sub('games.example', { school: 'Other' }), '10.0.0.2')).toEqual({ ok: true, id: 3, duplicate: false });
    await s.reject(1);
    expect(await s.submit(sub('games.example'), '10.0.0.3')).toEqual({ ok: true, id: 4, duplicate: false }); // no longer pending
    await s.close();
  });

  it('rate-limits per source: 5 in 10 minutes, per IPv4 address and per IPv6 /64', async () => {
    const s = await open();
    for (let i = 0; i < 5; i++) expect(await s.submit(sub(`n${i}.example`), '10.0.0.1')).toMatchObject({ ok: true });
    const limited = await s.submit(sub('n5.example'), '10.0.0.1');
    expect(limited).toEqual({ ok: false, code: 'RATE_LIMITED', message: 'too many requests from this device; try again in 10 minutes' });
    expect(await s.submit(sub('n5.example'), '::ffff:10.0.0.1')).toMatchObject({ code: 'RATE_LIMITED' }); // the same device
    expect(await s.submit(sub('n5.example'), '10.0.0.2')).toMatchObject({ ok: true });
    for (let i = 0; i < 5; i++) expect(await s.submit(sub(`v6-${i}.example`), `2001:db8:1:2::${i + 1}`)).toMatchObject({ ok: true });
    expect(await s.submit(sub('v6-x.example'), '2001:db8:1:2:abcd:ef::9')).toMatchObject({ code: 'RATE_LIMITED' });
    expect(await s.submit(sub('v6-x.example'), '2001:db8:1:3::1')).toMatchObject({ ok: true });
    clock += 10 * 60_000 + 1;
    expect(await s.submit(sub('n6.example'), '10.0.0.1')).toMatchObject({ ok: true });
    await s.close();
  });

  it('keys sources by IPv4 address and IPv6 /64', () => {
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('2001:DB8:0:0:1:2:3:4')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
  });

  it('forgets the oldest sources beyond maxSources, so the limiter stays small', async () => {
    const s = await open({ limits: { maxSources: 3, perSourceCount: 1 } });
    for (let i = 1; i <= 5; i++) expect(await s.submit(sub(`s${i}.example`), `10.0.0.${i}`)).toMatchObject({ ok: true });
    expect(await s.submit(sub('again.example'), '10.0.0.5')).toMatchObject({ code: 'RATE_LIMITED' }); // remembered
    expect(await s.submit(sub('again.example'), '10.0.0.1')).toMatchObject({ ok: true }); // forgotten
    await s.close();
  });

  it('refuses new requests with STORE_FULL when the pending cap is reached; duplicates still answer', async () => {
    const s = await open({ limits: { maxPending: 3, perSourceCount: 100 } });
    for (let i = 0; i < 3; i++) await s.submit(sub(`n${i}.example`), '10.0.0.1');
    expect(await s.submit(sub('n3.example'), '10.0.0.1')).toMatchObject({ ok: false, code: 'STORE_FULL' });
    expect(await s.submit(sub('n0.example'), '10.0.0.1')).toEqual({ ok: true, id: 1, duplicate: true });
    await s.reject(2);
    expect(await s.submit(sub('n3.example'), '10.0.0.1')).toMatchObject({ ok: true, id: 4 });
    await s.close();
  });

  it.each([
    ['an IP address as the name', sub('192.0.2.1'), /not a domain name: IPv4/],
    ['an empty name', sub(''), /not a domain name: empty/],
    ['a name with a space', sub('bad name.example'), /whitespace/],
    ['a name that is not text', { ...sub('x.example'), name: 42 as unknown as string }, /name is missing/],
    ['an empty school', sub('x.example', { school: '' }), /school must be/],
    ['a school with a control character', sub('x.example', { school: 'A\u0007B' }), /school must be/],
    ['a too long group', sub('x.example', { group: 'g'.repeat(101) }), /group must be/],
    ['a category that is not text', sub('x.example', { category: 5 as unknown as string }), /category must be/],
    ['a message that is not text', sub('x.example', { message: {} as unknown as string }), /message must be text/],
  ])('refuses %s with INVALID', async (_what, s, re) => {
    const store = await open();
    const r = await store.submit(s, '10.0.0.1');
    expect(r).toMatchObject({ ok: false, code: 'INVALID' });
    expect((r as { message: string }).message).toMatch(re);
    expect(store.list('all')).toEqual([]);
    await store.close();
  });

  it('normalises the name (case, trailing dot, Unicode to punycode) and cleans and cuts the message', async () => {
    const s = await open();
    const msg = 'Xin chào\u202e\u0000 cô\r\n giáo ' + 'a'.repeat(600);
    await s.submit(sub('Trường.VN.', { message: msg }), '10.0.0.1');
    const [r] = s.list();
    expect(r.name).toBe('xn--trng-rib8295b.vn');
    expect(r.message.startsWith('Xin chào cô giáo aaa')).toBe(true);
    expect(Array.from(r.message)).toHaveLength(500);
    expect(r.message).not.toMatch(/[\u0000-\u001f\u202e]/);
    await s.close();
  });

  it('cleanText strips controls, bidi and zero-width characters and lone surrogates', () => {
    expect(cleanText('a\tb\nc\u0085d\u200be\u2066f\ud800g\ufeff', 100)).toBe('a b cdefg');
    expect(cleanText('  😀😀😀  ', 2)).toBe('😀😀');
  });
});

describe('RequestStore: decisions', () => {
  it('approves, rejects and revokes only from the right state, with stable error codes', async () => {
    const published: number[] = [];
    const s = await open({ onApprovals: (a) => published.push(a.size) });
    await s.submit(sub('a.example'), '10.0.0.1');
    await s.submit(sub('b.example'), '10.0.0.1');
    expect(await s.approve(1, { note: 'ok' })).toMatchObject({ status: 'approved', scope: 'school-group', note: 'ok' });
    await expect(s.approve(1)).rejects.toMatchObject({ code: 'NOT_PENDING', message: expect.stringContaining('request #1 is already approved on 2025-03-10T02:00:00.000Z') });
    await expect(s.reject(1)).rejects.toMatchObject({ code: 'NOT_PENDING' });
    await expect(s.approve(99)).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'there is no request #99' });
    await expect(s.approve(0)).rejects.toMatchObject({ code: 'INVALID' });
    await expect(s.approve(2, { scope: 'everyone' })).rejects.toMatchObject({ code: 'INVALID', message: expect.stringContaining('school-group, school, group') });
    await expect(s.reject(2, { scope: 'school' })).rejects.toMatchObject({ code: 'INVALID' });
    await expect(s.reject(2, { note: 'x'.repeat(501) })).rejects.toMatchObject({ code: 'INVALID' });
    await expect(s.revoke(2)).rejects.toMatchObject({ code: 'NOT_APPROVED' });
    expect(await s.reject(2, { note: 'games', by: 'lan' })).toMatchObject({ status: 'rejected', decidedBy: 'lan' });
    await expect(s.approve(2)).rejects.toMatchObject({ code: 'NOT_PENDING' });
    expect(s.approvals.size).toBe(1);
    expect(await s.revoke(1)).toMatchObject({ status: 'revoked', scope: 'school-group' });
    expect(s.approvals.size).toBe(0);
    await expect(s.revoke(1)).rejects.toMatchObject({ code: 'NOT_APPROVED' });
    expect(published).toEqual([0, 1, 0]); // at open, approve, revoke; not for the rejection
    expect(s.counts()).toEqual({ pending: 0, approved: 0, rejected: 1, revoked: 1 });
    await s.close();
    const again = await open();
    expect(again.list('all').map((r) => r.status)).toEqual(['revoked', 'rejected']);
    expect(again.approvals.size).toBe(0);
    await again.close();
  });

  it('decides concurrent calls one at a time: exactly one of two approvals of the same request wins', async () => {
    const s = await open();
    await s.submit(sub('a.example'), '10.0.0.1');
    const results = await Promise.allSettled([s.approve(1), s.reject(1), s.approve(1, { scope: 'group' })]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(journal().trim().split('\n')).toHaveLength(2);
    await s.close();
  });
});

describe('RequestStore: compaction', () => {
  it('rewrites the journal as a snapshot once decided requests beyond keepDecided pile up, and replays it', async () => {
    const s = await open({ limits: { keepDecided: 2, compactMinLines: 10, perSourceCount: 1000 } });
    await s.submit(sub('keep-approved.example'), '10.0.0.1');
    await s.approve(1, { scope: 'group', note: 'kept' });
    for (let i = 0; i < 10; i++) {
      const r = await s.submit(sub(`spam${i}.example`), '10.0.0.1');
      await s.reject((r as { id: number }).id);
    }
    await s.submit(sub('still-pending.example'), '10.0.0.1');
    await s.compact();
    const lines = journal().trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ t: 'meta', v: 1, nextId: 13 });
    expect(lines.slice(1).map((l) => [l.t, l.id, l.status])).toEqual([
      ['request', 1, 'approved'], ['request', 10, 'rejected'], ['request', 11, 'rejected'], ['request', 12, 'pending'],
    ]);
    expect(s.list('all').map((r) => r.id)).toEqual([1, 10, 11, 12]);
    expect(logs.some((l) => l.msg === 'review request journal compacted')).toBe(true);
    await s.submit(sub('after.example'), '10.0.0.1');
    await s.close();
    const b = await open();
    expect(b.list('all').map((r) => [r.id, r.status])).toEqual([[1, 'approved'], [10, 'rejected'], [11, 'rejected'], [12, 'pending'], [13, 'pending']]);
    expect(b.get(1)).toMatchObject({ scope: 'group', note: 'kept', decidedAt: '2025-03-10T02:00:00.000Z' });
    expect(b.approvals.match('x.keep-approved.example', 'Elsewhere', 'primary')?.id).toBe(1);
    expect(await b.submit(sub('next.example'), '10.0.0.1')).toMatchObject({ id: 14 });
    await b.close();
  });

  it('compacts on its own when the journal grows past twice what it keeps', async () => {
    const s = await open({ limits: { keepDecided: 1, compactMinLines: 8, perSourceCount: 1000 } });
    for (let i = 0; i < 8; i++) {
      const r = await s.submit(sub(`r${i}.example`), '10.0.0.1');
      await s.reject((r as { id: number }).id);
    }
    await s.close(); // waits for the queued compaction
    expect(logs.filter((l) => l.msg === 'review request journal compacted').length).toBeGreaterThanOrEqual(1);
    expect(journal().trim().split('\n').length).toBeLessThan(8);
    const b = await open();
    expect(b.list('all').length).toBeLessThanOrEqual(3);
    expect(await b.submit(sub('next.example'), '10.0.0.1')).toMatchObject({ id: 9 });
    await b.close();
  });
});
