// One query to one authoritative server, over ../upstream/transport.ts's exchanges (a fresh
// socket, hence a random source port, and a random ID per query; replies only from the
// server's address and port) with RD clear, as iterative queries are sent, and an exact
// comparison of the question when its case was randomised (0x20).
import type { HostPort } from '../config/types';
import { HEADER_SIZE } from '../dns/constants';
import { equalsFolded } from '../dns/name';
import { writeOpt } from '../dns/reply';
import { ExchangeResult, Probe, sendTcp, sendUdp } from '../upstream/transport';

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

function authProbe(q: AuthQuery): Probe {
  return { build: (id) => buildAuthQuery(id, q), matches: (buf, id) => answersQuery(buf, id, q) };
}

export function udpQuery(server: HostPort, q: AuthQuery, timeoutMs: number, onMismatch?: () => void): Promise<ExchangeResult> {
  return sendUdp(server, authProbe(q), timeoutMs, onMismatch);
}

export function tcpQuery(server: HostPort, q: AuthQuery, timeoutMs: number): Promise<ExchangeResult> {
  return sendTcp(server, authProbe(q), timeoutMs);
}
