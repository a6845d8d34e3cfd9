import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  DEFAULT_SOURCE,
  defaultConfig,
  defaultStateDirectory,
  describeConfig,
  formatHostPort,
  loadConfigFile,
  parseConfig,
  parseHostPort,
} from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { DEFAULT_LIMITS, DEFAULT_PREFETCH, DEFAULT_SERVE_STALE } from '../../src/recursor/recursor';

const FILE = 'school.yaml';
const EXAMPLE = join(__dirname, '..', '..', 'config', 'school-dns.example.yaml');

/** The ConfigError thrown for this YAML text. */
function errorFor(text: string): ConfigError {
  try {
    parseConfig(text, FILE);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, but the configuration was accepted');
}

function withoutSource(c: Config): Omit<Config, 'source'> {
  const { source: _source, ...rest } = c;
  return rest;
}

/** The defaults with some sections replaced, for comparing merged results. */
const defaultsWith = (patch: (d: Omit<Config, 'source'>) => Omit<Config, 'source'>): Omit<Config, 'source'> =>
  patch(structuredClone(withoutSource(defaultConfig())) as Omit<Config, 'source'>);

describe('defaultConfig', () => {
  it('is the embedded default', () => {
    const c = defaultConfig();
    expect(c.source).toBe(DEFAULT_SOURCE);
    expect(c.source).toBe('<embedded default>');
    expect(c.server.listen).toEqual([
      { host: '127.0.0.1', port: 5353, family: 4 },
      { host: '::1', port: 5353, family: 6 },
    ]);
    expect(c.server.tcp).toEqual({ idleTimeoutMs: 10000, maxConnections: 1000, maxPipelined: 64 });
    expect(c.admin.listen).toEqual({ host: '127.0.0.1', port: 9153, family: 4 });
    expect(c.resolver).toEqual({
      mode: 'recursive',
      upstreams: [
        { host: '1.1.1.1', port: 53, family: 4 },
        { host: '9.9.9.9', port: 53, family: 4 },
        { host: '2606:4700:4700::1111', port: 53, family: 6 },
        { host: '2620:fe::fe', port: 53, family: 6 },
      ],
      rootHints: null,
      authPort: 53,
      qnameMinimisation: true,
      caseRandomisation: false,
      timeoutMs: 1500,
      attempts: 4,
      totalTimeoutMs: 5000,
      limits: { ...DEFAULT_LIMITS },
      serveStale: { enabled: true, ...DEFAULT_SERVE_STALE },
      prefetch: { enabled: true, ...DEFAULT_PREFETCH },
    });
    expect(c.cache).toEqual({ maxEntries: 100000, maxBytes: 64 * 1024 * 1024, minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 });
    expect(c.log).toEqual({ level: 'info', format: 'auto', queries: false });
  });

  it('is deeply frozen', () => {
    const c = defaultConfig();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.server.listen[0])).toBe(true);
    expect(Object.isFrozen(c.cache)).toBe(true);
  });
});

