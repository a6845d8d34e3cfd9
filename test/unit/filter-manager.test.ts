// FilterManager: build aside, then swap; failures keep the old state; bursts coalesce.
// It builds in a real worker thread (from dist/, which `npm test` builds first).
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { FilterManager } from '../../src/filter/manager';
import { stopBuilder } from '../../src/lists/build';
import { createLogger } from '../../src/log/logger';
import { Metrics } from '../../src/metrics/metrics';

const POLICY = `
categories:
  adult: { sources: [lists/adult.txt] }
groups:
  kids: { block: [adult] }
`;

describe('FilterManager', () => {
  let dir: string;
  let lines: Record<string, unknown>[];
  let manager: FilterManager;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-manager-'));
    mkdirSync(path.join(dir, 'lists'));
    writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
    writeFileSync(path.join(dir, 'lists', 'adult.txt'), 'a.example\nb.example\n192.0.2.1\n');
    lines = [];
    const stream = new Writable({ write(c, _e, cb) { for (const l of String(c).split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
    manager = new FilterManager(path.join(dir, 'policy.yaml'), createLogger({ level: 'debug', format: 'json', stream }), new Metrics([], { processMetrics: false }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  afterAll(() => stopBuilder());

  const blocked = (name: string): boolean => {
    const m = new Int32Array(4);
    return manager.state!.trie.lookupName(name, m) && m[0] !== 0;
  };

  it('loads, reports sources with invalid lines, and skips a rebuild when nothing changed', async () => {
    const first = await manager.reload();
    expect(first).toMatchObject({ ok: true, changed: true, names: 2 });
    expect(first.sources[0]).toMatchObject({ category: 'adult', entries: 2, invalid: 1 });
    expect(first.sources[0].invalidSamples[0].line).toBe(3);
    const state = manager.state;
    const again = await manager.reload();
    expect(again.changed).toBe(false);
    expect(manager.state).toBe(state);
  });

  it('swaps in a new state when a list changes', async () => {
    await manager.reload();
    const old = manager.state;
    writeFileSync(path.join(dir, 'lists', 'adult.txt'), 'a.example\nc.example\n');
    const r = await manager.reload();
    expect(r.changed).toBe(true);
    expect(manager.state).not.toBe(old);
    expect(blocked('c.example')).toBe(true);
    expect(blocked('b.example')).toBe(false);
  });

  it('swaps in a policy change that leaves the lists alone without reading or parsing any list', async () => {
    await manager.reload();
    const old = manager.state!;
    writeFileSync(path.join(dir, 'policy.yaml'), POLICY + 'schools:\n  - name: New school\n    networks: [{ cidr: 10.9.0.0/16, group: kids }]\n');
    const r = await manager.reload();
    expect(r).toMatchObject({ ok: true, changed: true });
    expect(manager.state!.trie).toBe(old.trie); // a rebuild would have made a new trie
    expect(manager.state!.policy).not.toBe(old.policy);
    expect(manager.state!.policy.identify('10.9.1.1').school).toBe('New school');
    expect(lines.some((l) => l.msg === 'policy reloaded; lists unchanged, not rebuilt')).toBe(true);
  });

  it('keeps the old state when the policy is broken or a source disappears', async () => {
    await manager.reload();
    const old = manager.state;
    writeFileSync(path.join(dir, 'policy.yaml'), POLICY.replace('block: [adult]', 'blok: [adult]'));
    const bad = await manager.reload();
    expect(bad.ok).toBe(false);
    expect(bad.error).toContain('blok');
    expect(manager.state).toBe(old);
    writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
    unlinkSync(path.join(dir, 'lists', 'adult.txt'));
    const gone = await manager.reload();
    expect(gone.ok).toBe(false);
    expect(gone.error).toContain('adult.txt');
    expect(manager.state).toBe(old);
    expect(blocked('a.example')).toBe(true);
    expect(lines.filter((l) => l.level === 'error')).toHaveLength(2);
  });

  it('starts without an unreadable source rather than not at all, and says so', async () => {
    unlinkSync(path.join(dir, 'lists', 'adult.txt'));
    const r = await manager.reload();
    expect(r.ok).toBe(true);
    expect(r.sources[0].error).toBeTruthy();
    expect(lines.some((l) => l.level === 'error' && String(l.msg).includes('could not be read'))).toBe(true);
  });

  it('fails the first load on a broken policy', async () => {
    writeFileSync(path.join(dir, 'policy.yaml'), 'groups: [');
    const r = await manager.reload();
    expect(r.ok).toBe(false);
    expect(manager.state).toBeNull();
  });

  it('coalesces a burst of reloads into the running one plus at most one more', async () => {
    await manager.reload();
    let builds = 0;
    writeFileSync(path.join(dir, 'lists', 'adult.txt'), 'x.example\n');
    const burst = [manager.reload(), manager.reload(), manager.reload(), manager.reload()];
    const results = await Promise.all(burst);
    for (const r of results) {
      expect(r.ok).toBe(true);
      if (r.changed) builds++;
    }
    expect(burst[2]).toBe(burst[1]); // the queued follow-up is shared
    expect(burst[3]).toBe(burst[1]);
    expect(builds).toBe(1); // the follow-up finds nothing new
    expect(blocked('x.example')).toBe(true);
  });
});
