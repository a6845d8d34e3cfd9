// PROXY protocol v2 headers built byte by byte from the spec (independently of
// src/server/proxy-protocol.ts), and DNS clients bound to a chosen loopback source address, for
// end-to-end tests of school-dns behind a proxy.
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import net from 'node:net';
import { frame } from './client';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

/** An IPv4 or IPv6 address literal as its 4 or 16 bytes ("::" expanded). */
export function addressBytes(a: string): Buffer {
  if (!isIPv6(a)) return Buffer.from(a.split('.').map(Number));
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** A PROXY command header: the client `source` asked `destination`; IPv4 or IPv6 by the addresses given. */
export function proxyV2(p: { source: string; destination: string; sourcePort?: number; destinationPort?: number; protocol: 'udp' | 'tcp'; tlvs?: Buffer }): Buffer {
  const v6 = isIPv6(p.source);
  if (isIPv6(p.destination) !== v6) throw new Error('a header holds two addresses of one family');
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(p.sourcePort ?? 40000, 0);
  ports.writeUInt16BE(p.destinationPort ?? 53, 2);
  const block = Buffer.concat([addressBytes(p.source), addressBytes(p.destination), ports, p.tlvs ?? Buffer.alloc(0)]);
  const fixed = Buffer.from([0x21, (v6 ? 0x20 : 0x10) | (p.protocol === 'tcp' ? 1 : 2), 0, 0]);
  fixed.writeUInt16BE(block.length, 2);
  return Buffer.concat([SIGNATURE, fixed, block]);
}

/** A LOCAL command header (a proxy's health check), as dnsdist sends it. */
export function localV2(): Buffer {
  return Buffer.concat([SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
}

/**
 * Sends one datagram from `source` (a loopback address) to 127.0.0.1:`port`; resolves the first
 * reply, or null when none came within `timeoutMs` (how a test asserts a drop).
 */
export function udpSendFrom(source: string, port: number, datagram: Buffer, timeoutMs = 2000): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const timer = setTimeout(() => { sock.close(); resolve(null); }, timeoutMs);
    sock.on('error', (e) => { clearTimeout(timer); sock.close(); reject(e); });
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.bind(0, source, () => sock.send(datagram, port, '127.0.0.1'));
  });
}

/** A TCP connection from a chosen source address: write any bytes, read whole length-prefixed messages. */
export class TcpFrom {
  private pending = Buffer.alloc(0);
  private readonly inbox: Buffer[] = [];
  private wake: (() => void) | null = null;
  closed = false;

  private constructor(readonly sock: net.Socket) {
    sock.on('data', (chunk) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      while (this.pending.length >= 2 && this.pending.length >= 2 + this.pending.readUInt16BE(0)) {
        const len = this.pending.readUInt16BE(0);
        this.inbox.push(Buffer.from(this.pending.subarray(2, 2 + len)));
        this.pending = this.pending.subarray(2 + len);
      }
      this.wake?.();
    });
    sock.on('error', () => { /* reset: seen as close */ });
    sock.on('close', () => { this.closed = true; this.wake?.(); });
  }

  static connect(source: string, port: number): Promise<TcpFrom> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port, localAddress: source, noDelay: true });
      sock.once('error', reject);
      sock.once('connect', () => { sock.off('error', reject); resolve(new TcpFrom(sock)); });
    });
  }

  /** Writes bytes as they are; resolves once they are handed to the kernel. */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.sock.write(bytes, (e) => (e ? reject(e) : resolve())));
  }

  send(msg: Buffer): Promise<void> {
    return this.write(frame(msg));
  }

  /** The next message, or null when none came within `timeoutMs` or the connection closed. */
  async next(timeoutMs = 2000): Promise<Buffer | null> {
    const until = Date.now() + timeoutMs;
    while (this.inbox.length === 0 && !this.closed && Date.now() < until) {
      await new Promise<void>((res) => {
        const t = setTimeout(res, until - Date.now());
        this.wake = () => { clearTimeout(t); res(); };
      });
      this.wake = null;
    }
    return this.inbox.shift() ?? null;
  }

  /** Waits (bounded) for the server to close the connection; true when it did. */
  async waitClosed(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** One query over a fresh TCP connection from `source` to 127.0.0.1:`port` (no header); rejects when no reply comes. */
export async function tcpAskFrom(source: string, port: number, msg: Buffer, timeoutMs = 4000): Promise<Buffer> {
  const c = await TcpFrom.connect(source, port);
  try {
    await c.send(msg);
    const r = await c.next(timeoutMs);
    if (r === null) throw new Error(`no TCP reply from port ${port} within ${timeoutMs} ms`);
    return r;
  } finally {
    c.destroy();
  }
}