describe('parseConfig: defaults and merging', () => {
  it.each([
    ['an empty file', ''],
    ['only comments', '# nothing here\n\n# still nothing\n'],
    ['an explicit null document', '~\n'],
    ['empty sections', 'server:\nadmin:\nresolver:\ncache:\nlog:\n'],
  ])('%s gives the defaults', (_name, text) => {
    const c = parseConfig(text, FILE);
    expect(c.source).toBe(FILE);
    expect(withoutSource(c)).toEqual(withoutSource(defaultConfig()));
  });

  it('keeps the default of every key not given', () => {
    const c = parseConfig('resolver:\n  timeoutMs: 800\nlog:\n  level: debug\n', FILE);
    expect(withoutSource(c)).toEqual(
      defaultsWith((d) => ({
        ...d,
        resolver: { ...d.resolver, timeoutMs: 800 },
        log: { ...d.log, level: 'debug' },
      })),
    );
  });

  it('merges nested sections key by key', () => {
    const c = parseConfig('server:\n  tcp:\n    maxPipelined: 8\n', FILE);
    expect(c.server.tcp).toEqual({ idleTimeoutMs: 10000, maxConnections: 1000, maxPipelined: 8 });
    expect(c.server.listen).toEqual(defaultConfig().server.listen);
  });

  it('replaces a list rather than appending to it', () => {
    const c = parseConfig('resolver:\n  upstreams: ["192.0.2.1", "192.0.2.2:5353"]\n', FILE);
    expect(c.resolver.upstreams).toEqual([
      { host: '192.0.2.1', port: 53, family: 4 },
      { host: '192.0.2.2', port: 5353, family: 4 },
    ]);
  });

  it.each([['listen: null'], ['listen: ~'], ['listen:']])('admin %s disables the admin endpoint', (line) => {
    expect(parseConfig(`admin:\n  ${line}\n`, FILE).admin.listen).toBeNull();
  });

  it('uses the default port of each kind of address', () => {
    const c = parseConfig('server:\n  listen: ["10.0.0.1"]\nadmin:\n  listen: "127.0.0.2"\nresolver:\n  upstreams: ["::1"]\n', FILE);
    expect(c.server.listen[0]!.port).toBe(53);
    expect(c.admin.listen!.port).toBe(9153);
    expect(c.resolver.upstreams[0]).toEqual({ host: '::1', port: 53, family: 6 });
  });

  it('accepts a full valid configuration', () => {
    const text = [
      'server:',
      '  listen:',
      '    - "10.20.0.2:53"',
      '    - "[2001:db8::2]:53"',
      '  tcp: { idleTimeoutMs: 5000, maxConnections: 50, maxPipelined: 1 }',
      'admin:',
      '  listen: "[::1]:9999"',
      'resolver:',
      '  mode: forward',
      '  upstreams: ["10.0.0.53"]',
      '  timeoutMs: 2000',
      '  attempts: 1',
      '  totalTimeoutMs: 2000',
      'cache:',
      '  maxEntries: 1',
      '  maxBytes: 1048576',
      '  minTtl: 30',
      '  maxTtl: 30',
      '  maxNegativeTtl: 0',
      'log:',
      '  level: error',
      '  format: json',
      '  queries: true',
    ].join('\n');
    const c = parseConfig(text, FILE);
    expect(c.server.listen).toEqual([
      { host: '10.20.0.2', port: 53, family: 4 },
      { host: '2001:db8::2', port: 53, family: 6 },
    ]);
    expect(c.server.tcp).toEqual({ idleTimeoutMs: 5000, maxConnections: 50, maxPipelined: 1 });
    expect(c.admin.listen).toEqual({ host: '::1', port: 9999, family: 6 });
    expect(c.resolver).toEqual({
      mode: 'forward',
      upstreams: [{ host: '10.0.0.53', port: 53, family: 4 }],
      rootHints: null,
      authPort: 53,
      qnameMinimisation: true,
      caseRandomisation: false,
      timeoutMs: 2000,
      attempts: 1,
      totalTimeoutMs: 2000,
      limits: { ...DEFAULT_LIMITS },
      serveStale: { enabled: true, ...DEFAULT_SERVE_STALE },
      prefetch: { enabled: true, ...DEFAULT_PREFETCH },
    });
    expect(c.cache).toEqual({ maxEntries: 1, maxBytes: 1048576, minTtl: 30, maxTtl: 30, maxNegativeTtl: 0 });
    expect(c.log).toEqual({ level: 'error', format: 'json', queries: true });
  });

  it('follows YAML aliases', () => {
    const c = parseConfig('server:\n  listen: &a ["10.0.0.1"]\nresolver:\n  upstreams: *a\n', FILE);
    expect(c.resolver.upstreams).toEqual([{ host: '10.0.0.1', port: 53, family: 4 }]);
  });
});

describe('parseConfig: the result', () => {
  it('is deeply frozen', () => {
    const c = parseConfig('resolver:\n  upstreams: ["192.0.2.1"]\n', FILE);
    for (const o of [c, c.server, c.server.listen, c.server.listen[0], c.server.tcp, c.admin, c.admin.listen, c.resolver, c.resolver.upstreams, c.resolver.upstreams[0], c.cache, c.log]) {
      expect(Object.isFrozen(o)).toBe(true);
    }
    expect(() => {
      (c.cache as { maxTtl: number }).maxTtl = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.resolver.upstreams as unknown as unknown[]).push(null);
    }).toThrow(TypeError);
  });

  it('has exactly the keys of Config', () => {
    const c = parseConfig('', FILE);
    expect(Object.keys(c).sort()).toEqual(['admin', 'blockPage', 'blocking', 'cache', 'lists', 'log', 'policy', 'queryLog', 'resolver', 'server', 'source', 'state']);
    expect(Object.keys(c.blocking).sort()).toEqual(['sinkholeIPv4', 'sinkholeIPv6', 'ttl']);
    expect(Object.keys(c.server).sort()).toEqual(['listen', 'proxyProtocol', 'tcp']);
    expect(Object.keys(c.resolver).sort()).toEqual(['attempts', 'authPort', 'caseRandomisation', 'limits', 'mode', 'prefetch', 'qnameMinimisation', 'rootHints', 'serveStale', 'timeoutMs', 'totalTimeoutMs', 'upstreams']);
  });
});

