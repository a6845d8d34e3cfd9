// The HTTP server on the sinkhole address: a browser that asked school-dns for a blocked name
// connects here, and gets the block page. Port 443 fails fast by default (each connection is
// reset at once: no certificate can be valid for a blocked name, and a silent port would leave
// the browser waiting), or serves the same page over TLS with a district's own certificate.
//
// Binding never stops school-dns: an address that cannot be taken (a port below 1024 without
// root, a port another program holds) is logged with what to do, reported in /healthz, and the
// DNS service goes on without it.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { HostPort } from '../config/types';
import type { FilterState } from '../filter/state';
import { normalizeName } from '../lists/normalize';
import type { Logger } from '../log/logger';
import type { ReviewResult } from '../metrics/metrics';
import type { ApprovalSet } from '../requests/approvals';
import type { ReviewSink, SubmitResult } from '../requests/types';
import { blockFacts } from './facts';
import { EN_FIRST, languageOrder, VI_FIRST, type LangOrder } from './language';
import { MAX_MESSAGE_CHARS, renderBlockPage, renderProblem, renderThanks, REVIEW_PATH, STYLE_HASH } from './page';
import type { ReviewProblem } from './texts';

export type HttpsMode = 'reset' | 'tls' | 'off';

export interface BlockPageOptions {
  /** Where the page is served over HTTP. */
  readonly listen: readonly HostPort[];
  readonly https: {
    /** reset: every connection to `port` is reset at once; tls: the page over TLS; off: nothing listens. */
    readonly mode: HttpsMode;
    /** On each host of `listen`. */
    readonly port: number;
    /** PEM files, required for tls. */
    readonly cert: string | null;
    readonly key: string | null;
  };
  /** Show the "this should not be blocked" form (when there is a review sink). */
  readonly reviewForm: boolean;
  readonly limits?: Partial<BlockPageLimits>;
}

export interface BlockPageLimits {
  /** The whole request head must arrive within this (slow-header clients). */
  readonly headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this. */
  readonly requestTimeoutMs: number;
  /** A connection with nothing happening is closed after this. */
  readonly idleTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
  readonly maxConnections: number;
}

export const DEFAULT_LIMITS: BlockPageLimits = Object.freeze({
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  idleTimeoutMs: 10_000,
  maxHeaderBytes: 8 * 1024,
  maxBodyBytes: 8 * 1024,
  maxConnections: 1_000,
});

/** What the block page counts (implemented by Metrics). */
export interface BlockPageCounters {
  blockPageServed(scheme: 'http' | 'https'): void;
  reviewRequest(result: ReviewResult): void;
  httpsReset(): void;
}

