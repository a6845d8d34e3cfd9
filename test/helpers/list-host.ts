// A list host for tests: a real HTTP server on loopback (port 0) serving list files with ETag
// and Last-Modified, answering 304 to conditional requests, recording the headers of every
// request, and able to fail on demand (status, hang, reset, oversize, gzip).
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

export type HostMode =
  /** The list, or 304 when the request's validators match. */
  | 'ok'
  /** HTTP 500. */
  | 'error'
  /** Accepts the request and never answers. */
  | 'hang'
  /** Sends the headers and part of the body, then resets the connection. */
  | 'reset'
  /** Streams list lines without a Content-Length until the client goes away. */
  | 'endless'
  /** The list (200, with Content-Length) in 12 pieces over about a second. */
  | 'slow';

export interface Served {
  body: string;
  /** null: no ETag header (only Last-Modified validates). Default: a hash of the body. */
  etag?: string | null;
  /** null: no Last-Modified header. Default: a fixed date. */
  lastModified?: string | null;
  /** Send with Content-Encoding: gzip. */
  gzip?: boolean;
  mode?: HostMode;
  /** Answer with a redirect to this path instead. */
  redirect?: string;
}

export interface SeenRequest {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** What was answered: 200, 304, 500, 302, or 0 (hang/reset/endless). */
  status: number;
}

export const FIXED_LAST_MODIFIED = 'Wed, 01 Jan 2025 00:00:00 GMT';

export class ListHost {
  readonly requests: SeenRequest[] = [];
  private readonly files = new Map<string, Served>();
  private readonly hanging = new Set<http.ServerResponse>();

  private constructor(private readonly server: http.Server, readonly port: number) {}

  static async start(): Promise<ListHost> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const host = new ListHost(server, (server.address() as AddressInfo).port);
    server.on('request', (req, res) => host.answer(req, res));
    return host;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Serves `path` from now on. */
  set(path: string, served: Served): void {
    this.files.set(path, served);
  }

  get(path: string): Served {
    const f = this.files.get(path);
    if (!f) throw new Error(`nothing set for ${path}`);
    return f;
  }

  /** Changes how `path` is answered, keeping its body. */
  mode(path: string, mode: HostMode): void {
    this.get(path).mode = mode;
  }

  requestsFor(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const seen: SeenRequest = { path, headers: req.headers, status: 0 };
    this.requests.push(seen);
    const f = this.files.get(path);
    if (!f) {
      seen.status = 404;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('no such list\n');
      return;
    }
    if (f.redirect) {
      seen.status = 302;
      res.writeHead(302, { location: f.redirect }).end();
      return;
    }
    const mode = f.mode ?? 'ok';
    if (mode === 'error') {
      seen.status = 500;
      res.writeHead(500, { 'content-type': 'text/plain' }).end('the list host is broken\n');
      return;
    }
    if (mode === 'hang') {
      this.hanging.add(res);
      res.on('close', () => this.hanging.delete(res));
      return;
    }
    if (mode === 'reset') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(f.body) + 1000) });
      res.write(f.body.slice(0, Math.floor(f.body.length / 2)));
      setTimeout(() => req.socket.resetAndDestroy(), 20);
      return;
    }
    if (mode === 'endless') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      let n = 0;
      const tick = setInterval(() => {
        if (res.destroyed || n > 100_000) {
          clearInterval(tick);
          res.end();
          return;
        }
        res.write(Array.from({ length: 500 }, () => `endless-${n++}.example\n`).join(''));
      }, 1);
      res.on('close', () => clearInterval(tick));
      return;
    }
    const etag = f.etag === undefined ? `"${createHash('sha256').update(f.body).digest('hex').slice(0, 16)}"` : f.etag;
    const lastModified = f.lastModified === undefined ? FIXED_LAST_MODIFIED : f.lastModified;
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
    if (etag) headers.etag = etag;
    if (lastModified) headers['last-modified'] = lastModified;
    const inm = req.headers['if-none-match'];
    const ims = req.headers['if-modified-since'];
    const notModified = inm !== undefined
      ? etag !== null && inm === etag
      : ims !== undefined && lastModified !== null && Date.parse(ims) >= Date.parse(lastModified);
    if (notModified) {
      seen.status = 304;
      res.writeHead(304, headers).end();
      return;
    }
    seen.status = 200;
    let data = Buffer.from(f.body);
    if (f.gzip) {
      data = zlib.gzipSync(data);
      headers['content-encoding'] = 'gzip';
    }
    headers['content-length'] = String(data.length);
    if (mode !== 'slow') {
      res.writeHead(200, headers).end(data);
      return;
    }
    res.writeHead(200, headers);
    const piece = Math.ceil(data.length / 12);
    let off = 0;
    const tick = setInterval(() => {
      if (res.destroyed) return clearInterval(tick);
      res.write(data.subarray(off, off + piece));
      off += piece;
      if (off >= data.length) {
        clearInterval(tick);
        res.end();
      }
    }, 80);
    res.on('close', () => clearInterval(tick));
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A plain list of `n` names: name-0.<suffix> ... */
export function plainList(n: number, suffix = 'listed.example'): string {
  return Array.from({ length: n }, (_, i) => `name-${i}.${suffix}`).join('\n') + '\n';
}