describe('parseConfig: recursion', () => {
  it('takes root hints, the authoritative port and the recursion switches', () => {
    const c = parseConfig('resolver:\n  mode: recursive\n  rootHints: ["127.0.0.2", "::1"]\n  authPort: 5399\n  qnameMinimisation: false\n  caseRandomisation: true\n', FILE);
    expect(c.resolver).toMatchObject({ mode: 'recursive', rootHints: ['127.0.0.2', '::1'], authPort: 5399, qnameMinimisation: false, caseRandomisation: true });
  });
});

describe('parseConfig: policy and blocking', () => {
  it('resolves the default policy file inside the package, and a written one next to the config file', () => {
    expect(parseConfig('', FILE).policy.file).toBe(join(__dirname, '..', '..', 'policies', 'school-dns-policy.yaml'));
    expect(parseConfig('policy:\n  file: my-policy.yaml\n', '/etc/school-dns/school-dns.yaml').policy.file).toBe('/etc/school-dns/my-policy.yaml');
    expect(parseConfig('policy:\n  file: /srv/p.yaml\n', FILE).policy.file).toBe('/srv/p.yaml');
    expect(parseConfig('policy:\n  file: null\n', FILE).policy.file).toBeNull();
  });

  it('takes sinkhole addresses of the right family, or null', () => {
    const c = parseConfig('blocking:\n  sinkholeIPv4: "10.0.0.53"\n  sinkholeIPv6: "2001:DB8::53"\n  ttl: 30\n', FILE);
    expect(c.blocking).toEqual({ sinkholeIPv4: '10.0.0.53', sinkholeIPv6: '2001:db8::53', ttl: 30 });
    expect(parseConfig('blocking:\n  sinkholeIPv4: null\n', FILE).blocking.sinkholeIPv4).toBeNull();
  });

  it.each([
    ['blocking:\n  sinkholeIPv4: "2001:db8::1"\n', 2, 'blocking.sinkholeIPv4'],
    ['blocking:\n  sinkholeIPv6: "10.0.0.1"\n', 2, 'blocking.sinkholeIPv6'],
    ['blocking:\n  ttl: -5\n', 2, 'blocking.ttl'],
    ['policy:\n  file: 12\n', 2, 'policy.file'],
  ])('rejects %j', (yaml, line, key) => {
    expect(() => parseConfig(yaml, FILE)).toThrow(`${FILE}:${line}: key "${key}"`);
  });
});

