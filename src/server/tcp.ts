// TCP listener per RFC 7766: two-byte length-prefixed messages, many queries per
// connection, answered in whatever order they complete (pipelining), an idle timeout,
// a cap on open connections and on queries in flight per connection.
//
// Behind a proxy (server.proxyProtocol.from, e.g. dnsdist with useProxyProtocol=true) a
// connection from a trusted sender starts with one PROXY v2 header naming the real client,
// before the first length-prefixed message: every query on the connection is answered for
// that client. A trusted connection that does not start with a valid header is counted and
// closed; from any other sender the bytes are DNS, as always.
import net from 'node:net';
import type { HostPort } from '../config/types';
import type { Logger } from '../log/logger';
import { Transport } from '../metrics/metrics';
import type { Metrics } from '../metrics/metrics';
import type { Dispatcher } from './dispatch';
import { parseProxyHeader, PROXY_INCOMPLETE, PROXY_V2_FIXED, ProxyHeader, proxyRejectReason, TrustedProxies } from './proxy-protocol';

export interface TcpOptions {
  readonly idleTimeoutMs: number;
  readonly maxConnections: number;
  readonly maxPipelined: number;
}

export class TcpListener {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly addr: HostPort,
    private readonly opts: TcpOptions,
    private readonly dispatcher: Dispatcher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Senders whose PROXY v2 headers are honoured (and required); null: none. */
    private readonly proxies: TrustedProxies | null = null,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      // allowHalfOpen: a client may send its queries and shut its side at once; the
      // answers still in flight must go out before we close ours (RFC 7766 §6.2.4).
      const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (s) => this.accept(s));
      this.server = server;
      server.once('error', reject);
      server.listen({ host: this.addr.host, port: this.addr.port, ipv6Only: this.addr.family === 6 }, () => {
        server.off('error', reject);
        server.on('error', (e) => this.log.warn('TCP listener error', { listen: this.describe(), err: e }));
        resolve();
      });
    });
  }

  get port(): number {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : this.addr.port;
  }

  get connections(): number {
    return this.sockets.size;
  }

  describe(): string {
    return this.addr.family === 6 ? `tcp://[${this.addr.host}]:${this.port}` : `tcp://${this.addr.host}:${this.port}`;
  }

  private accept(sock: net.Socket): void {
    if (this.sockets.size >= this.opts.maxConnections) {
      this.metrics.tcpConnectionRefused();
      sock.on('error', () => {});
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    let address = sock.remoteAddress ?? '';
    let port = sock.remotePort ?? 0;
    let localAddress = this.addr.host;
    // From a trusted proxy, the connection's first bytes must be a PROXY v2 header.
    let header: ProxyHeader | null = this.proxies !== null && this.proxies.has(address) ? new ProxyHeader() : null;
    let pending: Buffer | null = null;
    let inflight = 0;
    let closing = false;
    let lingerTimer: NodeJS.Timeout | null = null;
    const { maxPipelined, idleTimeoutMs } = this.opts;

    // Our side is done: end it, and free the slot even if the client never closes its side.
    const finish = (): void => {
      if (lingerTimer !== null) return;
      sock.end();
      lingerTimer = setTimeout(() => sock.destroy(), Math.min(idleTimeoutMs, 5_000));
      lingerTimer.unref();
    };

    const write = (reply: Buffer): void => {
      inflight--;
      if (!sock.destroyed && sock.writable) {
        const framed = Buffer.allocUnsafe(reply.length + 2);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        sock.write(framed);
      }
      if (closing && inflight === 0) finish();
      else if (sock.isPaused() && inflight < maxPipelined) {
        sock.resume();
        drain();
      }
    };

    // Take whole messages out of `pending` while the pipeline has room.
    const drain = (): void => {
      while (pending !== null && pending.length >= 2 && inflight < maxPipelined) {
        const len = pending.readUInt16BE(0);
        if (pending.length < 2 + len) break;
        const msg = pending.subarray(2, 2 + len);
        pending = pending.length === 2 + len ? null : pending.subarray(2 + len);
        inflight++;
        // The dispatcher sends at most once, and never for a message it drops.
        if (!this.dispatcher.handle(msg, Transport.Tcp, address, port, write, localAddress)) inflight--;
      }
      if (inflight >= maxPipelined) sock.pause();
    };

    sock.setTimeout(idleTimeoutMs);
    sock.on('timeout', () => {
      // Idle: close once every answer in flight has been written (RFC 7766 §6.2.3).
      closing = true;
      if (inflight === 0) finish();
    });
    sock.on('data', (chunk) => {
      pending = pending === null ? chunk : Buffer.concat([pending, chunk]);
      if (header !== null) {
        const n = parseProxyHeader(pending, header, false);
        if (n === PROXY_INCOMPLETE) return;
        if (n < 0) {
          this.metrics.proxyRejected(Transport.Tcp, proxyRejectReason(n));
          header = null;
          pending = null;
          sock.destroy();
          return;
        }
        // LOCAL (the proxy's health checks): the proxy asks for itself, on our address.
        if (!header.local) {
          address = header.source;
          port = header.sourcePort;
          localAddress = header.destination;
        }
        header = null;
        pending = pending.length === n ? null : pending.subarray(n);
      }
      drain();
    });
    sock.on('end', () => {
      closing = true;
      if (inflight === 0) finish();
    });
    sock.on('error', () => { /* reset by peer and the like: nothing to answer */ });
    sock.on('close', () => {
      // Closed (or timed out) before the proxy's header was whole.
      if (header !== null && pending !== null) this.metrics.proxyRejected(Transport.Tcp, pending.length < PROXY_V2_FIXED ? 'short' : 'truncated');
      if (lingerTimer !== null) clearTimeout(lingerTimer);
      this.sockets.delete(sock);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server) return resolve();
      for (const s of this.sockets) s.destroy();
      this.server.close(() => resolve());
      this.server = null;
    });
  }
}
