// The filter link's policy, with a real trie and a real compiled policy, and a fake next.
import { filterLink } from '../../src/chain/filter-link';
import { answerFromMessage } from '../../src/dns/answer';
import { scanMessage } from '../../src/dns/message';
import type { FilterManager } from '../../src/filter/manager';
import { ipBytes, SchoolFilter } from '../../src/filter/school-filter';
import type { FilterState } from '../../src/filter/state';
import { TrieBuilder } from '../../src/lists/trie';
import { Metrics } from '../../src/metrics/metrics';
import { parsePolicy } from '../../src/policy/load';
import { compilePolicy } from '../../src/policy/policy';
import { ctxFor, fakeNext } from '../helpers/context';
import { decode, dnsPacket, query, rcodeOf } from '../helpers/packets';

const POLICY_YAML = `
categories:
  adult: { sources: [adult.txt] }
  games: { sources: [games.txt] }
  edu: { sources: [edu.txt] }
groups:
  kids:
    allowCategories: [edu]
    block: [adult, games]
  teachers:
    block: [adult]
  garden:
    mode: allow-only
    allowCategories: [edu]
schools:
  - name: School
    networks:
      - { cidr: 10.0.1.0/24, group: kids }
      - { cidr: 10.0.2.0/24, group: teachers }
      - { cidr: 10.0.3.0/24, group: garden }
defaultGroup: kids
`;

function stateWith(entries: [string, string, boolean?][]): FilterState {
  const spec = parsePolicy(POLICY_YAML, '/tmp/policy.yaml');
  const policy = compilePolicy(spec);
  const b = new TrieBuilder();
  for (const [name, cat, exception] of entries) b.add(name, policy.categories.indexOf(cat), exception ?? false);
  const trie = b.build();
  return { policy, trie, sources: [], entriesPerCategory: [], builtAt: 0, buildMs: 0, fingerprint: 'x', policyText: '', spec };
}

function setup(entries: [string, string, boolean?][], blocking = { sinkholeIPv4: '10.9.9.9', sinkholeIPv6: '2001:db8::9', ttl: 45 }) {
  const holder = { state: stateWith(entries) as FilterState | null };
  const metrics = new Metrics([], { processMetrics: false });
  const filter = new SchoolFilter(holder as unknown as FilterManager, blocking, metrics);
  const run = (name: string, type: string, client: string, nextReply?: () => Buffer) => {
    const ctx = ctxFor(query(name, type, { edns: true }), 0, client);
    ctx.client = filter.identify(client, '');
    const next = fakeNext(nextReply ?? (() => Buffer.from('resolved')));
    const out = filterLink(filter)(ctx, next.fn) as Buffer;
    return { out, passed: next.calls.length === 1, ctx };
  };
  return { filter, holder, metrics, run };
}

const ENTRIES: [string, string, boolean?][] = [
  ['adult.example', 'adult'], ['games.example', 'games'], ['ok.games.example', 'games', true], ['both.example', 'adult'], ['both.example', 'edu'],
];

