// One query to one authoritative server, over ../upstream/transport.ts's exchanges (a fresh
// socket, hence a random source port, and a random ID per query; replies only from the
// server's address and port) with RD clear, as iterative queries are sent, and an exact
// comparison of the question when its case was randomised (0x20).
import type { HostPort } from '../config/types';
import { buildUpstreamQuery, ExchangeResult, ExchangeSink, matchesQuery, QueryOptions, QueryProbe, sendTcp, startUdp } from '../upstream/transport';

export interface AuthQuery extends QueryOptions {
  /** Question section: name (maybe case-randomised), type, class. */
  readonly question: Buffer;
  readonly edns: boolean;
  /** Require the reply's question to match byte for byte (0x20). */
  readonly exactCase: boolean;
}

/** An iterative query: RD clear, no DO or CD bits, our OPT when `edns`. */
export function authQuery(question: Buffer, edns: boolean, exactCase: boolean): AuthQuery {
  return { question, edns, exactCase, dnssecOk: false, checkingDisabled: false, recursionDesired: false };
}

/** The iterative query on the wire. */
export function buildAuthQuery(id: number, q: AuthQuery): Buffer {
  return buildUpstreamQuery(id, q);
}

/** Whether `buf` answers our query: ID, QR, one question equal to ours (exactly under 0x20, else ignoring case). */
export function answersQuery(buf: Uint8Array, id: number, q: AuthQuery): boolean {
  return matchesQuery(buf, id, q.question, q.exactCase);
}

/** One UDP query; its outcome goes to `sink`. */
export function udpQuery(server: HostPort, q: AuthQuery, timeoutMs: number, onMismatch: (() => void) | undefined, sink: ExchangeSink): void {
  startUdp(server, new QueryProbe(q, q.exactCase), timeoutMs, onMismatch, sink);
}

export function tcpQuery(server: HostPort, q: AuthQuery, timeoutMs: number): Promise<ExchangeResult> {
  return sendTcp(server, new QueryProbe(q, q.exactCase), timeoutMs);
}
