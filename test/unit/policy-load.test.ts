import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkName,
  DEFAULT_TIMEZONE,
  loadPolicyFile,
  parsePolicy,
  PolicyError,
  strictestGroup,
  type PolicyProblem,
} from '../../src/policy/load';
import type { GroupSpec } from '../../src/policy/types';

const FILE = '/etc/school-dns/policy.yaml';

/** Lines joined, so that the first string is line 1. */
const y = (...lines: string[]): string => `${lines.join('\n')}\n`;

function errorFor(text: string): PolicyError {
  try {
    parsePolicy(text, FILE);
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected a PolicyError, but the policy was accepted');
}

const problemsOf = (text: string): PolicyProblem[] => [...errorFor(text).problems];

// A small valid policy; its lines are numbered in the comments.
const VALID = y(
  'timezone: Asia/Ho_Chi_Minh', // 1
  'categories:', // 2
  '  adult:', // 3
  '    description: "Adult content"', // 4
  '    sources:', // 5
  '      - ../lists/adult.txt', // 6
  '      - { path: /srv/lists/extra.hosts, format: hosts }', // 7
  '      - { url: "https://example.org/list.txt", format: adblock }', // 8
  '      - https://example.org/plain.txt', // 9
  '  games: { sources: [games.txt] }', // 10
  '  education: { sources: [edu.txt] }', // 11
  'groups:', // 12
  '  kids:', // 13
  '    description: Mầm non', // 14
  '    mode: allow-only', // 15
  '    allowCategories: [education]', // 16
  '    allow: [Example.EDU., giáodục.vn]', // 17
  '  teens:', // 18
  '    allowCategories: [education]', // 19
  '    block: [adult]', // 20
  '    deny: [bad.example]', // 21
  '    schedules:', // 22
  '      - { categories: [games], days: [mon, fri], from: "07:30", to: "16:30" }', // 23
  '      - { categories: [games], days: [sat], from: "22:00", to: "06:00" }', // 24
  'schools:', // 25
  '  - name: "Trường A"', // 26
  '    networks:', // 27
  '      - { cidr: 10.1.0.0/24, group: kids }', // 28
  '      - { cidr: "2001:DB8:1:0::/64", group: teens }', // 29
  '      - { cidr: 10.1.0.7, group: teens }', // 30
  'listeners:', // 31
  '  - { address: "10.9.0.53", group: teens, school: B }', // 32
  '  - { address: "::ffff:10.9.0.54", group: kids }', // 33
  'defaultGroup: teens', // 34
);

describe('parsePolicy: a valid policy', () => {
  const spec = parsePolicy(VALID, FILE);

  it('returns every part, names normalised and paths resolved against the file folder', () => {
    expect(spec).toEqual({
      source: FILE,
      timezone: 'Asia/Ho_Chi_Minh',
      categories: [
        {
          name: 'adult',
          description: 'Adult content',
          sources: [
            { path: '/etc/lists/adult.txt', format: 'auto' },
            { path: '/srv/lists/extra.hosts', format: 'hosts' },
            { url: 'https://example.org/list.txt', format: 'adblock' },
            { url: 'https://example.org/plain.txt', format: 'auto' },
          ],
        },
        { name: 'games', description: null, sources: [{ path: '/etc/school-dns/games.txt', format: 'auto' }] },
        { name: 'education', description: null, sources: [{ path: '/etc/school-dns/edu.txt', format: 'auto' }] },
      ],
      groups: [
        {
          name: 'kids',
          description: 'Mầm non',
          mode: 'allow-only',
          allowCategories: ['education'],
          allow: ['example.edu', 'xn--giodc-yqa4094c.vn'],
          block: [],
          deny: [],
          schedules: [],
          safeSearch: { search: false, youtube: 'off' },
        },
        {
          name: 'teens',
          description: null,
          mode: 'block-listed',
          allowCategories: ['education'],
          allow: [],
          block: ['adult'],
          deny: ['bad.example'],
          schedules: [
            { categories: ['games'], days: ['mon', 'fri'], from: 450, to: 990 },
            { categories: ['games'], days: ['sat'], from: 1320, to: 360 },
          ],
          safeSearch: { search: false, youtube: 'off' },
        },
      ],
      schools: [
        {
          name: 'Trường A',
          networks: [
            { cidr: '10.1.0.0/24', group: 'kids' },
            { cidr: '2001:db8:1::/64', group: 'teens' },
            { cidr: '10.1.0.7/32', group: 'teens' },
          ],
        },
      ],
      listeners: [
        { address: '10.9.0.53', group: 'teens', school: 'B' },
        { address: '10.9.0.54', group: 'kids', school: 'unknown' },
      ],
      defaultGroup: 'teens',
    });
  });

  it('is deeply frozen', () => {
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.groups[1]!.schedules[0]!.days)).toBe(true);
  });

  it('resolves relative paths against baseDir when given', () => {
    const s = parsePolicy(VALID, '<inline>', { baseDir: '/opt/p' });
    expect(s.categories[1]!.sources[0]).toEqual({ path: '/opt/p/games.txt', format: 'auto' });
  });

  it('fills in the defaults: time zone, no schools or listeners, the strictest default group', () => {
    const s = parsePolicy(y('groups:', '  a: { deny: [x.example] }', '  b: { mode: allow-only }', '  c: { mode: allow-only, allow: [y.example] }'), FILE);
    expect(s.timezone).toBe(DEFAULT_TIMEZONE);
    expect(s.categories).toEqual([]);
    expect(s.schools).toEqual([]);
    expect(s.listeners).toEqual([]);
    expect(s.defaultGroup).toBe('b');
  });

  it('takes optional keys written with nothing after them as left out', () => {
    const s = parsePolicy(
      y('timezone:', 'categories:', 'groups:', '  a:', '  b:', '    mode: allow-only', '    block:', '    deny:', '    schedules:', 'schools:', 'listeners:', '  # - { address: "10.9.0.53", group: a }', 'defaultGroup:'),
      FILE,
    );
    expect(s.timezone).toBe(DEFAULT_TIMEZONE);
    expect(s.groups.map((g) => [g.name, g.mode, g.block])).toEqual([['a', 'block-listed', []], ['b', 'allow-only', []]]);
    expect(s.listeners).toEqual([]);
    expect(s.defaultGroup).toBe('b');
  });

  it('accepts a block/deny/schedules that is an empty list in an allow-only group, and "24:00"', () => {
    const s = parsePolicy(
      y(
        'categories: { g: { sources: [g.txt] } }',
        'groups:',
        '  a: { mode: allow-only, block: [], deny: [], schedules: [] }',
        '  b: { schedules: [{ categories: [g], days: [sun], from: "00:00", to: "24:00" }] }',
      ),
      FILE,
    );
    expect(s.groups[1]!.schedules[0]).toEqual({ categories: ['g'], days: ['sun'], from: 0, to: 1440 });
  });
});

