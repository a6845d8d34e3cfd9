// Reads what a query asks straight from its bytes: header, the one question, and the
// EDNS OPT record. No full decode: every other record is only skipped over.
import { Class, Flag, HEADER_SIZE, MIN_UDP_SIZE, Opcode, Rcode, Type } from './constants';
import { skipName } from './name';

export interface Query {
  readonly id: number;
  /** The raw 16-bit flags word of the query. */
  readonly flags: number;
  /** Offset just after the question's name; qtype and qclass follow. */
  readonly qnameEnd: number;
  /** Offset just after the question section. */
  readonly questionEnd: number;
  readonly qtype: number;
  readonly qclass: number;
  /** True when the query carried an OPT record (RFC 6891). */
  readonly edns: boolean;
  /** Requestor's UDP payload size, at least 512; 512 without EDNS. */
  readonly udpSize: number;
  readonly ednsVersion: number;
  /** DNSSEC OK bit (RFC 3225). */
  readonly dnssecOk: boolean;
}

/** Why a packet is not a query we resolve, and how to answer it. */
export interface Rejection {
  /** 'drop': stay silent (too short to answer, or a response). 'reply': answer with rcode. */
  readonly action: 'drop' | 'reply';
  readonly rcode: number;
  readonly reason: RejectReason;
  /** Header fields needed to answer (valid when action is 'reply'). */
  readonly id: number;
  readonly flags: number;
  /** Offset after the question if it parsed, else 0 (the reply then carries no question). */
  readonly questionEnd: number;
  /** EDNS fields, when the OPT record could be read. */
  readonly edns: boolean;
  readonly udpSize: number;
  readonly dnssecOk: boolean;
}

export type RejectReason =
  | 'short' | 'response' | 'opcode' | 'qdcount' | 'question' | 'records' | 'opt' | 'trailing'
  | 'badvers' | 'qtype';

export type ParseResult = Query | Rejection;

export function isRejection(r: ParseResult): r is Rejection {
  return (r as Rejection).action !== undefined;
}

function reject(
  action: 'drop' | 'reply', rcode: number, reason: RejectReason, buf: Uint8Array,
  questionEnd = 0, edns = false, udpSize = MIN_UDP_SIZE, dnssecOk = false,
): Rejection {
  const id = buf.length >= 2 ? (buf[0] << 8) | buf[1] : 0;
  const flags = buf.length >= 4 ? (buf[2] << 8) | buf[3] : 0;
  return { action, rcode, reason, id, flags, questionEnd, edns, udpSize, dnssecOk };
}

/**
 * Parses a query packet. Never throws: anything malformed comes back as a Rejection
 * saying whether to stay silent or which rcode to answer with.
 */