describe('parseConfig: rejections', () => {
  // [what, yaml, line, key, a fragment of the message]
  const cases: [string, string, number, string, string][] = [
    // unknown keys
    ['unknown top-level key', 'servers:\n  listen: []\n', 1, 'servers', 'did you mean "server"?'],
    ['misspelt key', 'server:\n  lisen: ["127.0.0.1"]\n', 2, 'server.lisen', 'did you mean "server.listen"?'],
    ['wrong case', 'resolver:\n  timeoutms: 100\n', 2, 'resolver.timeoutms', 'did you mean "resolver.timeoutMs"?'],
    ['snake case', 'cache:\n  max_ttl: 100\n', 2, 'cache.max_ttl', 'did you mean "cache.maxTtl"?'],
    ['transposed letters', 'log:\n  levle: info\n', 2, 'log.levle', 'did you mean "log.level"?'],
    ['key in the wrong section', 'upstreams: ["1.1.1.1"]\n', 1, 'upstreams', 'did you mean "resolver.upstreams"?'],
    ['unknown key, nothing close', 'log:\n  colour: true\n', 2, 'log.colour', 'unknown key'],
    ['non-name key', 'server:\n  [a]: 1\n', 2, '', 'keys must be plain names'],
    // wrong shapes and types
    ['file is a list', '- server\n', 1, '', 'the file must hold settings'],
    ['section is a scalar', 'log: debug\n', 1, 'log', 'must be a section of settings, "key: value" lines indented below it (got "debug")'],
    ['section is a list', 'cache:\n  - 1\n', 2, 'cache', 'must be a section of settings, "key: value" lines indented below it (got a list)'],
    ['quoted integer', 'resolver:\n  timeoutMs: "1500"\n', 2, 'resolver.timeoutMs', 'written without quotes (got "1500")'],
    ['text for integer', 'resolver:\n  attempts: many\n', 2, 'resolver.attempts', 'must be a whole number, at least 1 (got "many")'],
    ['fraction for integer', 'cache:\n  maxEntries: 1.5\n', 2, 'cache.maxEntries', 'must be a whole number, at least 1 (got 1.5)'],
    ['empty value for integer', 'cache:\n  maxTtl:\n', 2, 'cache.maxTtl', '(got nothing)'],
    ['null for integer', 'cache:\n  maxTtl: null\n', 2, 'cache.maxTtl', '(got null)'],
    ['list for integer', 'server:\n  tcp:\n    maxConnections: [1]\n', 3, 'server.tcp.maxConnections', '(got a list)'],
    ['yes for boolean', 'log:\n  queries: yes\n', 2, 'log.queries', 'must be true or false; yes, no, on and off are not accepted (got "yes")'],
    ['quoted boolean', 'log:\n  queries: "true"\n', 2, 'log.queries', 'must be true or false, written in lower case without quotes (got "true")'],
    ['number for boolean', 'log:\n  queries: 1\n', 2, 'log.queries', 'must be true or false (got 1)'],
    ['string for list', 'server:\n  listen: "127.0.0.1"\n', 2, 'server.listen', 'must be a list of addresses, even for one address: ["127.0.0.1"]'],
    ['number for address', 'admin:\n  listen: 9153\n', 2, 'admin.listen', 'must be an address such as "127.0.0.1:9153" or "[::1]:9153" (got 9153)'],
    // enums
    ['log level', 'log:\n  level: verbose\n', 2, 'log.level', 'must be one of "debug", "info", "warn", "error" (got "verbose")'],
    ['log level case', 'log:\n  level: INFO\n', 2, 'log.level', '(got "INFO")'],
    ['log format', 'log:\n  format: pretty\n', 2, 'log.format', 'must be one of "auto", "json", "text" (got "pretty")'],
    ['resolver mode', 'resolver:\n  mode: iterative\n', 2, 'resolver.mode', 'must be one of "recursive", "forward" (got "iterative")'],
    ['root hints with a port', 'resolver:\n  rootHints: ["198.41.0.4:53"]\n', 2, 'resolver.rootHints', 'without a port'],
    ['root hints as one string', 'resolver:\n  rootHints: "198.41.0.4"\n', 2, 'resolver.rootHints', 'must be a list of IP addresses'],
    ['auth port', 'resolver:\n  authPort: 0\n', 2, 'resolver.authPort', 'from 1 to 65535'],
    // impossible values
    ['zero timeout', 'resolver:\n  timeoutMs: 0\n', 2, 'resolver.timeoutMs', 'must be from 1 to 2147483647 (got 0)'],
    ['negative timeout', 'server:\n  tcp:\n    idleTimeoutMs: -5\n', 3, 'server.tcp.idleTimeoutMs', '(got -5)'],
    ['timeout beyond setTimeout', 'resolver:\n  totalTimeoutMs: 2147483648\n', 2, 'resolver.totalTimeoutMs', 'must be from 1 to 2147483647'],
    ['zero attempts', 'resolver:\n  attempts: 0\n', 2, 'resolver.attempts', 'must be at least 1 (got 0)'],
    ['zero maxEntries', 'cache:\n  maxEntries: 0\n', 2, 'cache.maxEntries', 'must be at least 1 (got 0)'],
    ['zero maxPipelined', 'server:\n  tcp:\n    maxPipelined: 0\n', 3, 'server.tcp.maxPipelined', 'must be at least 1'],
    ['zero maxConnections', 'server:\n  tcp:\n    maxConnections: 0\n', 3, 'server.tcp.maxConnections', 'must be at least 1'],
    ['negative TTL', 'cache:\n  minTtl: -1\n', 2, 'cache.minTtl', 'must be from 0 to 2147483647 (got -1)'],
    ['TTL too large', 'cache:\n  maxNegativeTtl: 2147483648\n', 2, 'cache.maxNegativeTtl', 'must be from 0 to 2147483647 (got 2147483648)'],
    ['infinite TTL', 'cache:\n  maxTtl: .inf\n', 2, 'cache.maxTtl', '(got Infinity)'],
    ['total below per-try timeout', 'resolver:\n  timeoutMs: 3000\n  totalTimeoutMs: 2000\n', 3, 'resolver.totalTimeoutMs', 'must be at least resolver.timeoutMs, which is 3000 (got 2000)'],
    ['total below default per-try timeout', 'resolver:\n  totalTimeoutMs: 1000\n', 2, 'resolver.totalTimeoutMs', 'must be at least resolver.timeoutMs, which is 1500 by default (got 1000)'],
    ['per-try timeout above default total', 'resolver:\n  timeoutMs: 6000\n', 2, 'resolver.timeoutMs', 'must not be more than resolver.totalTimeoutMs, which is 5000 by default (got 6000)'],
    ['minTtl above maxTtl', 'cache:\n  maxTtl: 60\n  minTtl: 120\n', 3, 'cache.minTtl', 'must not be more than cache.maxTtl, which is 60 (got 120)'],
    ['empty upstreams', 'resolver:\n  upstreams: []\n', 2, 'resolver.upstreams', 'must list at least one address (got an empty list)'],
    ['empty listen', 'server:\n  listen: []\n', 2, 'server.listen', 'must list at least one address'],
    ['duplicate listen', 'server:\n  listen:\n    - "127.0.0.1:53"\n    - 127.0.0.1\n', 4, 'server.listen', 'lists 127.0.0.1:53 more than once (got "127.0.0.1")'],
    ['duplicate IPv6 spelled differently', 'server:\n  listen: ["[::1]:53", "[0:0::1]:53"]\n', 2, 'server.listen', 'lists [0:0::1]:53 more than once'],
    ['admin on a DNS address', 'server:\n  listen: ["127.0.0.1:8053"]\nadmin:\n  listen: "127.0.0.1:8053"\n', 4, 'admin.listen', 'is also one of the DNS addresses in server.listen'],
    ['DNS on the default admin address', 'server:\n  listen: ["127.0.0.1:9153"]\n', 2, 'server.listen', 'includes 127.0.0.1:9153, the admin endpoint\'s address by default'],
    // addresses
    ['host name', 'resolver:\n  upstreams: ["dns.google"]\n', 2, 'resolver.upstreams', 'must be an IP address, not a host name (got "dns.google")'],
    ['port zero', 'server:\n  listen: ["127.0.0.1:0"]\n', 2, 'server.listen', 'a port must be a whole number from 1 to 65535 (got "127.0.0.1:0")'],
    ['port too large', 'admin:\n  listen: "127.0.0.1:65536"\n', 2, 'admin.listen', 'from 1 to 65535 (got "127.0.0.1:65536")'],
    ['bad IPv4', 'resolver:\n  upstreams: ["1.2.3.256"]\n', 2, 'resolver.upstreams', 'is not a valid IP address'],
    ['IPv6 port without brackets', 'resolver:\n  upstreams: ["2001:db8::zz:53"]\n', 2, 'resolver.upstreams', 'is not a valid IPv6 address'],
    ['IPv4 in brackets', 'resolver:\n  upstreams: ["[1.2.3.4]:53"]\n', 2, 'resolver.upstreams', 'brackets, which are only for IPv6'],
    ['bad list item line', 'resolver:\n  upstreams:\n    - 1.1.1.1\n    - 9.9.9.9\n    - "nope"\n', 5, 'resolver.upstreams', '(got "nope")'],
    // sizes
    ['size unit unknown', 'cache:\n  maxBytes: 64MiBs\n', 2, 'cache.maxBytes', 'must have a unit, one of B, KiB, MiB, GiB, KB, MB or GB (got "64MiBs")'],
    ['size without unit in quotes', 'cache:\n  maxBytes: "1024"\n', 2, 'cache.maxBytes', 'must have a unit'],
    ['size garbage', 'cache:\n  maxBytes: lots\n', 2, 'cache.maxBytes', 'like "64MiB" (got "lots")'],
    ['size zero', 'cache:\n  maxBytes: 0\n', 2, 'cache.maxBytes', 'must be at least 1 byte (got 0)'],
    ['size fraction of a byte', 'cache:\n  maxBytes: 1.5B\n', 2, 'cache.maxBytes', 'whole number of bytes'],
    ['size fractional number', 'cache:\n  maxBytes: 10.5\n', 2, 'cache.maxBytes', 'whole number of bytes (got 10.5)'],
    ['size negative', 'cache:\n  maxBytes: -1\n', 2, 'cache.maxBytes', '(got -1)'],
    ['size huge', 'cache:\n  maxBytes: 99999999999GiB\n', 2, 'cache.maxBytes', 'must be at most'],
  ];

  it.each(cases)('%s', (_name, text, line, key, fragment) => {
    const err = errorFor(text);
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toEqual({ line, key, message: expect.stringContaining(fragment) });
    const where = `${FILE}:${line}: `;
    expect(err.message).toContain(key === '' ? where : `${where}key "${key}": `);
    expect(err.message).toContain(fragment);
  });

  it('accepts minTtl equal to maxTtl', () => {
    expect(parseConfig('cache:\n  minTtl: 0\n  maxTtl: 0\n', FILE).cache.maxTtl).toBe(0);
  });

  it('is a ConfigError with code, source and problems', () => {
    const err = errorFor('log:\n  level: loud\n');
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.source).toBe(FILE);
    expect(err.problems).toEqual([{ line: 2, key: 'log.level', message: 'must be one of "debug", "info", "warn", "error" (got "loud")' }]);
    expect(err.message).toBe(`invalid configuration ${FILE} (1 problem):\n${FILE}:2: key "log.level": must be one of "debug", "info", "warn", "error" (got "loud")`);
  });

  it('reports every problem at once, in line order', () => {
    const text = [
      'log:', //                         1
      '  level: loud', //                2
      'resolver:', //                    3
      '  attempts: 0', //                4
      '  upstreams:', //                 5
      '    - "localhost"', //            6
      '    - "1.1.1.1:99999"', //        7
      'cache:', //                       8
      '  maxBytes: 12 parsecs', //       9
      '  minTTL: 5', //                  10
      'server:', //                      11
      '  tcp:', //                       12
      '    idleTimeoutMs: "soon"', //    13
    ].join('\n');
    const err = errorFor(text);
    expect(err.problems.map((p) => [p.line, p.key])).toEqual([
      [2, 'log.level'],
      [4, 'resolver.attempts'],
      [6, 'resolver.upstreams'],
      [7, 'resolver.upstreams'],
      [9, 'cache.maxBytes'],
      [10, 'cache.minTTL'],
      [13, 'server.tcp.idleTimeoutMs'],
    ]);
    expect(err.message.split('\n')).toHaveLength(8);
    expect(err.message.split('\n')[0]).toBe(`invalid configuration ${FILE} (7 problems):`);
    for (const p of err.problems) expect(err.message).toContain(`${FILE}:${p.line}: key "${p.key}": ${p.message}`);
  });

  it('does not check between keys when one of them is already wrong', () => {
    const err = errorFor('resolver:\n  timeoutMs: soon\n  totalTimeoutMs: 1\n');
    expect(err.problems.map((p) => p.key)).toEqual(['resolver.timeoutMs']);
  });

  it('reports a wrong section once and ignores what is inside', () => {
    const err = errorFor('server: [1, 2]\nlog:\n  level: debug\n');
    expect(err.problems).toEqual([{ line: 1, key: 'server', message: expect.stringContaining('(got a list)') }]);
  });
});

