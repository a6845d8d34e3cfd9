// UDP listener: one socket per configured address. Replies go back to the sender's
// address and port; a socket error is logged and the socket keeps serving.
import dgram from 'node:dgram';
import type { HostPort } from '../config/types';
import type { Logger } from '../log/logger';
import { Transport } from '../metrics/metrics';
import type { Dispatcher } from './dispatch';

export class UdpListener {
  private sock: dgram.Socket | null = null;

  constructor(private readonly addr: HostPort, private readonly dispatcher: Dispatcher, private readonly log: Logger) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type: this.addr.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.addr.family === 6 });
      this.sock = sock;
      const onListenError = (e: Error): void => reject(e);
      sock.once('error', onListenError);
      sock.on('message', (msg, rinfo) => {
        this.dispatcher.handle(msg, Transport.Udp, rinfo.address, rinfo.port, (reply) => {
          sock.send(reply, rinfo.port, rinfo.address);
        }, this.addr.host);
      });
      sock.bind(this.addr.port, this.addr.host, () => {
        sock.off('error', onListenError);
        sock.on('error', (e) => this.log.warn('UDP socket error', { listen: this.describe(), err: e }));
        resolve();
      });
    });
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
