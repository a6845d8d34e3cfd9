// UDP listener: one socket per configured address. Replies go back to the sender's
// address and port; a socket error is logged and the socket keeps serving.
//
// Behind a proxy (server.proxyProtocol.from, e.g. dnsdist with useProxyProtocol=true) every
// datagram from a trusted sender starts with a PROXY v2 header naming the real client: the
// header is taken off, the query is answered for that client (and for the address it asked
// on), and the reply goes back to the proxy without a header. A trusted sender's datagram
// without a valid header is dropped and counted, so a proxy that does not send one is noticed;
// from any other sender a header is never honoured (it is just a malformed DNS message).
import dgram from 'node:dgram';
import type { HostPort } from '../config/types';
import type { Logger } from '../log/logger';
import { Transport } from '../metrics/metrics';
import type { Metrics } from '../metrics/metrics';
import type { Dispatcher } from './dispatch';
import { literalLookup } from './literal-lookup';
import { parseProxyHeader, ProxyHeader, proxyRejectReason, TrustedProxies } from './proxy-protocol';

export class UdpListener {
  private sock: dgram.Socket | null = null;

  constructor(
    private readonly addr: HostPort,
    private readonly dispatcher: Dispatcher,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    /** Senders whose PROXY v2 headers are honoured (and required); null: none. */
    private readonly proxies: TrustedProxies | null = null,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: this.addr.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.addr.family === 6, lookup: literalLookup });
      this.sock = sock;
      const onListenError = (e: Error): void => reject(e);
      sock.once('error', onListenError);
      sock.on('message', this.messageHandler(sock));
      sock.bind(this.addr.port, this.addr.host, () => {
        sock.off('error', onListenError);
        sock.on('error', (e) => this.log.warn('UDP socket error', { listen: this.describe(), err: e }));
        resolve();
      });
    });
  }

  /**
   * The 'message' handler for `sock`. Without trusted proxies it is the plain one, so ordinary
   * clients pay nothing for the PROXY protocol; with them, a trusted sender's datagram is
   * answered for the client its header names, and anyone else's as always.
   */
  messageHandler(sock: Pick<dgram.Socket, 'send'>): (msg: Buffer, rinfo: dgram.RemoteInfo) => void {
    const dispatcher = this.dispatcher;
    const host = this.addr.host;
    const proxies = this.proxies;
    if (proxies === null) {
      return (msg, rinfo) => {
        dispatcher.handle(msg, Transport.Udp, rinfo.address, rinfo.port, (reply) => {
          sock.send(reply, rinfo.port, rinfo.address);
        }, host);
      };
    }
    const metrics = this.metrics;
    // Reused for every datagram: handle() has read it before the next one can arrive.
    const h = new ProxyHeader();
    return (msg, rinfo) => {
      const send = (reply: Buffer): void => { sock.send(reply, rinfo.port, rinfo.address); };
      if (!proxies.has(rinfo.address)) {
        dispatcher.handle(msg, Transport.Udp, rinfo.address, rinfo.port, send, host);
        return;
      }
      const n = parseProxyHeader(msg, h, true);
      if (n < 0) {
        metrics.proxyRejected(Transport.Udp, proxyRejectReason(n));
        return;
      }
      // LOCAL (the proxy's health checks): the proxy asks for itself, on our address.
      if (h.local) dispatcher.handle(msg.subarray(n), Transport.Udp, rinfo.address, rinfo.port, send, host);
      else dispatcher.handle(msg.subarray(n), Transport.Udp, h.source, h.sourcePort, send, h.destination);
    };
  }

  /** The bound port (useful when configured as 0 in tests). */
  get port(): number {
    return this.sock?.address().port ?? this.addr.port;
  }

  describe(): string {
    return this.addr.family === 6 ? `udp://[${this.addr.host}]:${this.port}` : `udp://${this.addr.host}:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.sock) return resolve();
      this.sock.close(() => resolve());
      this.sock = null;
    });
  }
}