describe('parseConfig: YAML syntax errors', () => {
  it.each([
    ['unclosed flow list', 'server:\n  listen: ["127.0.0.1"\nlog:\n  level: info\n', 3, ''],
    ['duplicate key', 'log:\n  level: info\n  level: debug\n', 3, 'the same key appears twice'],
    ['two documents', 'log:\n  level: info\n---\nlog:\n  level: debug\n', 3, 'more than one YAML document'],
    ['misaligned keys', 'log:\n  level: info\n format: json\n', 3, 'must start at the same column'],
    ['over-indented key', 'log:\n  level: info\n   format: json\n', 2, ''],
    ['tab indentation', 'log:\n\tlevel: info\n', 2, ''],
    ['unknown tag', 'log:\n  level: !loud info\n', 2, ''],
  ])('%s', (_name, text, line, fragment) => {
    const err = errorFor(text);
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.problems.length).toBeGreaterThanOrEqual(1);
    expect(err.problems[0]!.line).toBe(line);
    expect(err.problems[0]!.message).toMatch(/^YAML syntax error: /);
    expect(err.problems[0]!.message).toContain(fragment);
    expect(err.message).toContain(`${FILE}:${line}: YAML syntax error: `);
  });
});

describe('sizes', () => {
  it.each<[string, number]>([
    ['1', 1],
    ['1048576', 1048576],
    ['512B', 512],
    ['1KiB', 1024],
    ['64MiB', 64 * 1024 ** 2],
    ['64 MiB', 64 * 1024 ** 2],
    ['2GiB', 2 * 1024 ** 3],
    ['1.5GiB', 1.5 * 1024 ** 3],
    ['1KB', 1000],
    ['1kB', 1000],
    ['0.1MB', 100000],
    ['3GB', 3e9],
    ['"8MiB"', 8 * 1024 ** 2],
  ])('maxBytes: %s is %d bytes', (yaml, bytes) => {
    expect(parseConfig(`cache:\n  maxBytes: ${yaml}\n`, FILE).cache.maxBytes).toBe(bytes);
  });
});