export interface BlockPageDeps {
  /** The live filter state; null when filtering is off. */
  readonly state: () => FilterState | null;
  /** Names opened by approved review requests (FilterManager.approvals); absent or null: none. */
  readonly approvals?: () => ApprovalSet | null;
  /** Where review requests go; null hides the form. */
  readonly sink: ReviewSink | null;
  readonly counters: BlockPageCounters | null;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface EndpointStatus {
  /** http: the page; https: the page over TLS; reset: port 443 resetting every connection. */
  readonly kind: 'http' | 'https' | 'reset';
  /** The address as configured, "127.0.0.1:80". */
  readonly address: string;
  /** The bound port, or null when it could not be bound. */
  readonly port: number | null;
  readonly error: { readonly code: string; readonly message: string; readonly fix: string } | null;
}

export interface BlockPageHealth {
  /** Every configured endpoint is listening. */
  readonly ok: boolean;
  readonly endpoints: readonly EndpointStatus[];
}

const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** What an operator should do when an address cannot be bound. */
export function bindFix(code: string, host: string, port: number, kind: EndpointStatus['kind']): string {
  const key = kind === 'http' ? 'blockPage.listen' : 'blockPage.https.port';
  const orOff = kind === 'http' ? '' : ', or set blockPage.https.mode: off';
  switch (code) {
    case 'EACCES':
      return `port ${port} is below 1024 and needs privileges: run school-dns as root, or give it CAP_NET_BIND_SERVICE ` +
        '(systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE; by hand: setcap cap_net_bind_service=+ep on the node binary), ' +
        `or set ${key} to a port above 1023 and redirect port ${port} to it in the firewall${orOff}; blockPage.enabled: false turns the block page off`;
    case 'EADDRINUSE':
      return `another program already listens on ${hostPort(host, port)}: stop it (a web server?), or set ${key} to another address or port${orOff}`;
    case 'EADDRNOTAVAIL':
      return `${host} is not an address of this machine: set blocking.sinkholeIPv4/sinkholeIPv6 (or blockPage.listen) to this server's own address`;
    default:
      return `check ${key} and blocking.sinkholeIPv4/sinkholeIPv6`;
  }
}

interface Bound {
  readonly server: net.Server;
  readonly host: string;
  readonly status: EndpointStatus;
}

const PLAIN = 'text/plain; charset=utf-8';
const CSP = `default-src 'none'; style-src ${STYLE_HASH}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`;
const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

/** Paths browsers fetch on their own; they get a small 404 rather than the page. */
const ASSET_PATH = /^\/(?:favicon\.ico|apple-touch-icon[\w.-]*\.png|browserconfig\.xml|site\.webmanifest|manifest\.json)$/i;

class BodyTooLarge extends Error {
  readonly code = 'BODY_TOO_LARGE';
}

export class BlockPageServer {
  private readonly limits: BlockPageLimits;
  private readonly bound: Bound[] = [];
  private readonly failed: EndpointStatus[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: BlockPageOptions, private readonly deps: BlockPageDeps) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.now = deps.now ?? Date.now;
  }

  /** Binds every endpoint it can; never throws for one it cannot (see health()). */
  async start(): Promise<void> {
    const { listen, https: tls } = this.opts;
    let tlsFiles: { cert: Buffer; key: Buffer } | { error: Error } | null = null;
    if (tls.mode === 'tls') {
      try {
        tlsFiles = { cert: readFileSync(tls.cert ?? ''), key: readFileSync(tls.key ?? '') };
      } catch (e) {
        tlsFiles = { error: e as Error };
      }
    }
    for (const addr of listen) {
      await this.bind('http', addr.host, addr.port, addr.family, () => this.httpServer());
      if (tls.mode === 'reset') {
        await this.bind('reset', addr.host, tls.port, addr.family, () => this.resetServer());
      } else if (tls.mode === 'tls' && tlsFiles !== null) {
        const files = tlsFiles;
        await this.bind('https', addr.host, tls.port, addr.family, () => {
          if ('error' in files) throw files.error;
          return this.httpsServer(files.cert, files.key);
        });
      }
    }
  }

  health(): BlockPageHealth {
    const endpoints = [...this.bound.map((b) => b.status), ...this.failed];
    return { ok: this.failed.length === 0, endpoints };
  }

  /** "http://127.0.0.1:80", "https://…:443" (tls), "reset://…:443" (connections reset at once). */
  describe(): string[] {
    return this.bound.map((b) => `${b.status.kind}://${hostPort(b.host, b.status.port!)}`);
  }

  /** Bound ports of the page over HTTP, in listen order (addresses that failed are left out). */
  get httpPorts(): number[] {
    return this.bound.filter((b) => b.status.kind === 'http').map((b) => b.status.port!);
  }

  /** Bound ports of port-443 endpoints (tls or reset), in listen order. */
  get httpsPorts(): number[] {
    return this.bound.filter((b) => b.status.kind !== 'http').map((b) => b.status.port!);
  }

