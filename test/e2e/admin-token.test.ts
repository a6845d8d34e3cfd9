// The admin API with a token (admin.tokenFile): every request but /healthz must carry it,
// the CLI sends it from SCHOOL_DNS_ADMIN_TOKEN_FILE or SCHOOL_DNS_ADMIN_TOKEN, and a
// configuration that puts the admin API off loopback without a token is refused.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, describeConfig, parseConfig } from '../../src/config/load';
import { CliRun, runCli } from '../helpers/cli';
import { startTestResolver, TestResolver } from '../helpers/resolver';

const TOKEN = 'f3b1c9d27a6e48e0b5d4c3a2918f7e6d';

const cli = (args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> => runCli(args, { env });

describe('admin.tokenFile in the configuration', () => {
  let dir: string;
  beforeAll(() => { dir = mkdtempSync(path.join(tmpdir(), 'school-dns-token-cfg-')); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const problems = (text: string): { line: number | null; key: string; message: string }[] => {
    try {
      parseConfig(text, path.join(dir, 'c.yaml'));
    } catch (e) {
      return [...(e as ConfigError).problems];
    }
    return [];
  };

  test('an admin address off loopback needs a token file', () => {
    const p = problems('admin:\n  listen: "10.20.0.2:9153"\n');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatchObject({ line: 2, key: 'admin.listen' });
    expect(p[0].message).toContain('set admin.tokenFile');
  });

  test('the token file must exist and hold a long token; its path is relative to the configuration', () => {
    expect(problems('admin:\n  tokenFile: missing.token\n')[0]).toMatchObject({ line: 2, key: 'admin.tokenFile', message: expect.stringContaining('cannot be read: ENOENT') });
    writeFileSync(path.join(dir, 'short.token'), 'abc\n');
    expect(problems('admin:\n  tokenFile: short.token\n')[0].message).toContain('at least 16 characters');
    writeFileSync(path.join(dir, 'good.token'), `${TOKEN}\n`);
    const c = parseConfig('admin:\n  listen: "10.20.0.2:9153"\n  tokenFile: good.token\n', path.join(dir, 'c.yaml'));
    expect(c.admin.token).toBe(TOKEN);
    expect(c.admin.tokenFile).toBe(path.join(dir, 'good.token'));
    // The effective configuration is logged at start: the file, never the token.
    expect(JSON.stringify(describeConfig(c))).not.toContain(TOKEN);
  });
});

describe('an admin API with a token', () => {
  let r: TestResolver;
  let dir: string;
  let tokenFile: string;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'school-dns-token-'));
    tokenFile = path.join(dir, 'admin.token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    r = await startTestResolver({ admin: { token: TOKEN, tokenFile } } as never);
    base = `http://127.0.0.1:${r.adminPort}`;
  });
  afterAll(async () => {
    await r.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('refuses requests without the right token, except /healthz', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/cache/flush`, { method: 'POST' })).status).toBe(401);
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toContain('Bearer');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const right = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(await right.text()).toContain('school_dns_queries_total');
  });

  test('the CLI sends the token from SCHOOL_DNS_ADMIN_TOKEN_FILE or SCHOOL_DNS_ADMIN_TOKEN, and says what is missing', async () => {
    const without = await cli(['flush', '--admin', base], {});
    expect(without.code).toBe(4);
    expect(without.stderr).toContain('needs a token');
    expect(without.stderr).toContain('SCHOOL_DNS_ADMIN_TOKEN_FILE');
    const withFile = await cli(['flush', '--admin', base], { SCHOOL_DNS_ADMIN_TOKEN_FILE: tokenFile });
    expect(withFile.code).toBe(0);
    expect(withFile.stdout).toMatch(/^flushed: /);
    const withEnv = await cli(['flush', '--admin', base], { SCHOOL_DNS_ADMIN_TOKEN: TOKEN });
    expect(withEnv.code).toBe(0);
  });
});
