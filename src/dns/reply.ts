// Builders for the replies we make ourselves: errors, truncation, EDNS OPT records,
// and small synthesized answers. They copy the question bytes as the client sent them.
import { DEFAULT_EDNS_UDP_SIZE, EdnsOption, Flag, HEADER_SIZE } from './constants';

/** What a reply needs to know of the query it answers (both Query and Rejection fit). */
export interface ReplyTo {
  readonly id: number;
  readonly flags: number;
  /** Offset after the question in the query bytes, or 0 when it could not be parsed. */
  readonly questionEnd: number;
  readonly edns: boolean;
  readonly dnssecOk: boolean;
}

export interface ExtendedError {
  readonly code: number;
  readonly text?: string;
}

/** Size of our OPT record: root name, type, class, ttl, rdlength, plus an optional EDE option. */
export function optSize(ede?: ExtendedError): number {
  return 11 + (ede ? 6 + Buffer.byteLength(ede.text ?? '', 'utf8') : 0);
}

/**
 * Writes our OPT record at `off` (RFC 6891 §6.1.2): advertised UDP size, the upper 8 bits
 * of the rcode, version 0, the DO bit echoed, and an Extended DNS Error when given (RFC 8914).
 * Returns the offset after it.
 */
export function writeOpt(out: Buffer, off: number, rcode: number, dnssecOk: boolean, ede?: ExtendedError): number {
  out[off] = 0; // root
  out.writeUInt16BE(41, off + 1);
  out.writeUInt16BE(DEFAULT_EDNS_UDP_SIZE, off + 3);
  out[off + 5] = (rcode >> 4) & 0xff;
  out[off + 6] = 0; // version
  out[off + 7] = dnssecOk ? 0x80 : 0;
  out[off + 8] = 0;
  if (!ede) {
    out.writeUInt16BE(0, off + 9);
    return off + 11;
  }
  const textLen = out.write(ede.text ?? '', off + 17, 'utf8');
  out.writeUInt16BE(6 + textLen, off + 9);
  out.writeUInt16BE(EdnsOption.EDE, off + 11);
  out.writeUInt16BE(2 + textLen, off + 13);
  out.writeUInt16BE(ede.code, off + 15);
  return off + 17 + textLen;
}

/** Response flags for a query's flags: QR, RA, the query's opcode, RD and CD, and rcode's low bits. */
export function responseFlags(queryFlags: number, rcode: number): number {
  return Flag.QR | Flag.RA | (queryFlags & (0x7800 | Flag.RD | Flag.CD)) | (rcode & 0xf);
}

/**
 * An answer with no records: an error (FORMERR, SERVFAIL, NOTIMP, REFUSED, BADVERS) or an
 * empty NOERROR/NXDOMAIN. The question is echoed when it parsed; OPT added when the query had one.
 */
export function emptyReply(query: Uint8Array, to: ReplyTo, rcode: number, ede?: ExtendedError, extraFlags = 0): Buffer {
  const qEnd = to.questionEnd;
  const qLen = qEnd > 0 ? qEnd - HEADER_SIZE : 0;
  const out = Buffer.allocUnsafe(HEADER_SIZE + qLen + (to.edns ? optSize(ede) : 0));
  out.writeUInt16BE(to.id, 0);
  out.writeUInt16BE(responseFlags(to.flags, rcode) | extraFlags, 2);
  out.writeUInt16BE(qLen > 0 ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(to.edns ? 1 : 0, 10);
  if (qLen > 0) out.set(query.subarray(HEADER_SIZE, qEnd), HEADER_SIZE);
  if (to.edns) return out.subarray(0, writeOpt(out, HEADER_SIZE + qLen, rcode, to.dnssecOk, ede));
  return out;
}

/**
 * The reply to send over UDP when `reply` is bigger than the client can take: the same
 * header with TC set, the question, no records (RFC 2181 §9; RFC 6891 §7), and our OPT.
 */
export function truncatedReply(query: Uint8Array, to: ReplyTo, reply: Uint8Array): Buffer {
  const rcode = reply[3] & 0xf;
  const out = emptyReply(query, to, rcode, undefined, Flag.TC);
  // Keep the original answer's header bits (AA, AD) besides TC.
  out[2] = reply[2] | 0x02;
  out[3] = reply[3];
  return out;
}

/**
 * A one-record answer whose owner is the question's name (a pointer to offset 12):
 * used for synthesized answers such as RFC 8482's HINFO.
 */
export function singleRecordReply(query: Uint8Array, to: ReplyTo, type: number, ttl: number, rdata: Uint8Array, ede?: ExtendedError): Buffer {
  const qEnd = to.questionEnd;
  const rrLen = 2 + 10 + rdata.length;
  const out = Buffer.allocUnsafe(qEnd + rrLen + (to.edns ? optSize(ede) : 0));
  out.writeUInt16BE(to.id, 0);
  out.writeUInt16BE(responseFlags(to.flags, 0), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(to.edns ? 1 : 0, 10);
  out.set(query.subarray(HEADER_SIZE, qEnd), HEADER_SIZE);
  let o = qEnd;
  out.writeUInt16BE(0xc00c, o);
  out.writeUInt16BE(type, o + 2);
  out.writeUInt16BE(1, o + 4); // IN
  out.writeUInt32BE(ttl, o + 6);
  out.writeUInt16BE(rdata.length, o + 10);
  out.set(rdata, o + 12);
  o += rrLen;
  if (to.edns) o = writeOpt(out, o, 0, to.dnssecOk, ede);
  return out.subarray(0, o);
}