describe('parsePolicy: safeSearch', () => {
  it('reads each group\'s setting; a group without one has both off', () => {
    const s = parsePolicy(
      y(
        'groups:',
        '  young: { safeSearch: { search: true, youtube: strict } }',
        '  older:',
        '    safeSearch:',
        '      search: true',
        '      youtube: moderate',
        '  adults: { safeSearch: { search: false, youtube: "off" } }',
        '  walled: { mode: allow-only, safeSearch: { search: true, youtube: strict } }',
        '  plain: {}',
        '  empty:',
        '    safeSearch:',
      ),
      FILE,
    );
    expect(s.groups.map((g) => [g.name, g.safeSearch])).toEqual([
      ['young', { search: true, youtube: 'strict' }],
      ['older', { search: true, youtube: 'moderate' }],
      ['adults', { search: false, youtube: 'off' }],
      ['walled', { search: true, youtube: 'strict' }],
      ['plain', { search: false, youtube: 'off' }],
      ['empty', { search: false, youtube: 'off' }],
    ]);
    expect(Object.isFrozen(s.groups[0]!.safeSearch)).toBe(true);
  });

  // [what, the group's line, the expected problems as "LINE key: message start"]
  const cases: [string, string, string[]][] = [
    ['a misspelt group key', '  a: { safesearch: { search: true, youtube: off } }', ['2 groups.a.safesearch: unknown key; did you mean "groups.a.safeSearch"?']],
    ['safeSearch as one word', '  a: { safeSearch: on }', ['2 groups.a.safeSearch: must be { search: true or false, youtube: off, moderate, strict } (got "on")']],
    ['safeSearch as a boolean', '  a: { safeSearch: true }', ['2 groups.a.safeSearch: must be { search: true or false, youtube: off, moderate, strict } (got true)']],
    ['a key left out', '  a: { safeSearch: { search: true } }', ['2 groups.a.safeSearch: must have "youtube"']],
    ['a misspelt key', '  a: { safeSearch: { serach: true, youtube: off } }', ['2 groups.a.safeSearch: must have "search"', '2 groups.a.safeSearch.serach: unknown key; did you mean "groups.a.safeSearch.search"?']],
    ['search written as on', '  a: { safeSearch: { search: on, youtube: off } }', ['2 groups.a.safeSearch.search: must be true (Google, Bing and DuckDuckGo give SafeSearch results) or false (got "on")']],
    ['search written as yes', '  a: { safeSearch: { search: "yes", youtube: off } }', ['2 groups.a.safeSearch.search: must be true']],
    ['a youtube level misspelt', '  a: { safeSearch: { search: true, youtube: strcit } }', ['2 groups.a.safeSearch.youtube: must be one of "off", "moderate", "strict"; did you mean "strict"? (got "strcit")']],
    ['a youtube level in capitals', '  a: { safeSearch: { search: true, youtube: Moderate } }', ['2 groups.a.safeSearch.youtube: must be one of "off", "moderate", "strict"; did you mean "moderate"? (got "Moderate")']],
    ['youtube as a boolean', '  a: { safeSearch: { search: true, youtube: true } }', ['2 groups.a.safeSearch.youtube: must be a Restricted Mode level, one of "off", "moderate", "strict", not true or false (got true)']],
    ['youtube far from any level', '  a: { safeSearch: { search: true, youtube: kids } }', ['2 groups.a.safeSearch.youtube: must be one of "off", "moderate", "strict" (got "kids")']],
    ['both wrong', '  a: { safeSearch: { search: 1, youtube: [strict] } }', ['2 groups.a.safeSearch.search: must be true', '2 groups.a.safeSearch.youtube: must be one of "off", "moderate", "strict" (got a list)']],
  ];

  it.each(cases)('reports %s with its line and key', (_name, line, expected) => {
    const got = brief(problemsOf(y('groups:', line)));
    expect(got).toHaveLength(expected.length);
    got.forEach((l, i) => expect(l.startsWith(expected[i]!) ? expected[i] : l).toBe(expected[i]));
  });

  it('reports a safeSearch problem on its own line in a block-style group', () => {
    expect(brief(problemsOf(y('groups:', '  a:', '    safeSearch:', '      search: true', '      youtube: strickt')))).toEqual([
      '5 groups.a.safeSearch.youtube: must be one of "off", "moderate", "strict"; did you mean "strict"? (got "strickt")',
    ]);
  });
});

