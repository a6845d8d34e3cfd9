// The `lists` config section and the refresh schedule built from it.
import { ConfigError, defaultConfig, parseConfig } from '../../src/config/load';
import { createLogger } from '../../src/log/logger';
import { ListRefresher } from '../../src/lists/fetch-refresh';

const FILE = 'school.yaml';

function problems(text: string): { line: number | null; key: string; message: string }[] {
  try {
    parseConfig(text, FILE);
  } catch (e) {
    if ((e as { code?: string }).code === 'CONFIG_INVALID') return [...(e as ConfigError).problems];
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('config: lists', () => {
  it('has defaults: daily with 10% jitter, 64 MiB, 10 s to connect, 10 min to download, 5 redirects', () => {
    expect(defaultConfig().lists).toEqual({
      refreshIntervalMs: 86_400_000, refreshJitter: 0.1, connectTimeoutMs: 10_000, downloadTimeoutMs: 600_000, maxBytes: 64 * 1024 * 1024, maxRedirects: 5,
    });
  });

  it.each([
    ['6h', 6 * 3_600_000],
    ['90m', 90 * 60_000],
    ['1d 12h', 36 * 3_600_000],
    ['1h30m', 90 * 60_000],
    ['1.5h', 90 * 60_000],
    ['120s', 120_000],
    [3600, 3_600_000],
  ])('reads refreshInterval %p', (value, ms) => {
    expect(parseConfig(`lists:\n  refreshInterval: ${typeof value === 'string' ? `"${value}"` : value}\n`, FILE).lists.refreshIntervalMs).toBe(ms);
  });

  it('turns the refresh off with null', () => {
    expect(parseConfig('lists:\n  refreshInterval: null\n', FILE).lists.refreshIntervalMs).toBeNull();
  });

  it.each([
    ['30s', 'must be from 1m to 24d'],
    ['30d', 'must be from 1m to 24d'],
    ['daily', 'must be a number of seconds, or a duration with units'],
    ['10 minutes', 'must be a number of seconds, or a duration with units'],
  ])('refuses refreshInterval %p with the line and what to write', (value, message) => {
    expect(problems(`lists:\n  refreshInterval: ${value}\n`)).toEqual([{ line: 2, key: 'lists.refreshInterval', message: expect.stringContaining(message) }]);
  });

  it('reads jitter as a fraction up to 0.5, sizes with units, and checks the rest', () => {
    const c = parseConfig('lists:\n  refreshJitter: 0.25\n  maxBytes: 8MiB\n  maxRedirects: 0\n  connectTimeoutMs: 500\n', FILE).lists;
    expect(c).toMatchObject({ refreshJitter: 0.25, maxBytes: 8 * 1024 * 1024, maxRedirects: 0, connectTimeoutMs: 500 });
    expect(problems('lists:\n  refreshJitter: 0.9\n  maxBytes: lots\n  maxRedirects: 50\n  downloadTimeoutMs: 0\n  refreshJiter: 0.1\n')).toEqual([
      { line: 2, key: 'lists.refreshJitter', message: expect.stringContaining('must be from 0 to 0.5') },
      { line: 3, key: 'lists.maxBytes', message: expect.stringContaining('like "64MiB"') },
      { line: 4, key: 'lists.maxRedirects', message: expect.stringContaining('from 0 to 20') },
      { line: 5, key: 'lists.downloadTimeoutMs', message: expect.stringContaining('from 1 to') },
      { line: 6, key: 'lists.refreshJiter', message: expect.stringContaining('did you mean "lists.refreshJitter"') },
    ]);
  });
});

describe('ListRefresher', () => {
  const log = createLogger({ level: 'error', format: 'json', stream: { write: () => true } as never });

  it('waits the interval plus or minus the jitter', () => {
    const at = (r: number): number => new ListRefresher({ intervalMs: 100_000, jitter: 0.1, hasUrlSources: () => true, reload: async () => ({ ok: true, changed: false }), log, random: () => r }).delay();
    expect(at(0)).toBe(90_000);
    expect(at(0.5)).toBe(100_000);
    expect(at(0.9999999)).toBeCloseTo(110_000, -1);
    // Many servers started together spread out over the window.
    const spread = Array.from({ length: 200 }, () => new ListRefresher({ intervalMs: 100_000, jitter: 0.1, hasUrlSources: () => true, reload: async () => ({ ok: true, changed: false }), log }).delay());
    expect(Math.min(...spread)).toBeGreaterThanOrEqual(90_000);
    expect(Math.max(...spread)).toBeLessThanOrEqual(110_000);
    expect(Math.max(...spread) - Math.min(...spread)).toBeGreaterThan(10_000);
  });

  it('reloads by itself each period while the policy has URL sources, and stops', async () => {
    let reloads = 0;
    let urls = true;
    const r = new ListRefresher({ intervalMs: 1000, jitter: 0, hasUrlSources: () => urls, reload: async () => { reloads++; return { ok: true, changed: false }; }, log });
    r.start();
    expect(r.nextAt).toBeGreaterThan(Date.now() + 900);
    await new Promise((res) => setTimeout(res, 2300));
    expect(reloads).toBe(2);
    urls = false;
    await new Promise((res) => setTimeout(res, 1000));
    expect(reloads).toBe(2); // no URL source: the tick does nothing
    r.stop();
    expect(r.nextAt).toBeNull();
  });

  it('schedules nothing when the interval is null', () => {
    const r = new ListRefresher({ intervalMs: null, jitter: 0.1, hasUrlSources: () => true, reload: async () => ({ ok: true, changed: false }), log });
    r.start();
    expect(r.nextAt).toBeNull();
  });
});