export function parseQuery(buf: Uint8Array): ParseResult {
  const end = buf.length;
  if (end < HEADER_SIZE) return reject('drop', Rcode.FORMERR, 'short', buf);
  const flags = (buf[2] << 8) | buf[3];
  if (flags & Flag.QR) return reject('drop', Rcode.FORMERR, 'response', buf);
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== Opcode.QUERY) return reject('reply', Rcode.NOTIMP, 'opcode', buf);
  const qdcount = (buf[4] << 8) | buf[5];
  const ancount = (buf[6] << 8) | buf[7];
  const nscount = (buf[8] << 8) | buf[9];
  const arcount = (buf[10] << 8) | buf[11];
  if (qdcount !== 1) return reject('reply', Rcode.FORMERR, 'qdcount', buf);

  const qnameEnd = skipName(buf, HEADER_SIZE, end);
  // A pointer in the question can only point into the header: skipName accepts
  // backward pointers in general, so reject pointers here explicitly.
  if (qnameEnd < 0 || qnameEnd + 4 > end || hasPointer(buf, HEADER_SIZE, qnameEnd)) {
    return reject('reply', Rcode.FORMERR, 'question', buf);
  }
  const qtype = (buf[qnameEnd] << 8) | buf[qnameEnd + 1];
  const qclass = (buf[qnameEnd + 2] << 8) | buf[qnameEnd + 3];
  const questionEnd = qnameEnd + 4;

  // Skip answer and authority records; they have no meaning in a QUERY.
  let off = questionEnd;
  for (let i = 0; i < ancount + nscount; i++) {
    off = skipRecord(buf, off, end);
    if (off < 0) return reject('reply', Rcode.FORMERR, 'records', buf, questionEnd);
  }
  let edns = false;
  let udpSize = MIN_UDP_SIZE;
  let version = 0;
  let dnssecOk = false;
  for (let i = 0; i < arcount; i++) {
    const nameEnd = skipName(buf, off, end);
    if (nameEnd < 0 || nameEnd + 10 > end) return reject('reply', Rcode.FORMERR, 'records', buf, questionEnd);
    const type = (buf[nameEnd] << 8) | buf[nameEnd + 1];
    const rdlen = (buf[nameEnd + 8] << 8) | buf[nameEnd + 9];
    const next = nameEnd + 10 + rdlen;
    if (next > end) return reject('reply', Rcode.FORMERR, 'records', buf, questionEnd);
    if (type === Type.OPT) {
      // RFC 6891 §6.1.1: one OPT, owned by the root; anything else is FORMERR.
      if (edns || nameEnd !== off + 1 || !validOptions(buf, nameEnd + 10, next)) {
        return reject('reply', Rcode.FORMERR, 'opt', buf, questionEnd);
      }
      edns = true;
      udpSize = Math.max(MIN_UDP_SIZE, (buf[nameEnd + 2] << 8) | buf[nameEnd + 3]);
      version = buf[nameEnd + 5];
      dnssecOk = (buf[nameEnd + 6] & 0x80) !== 0;
    }
    off = next;
  }
  if (off !== end) return reject('reply', Rcode.FORMERR, 'trailing', buf, questionEnd, edns, udpSize, dnssecOk);
  if (edns && version > 0) {
    return reject('reply', Rcode.BADVERS, 'badvers', buf, questionEnd, edns, udpSize, dnssecOk);
  }
  // OPT is a pseudo-type and never a question (RFC 6891 §6.1.1); zone transfers and the
  // obsolete MAILA/MAILB meta-types are not something a recursive resolver answers.
  if (qtype === Type.OPT || qtype === 0) {
    return reject('reply', Rcode.FORMERR, 'qtype', buf, questionEnd, edns, udpSize, dnssecOk);
  }
  if (qtype === Type.AXFR || qtype === Type.IXFR || qtype === Type.MAILA || qtype === Type.MAILB || qtype === Type.TKEY || qtype === Type.TSIG) {
    return reject('reply', qtype === Type.AXFR || qtype === Type.IXFR ? Rcode.REFUSED : Rcode.NOTIMP,
      'qtype', buf, questionEnd, edns, udpSize, dnssecOk);
  }
  return {
    id: (buf[0] << 8) | buf[1], flags, qnameEnd, questionEnd, qtype, qclass,
    edns, udpSize, ednsVersion: version, dnssecOk,
  };
}

function hasPointer(buf: Uint8Array, start: number, end: number): boolean {
  let off = start;
  while (off < end) {
    const len = buf[off];
    if (len === 0) return false;
    if ((len & 0xc0) !== 0) return true;
    off += len + 1;
  }
  return false;
}

/** Skips one resource record; returns the offset after it or -1. */
export function skipRecord(buf: Uint8Array, off: number, end: number): number {
  const nameEnd = skipName(buf, off, end);
  if (nameEnd < 0 || nameEnd + 10 > end) return -1;
  const next = nameEnd + 10 + ((buf[nameEnd + 8] << 8) | buf[nameEnd + 9]);
  return next > end ? -1 : next;
}

/** EDNS options are code(2) length(2) value; they must tile the RDATA exactly. */
function validOptions(buf: Uint8Array, off: number, end: number): boolean {
  while (off < end) {
    if (off + 4 > end) return false;
    off += 4 + ((buf[off + 2] << 8) | buf[off + 3]);
  }
  return off === end;
}

/** Is this a class we resolve? Only IN goes to upstreams; the rest are refused. */
export function isInternetClass(q: Query): boolean {
  return q.qclass === Class.IN;
}
