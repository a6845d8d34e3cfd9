import { join } from 'node:path';
import { loadPolicyFile, parsePolicy } from '../../src/policy/load';
import {
  compilePolicy,
  DECISION_ALLOW,
  DECISION_NOT_ALLOWLISTED,
  DECISION_PASS,
  IDENTIFY_CACHE_LIMIT,
  SAFESEARCH_SEARCH,
  SAFESEARCH_YOUTUBE_MODERATE,
  SAFESEARCH_YOUTUBE_STRICT,
  type CompiledPolicy,
} from '../../src/policy/policy';
import type { PolicySpec } from '../../src/policy/types';

/** Lines joined, so that the first string is line 1. */
const y = (...lines: string[]): string => `${lines.join('\n')}\n`;

/** The trie's masks for a name: member bits and exception bits (0..63). */
function masks(member: readonly number[], exception: readonly number[] = []): Int32Array {
  const m = new Int32Array(4);
  for (const b of member) m[b < 32 ? 0 : 1] |= 1 << (b & 31);
  for (const b of exception) m[b < 32 ? 2 : 3] |= 1 << (b & 31);
  return m;
}

// Fixed instants, never the wall clock. 2024-01-01 was a Monday; Asia/Ho_Chi_Minh is UTC+7.
const hcm = (day: number, hour: number, minute = 0): number => Date.UTC(2024, 0, day, hour - 7, minute);
const MON_0800 = hcm(1, 8);
const MON_1700 = hcm(1, 17);

const POLICY = y(
  'categories:',
  '  adult: { sources: [a.txt] }', // bit 0
  '  gambling: { sources: [g.txt] }', // bit 1
  '  social: { sources: [s.txt] }', // bit 2
  '  games: { sources: [games.txt] }', // bit 3
  '  education: { sources: [e.txt] }', // bit 4
  'groups:',
  '  preschool:',
  '    mode: allow-only',
  '    allowCategories: [education]',
  '    allow: [moet.gov.vn]', // bit 5
  '  primary:',
  '    allowCategories: [education]',
  '    allow: [good.example]', // bit 6
  '    block: [adult, gambling, social, games]',
  '    deny: [bad.example]', // bit 7
  '  lower-secondary:',
  '    block: [adult, gambling]',
  '    schedules:',
  '      - { categories: [social, games], days: [mon, tue, wed, thu, fri], from: "07:30", to: "16:30" }',
  '      - { categories: [games], days: [fri], from: "22:00", to: "06:00" }',
  '  staff:',
  '    block: [adult]',
  '    deny: [late.example]', // bit 8
  'schools:',
  '  - name: Kim Lien',
  '    networks:',
  '      - { cidr: 10.1.0.0/24, group: primary }',
  '      - { cidr: "2001:db8:1::/64", group: primary }',
  '  - name: Hoa Sen',
  '    networks:',
  '      - { cidr: 10.2.0.0/16, group: staff }',
  '      - { cidr: 10.2.1.0/24, group: preschool }',
  '      - { cidr: 10.2.2.0/24, group: primary }',
  '      - { cidr: 10.2.3.0/24, group: lower-secondary }',
  '      - { cidr: 10.2.1.10, group: staff }',
  '  - name: District',
  '    networks:',
  '      - { cidr: 10.0.0.0/8, group: staff }',
  'listeners:',
  '  - { address: "10.9.0.53", group: primary, school: Listener School }',
  '  - { address: "2001:db8:9::53", group: lower-secondary, school: Listener School }',
  '  - { address: "10.9.0.54", group: preschool }',
);

const BIT = { adult: 0, gambling: 1, social: 2, games: 3, education: 4, preschoolAllow: 5, primaryAllow: 6, primaryDeny: 7, staffDeny: 8 };