describe('addresses', () => {
  it.each<[string, number, string, number, 4 | 6]>([
    ['1.2.3.4', 53, '1.2.3.4', 53, 4],
    ['1.2.3.4:5353', 53, '1.2.3.4', 5353, 4],
    ['[::1]', 53, '::1', 53, 6],
    ['[::1]:5353', 53, '::1', 5353, 6],
    ['::1', 9153, '::1', 9153, 6],
    ['2001:DB8::A', 53, '2001:db8::a', 53, 6],
    ['[2606:4700:4700::1111]:853', 53, '2606:4700:4700::1111', 853, 6],
    ['::ffff:192.0.2.1', 53, '::ffff:192.0.2.1', 53, 6],
    ['0.0.0.0:1', 53, '0.0.0.0', 1, 4],
    ['[::]:65535', 53, '::', 65535, 6],
  ])('parseHostPort(%p, %p)', (text, defaultPort, host, port, family) => {
    const a = parseHostPort(text, defaultPort);
    expect(a).toEqual({ host, port, family });
  });

  it.each([
    ['', 'is empty'],
    ['localhost', 'not a host name'],
    ['localhost:53', 'not a host name'],
    ['1.2.3', 'not a valid IP address'],
    ['01.2.3.4', 'not a valid IP address'],
    ['1.2.3.4:', 'bad port'],
    ['1.2.3.4:http', 'bad port'],
    ['1.2.3.4:-1', 'bad port'],
    ['1.2.3.4:053x', 'bad port'],
    ['[::1', 'without a matching "]"'],
    ['[::1]53', 'only have ":PORT" after "]"'],
    ['[::1]:0', 'bad port'],
    ['[nope]:53', 'other than an IPv6 address'],
    ['[1.2.3.4]', 'only for IPv6'],
    ['1:2:3', 'not a valid IPv6 address'],
    [' 1.2.3.4', 'not a valid IP address'],
  ])('parseHostPort(%p) is rejected', (text, fragment) => {
    expect(() => parseHostPort(text, 53)).toThrow(`invalid address ${JSON.stringify(text)}: `);
    expect(() => parseHostPort(text, 53)).toThrow(fragment);
  });

  it.each([
    [{ host: '1.2.3.4', port: 53, family: 4 as const }, '1.2.3.4:53'],
    [{ host: '::1', port: 5353, family: 6 as const }, '[::1]:5353'],
  ])('formatHostPort(%p) is %p', (a, text) => {
    expect(formatHostPort(a)).toBe(text);
    expect(parseHostPort(text, 1)).toEqual(a);
  });
});

