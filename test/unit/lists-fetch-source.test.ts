// A URL source with its on-disk copy (src/lists/fetch-source.ts, fetch-copy.ts), against a real
// HTTP server on loopback: what is saved, what is sent, what serves when the host fails, and
// the sanity checks.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copyPaths, readCopyMeta, sha256 } from '../../src/lists/fetch-copy';
import { DEFAULT_URL_SETTINGS, prepareUrlSource, urlSourceText, type UrlFetchSettings } from '../../src/lists/fetch-source';
import { ListHost, plainList } from '../helpers/list-host';

describe('URL sources with an on-disk copy', () => {
  let host: ListHost;
  let dir: string;
  let settings: UrlFetchSettings;
  const ref = (p: string, format = 'plain') => ({ category: 'adult', index: 0, url: host.url(p), format });

  beforeAll(async () => {
    host = await ListHost.start();
  });
  afterAll(() => host.close());
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-copies-'));
    settings = { ...DEFAULT_URL_SETTINGS, cacheDir: path.join(dir, 'lists'), downloadTimeoutMs: 800, force: false };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('downloads, saves the copy atomically with its validators, and serves the new text', async () => {
    host.set('/a.txt', { body: plainList(10) });
    const r = await prepareUrlSource(ref('/a.txt'), settings);
    expect(r).toMatchObject({ outcome: 'updated', state: 'ok', status: 200, names: 10, bytes: plainList(10).length, code: null, error: null, saveError: null });
    expect(r.id).toBe(sha256(plainList(10)));
    const p = copyPaths(settings.cacheDir!, host.url('/a.txt'));
    expect(readFileSync(p.text, 'utf8')).toBe(plainList(10));
    const meta = await readCopyMeta(settings.cacheDir!, host.url('/a.txt'));
    expect(meta).toMatchObject({ url: host.url('/a.txt'), names: 10, size: plainList(10).length, etag: expect.stringMatching(/^"/), lastModified: expect.any(String), format: 'plain' });
    expect(readdirSync(settings.cacheDir!).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const text = await urlSourceText(host.url('/a.txt'), 'plain', settings);
    expect(text.text).toBe(plainList(10));
  });

  it('asks conditionally the second time and serves the copy on 304, with the same id', async () => {
    host.set('/b.txt', { body: plainList(8) });
    const first = await prepareUrlSource(ref('/b.txt'), settings);
    const second = await prepareUrlSource(ref('/b.txt'), settings);
    expect(second).toMatchObject({ outcome: 'not-modified', state: 'ok', status: 304, names: 8, id: first.id });
    const etag = (await readCopyMeta(settings.cacheDir!, host.url('/b.txt')))!.etag;
    expect(etag).toMatch(/^"/);
    expect(host.requestsFor('/b.txt').at(-1)!.headers['if-none-match']).toBe(etag);
    expect(host.requestsFor('/b.txt')[0]!.headers['if-none-match']).toBeUndefined();
    expect(second.copy!.checkedAt).toBeGreaterThanOrEqual(first.copy!.checkedAt);
    expect((await urlSourceText(host.url('/b.txt'), 'plain', settings)).text).toBe(plainList(8));
  });

  it.each([
    ['an error status', 'error', 'SOURCE_HTTP_STATUS'],
    ['a host that hangs', 'hang', 'SOURCE_TIMEOUT'],
    ['a reset connection', 'reset', 'SOURCE_UNREADABLE'],
    ['an endless body', 'endless', 'SOURCE_TOO_LARGE'],
  ] as const)('falls back to the saved copy on %s', async (_what, mode, code) => {
    const p = `/down-${mode}.txt`;
    host.set(p, { body: plainList(6) });
    const good = await prepareUrlSource(ref(p), settings);
    host.mode(p, mode);
    const r = await prepareUrlSource(ref(p), { ...settings, maxBytes: 100_000 });
    expect(r).toMatchObject({ outcome: 'failed', state: 'stale', code, names: 6, id: good.id });
    expect(r.error).not.toContain(host.url(p)); // the URL is in the report already
    expect(r.copy).toMatchObject({ names: 6, fetchedAt: good.copy!.fetchedAt });
    expect((await urlSourceText(host.url(p), 'plain', settings)).text).toBe(plainList(6));
  });

  it('at startup (preferCopy) serves a saved copy without asking the host, and asks when there is none', async () => {
    host.set('/p.txt', { body: plainList(7) });
    const good = await prepareUrlSource(ref('/p.txt'), settings);
    host.mode('/p.txt', 'hang');
    const asked = host.requestsFor('/p.txt').length;
    const t0 = Date.now();
    const r = await prepareUrlSource(ref('/p.txt'), { ...settings, preferCopy: true });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(r).toMatchObject({ outcome: 'saved-copy', state: 'pending', names: 7, id: good.id, status: null });
    expect(host.requestsFor('/p.txt')).toHaveLength(asked);
    expect((await urlSourceText(host.url('/p.txt'), 'plain', settings)).text).toBe(plainList(7));
    host.set('/q.txt', { body: plainList(2) });
    expect(await prepareUrlSource(ref('/q.txt'), { ...settings, preferCopy: true })).toMatchObject({ outcome: 'updated', state: 'ok' });
  });

  it('with no copy, a failure leaves nothing to serve, and the build is told why', async () => {
    host.set('/never.txt', { body: 'x', mode: 'error' });
    const r = await prepareUrlSource(ref('/never.txt'), settings);
    expect(r).toMatchObject({ outcome: 'failed', state: 'failing', names: null, id: null, copy: null, code: 'SOURCE_HTTP_STATUS' });
    await expect(urlSourceText(host.url('/never.txt'), 'plain', settings)).rejects.toMatchObject({
      code: 'SOURCE_HTTP_STATUS', message: expect.stringContaining('no saved copy'),
    });
  });

  it('refuses a list that shrank by more than half, unless forced', async () => {
    host.set('/s.txt', { body: plainList(100) });
    const good = await prepareUrlSource(ref('/s.txt'), settings);
    host.set('/s.txt', { body: plainList(49) });
    const refused = await prepareUrlSource(ref('/s.txt'), settings);
    expect(refused).toMatchObject({ outcome: 'refused', state: 'stale', status: 200, code: 'SOURCE_SHRUNK', names: 100, id: good.id });
    expect(refused.error).toMatch(/has 49 names, less than half of the 100 .*lists update --force/);
    expect((await readCopyMeta(settings.cacheDir!, host.url('/s.txt')))!.names).toBe(100);
    // Half exactly is accepted.
    host.set('/s.txt', { body: plainList(50) });
    expect(await prepareUrlSource(ref('/s.txt'), settings)).toMatchObject({ outcome: 'updated', names: 50 });
    host.set('/s.txt', { body: plainList(3) });
    const forced = await prepareUrlSource(ref('/s.txt'), { ...settings, force: true });
    expect(forced).toMatchObject({ outcome: 'updated', state: 'ok', names: 3 });
    expect((await readCopyMeta(settings.cacheDir!, host.url('/s.txt')))!.names).toBe(3);
  });

  it('refuses an error page served with status 200 as a list', async () => {
    host.set('/page.txt', { body: plainList(20) });
    await prepareUrlSource(ref('/page.txt'), settings);
    host.set('/page.txt', { body: '<html><head><title>Maintenance</title></head>\n<body>\n<p>Back soon, sorry!</p>\n</body></html>\n' });
    const r = await prepareUrlSource(ref('/page.txt'), settings);
    expect(r).toMatchObject({ outcome: 'refused', state: 'stale', code: 'SOURCE_NOT_A_LIST', names: 20 });
  });

  it('accepts a gzip-encoded list and saves it unpacked', async () => {
    host.set('/g.txt', { body: plainList(500), gzip: true });
    const r = await prepareUrlSource(ref('/g.txt'), settings);
    expect(r).toMatchObject({ outcome: 'updated', names: 500, bytes: plainList(500).length });
    expect(r.wireBytes).toBeLessThan(plainList(500).length);
    expect(readFileSync(copyPaths(settings.cacheDir!, host.url('/g.txt')).text, 'utf8')).toBe(plainList(500));
  });

  it('ignores a copy whose metadata is damaged or does not match its text, and asks unconditionally', async () => {
    host.set('/m.txt', { body: plainList(4) });
    await prepareUrlSource(ref('/m.txt'), settings);
    const p = copyPaths(settings.cacheDir!, host.url('/m.txt'));
    writeFileSync(p.text, plainList(5)); // a crash between the two renames: new text, old metadata
    expect(await readCopyMeta(settings.cacheDir!, host.url('/m.txt'))).toBeNull();
    const r = await prepareUrlSource(ref('/m.txt'), settings);
    expect(r.outcome).toBe('updated');
    expect(host.requestsFor('/m.txt').at(-1)!.headers['if-none-match']).toBeUndefined();
    writeFileSync(p.meta, '{ not json');
    expect(await readCopyMeta(settings.cacheDir!, host.url('/m.txt'))).toBeNull();
    rmSync(p.text);
    expect(existsSync(p.text)).toBe(false);
    expect(await readCopyMeta(settings.cacheDir!, host.url('/m.txt'))).toBeNull();
  });

  it('keeps no copy without a directory, and still serves a good download', async () => {
    host.set('/n.txt', { body: plainList(3) });
    const noDir = { ...settings, cacheDir: null };
    expect(await prepareUrlSource(ref('/n.txt'), noDir)).toMatchObject({ outcome: 'updated', names: 3, copy: null });
    expect((await urlSourceText(host.url('/n.txt'), 'plain', noDir)).text).toBe(plainList(3));
    expect(host.requestsFor('/n.txt').every((r) => r.headers['if-none-match'] === undefined)).toBe(true);
  });

  it('a good download that cannot be saved still serves, and says so', async () => {
    host.set('/ro.txt', { body: plainList(2) });
    writeFileSync(path.join(dir, 'not-a-dir'), 'x');
    const r = await prepareUrlSource(ref('/ro.txt'), { ...settings, cacheDir: path.join(dir, 'not-a-dir', 'lists') });
    expect(r).toMatchObject({ outcome: 'updated', state: 'ok', names: 2 });
    expect(r.saveError).toMatch(/ENOTDIR|EEXIST/);
  });
});