describe('compilePolicy: bits, sources and inline names', () => {
  const p = compilePolicy(parsePolicy(POLICY, '/p/policy.yaml'));

  it('numbers real categories first, then each group\'s allow and deny pseudo-categories', () => {
    expect(p.categories).toEqual([
      'adult', 'gambling', 'social', 'games', 'education',
      'group:preschool:allow', 'group:primary:allow', 'group:primary:deny', 'group:staff:deny',
    ]);
    expect(p.groups).toEqual(['preschool', 'primary', 'lower-secondary', 'staff']);
    expect(p.timezone).toBe('Asia/Ho_Chi_Minh');
    expect(p.source).toBe('/p/policy.yaml');
  });

  it('lists the sources of each real category with its bit', () => {
    expect(p.sources).toEqual([
      { bit: 0, category: 'adult', specs: [{ path: '/p/a.txt', format: 'auto' }] },
      { bit: 1, category: 'gambling', specs: [{ path: '/p/g.txt', format: 'auto' }] },
      { bit: 2, category: 'social', specs: [{ path: '/p/s.txt', format: 'auto' }] },
      { bit: 3, category: 'games', specs: [{ path: '/p/games.txt', format: 'auto' }] },
      { bit: 4, category: 'education', specs: [{ path: '/p/e.txt', format: 'auto' }] },
    ]);
  });

  it('gives the group allow and deny names with their pseudo-category bits', () => {
    expect(p.inlineNames).toEqual([
      { bit: 5, name: 'moet.gov.vn' },
      { bit: 6, name: 'good.example' },
      { bit: 7, name: 'bad.example' },
      { bit: 8, name: 'late.example' },
    ]);
  });

  it('finds groups by name', () => {
    expect(p.groupIndex('primary')).toBe(1);
    expect(p.groupIndex('nobody')).toBe(-1);
  });

  it('defaults to the strictest group (allow-only first)', () => {
    expect(p.defaultGroup).toBe('preschool');
  });
});