  async close(): Promise<void> {
    const servers = this.bound.splice(0).map((b) => b.server);
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      if (s instanceof http.Server) s.closeAllConnections();
    })));
  }

  private async bind(kind: EndpointStatus['kind'], host: string, port: number, family: 4 | 6, make: () => net.Server): Promise<void> {
    const address = hostPort(host, port);
    let server: net.Server;
    try {
      server = make();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host, port, ipv6Only: family === 6 }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'ERROR';
      const status: EndpointStatus = { kind, address, port: null, error: { code, message: (e as Error).message, fix: bindFix(code, host, port, kind) } };
      this.failed.push(status);
      this.deps.log.error('the block page cannot listen here; DNS keeps serving without it', { kind, address, code, error: (e as Error).message, fix: status.error!.fix });
      return;
    }
    server.on('error', (e) => this.deps.log.error('block page server error', { kind, address, error: (e as Error).message }));
    const actual = (server.address() as net.AddressInfo).port;
    this.bound.push({ server, host, status: { kind, address, port: actual, error: null } });
  }

  private serverOptions(): http.ServerOptions {
    const l = this.limits;
    return {
      maxHeaderSize: l.maxHeaderBytes,
      headersTimeout: Math.min(l.headersTimeoutMs, l.requestTimeoutMs),
      requestTimeout: l.requestTimeoutMs,
      keepAliveTimeout: l.idleTimeoutMs,
      // How often Node checks the two timeouts above (its default, 30 s, would let a slow client hold on far longer).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(l.headersTimeoutMs / 4))),
      // A request without Host gets the generic page, not a 400.
      requireHostHeader: false,
    };
  }

  private configure<T extends http.Server>(server: T, scheme: 'http' | 'https'): T {
    server.timeout = this.limits.idleTimeoutMs;
    server.maxConnections = this.limits.maxConnections;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res, scheme).catch((err) => {
        this.deps.log.error('block page request failed', { err });
        if (!res.headersSent) res.writeHead(500, { 'content-type': PLAIN, 'cache-control': 'no-store', connection: 'close' });
        res.end('Internal error\n');
      });
    });
    server.on('clientError', (err: Error & { code?: string }, socket: net.Socket) => {
      // Malformed or oversized requests, slow clients: a short plain answer, then close. Never a trace.
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
      const body = `${status} ${http.STATUS_CODES[status]}\n`;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: ${PLAIN}\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
      socket.destroySoon();
    });
    return server;
  }

  private httpServer(): net.Server {
    return this.configure(http.createServer(this.serverOptions()), 'http');
  }

  private httpsServer(cert: Buffer, key: Buffer): net.Server {
    const server = this.configure(https.createServer({ ...this.serverOptions(), cert, key, handshakeTimeout: this.limits.headersTimeoutMs }), 'https');
    server.on('tlsClientError', (err: Error, socket: net.Socket) => {
      this.deps.log.debug('block page TLS handshake failed', { error: err.message });
      socket.destroy();
    });
    return server;
  }

  private resetServer(): net.Server {
    return net.createServer({ pauseOnConnect: true }, (socket) => {
      this.deps.counters?.httpsReset();
      socket.on('error', () => { /* the reset itself may report ECONNRESET; nothing to do */ });
      socket.resetAndDestroy();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, scheme: 'http' | 'https'): Promise<void> {
    const target = parseTarget(req.url);
    const chosen = chooseLang(target.query.get('lang'));
    const method = req.method ?? '';
    if (method === 'POST' && target.path === REVIEW_PATH) return this.review(req, res, chosen);
    if (method !== 'GET' && method !== 'HEAD') {
      req.resume();
      return sendPlain(res, 405, 'Method not allowed\n', { allow: 'GET, HEAD' });
    }
    const dest = req.headers['sec-fetch-dest'];
    if (ASSET_PATH.test(target.path) || (typeof dest === 'string' && dest !== 'document')) {
      // An icon, an image, a script of a page that embeds a blocked name: no page for those.
      return sendPlain(res, 404, 'Blocked\n');
    }
    const order = chosen ?? languageOrder(header(req, 'accept-language'));
    const facts = blockFacts(this.deps.state(), header(req, 'host'), req.socket.remoteAddress ?? '', req.socket.localAddress, this.now(), this.approvals());
    const html = renderBlockPage(facts, order, { reviewForm: this.formShown(), chosenLang: chosen === null ? null : chosen[0] });
    this.deps.counters?.blockPageServed(scheme);
    sendPage(res, 200, html);
  }

  private approvals(): ApprovalSet | null {
    return this.deps.approvals?.() ?? null;
  }

  private formShown(): boolean {
    return this.opts.reviewForm && this.deps.sink !== null;
  }

  private async review(req: http.IncomingMessage, res: http.ServerResponse, chosenOrder: LangOrder | null): Promise<void> {
    let order = chosenOrder ?? languageOrder(header(req, 'accept-language'));
    const refuse = (status: number, problem: ReviewProblem, result: ReviewResult = 'refused', detail: string | null = null): void => {
      this.deps.counters?.reviewRequest(result);
      sendPage(res, status, renderProblem(order, problem, detail));
    };
    const sink = this.deps.sink;
    if (!this.formShown() || sink === null) {
      req.resume();
      return refuse(404, 'OFF');
    }
    const site = header(req, 'sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') {
      // Another site's page posting here (the form is only on this one): refused.
      req.resume();
      return refuse(403, 'CROSS_SITE');
    }
    const type = (header(req, 'content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      req.resume();
      return refuse(415, 'INVALID');
    }
    let body: string;
    try {
      body = await readBody(req, this.limits.maxBodyBytes);
    } catch (e) {
      if ((e as { code?: string }).code !== 'BODY_TOO_LARGE') throw e;
      res.setHeader('connection', 'close');
      return refuse(413, 'TOO_LONG');
    }
    const form = new URLSearchParams(body);
    const formLang = chooseLang(form.get('lang'));
    if (chosenOrder === null && formLang !== null) order = formLang;
    const rawName = form.get('name') ?? '';
    const name = normalizeName(rawName);
    if (typeof name !== 'string') return refuse(400, 'NO_NAME');
    const message = (form.get('message') ?? '').replace(/\r\n?/g, '\n').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '').trim();
    if ([...message].length > MAX_MESSAGE_CHARS) return refuse(400, 'TOO_LONG');
    const client = req.socket.remoteAddress ?? '';
    const facts = blockFacts(this.deps.state(), name, client, req.socket.localAddress, this.now(), this.approvals());
    if (facts.decision !== 'block' || facts.client === null) return refuse(409, 'NOT_BLOCKED');
    let r: SubmitResult;
    try {
      r = await sink.submit({ name, school: facts.client.school, group: facts.client.group, category: facts.category, message }, unmapped(client));
    } catch (err) {
      this.deps.log.error('the review request could not be stored', { err });
      return refuse(503, 'STORE_FAILED', 'failed');
    }
    if (r.ok) {
      this.deps.counters?.reviewRequest(r.duplicate ? 'duplicate' : 'accepted');
      return sendPage(res, 200, renderThanks(order, r.id, r.duplicate));
    }
    switch (r.code) {
      case 'RATE_LIMITED': return refuse(429, 'RATE_LIMITED', 'rate_limited');
      case 'STORE_FULL': return refuse(503, 'STORE_FULL', 'store_full');
      case 'INVALID': return refuse(400, 'INVALID', 'invalid', r.message);
      default: return refuse(503, 'STORE_FAILED', 'failed');
    }
  }
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function chooseLang(v: string | null): LangOrder | null {
  return v === 'en' ? EN_FIRST : v === 'vi' ? VI_FIRST : null;
}

/** Path and query of a request target; anything unparsable counts as "/". */
function parseTarget(url: string | undefined): { path: string; query: URLSearchParams } {
  try {
    const u = new URL(url ?? '/', 'http://block-page.invalid');
    return { path: u.pathname, query: u.searchParams };
  } catch {
    return { path: '/', query: new URLSearchParams() };
  }
}

function unmapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function sendPage(res: http.ServerResponse, status: number, html: string): void {
  const body = Buffer.from(html, 'utf8');
  res.writeHead(status, { ...PAGE_HEADERS, 'content-length': body.length });
  res.end(body);
}

function sendPlain(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': PLAIN, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'content-length': Buffer.byteLength(text), ...extra });
  res.end(text);
}

/** The request body as UTF-8, at most `limit` bytes (BodyTooLarge beyond, announced or not). */
function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  const announced = Number(req.headers['content-length'] ?? 0);
  if (announced > limit) {
    req.resume();
    return Promise.reject(new BodyTooLarge(`body of ${announced} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge(`body over ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
