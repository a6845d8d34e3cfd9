// Metrics labelled by the policy (queries by school and group, blocks by school, group and
// category), durations by how a query was answered, and what a policy reload does to those
// series: the new policy's series appear at zero, removed schools/groups/categories go.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { filterLink } from '../../src/chain/filter-link';
import { metricsLink } from '../../src/chain/metrics-link';
import { UNKNOWN_CLIENT } from '../../src/chain/types';
import { FilterManager } from '../../src/filter/manager';
import { SchoolFilter } from '../../src/filter/school-filter';
import { stopBuilder } from '../../src/lists/build';
import { createLogger } from '../../src/log/logger';
import { Metrics, Transport } from '../../src/metrics/metrics';
import { policyLabels, SchoolSeries } from '../../src/metrics/school-series';
import { parsePolicy } from '../../src/policy/load';
import { compilePolicy } from '../../src/policy/policy';
import { emptyReply } from '../../src/dns/reply';
import { promValue } from '../helpers/client';
import { ctxFor, fakeNext } from '../helpers/context';
import { query } from '../helpers/packets';

const silent = () => createLogger({ level: 'error', format: 'json', stream: new Writable({ write(_c, _e, cb) { cb(); } }) });
const text = (m: Metrics): Promise<string> => m.registry.metrics();
/** Every series of one metric in the exposition text, as label objects with their value. */
function series(exposition: string, name: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of exposition.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

const POLICY_YAML = (schools: string, extraGroups = ''): string => `
categories:
  adult: { sources: [adult.txt] }
  games: { sources: [games.txt] }
  edu: { sources: [edu.txt] }
groups:
  kids:
    block: [adult]
    deny: [denied.example]
    schedules: [{ categories: [games], days: [mon], from: "08:00", to: "11:00" }]
  teachers:
    block: [adult]
  garden:
    mode: allow-only
    allowCategories: [edu]
${extraGroups}
schools:
${schools}
defaultGroup: garden
`;

const TWO_SCHOOLS = `
  - name: North
    networks:
      - { cidr: 10.1.1.0/24, group: kids }
      - { cidr: 10.1.2.0/24, group: teachers }
  - name: South "B" \\ Trường
    networks:
      - { cidr: 10.2.1.0/24, group: kids }
listeners:
  - { address: 10.9.0.53, group: teachers, school: Annex }`;

describe('policyLabels', () => {
  it('lists each (school, group) the policy identifies, with the categories its group can block', () => {
    const labels = policyLabels(parsePolicy(POLICY_YAML(TWO_SCHOOLS), '/tmp/p.yaml'));
    const byPair = new Map(labels.map((l) => [`${l.school}/${l.group}`, [...l.categories].sort()]));
    expect([...byPair.keys()].sort()).toEqual(['Annex/teachers', 'North/kids', 'North/teachers', 'South "B" \\ Trường/kids', 'unknown/garden']);
    // Always blocked, scheduled, and the group's own deny names; never an allowed category.
    expect(byPair.get('North/kids')).toEqual(['adult', 'denylist', 'games']);
    expect(byPair.get('North/teachers')).toEqual(['adult']);
    // A walled garden blocks everything it does not allow under one name.
    expect(byPair.get('unknown/garden')).toEqual(['not-allowlisted']);
  });
});

describe('SchoolSeries', () => {
  const spec = parsePolicy(POLICY_YAML(TWO_SCHOOLS), '/tmp/p.yaml');

  it('counts queries per client object (school and group), and exports every pair of the policy from zero', async () => {
    const m = new Metrics([], { processMetrics: false });
    m.schools.policyChanged(policyLabels(spec));
    const policy = compilePolicy(spec);
    const north = policy.identify('10.1.1.7');
    for (let i = 0; i < 3; i++) m.schools.query(north);
    m.schools.query(policy.identify('10.2.1.9'));
    m.schools.query(policy.identify('192.0.2.1'));
    const t = await text(m);
    expect(promValue(t, 'school_dns_school_queries_total', { school: 'North', group: 'kids' })).toBe(3);
    expect(promValue(t, 'school_dns_school_queries_total', { school: 'North', group: 'teachers' })).toBe(0);
    expect(promValue(t, 'school_dns_school_queries_total', { school: 'South \\"B\\" \\\\ Trường', group: 'kids' })).toBe(1);
    expect(promValue(t, 'school_dns_school_queries_total', { school: 'unknown', group: 'garden' })).toBe(1);
    expect(series(t, 'school_dns_school_queries_total')).toHaveLength(5);
    // Blocks: one series per pair and category its group can block, all at zero.
    const blocked = series(t, 'school_dns_blocked_queries_total');
    expect(blocked).toHaveLength(3 + 1 + 3 + 1 + 1);
    expect(blocked.every((b) => b.value === 0)).toBe(true);
  });

  it('on a reload drops removed schools, groups and categories, keeps the counts of the rest, and never re-creates a removed pair', async () => {
    const m = new Metrics([], { processMetrics: false });
    m.schools.policyChanged(policyLabels(spec));
    const old = compilePolicy(spec);
    const north = old.identify('10.1.1.7');
    const south = old.identify('10.2.1.9');
    m.schools.query(north);
    m.schools.query(south);
    m.schools.blockedSeries(north, 'adult').value += 2;
    m.schools.blockedSeries(south, 'adult').value += 5;

    // South and the listener are gone; kids block edu instead of adult.
    const next = parsePolicy(POLICY_YAML(`
  - name: North
    networks:
      - { cidr: 10.1.1.0/24, group: kids }
      - { cidr: 10.1.2.0/24, group: teachers }`).replace('block: [adult]\n    deny', 'block: [edu]\n    deny'), '/tmp/p.yaml');
    m.schools.policyChanged(policyLabels(next));
    const fresh = compilePolicy(next);
    m.schools.query(fresh.identify('10.1.1.8')); // a new client object for North/kids: the same series
    // A query identified under the old policy finishing after the swap: counted nowhere.
    m.schools.query(south);
    m.schools.blockedSeries(south, 'adult').value++;

    const t = await text(m);
    expect(promValue(t, 'school_dns_school_queries_total', { school: 'North', group: 'kids' })).toBe(2);
    expect(series(t, 'school_dns_school_queries_total').map((s) => s.labels.school).sort()).toEqual(['North', 'North', 'unknown']);
    expect(t).not.toContain('South');
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'North', group: 'kids', category: 'adult' })).toBeNaN();
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'North', group: 'kids', category: 'games' })).toBe(0);
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'North', group: 'kids', category: 'edu' })).toBe(0);
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'North', group: 'teachers', category: 'adult' })).toBe(0);
  });

  it('without a policy counts whatever client the chain has (filtering off: one "unknown" series)', async () => {
    const m = new Metrics([], { processMetrics: false });
    m.schools.query(UNKNOWN_CLIENT);
    m.schools.query(UNKNOWN_CLIENT);
    expect(promValue(await text(m), 'school_dns_school_queries_total', { school: 'unknown', group: 'default' })).toBe(2);
  });

  it('remembers a bounded number of client objects', async () => {
    const s = new SchoolSeries(new Registry());
    // Distinct objects for the same pair (as successive policies hand out): the counts add up in one series.
    for (let i = 0; i < 10000; i++) s.query({ school: 'X', group: 'g' });
    expect((s as unknown as { byClient: Map<unknown, unknown> }).byClient.size).toBeLessThanOrEqual(4096);
  });
});

