// The block page on real sockets: a real resolver with a policy where loopback devices are
// pupils (127.0.0.9 a teacher), its block page on an ephemeral port and port 443's stand-in
// resetting connections; GET, HEAD and the review form through the real request store; bad,
// oversized, hostile and slow requests; a separate server for TLS, short timeouts, a review
// sink that says no, and an address already taken.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { BlockPageServer, type BlockPageOptions } from '../../src/blockpage/server';
import { REVIEW_PATH } from '../../src/blockpage/page';
import { createLogger } from '../../src/log/logger';
import type { ReviewSink, ReviewSubmission, SubmitResult } from '../../src/requests/types';
import { httpGet, promValue, scrape, udpAskFrom } from '../helpers/client';
import { decode, query } from '../helpers/packets';
import { loopback, startTestResolver, type TestResolver } from '../helpers/resolver';

const POLICY = `
categories:
  adult: { description: "Pornography and sexual content", sources: [adult.txt] }
  games: { description: "Online games and game portals", sources: [games.txt] }
groups:
  primary: { description: "Primary school, ages 6 to 10", block: [adult, games] }
  staff: { description: "Teachers and school staff", block: [adult] }
schools:
  - name: "Trường Tiểu học Thử Nghiệm"
    networks:
      - { cidr: 127.0.0.0/8, group: primary }
      - { cidr: 127.0.0.9, group: staff }
      - { cidr: "::1", group: primary }
defaultGroup: primary
`;
const TEACHER = '127.0.0.9';
const HOSTILE = '<script>alert(1)</script>';
/** No markup from a payload may come back unescaped. */
const UNESCAPED = /<script|<img|<svg\s+on|onerror=|javascript:/i;

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }

interface Req {
  method?: string;
  path?: string;
  /** The Host header; null sends none. */
  host?: string | null;
  headers?: Record<string, string>;
  body?: string;
  from?: string;
  /** The server's address (default 127.0.0.1). */
  to?: string;
  /** HTTPS; without `ca`, the system's trusted authorities. */
  tls?: { ca?: Buffer; servername: string };
}

function request(port: number, r: Req = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(r.host === null ? {} : { host: r.host ?? 'adult.example' }), ...r.headers };
    if (r.body !== undefined) headers['content-length'] = String(Buffer.byteLength(r.body));
    const opts = { host: r.to ?? '127.0.0.1', port, method: r.method ?? 'GET', path: r.path ?? '/', headers, setHost: false, agent: false as const, localAddress: r.from, timeout: 5000 };
    const onRes = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    };
    const req = r.tls ? https.request({ ...opts, ...(r.tls.ca ? { ca: r.tls.ca } : {}), servername: r.tls.servername }, onRes) : http.request(opts, onRes);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(r.body);
  });
}

/** Writes raw bytes (in pieces, `gapMs` apart) and collects what comes back until the server closes. */
function raw(port: number, pieces: string[], gapMs = 0, limitMs = 8000): Promise<{ data: string; closedAfterMs: number; error: string | null }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let error: string | null = null;
    const timers: NodeJS.Timeout[] = [];
    const limit = setTimeout(() => sock.destroy(new Error('the server kept the connection open')), limitMs);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => { data += c; });
    sock.on('error', (e) => { error = (e as NodeJS.ErrnoException).code ?? e.message; });
    sock.on('close', () => {
      clearTimeout(limit);
      for (const t of timers) clearTimeout(t);
      resolve({ data, closedAfterMs: Date.now() - t0, error });
    });
    sock.on('connect', () => {
      pieces.forEach((p, i) => timers.push(setTimeout(() => { if (!sock.destroyed) sock.write(p); }, i * gapMs)));
    });
  });
}

const form = (fields: Record<string, string>): string => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

let dir: string;
let r: TestResolver;
let port: number;
let resetPort: number;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'blockpage-e2e-'));
  writeFileSync(path.join(dir, 'policy.yaml'), POLICY);
  writeFileSync(path.join(dir, 'adult.txt'), 'adult.example\n');
  writeFileSync(path.join(dir, 'games.txt'), 'games.example\n');
  r = await startTestResolver({
    policy: { file: path.join(dir, 'policy.yaml') },
    blocking: { sinkholeIPv4: '127.0.0.1', sinkholeIPv6: null, ttl: 60 },
    blockPage: { enabled: true, listen: [loopback(0)], https: { mode: 'reset', port: 0, cert: null, key: null }, reviewForm: true },
  });
  port = r.blockPagePorts.http[0]!;
  resetPort = r.blockPagePorts.https[0]!;
});

