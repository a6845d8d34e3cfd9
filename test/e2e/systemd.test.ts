// The systemd unit and the install script, checked with systemd's own tools and by running
// what the script installed:
// - `systemd-analyze verify` finds nothing wrong with the unit;
// - `systemd-analyze security` rates its hardening "OK" (exposure 2.0 or lower);
// - install.sh --root puts program, configuration, policy, lists and unit in place, the
//   installed configuration is valid, and the installed program (with only production
//   dependencies) serves and filters;
// - a second install keeps the operator's edited configuration.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfigFile } from '../../src/config/load';
import { parsePolicy } from '../../src/policy/load';
import { compilePolicy } from '../../src/policy/policy';
import { addressesOf, query } from '../helpers/packets';
import { freePort, udpAskFrom } from '../helpers/client';
import { stopChild } from '../helpers/process';

const run = promisify(execFile);
const addressesV4 = (reply: Buffer): string[] => addressesOf(reply, ['A']);
const ROOT = path.resolve(__dirname, '..', '..');
const UNIT = path.join(ROOT, 'systemd', 'school-dns.service');
const INSTALL = path.join(ROOT, 'systemd', 'install.sh');

function systemdAnalyze(): string {
  for (const p of ['/usr/bin/systemd-analyze', '/bin/systemd-analyze']) if (existsSync(p)) return p;
  throw new Error('systemd-analyze is not installed (Debian package "systemd"): .ci/run installs it');
}

