// The `state` configuration section: where the review requests are kept.
import { homedir } from 'node:os';
import path from 'node:path';
import { ConfigError, defaultStateDirectory, parseConfig } from '../../src/config/load';

describe('state.directory', () => {
  it('defaults to systemd\'s $STATE_DIRECTORY, else $XDG_STATE_HOME/school-dns, else ~/.local/state/school-dns', () => {
    expect(defaultStateDirectory({ STATE_DIRECTORY: '/var/lib/school-dns', XDG_STATE_HOME: '/x' })).toBe('/var/lib/school-dns');
    expect(defaultStateDirectory({ STATE_DIRECTORY: '/var/lib/school-dns:/var/lib/other' })).toBe('/var/lib/school-dns');
    expect(defaultStateDirectory({ XDG_STATE_HOME: '/home/t/.state' })).toBe('/home/t/.state/school-dns');
    expect(defaultStateDirectory({ XDG_STATE_HOME: 'relative' })).toBe(path.join(homedir(), '.local', 'state', 'school-dns'));
    expect(defaultStateDirectory({})).toBe(path.join(homedir(), '.local', 'state', 'school-dns'));
  });

  it('uses the default for null, and resolves a relative path against the configuration file', () => {
    expect(parseConfig('', '/etc/school-dns/school-dns.yaml').state.directory).toBe(defaultStateDirectory());
    expect(parseConfig('state:\n  directory: null\n', '/etc/school-dns/school-dns.yaml').state.directory).toBe(defaultStateDirectory());
    expect(parseConfig('state:\n  directory: data\n', '/etc/school-dns/school-dns.yaml').state.directory).toBe('/etc/school-dns/data');
    expect(parseConfig('state:\n  directory: /var/lib/school-dns\n', '/etc/school-dns/school-dns.yaml').state.directory).toBe('/var/lib/school-dns');
  });

  it.each([
    ['state:\n  directory: 5\n', 'state.directory', 'must be a directory path, or null for the default'],
    ['state:\n  directory: ""\n', 'state.directory', 'must be a directory path'],
    ['state:\n  directroy: /tmp\n', 'state.directroy', 'unknown key; did you mean "state.directory"?'],
    ['state: /tmp\n', 'state', 'must be a section of settings'],
  ])('refuses %j with file, line and key', (yaml, key, message) => {
    let err: unknown;
    try { parseConfig(yaml, 'c.yaml'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual([expect.objectContaining({ key, message: expect.stringContaining(message), line: expect.any(Number) })]);
  });
});
