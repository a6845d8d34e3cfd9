// A tiny upstream for tests, on 127.0.0.1: answers every query, over UDP and over TCP
// (same port), with one A record for the question it was asked, copied byte for byte.
// Raw sockets and hand-written bytes: nothing of src/ is used, so it can judge src/.
import dgram from 'node:dgram';
import net from 'node:net';

export interface FixedUpstreamOptions {
  /** The address every answer carries (default 192.0.2.53). */
  readonly address?: string;
  readonly ttl?: number;
  /** Answer UDP queries with TC set and no records, so resolvers retry over TCP. */
  readonly truncateUdp?: boolean;
}

export interface FixedUpstream {
  readonly port: number;
  readonly address: string;
  readonly ttl: number;
  /** Queries answered so far, by transport. */
  readonly answered: { udp: number; tcp: number };
  close(): Promise<void>;
}

/** Offset after the question (plain labels only), or -1 if the query has no readable one. */
function questionEnd(q: Uint8Array): number {
  if (q.length < 12 || (q[2] & 0x80) !== 0 || ((q[4] << 8) | q[5]) !== 1) return -1;
  let off = 12;
  for (let n = 0; n < 128; n++) {
    if (off >= q.length) return -1;
    const l = q[off];
    if (l === 0) return off + 5 <= q.length ? off + 5 : -1;
    if (l > 63) return -1;
    off += l + 1;
  }
  return -1;
}

/** The answer to `query`: its ID, RD, the question as asked, one A record (owner: pointer to 12). */
export function fixedAnswer(query: Uint8Array, address: Buffer, ttl: number, truncated = false): Buffer | null {
  const qEnd = questionEnd(query);
  if (qEnd < 0) return null;
  const rr = truncated ? 0 : 16;
  const out = Buffer.alloc(qEnd + rr);
  out[0] = query[0];
  out[1] = query[1];
  out[2] = 0x80 | (query[2] & 0x01) | (truncated ? 0x02 : 0); // QR, RD copied, TC
  out[3] = 0x80; // RA, NOERROR
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(truncated ? 0 : 1, 6);
  Buffer.from(query.subarray(12, qEnd)).copy(out, 12);
  if (!truncated) {
    out.writeUInt16BE(0xc00c, qEnd);
    out.writeUInt16BE(1, qEnd + 2); // A
    out.writeUInt16BE(1, qEnd + 4); // IN
    out.writeUInt32BE(ttl, qEnd + 6);
    out.writeUInt16BE(4, qEnd + 10);
    address.copy(out, qEnd + 12);
  }
  return out;
}

function bindUdp(sock: dgram.Socket, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(server: net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export async function startFixedUpstream(opts: FixedUpstreamOptions = {}): Promise<FixedUpstream> {
  const address = opts.address ?? '192.0.2.53';
  const ttl = opts.ttl ?? 300;
  const addr = Buffer.from(address.split('.').map(Number));
  if (addr.length !== 4 || addr.some((b) => Number.isNaN(b))) throw new Error(`not an IPv4 address: ${address}`);
  const answered = { udp: 0, tcp: 0 };
  const sockets = new Set<net.Socket>();

  const tcp = net.createServer((s) => {
    sockets.add(s);
    let pending = Buffer.alloc(0);
    s.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
        pending = pending.subarray(2 + msg.length);
        const reply = fixedAnswer(msg, addr, ttl);
        if (!reply) continue;
        answered.tcp++;
        const framed = Buffer.alloc(reply.length + 2);
        framed.writeUInt16BE(reply.length, 0);
        reply.copy(framed, 2);
        s.write(framed);
      }
    });
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });

  // UDP takes an ephemeral port, TCP the same number; retry (a few times) if TCP's is taken.
  for (let attempt = 0; ; attempt++) {
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
      const reply = fixedAnswer(msg, addr, ttl, opts.truncateUdp === true);
      if (!reply) return;
      answered.udp++;
      udp.send(reply, rinfo.port, rinfo.address);
    });
    await bindUdp(udp, 0);
    udp.on('error', () => {});
    const port = udp.address().port;
    try {
      await listenTcp(tcp, port);
    } catch (e) {
      await new Promise<void>((r) => udp.close(() => r()));
      if (attempt >= 5) throw e;
      continue;
    }
    return {
      port, address, ttl, answered,
      close: async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([
          new Promise<void>((r) => udp.close(() => r())),
          new Promise<void>((r) => tcp.close(() => r())),
        ]);
      },
    };
  }
}