describe('the systemd unit', () => {
  test('systemd-analyze verify finds nothing to report', async () => {
    const { stdout, stderr } = await run(systemdAnalyze(), ['verify', UNIT]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  test('systemd-analyze security rates it OK: exposure 2.0 or lower', async () => {
    const { stdout } = await run(systemdAnalyze(), ['security', '--offline=yes', UNIT]);
    const m = /Overall exposure level for school-dns\.service: ([\d.]+) (\w+)/.exec(stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThanOrEqual(2.0);
    expect(m![2]).toBe('OK');
  });

  test('it runs as a dynamic user with CAP_NET_BIND_SERVICE only, state in StateDirectory, reload by SIGHUP', () => {
    const unit = readFileSync(UNIT, 'utf8');
    const values = (key: string): string[] => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
    expect(values('DynamicUser')).toEqual(['yes']);
    expect(values('CapabilityBoundingSet')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(values('AmbientCapabilities')).toEqual(['CAP_NET_BIND_SERVICE']);
    expect(values('StateDirectory')).toEqual(['school-dns']);
    expect(values('ExecReload')).toEqual(['/bin/kill -HUP $MAINPID']);
    expect(values('Restart')).toEqual(['on-failure']);
  });
});

describe('install.sh', () => {
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'school-dns-install-'));
    await run('bash', [INSTALL, '--root', root, '--address', '127.0.0.1'], { timeout: 120_000 });
  }, 150_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('puts the program, configuration, policy, lists and unit in place', () => {
    for (const f of [
      'opt/school-dns/dist/cli/main.js', 'opt/school-dns/bin/school-dns', 'opt/school-dns/node_modules/commander/package.json',
      'etc/school-dns/school-dns.yaml', 'etc/school-dns/policies/school-dns-policy.yaml', 'etc/school-dns/lists/adult.txt',
      'etc/systemd/system/school-dns.service',
    ]) expect(existsSync(path.join(root, f))).toBe(true);
    // Production dependencies only: no test runner or compiler in the installed tree.
    expect(existsSync(path.join(root, 'opt/school-dns/node_modules/jest'))).toBe(false);
    expect(existsSync(path.join(root, 'opt/school-dns/node_modules/typescript'))).toBe(false);
    const unit = readFileSync(path.join(root, 'etc/systemd/system/school-dns.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${realpathSync(process.execPath)} /opt/school-dns/dist/cli/main.js serve --config /etc/school-dns/school-dns.yaml`);
  });

  test('the installed unit (with this machine\'s Node.js in ExecStart) verifies', async () => {
    const { stdout, stderr } = await run(systemdAnalyze(), ['verify', path.join(root, 'etc/systemd/system/school-dns.service')]);
    expect(`${stdout}${stderr}`.trim()).toBe('');
  });

  test('the installed policy counts the server\'s own address (--address) as staff, in the school-dns server school', () => {
    const file = path.join(root, 'etc/school-dns/policies/school-dns-policy.yaml');
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('- { cidr: "127.0.0.1/32", group: staff }   # this server (install.sh --address)');
    const policy = compilePolicy(parsePolicy(text, file));
    expect(policy.identify('127.0.0.1')).toMatchObject({ school: 'school-dns server (this machine)', group: 'staff' });
    // The rest is the shipped policy as it is.
    const shipped = readFileSync(path.join(ROOT, 'policies', 'school-dns-policy.yaml'), 'utf8');
    expect(text.split('\n').filter((l) => !l.includes('install.sh --address'))).toEqual(shipped.split('\n'));
  });

  test('the installed configuration is valid and points at the installed policy', () => {
    const config = loadConfigFile(path.join(root, 'etc/school-dns/school-dns.yaml'));
    expect(config.server.listen).toEqual([{ host: '127.0.0.1', port: 53, family: 4 }]);
    expect(config.blocking.sinkholeIPv4).toBe('127.0.0.1');
    expect(config.policy.file).toBe(path.join(root, 'etc/school-dns/policies/school-dns-policy.yaml'));
  });

  test('the installed program serves and filters with the installed policy and lists', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'school-dns-installed-run-'));
    const dnsPort = await freePort();
    const adminPort = await freePort();
    // The installed policy, but loopback ports: port 53 is for the real service.
    writeFileSync(path.join(dir, 'config.yaml'), `
server: { listen: ["127.0.0.1:${dnsPort}"] }
admin: { listen: "127.0.0.1:${adminPort}" }
resolver: { mode: forward, upstreams: ["127.0.0.1:9"], timeoutMs: 200, attempts: 1, totalTimeoutMs: 400 }
policy: { file: ${JSON.stringify(path.join(root, 'etc/school-dns/policies/school-dns-policy.yaml'))} }
blocking: { sinkholeIPv4: "127.0.0.1" }
state: { directory: ${JSON.stringify(path.join(dir, 'state'))} }
blockPage: { enabled: false }
log: { level: info, format: json }
`);
    const child = spawn(process.execPath, [path.join(root, 'opt/school-dns/bin/school-dns'), 'serve', '--config', path.join(dir, 'config.yaml')], {
      stdio: ['ignore', 'ignore', 'pipe'], cwd: dir,
    });
    let log = '';
    child.stderr.on('data', (b) => { log += String(b); });
    try {
      const until = Date.now() + 20_000;
      while (!/"msg":"listening"/.test(log)) {
        if (Date.now() > until || child.exitCode !== null) throw new Error(`the installed program did not start:\n${log}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      // Loopback is staff in the shipped policy; staff block adult sites at all times.
      const adult = readFileSync(path.join(root, 'etc/school-dns/lists/adult.txt'), 'utf8')
        .split('\n').map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
      expect(adult).toBeDefined();
      expect(addressesV4(await udpAskFrom('127.0.0.1', dnsPort, query(adult!.replace(/^\|\||\^$/g, ''), 'A')))).toEqual(['127.0.0.1']);
      expect(addressesV4(await udpAskFrom('127.0.0.1', dnsPort, query('localhost', 'A')))).toEqual(['127.0.0.1']);
    } finally {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test('a second install keeps the operator\'s configuration and sets the shipped one beside it', async () => {
    const cfg = path.join(root, 'etc/school-dns/school-dns.yaml');
    const mine = `${readFileSync(cfg, 'utf8')}\n# edited by the district\n`;
    writeFileSync(cfg, mine);
    await run('bash', [INSTALL, '--root', root, '--address', '127.0.0.1'], { timeout: 120_000 });
    expect(readFileSync(cfg, 'utf8')).toBe(mine);
    expect(existsSync(`${cfg}.dist`)).toBe(true);
    expect(existsSync(path.join(root, 'opt/school-dns/dist/cli/main.js'))).toBe(true);
  }, 150_000);

  test('refuses a bad address and unknown options with a clear message', async () => {
    await expect(run('bash', [INSTALL, '--root', root, '--address', 'not-an-ip'])).rejects.toMatchObject({ stderr: expect.stringContaining('is not an IPv4 address') });
    await expect(run('bash', [INSTALL, '--frobnicate'])).rejects.toMatchObject({ stderr: expect.stringContaining('unknown option --frobnicate') });
  }, 60_000);
});
