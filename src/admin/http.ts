// The admin endpoint: /metrics for Prometheus, /healthz for load balancers and systemd.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { HostPort } from '../config/types';
import type { Logger } from '../log/logger';
import type { Metrics } from '../metrics/metrics';

export interface Health {
  readonly ok: boolean;
  readonly [key: string]: unknown;
}

/**
 * An admin API route: answers with a status and a JSON body, or, with `stream`, with
 * newline-delimited JSON written as it comes (a chunked response: progress of a long task).
 */
export type Route = (url: URL, req: http.IncomingMessage) => Promise<{ status: number; body: unknown; stream?: (send: (event: unknown) => void) => Promise<void> }>;

/** Routes keyed by "METHOD /path", e.g. "POST /reload"; one path segment may be "*", matching any one segment. */
export type Routes = ReadonlyMap<string, Route>;

export class AdminServer {
  private server: http.Server | null = null;

  constructor(
    private readonly addr: HostPort,
    private readonly metrics: Metrics,
    private readonly health: () => Health,
    private readonly log: Logger,
    private readonly routes: Routes = new Map(),
    /** When set, every request but GET/HEAD /healthz must carry "Authorization: Bearer <token>". */
    token: string | null = null,
  ) {
    this.tokenDigest = token === null ? null : digest(token);
  }

  private readonly tokenDigest: Buffer | null;

  /** Whether the request carries the token (compared in constant time), or none is needed. */
  private authorized(req: http.IncomingMessage, path: string): boolean {
    if (this.tokenDigest === null) return true;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) return true; // load balancers, systemd
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    return m !== null && timingSafeEqual(digest(m[1]), this.tokenDigest);
  }

  start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.route(req, res).catch((err) => {
        this.log.error('admin request failed', { err, url: req.url });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('internal error\n');
      });
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.addr.host, port: this.addr.port, ipv6Only: this.addr.family === 6 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.addr.port;
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (!this.authorized(req, path)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="school-dns admin"', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'this admin API needs its token: send "Authorization: Bearer <token>" (the school-dns commands read it from SCHOOL_DNS_ADMIN_TOKEN_FILE or SCHOOL_DNS_ADMIN_TOKEN)' }) + '\n');
      return;
    }
    const route = this.find(`${req.method}`, path);
    if (route) {
      const { status, body, stream } = await route(url, req);
      if (stream) {
        res.writeHead(status, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        res.on('error', () => undefined); // the client went away: the task goes on without it
        await stream((event) => { if (!res.destroyed) res.write(JSON.stringify(event) + '\n'); });
        res.end();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body, null, 2) + '\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      const body = await this.metrics.registry.metrics();
      res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (path === '/healthz') {
      const h = this.health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify(h) + '\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found: try /metrics or /healthz\n');
  }

  /** The route for an exact path, else for the path with one segment replaced by "*". */
  private find(method: string, path: string): Route | undefined {
    const exact = this.routes.get(`${method} ${path}`);
    if (exact || path.length > 200) return exact;
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const r = this.routes.get(`${method} ${[...parts.slice(0, i), '*', ...parts.slice(i + 1)].join('/')}`);
      if (r) return r;
    }
    return undefined;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
      this.server = null;
    });
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
