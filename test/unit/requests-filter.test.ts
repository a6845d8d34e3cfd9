// Approvals in the filter: the ApprovalSet's matching (name and subdomains, the three scopes),
// and the real SchoolFilter and explain() with a real trie and compiled policy letting an
// approved name through for the covered clients only, including in the CNAME recheck.
import { filterLink } from '../../src/chain/filter-link';
import { answerFromMessage } from '../../src/dns/answer';
import { scanMessage } from '../../src/dns/message';
import { explain } from '../../src/filter/explain';
import type { FilterManager } from '../../src/filter/manager';
import { SchoolFilter } from '../../src/filter/school-filter';
import type { FilterState } from '../../src/filter/state';
import { TrieBuilder } from '../../src/lists/trie';
import { Metrics } from '../../src/metrics/metrics';
import { parsePolicy } from '../../src/policy/load';
import { compilePolicy } from '../../src/policy/policy';
import { Approval, ApprovalSet } from '../../src/requests/approvals';
import { ctxFor, fakeNext } from '../helpers/context';
import { decode, dnsPacket, query } from '../helpers/packets';

const POLICY_YAML = `
categories:
  games: { sources: [games.txt] }
  video: { sources: [video.txt] }
  edu: { sources: [edu.txt] }
groups:
  kids:
    block: [games, video]
  teachers:
    block: [games]
  garden:
    mode: allow-only
    allowCategories: [edu]
schools:
  - name: North
    networks:
      - { cidr: 10.1.1.0/24, group: kids }
      - { cidr: 10.1.2.0/24, group: teachers }
      - { cidr: 10.1.3.0/24, group: garden }
  - name: South
    networks:
      - { cidr: 10.2.1.0/24, group: kids }
      - { cidr: 10.2.2.0/24, group: teachers }
defaultGroup: kids
`;
const NORTH_KIDS = '10.1.1.5';
const NORTH_TEACHERS = '10.1.2.5';
const NORTH_GARDEN = '10.1.3.5';
const SOUTH_KIDS = '10.2.1.5';
const SOUTH_TEACHERS = '10.2.2.5';
const BLOCKING = { sinkholeIPv4: '10.9.9.9', sinkholeIPv6: null, ttl: 45 };

function state(): FilterState {
  const spec = parsePolicy(POLICY_YAML, '/tmp/policy.yaml');
  const policy = compilePolicy(spec);
  const b = new TrieBuilder();
  for (const [name, cat] of [['games.example', 'games'], ['video.example', 'video'], ['cdn.video.example', 'video'], ['school-books.example', 'edu']]) {
    b.add(name, policy.categories.indexOf(cat), false);
  }
  return { policy, trie: b.build(), sources: [], entriesPerCategory: [], builtAt: 0, buildMs: 0, fingerprint: 'x', policyText: '', spec };
}

const approval = (id: number, name: string, scope: Approval['scope'], school = 'North', group = 'kids'): Approval => ({ id, name, scope, school, group });

describe('ApprovalSet', () => {
  it('covers the approved name and its subdomains, not its parent or a sibling', () => {
    const set = new ApprovalSet([approval(1, 'www.games.example', 'school-group')]);
    expect(set.match('www.games.example', 'North', 'kids')?.id).toBe(1);
    expect(set.match('a.b.www.games.example', 'North', 'kids')?.id).toBe(1);
    expect(set.match('games.example', 'North', 'kids')).toBeNull();
    expect(set.match('img.games.example', 'North', 'kids')).toBeNull();
    expect(set.match('xwww.games.example', 'North', 'kids')).toBeNull();
    expect(ApprovalSet.EMPTY.match('www.games.example', 'North', 'kids')).toBeNull();
  });

  it.each([
    ['school-group', [['North', 'kids', true], ['North', 'teachers', false], ['South', 'kids', false], ['South', 'teachers', false]]],
    ['school', [['North', 'kids', true], ['North', 'teachers', true], ['South', 'kids', false], ['South', 'teachers', false]]],
    ['group', [['North', 'kids', true], ['North', 'teachers', false], ['South', 'kids', true], ['South', 'teachers', false]]],
  ] as const)('scope %s covers exactly its clients', (scope, cases) => {
    const set = new ApprovalSet([approval(7, 'games.example', scope)]);
    for (const [school, group, covered] of cases) expect([school, group, set.match('games.example', school, group) !== null]).toEqual([school, group, covered]);
  });

  it('prefers the nearest name, then the oldest approval', () => {
    const set = new ApprovalSet([approval(9, 'games.example', 'group'), approval(4, 'games.example', 'school'), approval(12, 'play.games.example', 'group')]);
    expect(set.match('play.games.example', 'North', 'kids')?.id).toBe(12);
    expect(set.match('games.example', 'North', 'kids')?.id).toBe(4);
    expect(set.match('games.example', 'South', 'kids')?.id).toBe(9);
    expect(set.size).toBe(3);
  });
});