afterAll(async () => {
  await r?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the block page served by school-dns', () => {
  it('listens where the configuration says, without a complaint', () => {
    expect(port).toBeGreaterThan(0);
    expect(resetPort).toBeGreaterThan(0);
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('GET: the page for the blocked name, with the safety headers', async () => {
    const before = promValue(await scrape(r.adminPort!), 'school_dns_block_pages_total', { scheme: 'http' });
    const res = await request(port, { host: 'Adult.Example:80', path: '/some/page?x=1' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+=*'; form-action 'self';/);
    expect(res.body).toContain('<html lang="vi">');
    for (const want of ['adult.example', 'Nội dung người lớn', 'Adult content', 'Pornography and sexual content', 'Trường Tiểu học Thử Nghiệm',
      'Tiểu học', 'Primary school, ages 6 to 10', 'href="tel:111"', 'href="tel:02432233111"', '0243.2233111', `action="${REVIEW_PATH}"`]) {
      expect(res.body).toContain(want);
    }
    expect(promValue(await scrape(r.adminPort!), 'school_dns_block_pages_total', { scheme: 'http' })).toBe(before + 1);
  });

  it('English first for a browser that prefers it; the device\'s own group', async () => {
    const en = await request(port, { headers: { 'accept-language': 'en-GB,en;q=0.9,vi;q=0.5' } });
    expect(en.body).toContain('<html lang="en">');
    expect(en.body).toContain('<h1 lang="en">This page is blocked</h1>');
    const teacher = await request(port, { host: 'games.example', from: TEACHER });
    expect(teacher.body).toContain('Giáo viên và nhân viên');
    expect(teacher.body).toContain('Trang này không bị chặn cho nhóm của em lúc này.');
    expect(teacher.body).not.toContain('<form');
  });

  it('HEAD: the same headers, no body', async () => {
    const get = await request(port);
    const head = await request(port, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(get.body)));
    expect(head.headers['content-security-policy']).toBe(get.headers['content-security-policy']);
  });

  it('icons and sub-resources get a small 404; other methods 405', async () => {
    for (const p of ['/favicon.ico', '/apple-touch-icon-precomposed.png']) {
      const res = await request(port, { path: p });
      expect([res.status, res.body]).toEqual([404, 'Blocked\n']);
    }
    const img = await request(port, { path: '/ad.png', headers: { 'sec-fetch-dest': 'image' } });
    expect(img.status).toBe(404);
    const doc = await request(port, { path: '/', headers: { 'sec-fetch-dest': 'document' } });
    expect(doc.status).toBe(200);
    const put = await request(port, { method: 'PUT', body: 'x' });
    expect([put.status, put.headers.allow]).toEqual([405, 'GET, HEAD']);
    const post = await request(port, { method: 'POST', path: '/api/login', headers: FORM, body: 'a=b' });
    expect(post.status).toBe(405);
  });

  it('no Host, an IP address or garbage as Host: the generic page, never an error', async () => {
    for (const host of [null, '127.0.0.1', '[::1]:80', HOSTILE, 'a..b', 'x'.repeat(300), '"><img src=x onerror=alert(1)>']) {
      const res = await request(port, { host });
      expect(res.status).toBe(200);
      expect(res.body).toContain('Đây là trang của bộ lọc an toàn của trường.');
      expect(res.body).toContain('tel:111');
      expect(res.body).not.toMatch(UNESCAPED);
    }
  });

  it('escapes or ignores script injection in the path, the query and Accept-Language', async () => {
    const enc = encodeURIComponent(HOSTILE);
    for (const req of [
      { path: `/${enc}?q=${enc}&lang=${enc}` },
      { path: `/?lang=en${enc}` },
      { path: '/%22%3E%3Csvg%20onload=alert(1)%3E' },
      { headers: { 'accept-language': `${HOSTILE}, en;q=0.5` } },
      { headers: { 'accept-language': '"><img src=x onerror=alert(1)>' } },
    ] as Req[]) {
      const res = await request(port, req);
      expect(res.status).toBe(200);
      expect(res.body).not.toMatch(UNESCAPED);
      expect(res.body).not.toContain('alert(1)');
    }
    // Raw markup in the request target, as no well-behaved client would send it.
    const rawPath = await raw(port, ['GET /"><svg/onload=alert(1)>?<script>alert(1)</script> HTTP/1.1\r\nHost: adult.example\r\nConnection: close\r\n\r\n']);
    expect(rawPath.data).toMatch(/^HTTP\/1\.1 (200|400) /);
    expect(rawPath.data).not.toMatch(UNESCAPED);
  });

  it('malformed and oversized requests get a short plain answer, and the connection closes', async () => {
    const bad = await raw(port, ['GARBAGE\r\n\r\n']);
    expect(bad.data).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(bad.data).not.toMatch(/at \w+ \(|Error:/); // no trace
    const big = await raw(port, [`GET / HTTP/1.1\r\nHost: adult.example\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`]);
    expect(big.data).toMatch(/^HTTP\/1\.1 431 /);
    const body = await request(port, { method: 'POST', path: REVIEW_PATH, headers: FORM, body: `message=${'a'.repeat(9000)}&name=adult.example` });
    expect(body.status).toBe(413);
    expect(body.body).toContain('Lời nhắn quá dài.');
    // An announced length over the limit is refused before any of it is read.
    const announced = await raw(port, [`POST ${REVIEW_PATH} HTTP/1.1\r\nHost: adult.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10000000\r\n\r\n`]);
    expect(announced.data).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('port 443 resets every connection at once, so browsers fail fast', async () => {
    const before = promValue(await scrape(r.adminPort!), 'school_dns_block_page_https_resets_total');
    const t0 = Date.now();
    const plain = await raw(resetPort, ['\x16\x03\x01'], 0, 3000);
    expect(plain.error).toBe('ECONNRESET');
    expect(plain.data).toBe('');
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: resetPort, servername: 'adult.example', rejectUnauthorized: false });
      s.on('secureConnect', () => resolve(Object.assign(new Error('handshake completed'), { code: 'CONNECTED' })));
      s.on('error', resolve);
    });
    expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(promValue(await scrape(r.adminPort!), 'school_dns_block_page_https_resets_total')).toBe(before + 2);
  });

  it('/healthz reports the block page endpoints', async () => {
    const h = JSON.parse((await httpGet(r.adminPort!, '/healthz')).body);
    expect(h.ok).toBe(true);
    expect(h.blockPage).toEqual({
      ok: true,
      endpoints: [
        { kind: 'http', address: '127.0.0.1:0', port, error: null },
        { kind: 'reset', address: '127.0.0.1:0', port: resetPort, error: null },
      ],
    });
  });
});

describe('review requests from the page, through the real request store', () => {
  it('takes one, says its number, finds a duplicate, and the store has it; the server takes school and group from the address', async () => {
    const res = await request(port, { method: 'POST', path: REVIEW_PATH, headers: { ...FORM, 'sec-fetch-site': 'same-origin' },
      body: form({ name: 'Adult.Example', message: 'Cần cho bài học sinh học', school: 'Forged', group: 'staff' }) });
    expect(res.status).toBe(200);
    const id = Number(/Yêu cầu số (\d+) đã được gửi/.exec(res.body)?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(res.body).toContain(`Request number ${id} has been sent.`);
    expect(r.requests!.get(id)).toMatchObject({ name: 'adult.example', school: 'Trường Tiểu học Thử Nghiệm', group: 'primary', category: 'adult', message: 'Cần cho bài học sinh học', status: 'pending' });
    const again = await request(port, { method: 'POST', path: REVIEW_PATH, headers: { ...FORM, 'accept-language': 'en' }, body: form({ name: 'adult.example' }) });
    expect(again.status).toBe(200);
    expect(again.body).toContain(`This site already has request number ${id} waiting`);
    const text = await scrape(r.adminPort!);
    expect(promValue(text, 'school_dns_review_submissions_total', { result: 'accepted' })).toBe(1);
    expect(promValue(text, 'school_dns_review_submissions_total', { result: 'duplicate' })).toBe(1);
  });

  it('refuses what it must, each with a clear page, and escapes every field', async () => {
    const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      request(port, { method: 'POST', path: REVIEW_PATH, headers: { ...FORM, ...headers }, body: form(fields) });
    const notBlocked = await post({ name: 'example.org' });
    expect([notBlocked.status, notBlocked.body.includes('không bị chặn cho nhóm của em')]).toEqual([409, true]);
    const badName = await post({ name: HOSTILE, message: HOSTILE });
    expect([badName.status, badName.body.includes('Yêu cầu không có tên trang web hợp lệ.')]).toEqual([400, true]);
    const long = await post({ name: 'games.example', message: 'ă'.repeat(501) });
    expect([long.status, long.body.includes('Lời nhắn quá dài.')]).toEqual([400, true]);
    const crossSite = await post({ name: 'games.example' }, { 'sec-fetch-site': 'cross-site' });
    expect([crossSite.status, crossSite.body.includes('Yêu cầu phải được gửi từ trang này.')]).toEqual([403, true]);
    const multipart = await request(port, { method: 'POST', path: REVIEW_PATH, headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' });
    expect(multipart.status).toBe(415);
    for (const res of [notBlocked, badName, long, crossSite, multipart]) {
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.body).not.toMatch(UNESCAPED);
    }
    // A message with markup is accepted and stored as text, and the thank-you page does not echo it.
    const markup = await post({ name: 'games.example', message: `${HOSTILE} "><img src=x onerror=alert(1)>` });
    expect(markup.status).toBe(200);
    expect(markup.body).not.toMatch(UNESCAPED);
    expect(r.requests!.list().find((q) => q.name === 'games.example')?.message).toContain(HOSTILE);
  });

  it('the store\'s rate limit shows as a clear page', async () => {
    // The store takes a few submissions per device per window; 127.0.0.1 has used some above.
    let last: Res | undefined;
    for (let i = 0; i < 8; i++) {
      last = await request(port, { method: 'POST', path: REVIEW_PATH, headers: FORM, body: form({ name: 'adult.example' }) });
      if (last.status === 429) break;
    }
    expect(last!.status).toBe(429);
    expect(last!.body).toContain('Thiết bị này đã gửi nhiều yêu cầu. Hãy thử lại sau nhé.');
    expect(promValue(await scrape(r.adminPort!), 'school_dns_review_submissions_total', { result: 'rate_limited' })).toBe(1);
    // Another device is not limited by this one.
    const other = await request(port, { method: 'POST', path: REVIEW_PATH, headers: FORM, body: form({ name: 'adult.example' }), from: '127.0.0.5' });
    expect(other.status).toBe(200);
  });
});

describe('after staff approve a request', () => {
  it('the page says the name is open for this device now (it may still hold the old answer), offers no form, and takes no new request', async () => {
    const pending = r.requests!.list().find((q) => q.name === 'games.example')!;
    expect(pending).toBeDefined();
    await r.requests!.approve(pending.id);
    try {
      const page = await request(port, { host: 'games.example', from: '127.0.0.6' });
      expect(page.body).toContain('Trang này không bị chặn cho nhóm của em lúc này.');
      expect(page.body).not.toContain('<form');
      const post = await request(port, { method: 'POST', path: REVIEW_PATH, headers: FORM, body: form({ name: 'games.example' }), from: '127.0.0.6' });
      expect(post.status).toBe(409);
    } finally {
      await r.requests!.revoke(pending.id);
    }
    expect((await request(port, { host: 'games.example', from: '127.0.0.6' })).body).toContain(`action="${REVIEW_PATH}"`);
  });
});

describe('separate servers: TLS, timeouts, a sink that says no, a taken address', () => {
  const quiet = createLogger({ level: 'error', format: 'json', stream: { write: () => true } as unknown as NodeJS.WritableStream });
  const servers: BlockPageServer[] = [];
  const start = async (opts: Partial<BlockPageOptions>, sink: ReviewSink | null = null, logLines?: string[]): Promise<BlockPageServer> => {
    const log = logLines ? createLogger({ level: 'info', format: 'json', stream: { write: (l: string) => { logLines.push(l); return true; } } as unknown as NodeJS.WritableStream }) : quiet;
    const s = new BlockPageServer({ listen: [loopback(0)], https: { mode: 'off', port: 0, cert: null, key: null }, reviewForm: true, ...opts },
      { state: () => r.filter!.state, sink, counters: r.metrics, log });
    servers.push(s);
    await s.start();
    return s;
  };
  afterAll(async () => { await Promise.all(servers.map((s) => s.close())); });

  it('mode tls serves the same page over HTTPS with the configured certificate', async () => {
    const certDir = mkdtempSync(path.join(tmpdir(), 'blockpage-tls-'));
    try {
      const cert = path.join(certDir, 'cert.pem');
      const key = path.join(certDir, 'key.pem');
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
        '-subj', '/CN=adult.example', '-addext', 'subjectAltName=DNS:adult.example', '-keyout', key, '-out', cert], { stdio: 'pipe' });
      const before = promValue(await scrape(r.adminPort!), 'school_dns_block_pages_total', { scheme: 'https' });
      const s = await start({ https: { mode: 'tls', port: 0, cert, key } });
      expect(s.health().ok).toBe(true);
      const res = await request(s.httpsPorts[0]!, { tls: { ca: readFileSync(cert), servername: 'adult.example' } });
      expect(res.status).toBe(200);
      expect(res.body).toContain('adult.example');
      expect(res.body).toContain('href="tel:111"');
      expect(promValue(await scrape(r.adminPort!), 'school_dns_block_pages_total', { scheme: 'https' })).toBe(before + 1);
      // A client that does not trust the certificate fails the handshake, as a browser would.
      await expect(request(s.httpsPorts[0]!, { tls: { servername: 'adult.example' } })).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    } finally {
      rmSync(certDir, { recursive: true, force: true });
    }
  });

  it('serves on IPv6 too, and knows IPv6 devices', async () => {
    const s = await start({ listen: [loopback(0, '::1')] });
    const res = await request(s.httpPorts[0]!, { to: '::1' });
    expect(res.status).toBe(200);
    expect(res.body).toContain('Trường Tiểu học Thử Nghiệm');
    expect(s.describe()).toEqual([`http://[::1]:${s.httpPorts[0]}`]);
  });

  it('a slow client is cut off within the header timeout; an idle connection within the idle timeout', async () => {
    const s = await start({ limits: { headersTimeoutMs: 400, requestTimeoutMs: 800, idleTimeoutMs: 400 } });
    const p = s.httpPorts[0]!;
    // Slowloris: one header line every 150 ms, never finishing the head.
    const pieces = ['GET / HTTP/1.1\r\nHost: adult.example\r\n', ...Array.from({ length: 40 }, (_, i) => `X-${i}: a\r\n`)];
    const slow = await raw(p, pieces, 150, 6000);
    expect(slow.closedAfterMs).toBeLessThan(2500);
    expect(slow.data).toMatch(/^HTTP\/1\.1 408 /);
    // Connect and say nothing.
    const silent = await raw(p, [], 0, 6000);
    expect(silent.closedAfterMs).toBeLessThan(2500);
    // A kept-alive connection after a full response.
    const idle = await raw(p, ['GET / HTTP/1.1\r\nHost: adult.example\r\n\r\n'], 0, 6000);
    expect(idle.data).toMatch(/^HTTP\/1\.1 200 /);
    expect(idle.closedAfterMs).toBeLessThan(2500);
  });

  it('shows the sink\'s refusals and failures as pages, never an error trace', async () => {
    const answers: (SubmitResult | Error)[] = [
      { ok: false, code: 'STORE_FULL', message: 'full' },
      { ok: false, code: 'INVALID', message: `bad message ${HOSTILE}` },
      { ok: false, code: 'STORE_FAILED', message: 'disk' },
      new Error('the disk is on fire'),
    ];
    const got: ReviewSubmission[] = [];
    const sink: ReviewSink = {
      async submit(sub) {
        got.push(sub);
        const a = answers.shift()!;
        if (a instanceof Error) throw a;
        return a;
      },
    };
    const s = await start({}, sink);
    const post = () => request(s.httpPorts[0]!, { method: 'POST', path: REVIEW_PATH, headers: FORM, body: form({ name: 'games.example', message: 'hi' }) });
    const full = await post();
    expect([full.status, full.body.includes('Đang có quá nhiều yêu cầu chờ xem lại.')]).toEqual([503, true]);
    const invalid = await post();
    expect(invalid.status).toBe(400);
    expect(invalid.body).toContain('bad message &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(invalid.body).not.toMatch(UNESCAPED);
    const failed = await post();
    expect([failed.status, failed.body.includes('Chưa lưu được yêu cầu.')]).toEqual([503, true]);
    const thrown = await post();
    expect([thrown.status, thrown.body.includes('Chưa lưu được yêu cầu.')]).toEqual([503, true]);
    expect(thrown.body).not.toContain('on fire');
    expect(got[0]).toEqual({ name: 'games.example', school: 'Trường Tiểu học Thử Nghiệm', group: 'primary', category: 'games', message: 'hi' });
    // Without a sink (or with the form off) there is no form, and a post is refused.
    const off = await start({ reviewForm: false }, sink);
    expect((await request(off.httpPorts[0]!)).body).not.toContain('<form');
    const refused = await request(off.httpPorts[0]!, { method: 'POST', path: REVIEW_PATH, headers: FORM, body: form({ name: 'games.example' }) });
    expect(refused.status).toBe(404);
    expect(got).toHaveLength(4);
  });

  it('an address already taken is reported with what to do; the rest still starts', async () => {
    const holder = net.createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', () => res()));
    const taken = (holder.address() as net.AddressInfo).port;
    try {
      const lines: string[] = [];
      const s = await start({ listen: [loopback(taken), loopback(0)] }, null, lines);
      const h = s.health();
      expect(h.ok).toBe(false);
      expect(h.endpoints).toEqual([
        { kind: 'http', address: '127.0.0.1:0', port: s.httpPorts[0], error: null },
        { kind: 'http', address: `127.0.0.1:${taken}`, port: null, error: { code: 'EADDRINUSE', message: expect.any(String), fix: expect.stringContaining('another program already listens on 127.0.0.1:') } },
      ]);
      expect((await request(s.httpPorts[0]!)).status).toBe(200);
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.level === 'error');
      expect(logged).toMatchObject({ msg: 'the block page cannot listen here; DNS keeps serving without it', code: 'EADDRINUSE', fix: expect.stringContaining('blockPage.listen') });
    } finally {
      holder.close();
    }
  });

  it('an address this machine does not have is reported too', async () => {
    // 192.0.2.1 (TEST-NET-1) is on no interface here: the bind fails at once, nothing is sent.
    const s = await start({ listen: [{ host: '192.0.2.1', port: 0, family: 4 }] });
    expect(s.health().endpoints).toEqual([
      { kind: 'http', address: '192.0.2.1:0', port: null, error: { code: 'EADDRNOTAVAIL', message: expect.any(String), fix: expect.stringContaining('is not an address of this machine') } },
    ]);
    expect(s.httpPorts).toEqual([]);
  });

  it('through startResolver: DNS serves while the block page cannot bind, and /healthz says why', async () => {
    const holder = net.createServer();
    await new Promise<void>((res) => holder.listen(0, '127.0.0.1', () => res()));
    const taken = (holder.address() as net.AddressInfo).port;
    const second = await startTestResolver({
      blocking: { sinkholeIPv4: '127.0.0.1', sinkholeIPv6: null, ttl: 60 },
      blockPage: { enabled: true, listen: [loopback(taken)], https: { mode: 'off', port: 443, cert: null, key: null }, reviewForm: true },
    });
    try {
      expect(second.blockPagePorts).toEqual({ http: [], https: [] });
      const h = JSON.parse((await httpGet(second.adminPort!, '/healthz')).body);
      expect(h.ok).toBe(true);
      expect(h.blockPage.ok).toBe(false);
      expect(h.blockPage.endpoints[0].error.code).toBe('EADDRINUSE');
      expect(second.logs.some((l) => l.level === 'error' && l.code === 'EADDRINUSE')).toBe(true);
      const a = decode(await udpAskFrom('127.0.0.1', second.udpPort, query('localhost', 'A'), 3000));
      expect(a.answers.some((x) => x.type === 'A' && x.data === '127.0.0.1')).toBe(true);
    } finally {
      await second.close();
      holder.close();
    }
  });
});
