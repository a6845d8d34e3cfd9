// The blockPage section of the configuration: defaults derived from the sinkhole, explicit
// addresses, the HTTPS modes and their checks (TLS files read and matched at load), and port
// clashes with DNS, the admin endpoint and the page itself.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, defaultConfig, describeConfig, parseConfig } from '../../src/config/load';

let dir: string;
let file: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'blockpage-config-'));
  file = path.join(dir, 'school-dns.yaml');
  selfSigned(dir, 'a');
  selfSigned(dir, 'b');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed certificate and key: DIR/NAME-cert.pem, DIR/NAME-key.pem (openssl, installed with Debian's base system). */
function selfSigned(where: string, name: string): void {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=school-dns test', '-keyout', path.join(where, `${name}-key.pem`), '-out', path.join(where, `${name}-cert.pem`)], { stdio: 'pipe' });
}

function problems(text: string): { line: number | null; key: string; message: string }[] {
  try {
    parseConfig(text, file);
  } catch (e) {
    if ((e as { code?: string }).code === 'CONFIG_INVALID') return [...(e as ConfigError).problems];
    throw e;
  }
  throw new Error('the configuration was accepted');
}

describe('blockPage configuration', () => {
  it('defaults: on, the sinkhole address on port 80, port 443 reset, the review form on', () => {
    expect(defaultConfig().blockPage).toEqual({
      enabled: true,
      listen: [{ host: '127.0.0.1', port: 80, family: 4 }],
      https: { mode: 'reset', port: 443, cert: null, key: null },
      reviewForm: true,
    });
    expect(describeConfig(defaultConfig()).blockPage).toEqual({
      enabled: true, listen: ['127.0.0.1:80'], https: { mode: 'reset', port: 443, cert: null, key: null }, reviewForm: true,
    });
  });

  it('follows the sinkhole addresses when listen is null', () => {
    const c = parseConfig('blocking:\n  sinkholeIPv4: "10.0.0.53"\n  sinkholeIPv6: "2001:DB8::53"\n', file);
    expect(c.blockPage.listen).toEqual([{ host: '10.0.0.53', port: 80, family: 4 }, { host: '2001:db8::53', port: 80, family: 6 }]);
    expect(parseConfig('blocking:\n  sinkholeIPv4: null\n', file).blockPage.listen).toEqual([]);
    expect(parseConfig('blocking:\n  sinkholeIPv4: "0.0.0.0"\n  sinkholeIPv6: "::"\n', file).blockPage.listen).toEqual([]);
  });

  it('takes its own addresses, port 80 by default', () => {
    const c = parseConfig('blockPage:\n  listen: ["10.0.0.53:8080", "[2001:db8::53]"]\n  reviewForm: false\n', file);
    expect(c.blockPage.listen).toEqual([{ host: '10.0.0.53', port: 8080, family: 4 }, { host: '2001:db8::53', port: 80, family: 6 }]);
    expect(c.blockPage.reviewForm).toBe(false);
  });

  it('mode tls needs a certificate and a key, read and matched at load; relative paths are relative to the file', () => {
    expect(problems('blockPage:\n  https:\n    mode: tls\n')).toEqual([
      { line: 3, key: 'blockPage.https.cert', message: 'is needed when blockPage.https.mode is "tls": the path of the PEM certificate file (got null)' },
      { line: 3, key: 'blockPage.https.key', message: 'is needed when blockPage.https.mode is "tls": the path of the PEM private key file (got null)' },
    ].map((p) => ({ ...p, line: null })));
    const ok = parseConfig('blockPage:\n  https:\n    mode: tls\n    cert: a-cert.pem\n    key: a-key.pem\n', file);
    expect(ok.blockPage.https).toEqual({ mode: 'tls', port: 443, cert: path.join(dir, 'a-cert.pem'), key: path.join(dir, 'a-key.pem') });
    expect(problems('blockPage:\n  https:\n    mode: tls\n    cert: missing.pem\n    key: a-key.pem\n')).toEqual([
      { line: 4, key: 'blockPage.https.cert', message: 'cannot be read: ENOENT (got "missing.pem")' },
    ]);
    const mismatch = problems('blockPage:\n  https:\n    mode: tls\n    cert: a-cert.pem\n    key: b-key.pem\n');
    expect(mismatch).toEqual([{ line: 5, key: 'blockPage.https.key', message: expect.stringContaining('does not work with blockPage.https.cert') }]);
    // A disabled block page is not checked.
    expect(parseConfig('blockPage:\n  enabled: false\n  https:\n    mode: tls\n', file).blockPage.enabled).toBe(false);
  });

  it('refuses a certificate that would not be used, an unknown mode, a misspelt key', () => {
    expect(problems('blockPage:\n  https:\n    cert: a-cert.pem\n')).toEqual([
      { line: 3, key: 'blockPage.https.cert', message: 'is only used with blockPage.https.mode "tls" (the mode is "reset") (got "a-cert.pem")' },
    ]);
    expect(problems('blockPage:\n  https:\n    mode: on\n')).toEqual([
      { line: 3, key: 'blockPage.https.mode', message: 'must be one of "reset", "tls", "off" (got "on")' },
    ]);
    expect(problems('blockPage:\n  lisen: null\n')).toEqual([{ line: 2, key: 'blockPage.lisen', message: 'unknown key; did you mean "blockPage.listen"?' }]);
    expect(problems('blockPage:\n  https:\n    port: 0\n')).toEqual([{ line: 3, key: 'blockPage.https.port', message: 'must be from 1 to 65535 (got 0)' }]);
  });

  it('refuses ports taken by DNS, the admin endpoint or the page itself', () => {
    expect(problems('server:\n  listen: ["127.0.0.1:80"]\n')).toEqual([
      { line: null, key: 'blockPage.listen', message: 'the sinkhole address (blocking.sinkholeIPv4/IPv6) on port 80 includes 127.0.0.1:80, which DNS (server.listen) or the admin endpoint uses; the block page needs its own port (got null)' },
    ]);
    expect(problems('blockPage:\n  listen: ["127.0.0.1:9153"]\n')).toEqual([
      { line: 2, key: 'blockPage.listen', message: expect.stringContaining('includes 127.0.0.1:9153, which DNS (server.listen) or the admin endpoint uses') },
    ]);
    expect(problems('blockPage:\n  listen: ["127.0.0.1:8080", "127.0.0.1:443"]\n')).toEqual([
      { line: null, key: 'blockPage.https.port', message: expect.stringContaining('127.0.0.1:443 is already taken') },
    ]);
    // With HTTPS off, port 443 may serve the page over plain HTTP (an odd choice, but nothing clashes).
    expect(parseConfig('blockPage:\n  listen: ["127.0.0.1:443"]\n  https:\n    mode: off\n', file).blockPage.https.mode).toBe('off');
  });
});
