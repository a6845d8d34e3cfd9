// The URL fetch of a list (src/lists/fetch.ts) against a real HTTP server on loopback:
// conditional requests, encodings, limits, timeouts, redirects, broken connections.
import net from 'node:net';
import zlib from 'node:zlib';
import { fetchUrl, type FetchOptions } from '../../src/lists/fetch';
import { FIXED_LAST_MODIFIED, ListHost, plainList } from '../helpers/list-host';

const BASE: FetchOptions = { timeoutMs: 5000, maxBytes: 1024 * 1024 };

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; status?: number };
  }
  throw new Error('expected a failure');
}

describe('fetchUrl', () => {
  let host: ListHost;
  beforeAll(async () => {
    host = await ListHost.start();
  });
  afterAll(() => host.close());

  it('gets a list with its validators, asking for gzip', async () => {
    host.set('/a.txt', { body: plainList(3) });
    const r = await fetchUrl(host.url('/a.txt'), BASE);
    if (r.notModified) throw new Error('expected a body');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe(plainList(3));
    expect(r.etag).toMatch(/^"[0-9a-f]{16}"$/);
    expect(r.lastModified).toBe(FIXED_LAST_MODIFIED);
    const seen = host.requestsFor('/a.txt').at(-1)!;
    expect(seen.headers['accept-encoding']).toContain('gzip');
    expect(seen.headers['if-none-match']).toBeUndefined();
    expect(seen.headers['user-agent']).toMatch(/^school-dns\//);
  });

  it('sends If-None-Match and If-Modified-Since, and reports 304 as not modified', async () => {
    host.set('/b.txt', { body: plainList(5) });
    const first = await fetchUrl(host.url('/b.txt'), BASE);
    const again = await fetchUrl(host.url('/b.txt'), { ...BASE, etag: first.etag, lastModified: first.lastModified });
    expect(again.notModified).toBe(true);
    expect(again.status).toBe(304);
    const seen = host.requestsFor('/b.txt').at(-1)!;
    expect(seen.headers['if-none-match']).toBe(first.etag);
    expect(seen.headers['if-modified-since']).toBe(FIXED_LAST_MODIFIED);
    expect(seen.status).toBe(304);
  });

  it('validates with Last-Modified alone when the host sends no ETag', async () => {
    host.set('/c.txt', { body: plainList(2), etag: null });
    const r = await fetchUrl(host.url('/c.txt'), { ...BASE, lastModified: FIXED_LAST_MODIFIED });
    expect(r.notModified).toBe(true);
    expect(host.requestsFor('/c.txt').at(-1)!.headers['if-none-match']).toBeUndefined();
  });

  it('gets the whole list again when the ETag no longer matches', async () => {
    host.set('/d.txt', { body: plainList(4) });
    const r = await fetchUrl(host.url('/d.txt'), { ...BASE, etag: '"old"' });
    expect(r.notModified).toBe(false);
  });

  it('keeps no validator that could not be sent back as it came (not printable ASCII)', async () => {
    host.set('/odd.txt', { body: plainList(1), etag: '"caf\xe9"' });
    const r = await fetchUrl(host.url('/odd.txt'), BASE);
    expect(r.etag).toBeNull();
    expect(r.lastModified).toBe(FIXED_LAST_MODIFIED);
  });

  it('decodes a gzip Content-Encoding, counting the bytes on the wire', async () => {
    const body = plainList(2000);
    host.set('/z.txt', { body, gzip: true });
    const r = await fetchUrl(host.url('/z.txt'), BASE);
    if (r.notModified) throw new Error('expected a body');
    expect(r.body.toString()).toBe(body);
    expect(r.wireBytes).toBeLessThan(r.body.length / 3);
  });

  it('unpacks a list that is itself a gzip file (served without a Content-Encoding)', async () => {
    const packed = zlib.gzipSync(plainList(10)).toString('latin1');
    const server = await rawServer((res) => {
      res.writeHead(200, { 'content-type': 'application/gzip' });
      res.end(Buffer.from(packed, 'latin1'));
    });
    try {
      const r = await fetchUrl(`http://127.0.0.1:${server.port}/list.txt.gz`, BASE);
      if (r.notModified) throw new Error('expected a body');
      expect(r.body.toString()).toBe(plainList(10));
    } finally {
      await server.close();
    }
  });

  it('refuses a gzip bomb by its unpacked size, though few bytes came', async () => {
    host.set('/bomb.txt', { body: 'a'.repeat(3 * 1024 * 1024), gzip: true });
    const e = await codeOf(fetchUrl(host.url('/bomb.txt'), BASE));
    expect(e.code).toBe('SOURCE_TOO_LARGE');
    expect(e.message).toContain(`more than ${1024 * 1024} bytes`);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    host.set('/big.txt', { body: plainList(100_000) });
    const e = await codeOf(fetchUrl(host.url('/big.txt'), BASE));
    expect(e.code).toBe('SOURCE_TOO_LARGE');
    expect(e.message).toMatch(/Content-Length \d+ is over the 1048576-byte limit/);
  });

  it('stops an endless body as soon as it passes the limit', async () => {
    host.set('/endless.txt', { body: '', mode: 'endless' });
    const t0 = Date.now();
    const e = await codeOf(fetchUrl(host.url('/endless.txt'), { ...BASE, maxBytes: 200_000 }));
    expect(e.code).toBe('SOURCE_TOO_LARGE');
    expect(e.message).toContain('download aborted');
    expect(Date.now() - t0).toBeLessThan(4000);
  });

  it('fails on an error status, with the status', async () => {
    host.set('/e.txt', { body: 'x', mode: 'error' });
    const e = await codeOf(fetchUrl(host.url('/e.txt'), BASE));
    expect(e.code).toBe('SOURCE_HTTP_STATUS');
    expect(e.status).toBe(500);
    expect(e.message).toBe(`${host.url('/e.txt')}: HTTP status 500 Internal Server Error`);
  });

  it('times out a host that never answers, within the download timeout', async () => {
    host.set('/hang.txt', { body: 'x', mode: 'hang' });
    const t0 = Date.now();
    const e = await codeOf(fetchUrl(host.url('/hang.txt'), { ...BASE, timeoutMs: 300 }));
    expect(e.code).toBe('SOURCE_TIMEOUT');
    expect(e.message).toContain('no complete answer within 300 ms');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('times out a connection that never completes its TLS handshake, within the connect timeout', async () => {
    const silent = net.createServer((s) => s.resume()); // accepts, reads, never speaks TLS
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const t0 = Date.now();
      const e = await codeOf(fetchUrl(`https://127.0.0.1:${port}/list.txt`, { ...BASE, connectTimeoutMs: 300, timeoutMs: 10_000 }));
      expect(e.code).toBe('SOURCE_TIMEOUT');
      expect(e.message).toContain(`could not connect to 127.0.0.1:${port} within 300 ms`);
      expect(Date.now() - t0).toBeLessThan(3000);
    } finally {
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('reports a connection reset in the middle of the body', async () => {
    host.set('/reset.txt', { body: plainList(1000), mode: 'reset' });
    const e = await codeOf(fetchUrl(host.url('/reset.txt'), BASE));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toMatch(/connection (broke|closed)/);
  });

  it('reports a refused connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const e = await codeOf(fetchUrl(`http://127.0.0.1:${port}/x.txt`, BASE));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('follows redirects up to the limit, and no further', async () => {
    host.set('/target.txt', { body: plainList(1) });
    host.set('/r1', { body: '', redirect: '/r2' });
    host.set('/r2', { body: '', redirect: '/target.txt' });
    const r = await fetchUrl(host.url('/r1'), { ...BASE, maxRedirects: 2 });
    expect(r.notModified).toBe(false);
    const e = await codeOf(fetchUrl(host.url('/r1'), { ...BASE, maxRedirects: 1 }));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain('more than 1 redirects');
  });

  it('refuses a redirect to another scheme', async () => {
    host.set('/to-ftp', { body: '', redirect: 'ftp://127.0.0.1/list.txt' });
    const e = await codeOf(fetchUrl(host.url('/to-ftp'), BASE));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain('unsupported URL scheme "ftp:"');
  });

  it.each([
    ['file:///etc/passwd', 'unsupported URL scheme "file:"'],
    ['not a url', 'not a valid URL'],
  ])('refuses %s', async (url, text) => {
    const e = await codeOf(fetchUrl(url, BASE));
    expect(e.code).toBe('SOURCE_UNREADABLE');
    expect(e.message).toContain(text);
  });

  it('reports progress as bytes arrive, with the declared total', async () => {
    host.set('/progress.txt', { body: plainList(20_000) });
    const seen: [number, number | null][] = [];
    const r = await fetchUrl(host.url('/progress.txt'), { ...BASE, onProgress: (b, t) => seen.push([b, t]) });
    if (r.notModified) throw new Error('expected a body');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.at(-1)).toEqual([r.body.length, r.body.length]);
  });
});

/** A one-route HTTP server for answers the list host does not make. */
async function rawServer(answer: (res: import('node:http').ServerResponse) => void): Promise<{ port: number; close(): Promise<void> }> {
  const http = await import('node:http');
  const server = http.createServer((_req, res) => answer(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