describe('strictestGroup', () => {
  const g = (name: string, over: Partial<GroupSpec>): GroupSpec => ({
    name, description: null, mode: 'block-listed', allowCategories: [], allow: [], block: [], deny: [], schedules: [], safeSearch: { search: false, youtube: 'off' }, ...over,
  });
  it.each([
    ['the only allow-only group', [g('a', { block: ['x', 'y', 'z'] }), g('b', { mode: 'allow-only', allowCategories: ['e'] })], 'b'],
    ['the allow-only group allowing fewer categories', [g('a', { mode: 'allow-only', allowCategories: ['e', 'f'] }), g('b', { mode: 'allow-only', allowCategories: ['e'] })], 'b'],
    ['the allow-only group allowing fewer names on a tie', [g('a', { mode: 'allow-only', allow: ['p', 'q'] }), g('b', { mode: 'allow-only', allow: ['p'] })], 'b'],
    ['the first allow-only group on a full tie', [g('a', { mode: 'allow-only' }), g('b', { mode: 'allow-only' })], 'a'],
    ['the group blocking most categories', [g('a', { block: ['x'] }), g('b', { block: ['x', 'y'] }), g('c', { block: ['z'] })], 'b'],
    [
      'more scheduled categories on a tie',
      [g('a', { block: ['x'] }), g('b', { block: ['y'], schedules: [{ categories: ['s', 't'], days: ['mon'], from: 0, to: 60 }] })],
      'b',
    ],
    ['the first on a full tie', [g('a', { block: ['x'] }), g('b', { block: ['y'] })], 'a'],
  ])('%s', (_name, groups, expected) => {
    expect(strictestGroup(groups)!.name).toBe(expected);
  });
});