describe('metrics link and filter: by school, group, category and source', () => {
  const spec = parsePolicy(POLICY_YAML(TWO_SCHOOLS), '/tmp/p.yaml');

  it('times each query under how it was answered, and counts it for its school and group', async () => {
    const m = new Metrics([], { processMetrics: false, resolution: 'forwarded' });
    m.schools.policyChanged(policyLabels(spec));
    const policy = compilePolicy(spec);
    const link = metricsLink(m);
    const run = async (source: 'cache' | 'upstream' | 'blocked' | 'local' | 'error' | 'none', transport = Transport.Udp) => {
      const ctx = ctxFor(query('a.example', 'A'), transport, '10.1.2.3');
      ctx.client = policy.identify('10.1.2.3');
      await link(ctx, fakeNext(() => { ctx.source = source; return emptyReply(ctx.buf, ctx.query, source === 'error' ? 2 : 0); }).fn);
    };
    await run('cache');
    await run('cache', Transport.Tcp);
    await run('upstream');
    await run('blocked');
    await run('local');
    await run('none');
    await run('error');
    const throwing = ctxFor(query('b.example', 'A'));
    expect(() => link(throwing, fakeNext(new Error('boom')).fn)).toThrow('boom');
    const t = await text(m);
    const count = (transport: string, source: string) => promValue(t, 'school_dns_request_duration_seconds_count', { transport, source });
    expect([count('udp', 'cached'), count('tcp', 'cached'), count('udp', 'forwarded'), count('udp', 'blocked'), count('udp', 'local'), count('udp', 'error')])
      .toEqual([1, 1, 1, 1, 2, 2]);
    expect(series(t, 'school_dns_request_duration_seconds_count').map((s) => s.labels.source).filter((s) => s === 'recursive')).toEqual([]);
    expect(promValue(t, 'school_dns_school_queries_total', { school: 'North', group: 'teachers' })).toBe(7);
    expect(m.inflight).toBe(0);
  });

  it('in recursive mode labels resolved queries "recursive" and exports the authoritative-server error kinds from zero', async () => {
    const m = new Metrics([], { processMetrics: false, resolution: 'recursive' });
    m.queryStarted(Transport.Udp, 1);
    m.queryFinished(Transport.Udp, 0.2, 'upstream');
    m.recursorEvent('timeout', '');
    const t = await text(m);
    expect(promValue(t, 'school_dns_request_duration_seconds_count', { transport: 'udp', source: 'recursive' })).toBe(1);
    expect(promValue(t, 'school_dns_request_duration_seconds_bucket', { transport: 'udp', source: 'recursive', le: '0.1' })).toBe(0);
    expect(promValue(t, 'school_dns_recursor_events_total', { kind: 'timeout' })).toBe(1);
    for (const kind of ['network', 'servfail', 'lame', 'formerr', 'malformed']) expect(promValue(t, 'school_dns_recursor_events_total', { kind })).toBe(0);
  });

  it('counts blocks by school, group and category through the filter', async () => {
    const m = new Metrics([], { processMetrics: false });
    m.schools.policyChanged(policyLabels(spec));
    const policy = compilePolicy(spec);
    const { TrieBuilder } = await import('../../src/lists/trie');
    const b = new TrieBuilder();
    b.add('adult.example', policy.categories.indexOf('adult'), false);
    const state = { policy, trie: b.build(), sources: [], entriesPerCategory: [], builtAt: 0, buildMs: 0, fingerprint: 'x', policyText: '', spec };
    const filter = new SchoolFilter({ state } as unknown as FilterManager, { sinkholeIPv4: '10.9.9.9', sinkholeIPv6: null, ttl: 60 }, m);
    const ask = (name: string, client: string) => {
      const ctx = ctxFor(query(name, 'A'), Transport.Udp, client);
      ctx.client = filter.identify(client, '');
      filterLink(filter)(ctx, fakeNext(() => Buffer.from('resolved')).fn);
      return ctx.source;
    };
    expect(ask('adult.example', '10.1.1.5')).toBe('blocked');
    expect(ask('www.adult.example', '10.1.1.6')).toBe('blocked');
    expect(ask('adult.example', '10.2.1.5')).toBe('blocked');
    expect(ask('adult.example', '10.1.2.5')).toBe('blocked');
    expect(ask('anything.example', '192.0.2.9')).toBe('blocked'); // unknown: the walled garden
    expect(ask('fine.example', '10.1.1.5')).toBe('none');
    const t = await text(m);
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'North', group: 'kids', category: 'adult' })).toBe(2);
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'South \\"B\\" \\\\ Trường', group: 'kids', category: 'adult' })).toBe(1);
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'North', group: 'teachers', category: 'adult' })).toBe(1);
    expect(promValue(t, 'school_dns_blocked_queries_total', { school: 'unknown', group: 'garden', category: 'not-allowlisted' })).toBe(1);
  });
});