describe('describeConfig', () => {
  it('gives a plain JSON-able summary with addresses as text', () => {
    const d = describeConfig(defaultConfig());
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    expect(d).toEqual({
      source: '<embedded default>',
      server: { listen: ['127.0.0.1:5353', '[::1]:5353'], tcp: { idleTimeoutMs: 10000, maxConnections: 1000, maxPipelined: 64 }, proxyProtocol: { from: [] } },
      admin: { listen: '127.0.0.1:9153', tokenFile: null },
      resolver: {
        mode: 'recursive',
        upstreams: ['1.1.1.1:53', '9.9.9.9:53', '[2606:4700:4700::1111]:53', '[2620:fe::fe]:53'],
        rootHints: 'IANA (built in)',
        authPort: 53,
        qnameMinimisation: true,
        caseRandomisation: false,
        timeoutMs: 1500,
        attempts: 4,
        totalTimeoutMs: 5000,
        limits: { ...DEFAULT_LIMITS },
        serveStale: { enabled: true, ...DEFAULT_SERVE_STALE },
        prefetch: { enabled: true, ...DEFAULT_PREFETCH },
      },
      cache: { maxEntries: 100000, maxBytes: 67108864, minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 },
      policy: { file: join(__dirname, '..', '..', 'policies', 'school-dns-policy.yaml') },
      lists: { refreshIntervalMs: 86400000, refreshJitter: 0.1, connectTimeoutMs: 10000, downloadTimeoutMs: 600000, maxBytes: 67108864, maxRedirects: 5 },
      blocking: { sinkholeIPv4: '127.0.0.1', sinkholeIPv6: null, ttl: 60 },
      blockPage: { enabled: true, listen: ['127.0.0.1:80'], https: { mode: 'reset', port: 443, cert: null, key: null }, reviewForm: true },
      state: { directory: defaultStateDirectory() },
      queryLog: { enabled: true, allQueries: false, path: null, retentionDays: 30, clientAddress: 'truncate', queueSize: 10000 },
      log: { level: 'info', format: 'auto', queries: false },
    });
  });

  it('shows a disabled admin endpoint as null', () => {
    expect(describeConfig(parseConfig('admin:\n  listen: null\n', FILE)).admin).toEqual({ listen: null, tokenFile: null });
  });
});