describe('checkName', () => {
  it.each([
    ['Example.COM', 'example.com'],
    ['example.com.', 'example.com'],
    ['giáodục.vn', 'xn--giodc-yqa4094c.vn'],
    ['xxx', 'xxx'],
    ['_dmarc.example.com', '_dmarc.example.com'],
  ])('%s -> %s', (text, name) => {
    expect(checkName(text)).toEqual({ name });
  });

  it.each([
    ['*.example.com', 'without "*."'],
    ['https://example.com/page', 'not a web address'],
    ['10.1.2.3', 'is an IP address'],
    ['bad name.com', 'not a valid domain name'],
    ['-bad.com', 'not a valid domain name'],
    ['a..b', 'not a valid domain name'],
    [`${'a'.repeat(64)}.com`, 'not a valid domain name'],
  ])('refuses %s', (text, problem) => {
    expect((checkName(text) as { problem: string }).problem).toContain(problem);
  });
});

/** The problems as "LINE key: message" strings, for compact expectations. */
const brief = (ps: readonly PolicyProblem[]): string[] => ps.map((p) => `${p.line ?? '-'} ${p.key}: ${p.message}`);

describe('parsePolicy: problems, each with its line and key', () => {
  // [what, the policy text, the expected problems as "LINE key: message start"]
  const cases: [string, string, string[]][] = [
    ['an empty file', '', ['- : the policy is empty']],
    ['only comments', y('# nothing'), ['- : the policy is empty']],
    ['not a mapping', y('- a', '- b'), ['1 : the file must hold the policy as "key: value" lines (got a list)']],
    ['no groups', y('timezone: UTC'), ['1 : must have "groups"']],
    ['groups with nothing under it', y('groups:'), ['1 groups: must be a section of groups']],
    ['groups empty', y('groups: {}'), ['1 groups: must define at least one group']],
    ['YAML syntax', y('groups:', '  a: [', 'b: 1'), ['3 : YAML syntax error']],
    ['a duplicate key', y('groups:', '  a: {}', '  a: {}'), ['3 : YAML syntax error: the same key appears twice']],
    ['an unknown top-level key, with a suggestion', y('groups: { a: {} }', 'default_group: a'), ['2 default_group: unknown key; did you mean "defaultGroup"?']],
    ['an unknown key far from any', y('groups: { a: {} }', 'colour: blue'), ['2 colour: unknown key']],
    ['an unknown group key', y('groups:', '  a:', '    allowCategory: []'), ['3 groups.a.allowCategory: unknown key; did you mean "groups.a.allowCategories"?']],
    ['an unknown category key', y('categories:', '  c:', '    source: [x.txt]', 'groups: { a: {} }'), ['2 categories.c: must have "sources"', '3 categories.c.source: unknown key; did you mean "categories.c.sources"?']],
    ['an unknown school key', y('groups: { a: {} }', 'schools:', '  - name: S', '    network: []'), ['3 schools[0]: must have "networks"', '4 schools[0].network: unknown key; did you mean "schools[0].networks"?']],
    ['a time zone that is not text', y('timezone: 7', 'groups: { a: {} }'), ['1 timezone: must be a time zone name such as "Asia/Ho_Chi_Minh" (got 7)']],
    ['an unknown time zone', y('timezone: Asia/Hanoi', 'groups: { a: {} }'), ['1 timezone: is not a time zone this system knows; use an IANA name such as "Asia/Ho_Chi_Minh" (got "Asia/Hanoi")']],
    ['categories as a list', y('categories: [adult]', 'groups: { a: {} }'), ['1 categories: must be a section of categories']],
    ['a category without sources', y('categories:', '  c: {}', 'groups: { a: {} }'), ['2 categories.c: must have "sources"']],
    ['a category with no sources', y('categories:', '  c: { sources: [] }', 'groups: { a: {} }'), ['2 categories.c.sources: must name at least one list']],
    ['sources as one string', y('categories:', '  c: { sources: x.txt }', 'groups: { a: {} }'), ['2 categories.c.sources: must be a list of list files or addresses']],
    [
      'bad sources',
      y(
        'categories:',
        '  c:',
        '    sources:',
        '      - { path: a.txt, url: "https://x.example/" }',
        '      - { format: hosts }',
        '      - { path: b.txt, format: csv }',
        '      - { url: "ftp://x.example/list" }',
        '      - { url: "https://" }',
        '      - 42',
        '      - a2.txt',
        '      - a2.txt',
        'groups: { a: {} }',
      ),
      [
        '4 categories.c.sources[0]: must have exactly one of "path" and "url"',
        '5 categories.c.sources[1]: must have exactly one of "path" and "url"',
        '6 categories.c.sources[2].format: must be one of "auto", "plain", "hosts", "adblock", "wildcard", "rpz", "dnsmasq" (got "csv")',
        '7 categories.c.sources[3].url: must be an http:// or https:// address (got "ftp://x.example/list")',
        '8 categories.c.sources[4].url: is not a valid web address (got "https://")',
        '9 categories.c.sources[5]: must be a path to a list file',
        '11 categories.c.sources[7]: is listed more than once (got "a2.txt")',
      ],
    ],
    ['a bad category name', y('categories:', '  "a b": { sources: [x.txt] }', 'groups: { a: {} }'), ['2 categories.a b: a category name must be letters, digits']],
    ['a reserved category name', y('categories:', '  denylist: { sources: [x.txt] }', 'groups: { a: {} }'), ['2 categories.denylist: "denylist" is reserved']],
    ['a bad group name', y('groups:', '  "group:x": {}'), ['2 groups.group:x: a group name must be letters, digits']],
    ['a bad mode', y('groups:', '  a: { mode: whitelist }'), ['2 groups.a.mode: must be "block-listed" or "allow-only" (got "whitelist")']],
    ['a group that is not a section', y('groups:', '  a: strict'), ['2 groups.a: must be a section of group settings']],
    [
      'unknown categories, with suggestions',
      y(
        'categories:',
        '  adult: { sources: [a.txt] }',
        '  games: { sources: [g.txt] }',
        'groups:',
        '  a:',
        '    allowCategories: [educaton]',
        '    block: [adlt, games, nonsense]',
        '    schedules:',
        '      - { categories: [Games], days: [mon], from: "08:00", to: "09:00" }',
      ),
      [
        '6 groups.a.allowCategories[0]: is not a category defined under categories: (got "educaton")',
        '7 groups.a.block[0]: is not a category defined under categories:; did you mean "adult"? (got "adlt")',
        '7 groups.a.block[2]: is not a category defined under categories: (got "nonsense")',
        '9 groups.a.schedules[0].categories[0]: is not a category defined under categories:; did you mean "games"? (got "Games")',
      ],
    ],
    ['a category list given as one name', y('categories: { adult: { sources: [a.txt] } }', 'groups:', '  a:', '    block: adult'), ['4 groups.a.block: must be a list of category names, even for one: [adult] (got "adult")']],
    ['a category listed twice', y('categories: { adult: { sources: [a.txt] } }', 'groups:', '  a:', '    block: [adult, adult]'), ['4 groups.a.block[1]: is listed more than once (got "adult")']],
    ['a category that is not text', y('categories: { adult: { sources: [a.txt] } }', 'groups:', '  a:', '    block: [adult, 3]'), ['4 groups.a.block[1]: must be one of category names (got 3)']],
    [
      'bad names in allow and deny',
      y('groups:', '  a:', '    allow: ["*.example.com", "https://x.example/"]', '    deny: [10.1.2.3, "b c", ok.example, OK.example.]'),
      [
        '3 groups.a.allow[0]: must be a plain domain name: a name covers its subdomains already, so write it without "*." (got "*.example.com")',
        '3 groups.a.allow[1]: must be a domain name, not a web address',
        '4 groups.a.deny[0]: is an IP address; the filter works on names (got "10.1.2.3")',
        '4 groups.a.deny[1]: is not a valid domain name (got "b c")',
        '4 groups.a.deny[3]: is listed more than once (got "OK.example.")',
      ],
    ],
    [
      'block, deny and schedules in an allow-only group',
      y(
        'categories: { adult: { sources: [a.txt] } }',
        'groups:',
        '  a:',
        '    mode: allow-only',
        '    block: [adult]',
        '    deny: [x.example]',
        '    schedules: [{ categories: [adult], days: [mon], from: "08:00", to: "09:00" }]',
      ),
      [
        '5 groups.a.block: has no effect in an allow-only group',
        '6 groups.a.deny: has no effect in an allow-only group',
        '7 groups.a.schedules: has no effect in an allow-only group',
      ],
    ],
    [
      'allowed and blocked at once',
      y(
        'categories: { edu: { sources: [e.txt] }, games: { sources: [g.txt] } }',
        'groups:',
        '  a:',
        '    allowCategories: [edu]',
        '    block: [edu, games]',
        '    allow: [x.example]',
        '    deny: [x.example]',
        '    schedules:',
        '      - { categories: [edu], days: [mon], from: "08:00", to: "09:00" }',
        '      - { categories: [games], days: [mon], from: "08:00", to: "09:00" }',
      ),
      [
        '5 groups.a.block: "edu" is also in allowCategories, and allowing wins: it would never be blocked',
        '7 groups.a.deny: "x.example" is also in allow, and allowing wins: it would never be blocked',
        '9 groups.a.schedules[0].categories: "edu" is also in allowCategories',
        '10 groups.a.schedules[1].categories: "games" is blocked at all times by "block" already',
      ],
    ],
    [
      'bad schedules',
      y(
        'categories: { games: { sources: [g.txt] } }',
        'groups:',
        '  a:',
        '    schedules:',
        '      - { categories: [games], days: [mon], from: "25:00", to: "07:60" }',
        '      - { categories: [games], days: [mon], from: "08:00", to: "08:00" }',
        '      - { categories: [games], days: [monday, funday, Tue], from: "24:00", to: 0730 }',
        '      - { categories: [], days: [], from: 7.30, to: "9" }',
        '      - { categories: [games], days: mon, from: "08:00" }',
        '      - every weekday',
      ),
      [
        '5 groups.a.schedules[0].from: has an hour past 23 (got "25:00")',
        '5 groups.a.schedules[0].to: has minutes past 59 (got "07:60")',
        '6 groups.a.schedules[1].to: is the same time as "from"; a window needs a length',
        '7 groups.a.schedules[2].days[0]: must be a day written as three lower-case letters: "mon" (got "monday")',
        '7 groups.a.schedules[2].days[1]: must be one of mon, tue, wed, thu, fri, sat, sun (got "funday")',
        '7 groups.a.schedules[2].days[2]: must be a day written as three lower-case letters: "tue" (got "Tue")',
        '7 groups.a.schedules[2].from: "24:00" is only for "to", the end of the day; write "00:00" (got "24:00")',
        '7 groups.a.schedules[2].to: must be a time of day written "HH:MM", like "07:30" (got 730)',
        '8 groups.a.schedules[3].categories: must name at least one category (got an empty list)',
        '8 groups.a.schedules[3].days: must name at least one day (got an empty list)',
        '8 groups.a.schedules[3].from: must be a time of day written "HH:MM", like "07:30" (got 7.3)',
        '8 groups.a.schedules[3].to: must be a time of day written "HH:MM", like "07:30" (got "9")',
        '9 groups.a.schedules[4]: must have "to"',
        '9 groups.a.schedules[4].days: must be a list of days (mon, tue, wed, thu, fri, sat, sun), even for one: [mon] (got "mon")',
        '10 groups.a.schedules[5]: must be a time window',
      ],
    ],
    ['schools as a mapping', y('groups: { a: {} }', 'schools:', '  s: {}'), ['3 schools: must be a list of schools']],
    [
      'bad networks',
      y(
        'groups: { kids: {} }',
        'schools:',
        '  - name: S',
        '    networks:',
        '      - { cidr: 10.1.0.5/24, group: kids }',
        '      - { cidr: 10.1.0.0/33, group: kids }',
        '      - { cidr: 10.1.300.0/24, group: kds }',
        '      - { cidr: "fe80::/64%eth0", group: kids }',
        '      - { cidr: 10.2.0.0/16 }',
        '      - 10.3.0.0/16',
        '  - name: T',
        '    networks: []',
      ),
      [
        '5 schools[0].networks[0].cidr: is not a network address: the /24 network that holds it is 10.1.0.0/24; write that, or check the prefix length (got "10.1.0.5/24")',
        '6 schools[0].networks[1].cidr: has a bad prefix length: after "/" comes a whole number from 0 to 32 (got "10.1.0.0/33")',
        '7 schools[0].networks[2].cidr: is not an IP prefix like "10.1.0.0/24" or "2001:db8:1::/64" (got "10.1.300.0/24")',
        '7 schools[0].networks[2].group: is not a group defined under groups:; did you mean "kids"? (got "kds")',
        '8 schools[0].networks[3].cidr: must not have a zone',
        '9 schools[0].networks[4]: must have "group"',
        '10 schools[0].networks[5]: must be a network: { cidr: PREFIX, group: GROUP } (got "10.3.0.0/16")',
        '12 schools[1].networks: must list at least one network (got an empty list)',
      ],
    ],
    [
      'the same network in two schools, and twice in one (however it is written)',
      y(
        'groups: { kids: {}, teens: {} }',
        'schools:',
        '  - name: A',
        '    networks:',
        '      - { cidr: 10.1.0.0/24, group: kids }',
        '      - { cidr: "2001:db8:1::/64", group: kids }',
        '  - name: B',
        '    networks:',
        '      - { cidr: 10.1.0.0/24, group: teens }',
        '      - { cidr: "2001:0DB8:0001:0000::/64", group: teens }',
        '      - { cidr: 10.1.0.0/16, group: teens }',
        '      - { cidr: "::ffff:10.1.0.0/112", group: teens }',
      ),
      [
        '9 schools[1].networks[0].cidr: is the same network as one given at line 5 to "A"; a network can have one group (got "10.1.0.0/24")',
        '10 schools[1].networks[1].cidr: is the same network as one given at line 6 to "A"',
        '12 schools[1].networks[3].cidr: is the same network as one given at line 11 to this school',
      ],
    ],
    [
      'school names missing or repeated',
      y('groups: { a: {} }', 'schools:', '  - name: S', '    networks: [{ cidr: 10.1.0.0/24, group: a }]', '  - name: S', '    networks: [{ cidr: 10.2.0.0/24, group: a }]', '  - { name: "", networks: [{ cidr: 10.3.0.0/24, group: a }] }'),
      ['5 schools[1].name: is the name of another school too (line 3)', '7 schools[2].name: must be the name of the school (got "")'],
    ],
    [
      'bad listeners',
      y(
        'groups: { kids: {} }',
        'listeners:',
        '  - { address: "10.9.0.53", group: kids }',
        '  - { address: "::ffff:10.9.0.53", group: kids }',
        '  - { address: "10.9.0.54:53", group: kids }',
        '  - { address: "[2001:db8::53]:53", group: kids }',
        '  - { address: dns.school.example, group: kid }',
        '  - { address: "10.9.0.55", group: kids, school: 5 }',
        '  - { group: kids, port: 53 }',
      ),
      [
        '4 listeners[1].address: is listed twice (first at line 3); an address can have one group (got "::ffff:10.9.0.53")',
        '5 listeners[2].address: must be an address without a port',
        '6 listeners[3].address: must be an address without a port',
        '7 listeners[4].address: is not an IP address (got "dns.school.example")',
        '7 listeners[4].group: is not a group defined under groups:; did you mean "kids"? (got "kid")',
        '8 listeners[5].school: must be the name of the school behind this address (got 5)',
        '9 listeners[6]: must have "address"',
        '9 listeners[6].port: unknown key',
      ],
    ],
    ['an unknown default group', y('groups: { kids: {} }', 'defaultGroup: kid'), ['2 defaultGroup: is not a group defined under groups:; did you mean "kids"? (got "kid")']],
    ['a default group that is not text', y('groups: { kids: {} }', 'defaultGroup: [kids]'), ['2 defaultGroup: must be the name of a group (got a list)']],
  ];

  it.each(cases)('%s', (_name, text, expected) => {
    const got = brief(problemsOf(text));
    expect(got).toHaveLength(expected.length);
    got.forEach((line, i) => expect(line.startsWith(expected[i]!) ? expected[i] : line).toBe(expected[i]));
  });

  it('counts category bits: categories plus groups with allow names plus groups with deny names, at most 64', () => {
    const cats = (n: number): string[] => Array.from({ length: n }, (_, i) => `  c${i}: { sources: [c${i}.txt] }`);
    // 62 categories + 1 allow + 1 deny = 64: fits
    expect(() => parsePolicy(y('categories:', ...cats(62), 'groups:', '  a: { allow: [x.example], deny: [y.example] }'), FILE)).not.toThrow();
    // 62 + 2 allow + 1 deny = 65
    const over = problemsOf(y('categories:', ...cats(62), 'groups:', '  a: { allow: [x.example], deny: [y.example] }', '  b: { allow: [x.example] }'));
    expect(brief(over)).toEqual([
      '1 categories: needs 65 category bits (62 categories, 2 groups with allow names, 1 groups with deny names); at most 64 fit: merge categories, or move names from allow/deny lists into categories',
    ]);
    expect(brief(problemsOf(y('categories:', ...cats(65), 'groups: { a: {} }')))[0]).toContain('needs 65 category bits (65 categories');
  });

  it('reports every problem together, in line order, in the main configuration style', () => {
    const err = errorFor(
      y(
        'timezone: Nowhere/Special',
        'categories:',
        '  adult: { sources: [a.txt] }',
        'groups:',
        '  kids: { mode: allow-only, allowCategories: [adlt] }',
        'schools:',
        '  - { name: S, networks: [{ cidr: 10.1.0.1/24, group: kids }] }',
        'defaultGroup: nobody',
        'extra: 1',
      ),
    );
    expect(err.code).toBe('POLICY_INVALID');
    expect(err.name).toBe('PolicyError');
    expect(err.source).toBe(FILE);
    expect(err.problems.map((p) => p.line)).toEqual([1, 5, 7, 8, 9]);
    expect(err.message.split('\n')).toEqual([
      `invalid policy ${FILE} (5 problems):`,
      `${FILE}:1: key "timezone": is not a time zone this system knows; use an IANA name such as "Asia/Ho_Chi_Minh" (got "Nowhere/Special")`,
      `${FILE}:5: key "groups.kids.allowCategories[0]": is not a category defined under categories:; did you mean "adult"? (got "adlt")`,
      `${FILE}:7: key "schools[0].networks[0].cidr": is not a network address: the /24 network that holds it is 10.1.0.0/24; write that, or check the prefix length (got "10.1.0.1/24")`,
      `${FILE}:8: key "defaultGroup": is not a group defined under groups: (got "nobody")`,
      `${FILE}:9: key "extra": unknown key`,
    ]);
    expect(Object.isFrozen(err.problems)).toBe(true);
  });
});

describe('loadPolicyFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'policy-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and resolves source paths against its folder, without reading the lists', () => {
    const path = join(dir, 'p.yaml');
    writeFileSync(path, y('categories:', '  c: { sources: [../lists/missing.txt, sub/also-missing.txt] }', 'groups: { a: { block: [c] } }'));
    const spec = loadPolicyFile(path);
    expect(spec.source).toBe(path);
    expect(spec.categories[0]!.sources).toEqual([
      { path: join(dir, '..', 'lists', 'missing.txt'), format: 'auto' },
      { path: join(dir, 'sub', 'also-missing.txt'), format: 'auto' },
    ]);
  });

  it('reports a missing file as a problem of that file', () => {
    const path = join(dir, 'nope.yaml');
    let err: unknown;
    try {
      loadPolicyFile(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as PolicyError).problems).toEqual([{ line: null, key: '', message: expect.stringMatching(/^cannot read the file: ENOENT/) }]);
    expect((err as PolicyError).message).toContain(`${path}: cannot read the file: ENOENT`);
  });
});
