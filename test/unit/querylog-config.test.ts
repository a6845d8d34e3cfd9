// The `queryLog` configuration section.
import path from 'node:path';
import { ConfigError, defaultConfig, parseConfig } from '../../src/config/load';
import { databasePath, keyPath } from '../../src/querylog/setup';

describe('queryLog configuration', () => {
  it('defaults: blocked queries only, in the state directory, 30 days, truncated addresses', () => {
    expect(defaultConfig().queryLog).toEqual({ enabled: true, allQueries: false, path: null, retentionDays: 30, clientAddress: 'truncate', queueSize: 10000 });
  });

  it('puts the database and the hash key in the state directory unless a path is given (relative to the configuration file)', () => {
    const c = parseConfig('state:\n  directory: /var/lib/sd\n', '/etc/school-dns/school-dns.yaml');
    expect(databasePath(c)).toBe('/var/lib/sd/querylog.sqlite');
    expect(keyPath(c)).toBe('/var/lib/sd/querylog.key');
    const d = parseConfig('state:\n  directory: /var/lib/sd\nqueryLog:\n  path: logs/q.sqlite\n', '/etc/school-dns/school-dns.yaml');
    expect(databasePath(d)).toBe(path.resolve('/etc/school-dns/logs/q.sqlite'));
    expect(keyPath(d)).toBe('/var/lib/sd/querylog.key');
  });

  it('takes every setting', () => {
    const c = parseConfig('queryLog:\n  enabled: false\n  allQueries: true\n  retentionDays: 7\n  clientAddress: hash\n  queueSize: 5\n', 'c.yaml');
    expect(c.queryLog).toMatchObject({ enabled: false, allQueries: true, retentionDays: 7, clientAddress: 'hash', queueSize: 5 });
    expect(parseConfig('queryLog:\n  clientAddress: omit\n', 'c.yaml').queryLog.clientAddress).toBe('omit');
    expect(parseConfig('queryLog:\n  clientAddress: full\n', 'c.yaml').queryLog.clientAddress).toBe('full');
  });

  it.each([
    ['queryLog:\n  enabled: yes\n', 'queryLog.enabled', 'yes, no, on and off are not accepted'],
    ['queryLog:\n  allQueries: "true"\n', 'queryLog.allQueries', 'must be true or false'],
    ['queryLog:\n  retentionDays: 0\n', 'queryLog.retentionDays', 'from 1 to 3650'],
    ['queryLog:\n  retentionDays: 2.5\n', 'queryLog.retentionDays', 'whole number'],
    ['queryLog:\n  clientAddress: anonymise\n', 'queryLog.clientAddress', 'one of "truncate", "hash", "omit", "full"'],
    ['queryLog:\n  queueSize: 0\n', 'queryLog.queueSize', 'from 1 to 10000000'],
    ['queryLog:\n  path: ""\n', 'queryLog.path', 'must be a file path'],
    ['queryLog:\n  retentionDay: 7\n', 'queryLog.retentionDay', 'did you mean "queryLog.retentionDays"?'],
    ['querylog:\n  enabled: false\n', 'querylog', 'did you mean "queryLog"?'],
  ])('refuses %j with file, line and key', (yaml, key, message) => {
    let err: unknown;
    try { parseConfig(yaml, 'c.yaml'); } catch (e) { err = e; }
    expect((err as { code?: string }).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).problems).toEqual([expect.objectContaining({ key, message: expect.stringContaining(message), line: expect.any(Number) })]);
  });
});