describe('loadConfigFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'school-dns-config-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a file and names it as the source', () => {
    const path = join(dir, 'ok.yaml');
    writeFileSync(path, 'log:\n  level: warn\n');
    const c = loadConfigFile(path);
    expect(c.source).toBe(path);
    expect(c.log.level).toBe('warn');
  });

  it('names the file in problems', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, '\n\nlog:\n  level: shout\n');
    expect(() => loadConfigFile(path)).toThrow(`${path}:4: key "log.level": `);
  });

  it('turns an unreadable file into a ConfigError', () => {
    const path = join(dir, 'missing.yaml');
    let err: unknown;
    try {
      loadConfigFile(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([{ line: null, key: '', message: `cannot read the file: ENOENT: no such file or directory` }]);
    expect((err as ConfigError).message).toContain(`\n${path}: cannot read the file`);
  });

  it('recursor limits, serve-stale and prefetch: set, checked, and refused with the key named', () => {
    const c = parseConfig(`resolver:
  limits: { maxCnameChain: 3, maxConcurrentOutgoing: 50 }
  serveStale: { enabled: false }
  prefetch: { remainingFraction: 0.25 }
`, FILE);
    expect(c.resolver.limits).toEqual({ ...DEFAULT_LIMITS, maxCnameChain: 3, maxConcurrentOutgoing: 50 });
    expect(c.resolver.serveStale).toEqual({ enabled: false, ...DEFAULT_SERVE_STALE });
    expect(c.resolver.prefetch).toEqual({ enabled: true, ...DEFAULT_PREFETCH, remainingFraction: 0.25 });
    const err = errorFor(`resolver:
  limits:
    maxCnameChain: 0
  prefetch:
    remainingFraction: 2
  serveStale:
    maxStaleSecond: 10
`);
    expect(err.problems.map((p) => [p.line, p.key])).toEqual([
      [3, 'resolver.limits.maxCnameChain'],
      [5, 'resolver.prefetch.remainingFraction'],
      [7, 'resolver.serveStale.maxStaleSecond'],
    ]);
    expect(err.problems[2].message).toBe('unknown key; did you mean "resolver.serveStale.maxStaleSeconds"?');
  });

  it('the example file is exactly the defaults', () => {
    const c = loadConfigFile(EXAMPLE);
    expect(c.source).toBe(EXAMPLE);
    expect(withoutSource(c)).toEqual(withoutSource(defaultConfig()));
  });
});
