// One query to one authoritative server. Like ../upstream/transport.ts (a fresh socket,
// hence a random source port, and a random ID per query; replies only from the server's
// address and port with our ID and question) but with RD clear, as iterative queries are
// sent, and an exact comparison of the question when its case was randomised (0x20).
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { HostPort } from '../config/types';
import { HEADER_SIZE } from '../dns/constants';
import { MessageError, scanMessage } from '../dns/message';
import { equalsFolded } from '../dns/name';
import { writeOpt } from '../dns/reply';
import { ExchangeError, ExchangeResult, fmt } from '../upstream/transport';

export interface AuthQuery {
  /** Question section: name (maybe case-randomised), type, class. */
  readonly question: Buffer;
  readonly edns: boolean;
  /** Require the reply's question to match byte for byte (0x20). */
  readonly exactCase: boolean;
}

export function buildAuthQuery(id: number, q: AuthQuery): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + q.question.length + (q.edns ? 11 : 0));
  out.writeUInt16BE(id, 0);
  out.writeUInt16BE(0, 2); // RD clear: an iterative query
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(q.edns ? 1 : 0, 10);
  q.question.copy(out, HEADER_SIZE);
  if (q.edns) writeOpt(out, HEADER_SIZE + q.question.length, 0, false);
  return out;
}

/** Whether `buf` answers our query: ID, QR, one question equal to ours (exactly, or ignoring case). */
export function answersQuery(buf: Uint8Array, id: number, q: AuthQuery): boolean {
  const question = q.question;
  if (buf.length < HEADER_SIZE + question.length) return false;
  if (((buf[0] << 8) | buf[1]) !== id || (buf[2] & 0x80) === 0) return false;
  if (((buf[4] << 8) | buf[5]) !== 1) return false;
  if (q.exactCase) {
    for (let i = 0; i < question.length; i++) if (buf[HEADER_SIZE + i] !== question[i]) return false;
    return true;
  }
  return equalsFolded(buf, HEADER_SIZE, question, 0, question.length);
}

export function udpQuery(server: HostPort, q: AuthQuery, timeoutMs: number, onMismatch?: () => void): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0x10000);
    const query = buildAuthQuery(id, q);
    const sock = dgram.createSocket(server.family === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: ExchangeError | null, result?: ExchangeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.close();
      if (err) reject(err); else resolve(result as ExchangeResult);
    };
    const timer = setTimeout(() => finish(new ExchangeError('timeout', `no answer from ${fmt(server)} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => finish(new ExchangeError('network', `UDP to ${fmt(server)}: ${e.message}`, { cause: e })));
    sock.on('message', (buf, rinfo) => {
      if (rinfo.address !== server.host || rinfo.port !== server.port || !answersQuery(buf, id, q)) {
        onMismatch?.();
        return; // late, spoofed, or the wrong case under 0x20: keep waiting
      }
      try {
        finish(null, { buf, msg: scanMessage(buf) });
      } catch (e) {
        finish(new ExchangeError('malformed', `malformed answer from ${fmt(server)}: ${(e as Error).message}`, { cause: e }));
      }
    });
    sock.connect(server.port, server.host, () => {
      if (done) return;
      sock.send(query, (e) => { if (e) finish(new ExchangeError('network', `UDP send to ${fmt(server)}: ${e.message}`, { cause: e })); });
    });
  });
}

export function tcpQuery(server: HostPort, q: AuthQuery, timeoutMs: number): Promise<ExchangeResult> {
  return new Promise((resolve, reject) => {
    const id = randomInt(0x10000);
    const query = buildAuthQuery(id, q);
    const framed = Buffer.alloc(query.length + 2);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    const sock = net.connect({ host: server.host, port: server.port });
    let done = false;
    let pending = Buffer.alloc(0);
    const finish = (err: ExchangeError | null, result?: ExchangeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(result as ExchangeResult);
    };
    const timer = setTimeout(() => finish(new ExchangeError('timeout', `no TCP answer from ${fmt(server)} within ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (e) => finish(new ExchangeError('network', `TCP to ${fmt(server)}: ${e.message}`, { cause: e })));
    sock.on('connect', () => sock.write(framed));
    sock.on('data', (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length < 2) return;
      const len = pending.readUInt16BE(0);
      if (pending.length < 2 + len) return;
      const buf = Buffer.from(pending.subarray(2, 2 + len));
      if (!answersQuery(buf, id, q)) {
        finish(new ExchangeError('malformed', `TCP answer from ${fmt(server)} does not match the query`));
        return;
      }
      try {
        finish(null, { buf, msg: scanMessage(buf) });
      } catch (e) {
        finish(new ExchangeError('malformed', `malformed TCP answer from ${fmt(server)}: ${(e as MessageError).message}`, { cause: e }));
      }
    });
    sock.on('end', () => finish(new ExchangeError('network', `${fmt(server)} closed the TCP connection without an answer`)));
  });
}