describe('decide', () => {
  const p = compilePolicy(parsePolicy(POLICY, '/p/policy.yaml'));
  const g = (name: string): number => p.groupIndex(name);
  const decide = (group: string, m: Int32Array, now = MON_0800): ReturnType<CompiledPolicy['describeDecision']> =>
    p.describeDecision(p.decide(g(group), m, now));

  // [what, group, member bits, exception bits, time, expected action, expected category]
  const table: [string, string, number[], number[], number, 'pass' | 'allow' | 'block', string | null][] = [
    ['a name in no list passes', 'primary', [], [], MON_0800, 'pass', null],
    ['a blocked category blocks', 'primary', [BIT.gambling], [], MON_0800, 'block', 'gambling'],
    ['the lowest bit is reported', 'primary', [BIT.games, BIT.adult], [], MON_0800, 'block', 'adult'],
    ['allow beats block: an allowed category', 'primary', [BIT.adult, BIT.education], [], MON_0800, 'allow', null],
    ['allow beats block: the group\'s allow names', 'primary', [BIT.social, BIT.primaryAllow], [], MON_0800, 'allow', null],
    ['allow beats the deny names too', 'primary', [BIT.primaryDeny, BIT.primaryAllow], [], MON_0800, 'allow', null],
    ['deny names block as "denylist"', 'primary', [BIT.primaryDeny], [], MON_0800, 'block', 'denylist'],
    ['a real category is reported before the deny list', 'primary', [BIT.primaryDeny, BIT.games], [], MON_0800, 'block', 'games'],
    ['another group\'s deny names do nothing', 'primary', [BIT.staffDeny], [], MON_0800, 'pass', null],
    ['another group\'s allow names do nothing', 'primary', [BIT.preschoolAllow, BIT.adult], [], MON_0800, 'block', 'adult'],
    ['an exception cancels its own category', 'primary', [BIT.adult], [BIT.adult], MON_0800, 'pass', null],
    ['an exception cancels only its own category', 'primary', [BIT.adult, BIT.gambling], [BIT.adult], MON_0800, 'block', 'gambling'],
    ['an exception in the allow category cancels the allow', 'primary', [BIT.adult, BIT.education], [BIT.education], MON_0800, 'block', 'adult'],
    ['an exception without membership does nothing', 'primary', [BIT.social], [BIT.adult], MON_0800, 'block', 'social'],
    ['allow-only: an allowed category', 'preschool', [BIT.education], [], MON_0800, 'allow', null],
    ['allow-only: an allowed name', 'preschool', [BIT.preschoolAllow], [], MON_0800, 'allow', null],
    ['allow-only: a name in no list', 'preschool', [], [], MON_0800, 'block', 'not-allowlisted'],
    ['allow-only: a name in a category the group does not allow', 'preschool', [BIT.games], [], MON_0800, 'block', 'not-allowlisted'],
    ['allow-only: an excepted allowed name', 'preschool', [BIT.education], [BIT.education], MON_0800, 'block', 'not-allowlisted'],
    ['schedule: social in lesson hours', 'lower-secondary', [BIT.social], [], MON_0800, 'block', 'social'],
    ['schedule: social after lessons', 'lower-secondary', [BIT.social], [], MON_1700, 'pass', null],
    ['schedule: at "from"', 'lower-secondary', [BIT.social], [], hcm(1, 7, 30), 'block', 'social'],
    ['schedule: a minute before "from"', 'lower-secondary', [BIT.social], [], hcm(1, 7, 29), 'pass', null],
    ['schedule: the last minute', 'lower-secondary', [BIT.social], [], hcm(1, 16, 29), 'block', 'social'],
    ['schedule: at "to"', 'lower-secondary', [BIT.social], [], hcm(1, 16, 30), 'pass', null],
    ['schedule: Saturday', 'lower-secondary', [BIT.games], [], hcm(6, 9), 'pass', null],
    ['schedule: always-blocked categories stay blocked outside windows', 'lower-secondary', [BIT.adult], [], hcm(6, 9), 'block', 'adult'],
    ['schedule across midnight: Friday 23:00', 'lower-secondary', [BIT.games], [], hcm(5, 23), 'block', 'games'],
    ['schedule across midnight: Saturday 05:59', 'lower-secondary', [BIT.games], [], hcm(6, 5, 59), 'block', 'games'],
    ['schedule across midnight: Saturday 06:00', 'lower-secondary', [BIT.games], [], hcm(6, 6), 'pass', null],
    ['schedule across midnight: Thursday 23:00', 'lower-secondary', [BIT.games], [], hcm(4, 23), 'pass', null],
    ['schedule across midnight: social is not in that window', 'lower-secondary', [BIT.social], [], hcm(5, 23), 'pass', null],
  ];

  it.each(table)('%s', (_name, group, member, exception, now, action, category) => {
    expect(decide(group, masks(member, exception), now)).toEqual({ action, category });
  });

  it('returns the codes: -1 pass, -2 allow, -3 not-allowlisted, else the category bit', () => {
    expect(p.decide(g('primary'), masks([]), MON_0800)).toBe(DECISION_PASS);
    expect(DECISION_PASS).toBe(-1);
    expect(p.decide(g('primary'), masks([BIT.education]), MON_0800)).toBe(DECISION_ALLOW);
    expect(DECISION_ALLOW).toBe(-2);
    expect(p.decide(g('preschool'), masks([]), MON_0800)).toBe(DECISION_NOT_ALLOWLISTED);
    expect(DECISION_NOT_ALLOWLISTED).toBe(-3);
    expect(p.decide(g('primary'), masks([BIT.games]), MON_0800)).toBe(BIT.games);
    expect(p.decide(g('primary'), masks([BIT.primaryDeny]), MON_0800)).toBe(BIT.primaryDeny);
  });

  it('describes decisions with shared objects, and refuses unknown codes', () => {
    expect(p.describeDecision(-1)).toBe(p.describeDecision(-1));
    expect(p.describeDecision(BIT.adult)).toBe(p.describeDecision(BIT.adult));
    expect(Object.isFrozen(p.describeDecision(BIT.adult))).toBe(true);
    expect(() => p.describeDecision(99)).toThrow(RangeError);
    expect(() => p.describeDecision(-4)).toThrow(RangeError);
  });

  it('treats an index that is no group\'s as the default group', () => {
    expect(p.decide(-1, masks([]), MON_0800)).toBe(DECISION_NOT_ALLOWLISTED);
    expect(p.decide(99, masks([BIT.education]), MON_0800)).toBe(DECISION_ALLOW);
  });

  it('follows time back and forth (the schedule is recomputed when the minute changes)', () => {
    const fresh = compilePolicy(parsePolicy(POLICY, '/p/policy.yaml'));
    const m = masks([BIT.social]);
    const ls = fresh.groupIndex('lower-secondary');
    const seq: [number, number][] = [
      [MON_0800, BIT.social],
      [MON_0800 + 59_999, BIT.social],
      [MON_1700, DECISION_PASS],
      [MON_0800, BIT.social],
      [hcm(1, 16, 29) + 59_999, BIT.social],
      [hcm(1, 16, 30), DECISION_PASS],
    ];
    for (const [now, code] of seq) expect(fresh.decide(ls, m, now)).toBe(code);
  });

  it('uses the policy time zone, not the machine\'s', () => {
    const text = POLICY.replace('categories:', 'timezone: America/Los_Angeles\ncategories:');
    const la = compilePolicy(parsePolicy(text, '/p/policy.yaml'));
    // Monday 08:00 in Hanoi is Sunday 17:00 in Los Angeles: no lessons there
    expect(la.decide(la.groupIndex('lower-secondary'), masks([BIT.social]), MON_0800)).toBe(DECISION_PASS);
    // Monday 08:00 in Los Angeles
    expect(la.decide(la.groupIndex('lower-secondary'), masks([BIT.social]), Date.UTC(2024, 0, 1, 16, 0))).toBe(BIT.social);
  });

  describe('bits above 31', () => {
    // 40 categories: c0..c39; the group's allow and deny names get bits 40 and 41
    const cats = Array.from({ length: 40 }, (_, i) => `  c${i}: { sources: [c${i}.txt] }`);
    const big = compilePolicy(
      parsePolicy(
        y(
          'categories:',
          ...cats,
          'groups:',
          '  a:',
          '    allowCategories: [c33]',
          '    allow: [ok.example]',
          '    block: [c31, c32, c39]',
          '    deny: [no.example]',
          '    schedules: [{ categories: [c35], days: [mon], from: "00:00", to: "24:00" }]',
        ),
        'p.yaml',
      ),
    );
    const a = big.groupIndex('a');
    it.each([
      ['bit 31 (the sign bit of the low word)', [31], [], 31],
      ['bit 32', [32], [], 32],
      ['bit 39', [39], [], 39],
      ['lowest of 32 and 39', [39, 32], [], 32],
      ['bit 31 before bit 32', [32, 31], [], 31],
      ['allowed bit 33 beats a low block', [31, 33], [], DECISION_ALLOW],
      ['an exception in the high word', [32, 39], [32], 39],
      ['the deny names (bit 41)', [41], [], 41],
      ['the allow names (bit 40) beat deny names', [41, 40], [], DECISION_ALLOW],
      ['scheduled high bit, inside the window', [35], [], 35],
      ['an unblocked high bit', [36], [], DECISION_PASS],
    ])('%s', (_name, member, exception, code) => {
      expect(big.decide(a, masks(member, exception), MON_0800)).toBe(code);
    });

    it('outside the window the scheduled high bit passes', () => {
      expect(big.decide(a, masks([35]), hcm(2, 8))).toBe(DECISION_PASS);
    });

    it('reports the names', () => {
      expect(big.categories[40]).toBe('group:a:allow');
      expect(big.describeDecision(41)).toEqual({ action: 'block', category: 'denylist' });
      expect(big.describeDecision(39)).toEqual({ action: 'block', category: 'c39' });
    });
  });

  it('uses all 64 bits', () => {
    const cats = Array.from({ length: 64 }, (_, i) => `  c${i}: { sources: [c${i}.txt] }`);
    const full = compilePolicy(parsePolicy(y('categories:', ...cats, 'groups:', '  a: { block: [c63, c0] }'), 'p.yaml'));
    expect(full.decide(0, masks([63]), MON_0800)).toBe(63);
    expect(full.decide(0, masks([63, 0]), MON_0800)).toBe(0);
    expect(full.decide(0, masks([62]), MON_0800)).toBe(DECISION_PASS);
  });
});