describe('SchoolFilter with approvals', () => {
  function setup(approvals: Approval[]) {
    const holder = { state: state(), approvals: new ApprovalSet(approvals) };
    const filter = new SchoolFilter(holder as unknown as FilterManager, BLOCKING, new Metrics([], { processMetrics: false }));
    const ask = (name: string, client: string, answers?: dnsPacket.Answer[]): string[] => {
      const ctx = ctxFor(query(name, 'A'), 0, client);
      ctx.client = filter.identify(client, '');
      const next = fakeNext(() => {
        const buf = dnsPacket.encode({
          type: 'response', id: 1, flags: dnsPacket.RECURSION_AVAILABLE, questions: [{ name, type: 'A', class: 'IN' }],
          answers: answers ?? [{ name, type: 'A', ttl: 60, data: '192.0.2.1' }],
        } as dnsPacket.Packet);
        ctx.answer = answerFromMessage(buf, scanMessage(buf), { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, Date.now());
        ctx.source = 'upstream';
        return buf;
      });
      return decode(filterLink(filter)(ctx, next.fn) as Buffer).answers.map((a) => a.data as string);
    };
    return { holder, ask };
  }

  it('passes an approved name (and its subdomains) for the covered clients only', () => {
    const { ask } = setup([approval(1, 'games.example', 'school-group')]);
    expect(ask('games.example', NORTH_KIDS)).toEqual(['192.0.2.1']);
    expect(ask('www.Games.example', NORTH_KIDS)).toEqual(['192.0.2.1']);
    expect(ask('games.example', SOUTH_KIDS)).toEqual(['10.9.9.9']);
    expect(ask('video.example', NORTH_KIDS)).toEqual(['10.9.9.9']);
  });

  it('applies school scope to every group at that school and group scope to that group at every school', () => {
    const school = setup([approval(1, 'games.example', 'school', 'North', 'kids')]);
    expect(school.ask('games.example', NORTH_TEACHERS)).toEqual(['192.0.2.1']);
    expect(school.ask('games.example', SOUTH_TEACHERS)).toEqual(['10.9.9.9']);
    const group = setup([approval(1, 'games.example', 'group', 'North', 'teachers')]);
    expect(group.ask('games.example', SOUTH_TEACHERS)).toEqual(['192.0.2.1']);
    expect(group.ask('games.example', SOUTH_KIDS)).toEqual(['10.9.9.9']);
  });

  it('opens a walled garden (allow-only group) only for an approval that covers it', () => {
    const { ask } = setup([approval(1, 'news.example', 'school-group', 'North', 'garden')]);
    expect(ask('news.example', NORTH_GARDEN)).toEqual(['192.0.2.1']);
    expect(ask('other.example', NORTH_GARDEN)).toEqual(['10.9.9.9']);
  });

  it('takes a swapped-in approval set at once, and a revoked one away', () => {
    const { ask, holder } = setup([]);
    expect(ask('games.example', NORTH_KIDS)).toEqual(['10.9.9.9']);
    holder.approvals = new ApprovalSet([approval(3, 'games.example', 'group')]);
    expect(ask('games.example', NORTH_KIDS)).toEqual(['192.0.2.1']);
    holder.approvals = ApprovalSet.EMPTY;
    expect(ask('games.example', NORTH_KIDS)).toEqual(['10.9.9.9']);
  });

  it('CNAME recheck: an approved target passes, an unapproved blocked target still blocks, an approved question name is trusted like an allowed one', () => {
    const toCdn = (name: string): dnsPacket.Answer[] => [
      { name, type: 'CNAME', ttl: 60, class: 'IN', data: 'cdn.video.example' },
      { name: 'cdn.video.example', type: 'A', ttl: 60, class: 'IN', data: '192.0.2.7' },
    ] as dnsPacket.Answer[];
    const none = setup([]);
    expect(none.ask('lesson.example', NORTH_KIDS, toCdn('lesson.example'))).toEqual(['10.9.9.9']);
    const target = setup([approval(1, 'cdn.video.example', 'school-group')]);
    expect(target.ask('lesson.example', NORTH_KIDS, toCdn('lesson.example'))).toEqual(['cdn.video.example', '192.0.2.7']);
    expect(target.ask('lesson.example', SOUTH_KIDS, toCdn('lesson.example'))).toEqual(['10.9.9.9']);
    const question = setup([approval(2, 'video.example', 'school-group')]);
    expect(question.ask('www.video.example', NORTH_KIDS, toCdn('www.video.example'))).toEqual(['cdn.video.example', '192.0.2.7']);
  });
});

describe('explain with approvals', () => {
  it('says which approved request allowed a name, and what it overrode', () => {
    const s = state();
    const set = new ApprovalSet([approval(12, 'games.example', 'school', 'North', 'kids')]);
    const e = explain(s, 'www.games.example', NORTH_TEACHERS, BLOCKING, Date.now(), set);
    expect(e).toMatchObject({
      decision: 'allow', category: null, overrode: 'games', answer: 'resolved normally',
      approvedBy: { id: 12, name: 'games.example', scope: 'school', school: 'North', group: 'kids', covers: 'every group at school "North"' },
    });
    expect(explain(s, 'www.games.example', SOUTH_TEACHERS, BLOCKING, Date.now(), set)).toMatchObject({ decision: 'block', category: 'games', approvedBy: null });
    expect(explain(s, 'plain.example', NORTH_KIDS, BLOCKING, Date.now(), set)).toMatchObject({ decision: 'pass', approvedBy: null });
    const garden = explain(s, 'news.example', NORTH_GARDEN, BLOCKING, Date.now(), new ApprovalSet([approval(3, 'news.example', 'school')]));
    expect(garden).toMatchObject({ decision: 'allow', overrode: 'not-allowlisted', approvedBy: { id: 3 } });
  });
});