describe('SchoolFilter', () => {
  it.each([
    ['kids', '10.0.1.5', 'www.adult.example', false],
    ['teachers', '10.0.2.5', 'www.adult.example', false],
    ['kids', '10.0.1.5', 'games.example', false],
    ['teachers', '10.0.2.5', 'games.example', true],
    ['kids: exception in the games list', '10.0.1.5', 'ok.games.example', true],
    ['kids: allowed category beats blocked', '10.0.1.5', 'both.example', true],
    ['teachers: no allowed category, so blocked', '10.0.2.5', 'both.example', false],
    ['kids: unlisted name', '10.0.1.5', 'plain.example', true],
    ['garden: unlisted name', '10.0.3.5', 'plain.example', false],
    ['garden: allowed name', '10.0.3.5', 'sub.both.example', true],
    ['unknown client: default group', '192.0.2.200', 'games.example', false],
  ])('%s asking %s for %s: passes=%s', (_d, client, name, passes) => {
    const { run } = setup(ENTRIES);
    expect(run(name as string, 'A', client as string).passed).toBe(passes);
  });

  it('answers A and AAAA with the sinkholes and other types with NODATA, echoing the question, with EDE', () => {
    const { run } = setup(ENTRIES);
    const a = decode(run('WWW.Adult.Example', 'A', '10.0.1.5').out);
    expect(a.questions[0].name).toBe('WWW.Adult.Example');
    expect(a.answers.map((x) => [x.type, x.data, x.ttl])).toEqual([['A', '10.9.9.9', 45]]);
    const opt = a.additionals.find((x) => x.type === 'OPT')!;
    const ede = opt.options!.find((o) => o.code === 15)!.data!;
    expect(ede.readUInt16BE(0)).toBe(17);
    expect(ede.subarray(2).toString()).toBe('school-dns: adult is blocked for kids');
    expect(decode(run('adult.example', 'AAAA', '10.0.1.5').out).answers.map((x) => x.data)).toEqual(['2001:db8::9']);
    const txt = run('adult.example', 'TXT', '10.0.1.5').out;
    expect(rcodeOf(txt)).toBe(0);
    expect(decode(txt).answers).toHaveLength(0);
  });

  it('answers NODATA for A when no IPv4 sinkhole is configured', () => {
    const { run } = setup(ENTRIES, { sinkholeIPv4: null as never, sinkholeIPv6: null as never, ttl: 60 });
    const out = run('adult.example', 'A', '10.0.1.5').out;
    expect(rcodeOf(out)).toBe(0);
    expect(decode(out).answers).toHaveLength(0);
  });

  it('blocks a passed answer whose CNAME target is blocked, except for a name the group explicitly allows', () => {
    const { filter } = setup(ENTRIES);
    const go = (name: string, client: string) => {
      const ctx = ctxFor(query(name, 'A'), 0, client);
      ctx.client = filter.identify(client, '');
      const next = fakeNext(() => {
        const buf = dnsPacket.encode({
          type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE,
          questions: [{ name, type: 'A', class: 'IN' }],
          answers: [{ name, type: 'CNAME', ttl: 60, data: 'cdn.games.example' }, { name: 'cdn.games.example', type: 'A', ttl: 60, data: '192.0.2.7' }],
        } as dnsPacket.Packet);
        ctx.answer = answerFromMessage(buf, scanMessage(buf), { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, Date.now());
        ctx.source = 'upstream';
        return buf;
      });
      return decode(filterLink(filter)(ctx, next.fn) as Buffer).answers.map((x) => x.data);
    };
    expect(go('tracker.example', '10.0.1.5')).toEqual(['10.9.9.9']); // kids: the games target is blocked
    expect(go('tracker.example', '10.0.2.5')).toEqual(['cdn.games.example', '192.0.2.7']); // teachers: games allowed
    expect(go('both.example', '10.0.1.5')).toEqual(['cdn.games.example', '192.0.2.7']); // an explicitly allowed name is trusted
    expect(go('both.example', '10.0.3.5')).toEqual(['cdn.games.example', '192.0.2.7']); // garden: CDN targets off the list are fine
  });

  it('counts blocks per group and category and uses the state the manager holds now', async () => {
    const { run, holder, metrics } = setup(ENTRIES);
    run('adult.example', 'A', '10.0.1.5');
    run('adult.example', 'A', '10.0.1.5');
    run('plain.example', 'A', '10.0.3.5');
    const json = await metrics.registry.getMetricsAsJSON();
    const values = json.find((m) => m.name === 'school_dns_blocked_queries_total')!.values;
    expect(values.find((v) => v.labels.group === 'kids' && v.labels.category === 'adult')!.value).toBe(2);
    expect(values.find((v) => v.labels.group === 'garden' && v.labels.category === 'not-allowlisted')!.value).toBe(1);
    holder.state = stateWith([['plain.example', 'adult']]);
    expect(run('adult.example', 'A', '10.0.1.5').passed).toBe(true);
    expect(run('plain.example', 'A', '10.0.2.5').passed).toBe(false);
    holder.state = null;
    expect(run('plain.example', 'A', '10.0.2.5').passed).toBe(true);
  });
});

describe('ipBytes', () => {
  it.each([
    ['10.9.9.9', '0a090909'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::9', '20010db8000000000000000000000009'],
    ['fd00:1:2:3:4:5:6:7', 'fd000001000200030004000500060007'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
  ])('%s', (ip, hex) => expect(ipBytes(ip).toString('hex')).toBe(hex));
});