describe('identify', () => {
  const p = compilePolicy(parsePolicy(POLICY, '/p/policy.yaml'));

  it.each([
    ['10.1.0.20', undefined, 'Kim Lien', 'primary'],
    ['2001:db8:1::20', undefined, 'Kim Lien', 'primary'],
    ['::ffff:10.1.0.20', undefined, 'Kim Lien', 'primary'],
    ['10.2.1.20', undefined, 'Hoa Sen', 'preschool'],
    ['10.2.1.10', undefined, 'Hoa Sen', 'staff'], // a single device, longest prefix
    ['10.2.2.20', undefined, 'Hoa Sen', 'primary'],
    ['10.2.3.20', undefined, 'Hoa Sen', 'lower-secondary'],
    ['10.2.77.1', undefined, 'Hoa Sen', 'staff'], // the school's /16
    ['10.3.0.1', undefined, 'District', 'staff'], // the district's /8
    // a network match wins over the listener
    ['10.1.0.20', '10.9.0.54', 'Kim Lien', 'primary'],
    // no network: the listener the query arrived on
    ['192.0.2.1', '10.9.0.53', 'Listener School', 'primary'],
    ['192.0.2.1', '::ffff:10.9.0.53', 'Listener School', 'primary'],
    ['2001:db8:ff::1', '2001:db8:9::53', 'Listener School', 'lower-secondary'],
    ['2001:db8:ff::1', '2001:db8:9::53%eth0', 'Listener School', 'lower-secondary'],
    ['192.0.2.1', '10.9.0.54', 'unknown', 'preschool'],
    // neither: the default group
    ['192.0.2.1', '10.9.0.99', 'unknown', 'preschool'],
    ['192.0.2.1', undefined, 'unknown', 'preschool'],
    ['fe80::1%eth0', undefined, 'unknown', 'preschool'],
    ['garbage', undefined, 'unknown', 'preschool'],
  ])('%s on %s -> %s / %s', (client, local, school, group) => {
    const first = p.identify(client, local);
    expect(first).toEqual({ school, group, groupIndex: p.groupIndex(group) });
    expect(p.identify(client, local)).toBe(first); // cached, the same object
  });

  it('returns one shared, frozen object per school and group', () => {
    expect(p.identify('10.2.1.20')).toBe(p.identify('10.2.1.21'));
    expect(Object.isFrozen(p.identify('10.2.1.20'))).toBe(true);
  });

  it('stays right when its caches fill and are emptied', () => {
    const q = compilePolicy(parsePolicy(POLICY, '/p/policy.yaml'));
    for (let i = 0; i <= IDENTIFY_CACHE_LIMIT + 10; i++) {
      const addr = `172.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      q.identify(addr, i % 2 === 0 ? '10.9.0.53' : `10.8.${(i >> 8) & 255}.${i & 255}`);
    }
    expect(q.identify('10.2.3.4')).toMatchObject({ school: 'Hoa Sen', group: 'lower-secondary' });
    expect(q.identify('172.0.0.0', '10.9.0.53')).toMatchObject({ school: 'Listener School', group: 'primary' });
    expect(q.identify('172.0.0.1', '10.8.0.1')).toMatchObject({ school: 'unknown', group: 'preschool' });
  });

  it('uses an explicit defaultGroup', () => {
    const q = compilePolicy(parsePolicy(`${POLICY}defaultGroup: staff\n`, '/p/policy.yaml'));
    expect(q.defaultGroup).toBe('staff');
    expect(q.identify('192.0.2.1')).toEqual({ school: 'unknown', group: 'staff', groupIndex: 3 });
  });
});

describe('compiled SafeSearch flags', () => {
  const p = compilePolicy(parsePolicy(y(
    'groups:',
    '  a: { safeSearch: { search: true, youtube: strict } }',
    '  b: { safeSearch: { search: true, youtube: moderate } }',
    '  c: { safeSearch: { search: false, youtube: moderate } }',
    '  d: { safeSearch: { search: true, youtube: "off" } }',
    '  e: {}',
    'defaultGroup: b',
  ), '/p/policy.yaml'));

  it.each([
    ['a', SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_STRICT],
    ['b', SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_MODERATE],
    ['c', SAFESEARCH_YOUTUBE_MODERATE],
    ['d', SAFESEARCH_SEARCH],
    ['e', 0],
  ])('group %s has flags %d', (group, flags) => {
    expect(p.safeSearch(p.groupIndex(group))).toBe(flags);
  });

  it('treats an index that is no group\'s as the default group', () => {
    expect(p.safeSearch(-1)).toBe(SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_MODERATE);
    expect(p.safeSearch(99)).toBe(SAFESEARCH_SEARCH | SAFESEARCH_YOUTUBE_MODERATE);
  });
});

describe('compilePolicy on a hand-made spec', () => {
  const base: PolicySpec = {
    source: 'hand',
    timezone: 'UTC',
    categories: [{ name: 'x', description: null, sources: [{ url: 'https://example.org/x', format: 'rpz' }] }],
    groups: [{ name: 'g', description: null, mode: 'block-listed', allowCategories: [], allow: [], block: ['x'], deny: [], schedules: [], safeSearch: { search: false, youtube: 'off' } }],
    schools: [],
    listeners: [],
    defaultGroup: 'g',
  };

  it('compiles', () => {
    const p = compilePolicy(base);
    expect(p.sources).toEqual([{ bit: 0, category: 'x', specs: [{ url: 'https://example.org/x', format: 'rpz' }] }]);
    expect(p.decide(0, masks([0]), 0)).toBe(0);
  });

  it.each([
    ['an unknown category', { ...base, groups: [{ ...base.groups[0]!, block: ['y'] }] }, 'names category "y"'],
    ['an unknown default group', { ...base, defaultGroup: 'h' }, 'the default group "h"'],
    ['an unknown network group', { ...base, schools: [{ name: 's', networks: [{ cidr: '10.0.0.0/8', group: 'h' }] }] }, 'uses group "h"'],
    ['a duplicate network', { ...base, schools: [{ name: 's', networks: [{ cidr: '10.0.0.0/8', group: 'g' }, { cidr: '10.0.0.0/8', group: 'g' }] }] }, 'given twice'],
    ['no groups', { ...base, groups: [] }, 'no groups'],
  ])('throws on %s', (_name, spec, message) => {
    expect(() => compilePolicy(spec as PolicySpec)).toThrow(message);
  });
});

describe('the shipped policy (policies/school-dns-policy.yaml)', () => {
  const path = join(__dirname, '..', '..', 'policies', 'school-dns-policy.yaml');
  const spec = loadPolicyFile(path);
  const p = compilePolicy(spec);
  const lists = join(__dirname, '..', '..', 'lists');

  it('loads without reading any list, and points every category at lists/<category>.txt', () => {
    expect(spec.timezone).toBe('Asia/Ho_Chi_Minh');
    const expected = ['adult', 'gambling', 'violence', 'drugs', 'dating', 'chat', 'social', 'games', 'bypass', 'malware', 'education'];
    expect([...spec.categories.map((c) => c.name)].sort()).toEqual([...expected].sort());
    for (const s of p.sources) {
      const file = s.category === 'education' ? 'education-allow.txt' : `${s.category}.txt`;
      expect(s.specs).toEqual([{ path: join(lists, file), format: 'auto' }]);
    }
  });

  it('has the five groups, the walled garden as default', () => {
    expect(p.groups).toEqual(['preschool', 'primary', 'lower-secondary', 'staff', 'guest']);
    expect(spec.defaultGroup).toBe('preschool');
    expect(spec.groups.find((g) => g.name === 'preschool')!.mode).toBe('allow-only');
    expect(p.categories.length).toBeLessThanOrEqual(64);
  });

  const bit = (name: string): number => p.categories.indexOf(name);
  const decide = (group: string, cats: string[], now: number): ReturnType<CompiledPolicy['describeDecision']> =>
    p.describeDecision(p.decide(p.groupIndex(group), masks(cats.map(bit)), now));
  const SAT_1000 = hcm(6, 10);
  const SUN_1000 = hcm(7, 10);

  it.each([
    ['preschool', ['education'], MON_0800, 'allow', null],
    ['preschool', [], MON_0800, 'block', 'not-allowlisted'],
    ['preschool', ['games'], MON_1700, 'block', 'not-allowlisted'],
    ['primary', ['adult'], MON_0800, 'block', 'adult'],
    ['primary', ['games'], MON_1700, 'block', 'games'],
    ['primary', ['chat'], SUN_1000, 'block', 'chat'],
    ['primary', ['social', 'education'], MON_0800, 'allow', null],
    ['primary', [], MON_0800, 'pass', null],
    ['lower-secondary', ['social'], MON_0800, 'block', 'social'],
    ['lower-secondary', ['games'], SAT_1000, 'block', 'games'],
    ['lower-secondary', ['games'], MON_1700, 'pass', null],
    ['lower-secondary', ['social'], SUN_1000, 'pass', null],
    ['lower-secondary', ['chat'], MON_0800, 'pass', null],
    ['lower-secondary', ['bypass'], SUN_1000, 'block', 'bypass'],
    ['staff', ['social'], MON_0800, 'block', 'social'],
    ['staff', ['social'], MON_1700, 'pass', null],
    ['staff', ['bypass'], MON_0800, 'pass', null],
    ['staff', ['malware'], SUN_1000, 'block', 'malware'],
    ['guest', ['drugs'], MON_0800, 'block', 'drugs'],
    ['guest', ['social'], MON_0800, 'pass', null],
  ])('%s with %j at %d: %s %s', (group, cats, now, action, category) => {
    expect(decide(group, cats, now)).toEqual({ action, category });
  });

  it.each([
    ['preschool', { search: true, youtube: 'strict' }],
    ['primary', { search: true, youtube: 'strict' }],
    ['lower-secondary', { search: true, youtube: 'moderate' }],
    ['staff', { search: false, youtube: 'off' }],
    ['guest', { search: true, youtube: 'moderate' }],
  ])('gives %s SafeSearch %j', (group, safeSearch) => {
    expect(spec.groups.find((g) => g.name === group)!.safeSearch).toEqual(safeSearch);
  });

  it('blocks the bypass category for the pupils\' groups and the guests, not for staff', () => {
    for (const group of ['primary', 'lower-secondary', 'guest']) expect(decide(group, ['bypass'], MON_0800)).toEqual({ action: 'block', category: 'bypass' });
    expect(decide('staff', ['bypass'], MON_0800)).toEqual({ action: 'pass', category: null });
    expect(decide('preschool', ['bypass'], MON_0800)).toEqual({ action: 'block', category: 'not-allowlisted' });
  });

  it('identifies the example school\'s subnets', () => {
    expect(p.identify('10.2.1.5')).toMatchObject({ group: 'preschool' });
    expect(p.identify('10.2.1.10')).toMatchObject({ group: 'staff' });
    expect(p.identify('10.2.2.5')).toMatchObject({ group: 'primary' });
    expect(p.identify('10.2.5.200')).toMatchObject({ group: 'lower-secondary' });
    expect(p.identify('2001:db8:2:3::1')).toMatchObject({ group: 'lower-secondary' });
    expect(p.identify('10.2.10.5')).toMatchObject({ group: 'guest' });
    expect(p.identify('198.51.100.1')).toEqual({ school: 'unknown', group: 'preschool', groupIndex: 0 });
  });
});