describe('FilterManager metrics', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-metrics-'));
    for (const f of ['adult.txt', 'games.txt', 'edu.txt']) writeFileSync(path.join(dir, f), `${f.replace('.txt', '')}.example\n`);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  afterAll(() => stopBuilder());

  it('follows the policy on reload, and stamps the last success (unchanged counts) and the last failure', async () => {
    const file = path.join(dir, 'policy.yaml');
    writeFileSync(file, POLICY_YAML(TWO_SCHOOLS));
    const m = new Metrics([], { processMetrics: false });
    const manager = new FilterManager(file, silent(), m);
    expect((await manager.reload()).ok).toBe(true);
    let t = await text(m);
    expect(series(t, 'school_dns_school_queries_total')).toHaveLength(5);
    expect(promValue(t, 'school_dns_list_last_failure_timestamp_seconds')).toBe(0);
    const firstSuccess = promValue(t, 'school_dns_list_last_success_timestamp_seconds');
    expect(firstSuccess * 1000).toBeGreaterThan(Date.now() - 60_000);

    await new Promise((r) => setTimeout(r, 20));
    expect((await manager.reload()).changed).toBe(false);
    t = await text(m);
    expect(promValue(t, 'school_dns_list_last_success_timestamp_seconds')).toBeGreaterThan(firstSuccess);

    writeFileSync(file, 'groups: [');
    expect((await manager.reload()).ok).toBe(false);
    t = await text(m);
    const failedAt = promValue(t, 'school_dns_list_last_failure_timestamp_seconds');
    expect(failedAt).toBeGreaterThan(promValue(t, 'school_dns_list_last_success_timestamp_seconds'));
    expect(promValue(t, 'school_dns_list_reloads_total', { result: 'failed' })).toBe(1);
    expect(series(t, 'school_dns_school_queries_total')).toHaveLength(5); // a failed reload changes nothing

    // Only the schools change (the lists do not): South and the listener go.
    writeFileSync(file, POLICY_YAML(`
  - name: North
    networks:
      - { cidr: 10.1.1.0/24, group: kids }`));
    expect((await manager.reload()).ok).toBe(true);
    t = await text(m);
    expect(series(t, 'school_dns_school_queries_total').map((s) => `${s.labels.school}/${s.labels.group}`).sort()).toEqual(['North/kids', 'unknown/garden']);
    expect(promValue(t, 'school_dns_list_last_success_timestamp_seconds')).toBeGreaterThan(failedAt - 0.001);
  });
});
