// Client helpers for end-to-end tests: dns2 (an independent DNS implementation) for
// ordinary queries, raw UDP and TCP sockets where a test needs exact bytes, plain HTTP
// for the admin endpoint, and a reader for Prometheus text.
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import DNS from 'dns2';

export type Dns2Packet = DNS.Packet;
export const Dns2Packet = DNS.Packet;

/** A dns2 client asking the resolver at 127.0.0.1:`port` (dns2's UDP, TCP on TC). */
export function dns2Client(port: number, timeoutMs = 3000): DNS {
  return new DNS({ nameServers: ['127.0.0.1'], port, recursive: true, timeout: timeoutMs });
}

/** dns2's own UDP client (IPv4 or IPv6), without its automatic TCP retry. */
export function dns2Udp(port: number, host = '127.0.0.1', timeoutMs = 3000): DNS.DnsResolver {
  return DNS.UDPClient({ dns: host, port, socketType: host.includes(':') ? 'udp6' : 'udp4', timeout: timeoutMs, retryOverTCP: false });
}

/** dns2's own TCP client (IPv4 only: it splits the address at ':'). */
export function dns2Tcp(port: number, host = '127.0.0.1'): DNS.DnsResolver {
  return DNS.TCPClient({ dns: host, port });
}

/**
 * Sends one datagram and waits for the first reply; resolves null when nothing came
 * within `timeoutMs` (that is how a test asserts silence).
 */
export function udpAsk(port: number, msg: Buffer, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer | null> {
  const host = opts.host ?? '127.0.0.1';
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    let done = false;
    const finish = (v: Buffer | null, err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err); else resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.on('error', (e) => finish(null, e));
    sock.on('message', (buf) => finish(buf));
    sock.send(msg, port, host, (e) => { if (e) finish(null, e); });
  });
}

/** Sends every message from its own socket at once; resolves the replies in order (null: none). */
export function udpAskAll(port: number, msgs: Buffer[], opts: { host?: string; timeoutMs?: number } = {}): Promise<(Buffer | null)[]> {
  return Promise.all(msgs.map((m) => udpAsk(port, m, opts)));
}

/** Two-byte length prefix (RFC 1035 §4.2.2). */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}

/**
 * A raw DNS-over-TCP connection: write framed messages (or any bytes), read whole
 * messages in arrival order, and see when the server closes the connection.
 */
export class TcpConn {
  private pending = Buffer.alloc(0);
  private readonly inbox: Buffer[] = [];
  private waiting: { resolve: (b: Buffer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | null = null;
  private closedAt: number | null = null;
  /** Resolves with Date.now() when the socket has closed (by either side). */
  readonly closed: Promise<number>;
  /** Bytes received that were not a whole message when the connection closed. */
  get leftover(): number {
    return this.pending.length;
  }

  private constructor(readonly sock: net.Socket) {
    sock.setNoDelay(true);
    sock.on('data', (chunk) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 2) {
        const len = this.pending.readUInt16BE(0);
        if (this.pending.length < 2 + len) break;
        this.inbox.push(Buffer.from(this.pending.subarray(2, 2 + len)));
        this.pending = this.pending.subarray(2 + len);
      }
      this.deliver();
    });
    sock.on('error', () => { /* reset by the server: seen as close */ });
    this.closed = new Promise((resolve) => sock.on('close', () => {
      this.closedAt = Date.now();
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        clearTimeout(w.timer);
        w.reject(new Error('connection closed before a reply'));
      }
      resolve(this.closedAt);
    }));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<TcpConn> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ port, host });
      sock.once('error', reject);
      sock.once('connect', () => { sock.off('error', reject); resolve(new TcpConn(sock)); });
    });
  }

  get isClosed(): boolean {
    return this.closedAt !== null;
  }

  /** Writes one message with its length prefix. */
  send(msg: Buffer): void {
    this.sock.write(frame(msg));
  }

  /** Writes bytes as they are. */
  write(bytes: Buffer): void {
    this.sock.write(bytes);
  }

  /** The next whole message; rejects after `timeoutMs` or when the connection closes. */
  next(timeoutMs = 2000): Promise<Buffer> {
    const ready = this.inbox.shift();
    if (ready) return Promise.resolve(ready);
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    if (this.waiting) return Promise.reject(new Error('already waiting for a reply'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting = null; reject(new Error(`no TCP reply within ${timeoutMs} ms`)); }, timeoutMs);
      this.waiting = { resolve, reject, timer };
    });
  }

  /** Sends one message and waits for the next reply. */
  async ask(msg: Buffer, timeoutMs = 2000): Promise<Buffer> {
    this.send(msg);
    return this.next(timeoutMs);
  }

  /** Waits until the connection closes; resolves false if it is still open after `timeoutMs`. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), timeoutMs); });
    const r = await Promise.race([this.closed.then(() => true as const), timeout]);
    clearTimeout(timer);
    return r;
  }

  destroy(): void {
    this.sock.destroy();
  }

  private deliver(): void {
    if (!this.waiting || this.inbox.length === 0) return;
    const w = this.waiting;
    this.waiting = null;
    clearTimeout(w.timer);
    w.resolve(this.inbox.shift() as Buffer);
  }
}

/** One message over a fresh TCP connection, then close. */
export async function tcpAsk(port: number, msg: Buffer, opts: { host?: string; timeoutMs?: number } = {}): Promise<Buffer> {
  const c = await TcpConn.connect(port, opts.host);
  try {
    return await c.ask(msg, opts.timeoutMs);
  } finally {
    c.destroy();
  }
}

export interface HttpResult {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/** GET http://127.0.0.1:port/path. */
export function httpGet(port: number, path: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
  });
}

/**
 * The value of one series in Prometheus text: the line `name{labels} value` whose labels
 * include every given label. NaN when there is no such series.
 */
export function promValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) have[lm[1]] = lm[2];
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3]);
  }
  return NaN;
}

/** Fetches /metrics and reads one series. */
export async function scrape(adminPort: number): Promise<string> {
  const r = await httpGet(adminPort, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.body;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends one query from a given loopback source address (tests map sources to policy groups)
 * to 127.0.0.1:`port` and resolves the reply; rejects when none comes within `timeoutMs`.
 */
export function udpAskFrom(source: string, port: number, msg: Buffer, timeoutMs = 4000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); reject(new Error(`no reply within ${timeoutMs} ms`)); }, timeoutMs);
    sock.on('error', (e) => { clearTimeout(timer); sock.close(); reject(e); });
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.bind(0, source, () => sock.send(msg, port, '127.0.0.1'));
  });
}

/** A UDP port on 127.0.0.1 that was free a moment ago (the OS picks it; we bind and release), for a child process's configuration. */
/**
 * A port on 127.0.0.1 that is free for both UDP and TCP, for a server a test starts as a separate process.
 * Picked at random below the kernel's ephemeral range (32768-60999 by default), so that no outgoing socket of any
 * test running in parallel (upstream queries use random ephemeral ports) can take it between this check and the
 * server's bind; the ephemeral range is what bind(0) hands out, and a port from it was taken that way in CI.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    if (await bindsBoth(port)) return port;
  }
  throw new Error('no port free for both UDP and TCP in 20000-31999 after 200 tries');
}

function bindsBoth(port: number): Promise<boolean> {
  return new Promise((res) => {
    const u = dgram.createSocket('udp4');
    u.once('error', () => { u.close(); res(false); });
    u.bind(port, '127.0.0.1', () => {
      const t = net.createServer();
      t.once('error', () => u.close(() => res(false)));
      t.listen(port, '127.0.0.1', () => t.close(() => u.close(() => res(true))));
    });
  });
}
