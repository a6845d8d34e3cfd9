// One UDP exchange (src/upstream/transport.ts) against real sockets on loopback: the reply
// that matches is taken, one that does not is ignored and reported, silence times out, and
// a connect the kernel refuses fails at once with its reason.
import dgram from 'node:dgram';
import { AddressInfo } from 'node:net';
import { Flag } from '../../src/dns/constants';
import { encodeName } from '../../src/dns/name';
import { ExchangeError, QueryProbe, sendUdp } from '../../src/upstream/transport';

const question = Buffer.concat([encodeName('www.example.com'), Buffer.from([0, 1, 0, 1])]);
const probe = new QueryProbe({ question, edns: false, dnssecOk: false, checkingDisabled: false, recursionDesired: false });

/** A reply to `query` (its ID and question), with no records; `id` overrides the ID. */
function replyTo(query: Buffer, id?: number): Buffer {
  const out = Buffer.from(query);
  if (id !== undefined) out.writeUInt16BE(id, 0);
  out.writeUInt16BE(Flag.QR | Flag.AA, 2);
  return out;
}

/** A UDP server on 127.0.0.1 that hands each datagram to `onQuery`. */
async function server(onQuery: (sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => onQuery(sock, msg, rinfo));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: (sock.address() as AddressInfo).port, close: () => new Promise((resolve) => sock.close(() => resolve())) };
}

describe('sendUdp', () => {
  test('takes the matching reply after ignoring (and reporting) one with another ID', async () => {
    const s = await server((sock, msg, rinfo) => {
      sock.send(replyTo(msg, (msg.readUInt16BE(0) + 1) & 0xffff), rinfo.port, rinfo.address);
      setTimeout(() => sock.send(replyTo(msg), rinfo.port, rinfo.address), 20);
    });
    try {
      let mismatches = 0;
      const result = await sendUdp({ host: '127.0.0.1', port: s.port, family: 4 }, probe, 2000, () => mismatches++);
      expect(mismatches).toBe(1);
      expect(result.msg.flags & Flag.QR).toBe(Flag.QR);
      expect(result.buf.subarray(12)).toEqual(question);
    } finally {
      await s.close();
    }
  });

  test('times out when the server stays silent', async () => {
    let asked = 0;
    const s = await server(() => { asked++; });
    try {
      const t0 = Date.now();
      const err = await sendUdp({ host: '127.0.0.1', port: s.port, family: 4 }, probe, 150).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ExchangeError);
      expect((err as ExchangeError).code).toBe('timeout');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
      expect(asked).toBe(1);
    } finally {
      await s.close();
    }
  });

  test('a connect the kernel refuses (broadcast without SO_BROADCAST) fails at once, saying why', async () => {
    const t0 = Date.now();
    const err = await sendUdp({ host: '255.255.255.255', port: 53, family: 4 }, probe, 5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExchangeError);
    expect((err as ExchangeError).code).toBe('network');
    expect((err as ExchangeError).message).toMatch(/UDP to 255\.255\.255\.255:53: connect EACCES/);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
