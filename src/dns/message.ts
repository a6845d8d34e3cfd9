// A scanner for whole DNS messages (the cold path: upstream answers). It walks every
// record once and notes where things are -- TTL fields, names, the OPT record -- without
// building objects for RDATA. Unknown types are opaque bytes (RFC 3597).
import { COMPRESSED_RDATA_TYPES, HEADER_SIZE, Type } from './constants';
import { skipName } from './name';

export const enum Section { Answer = 0, Authority = 1, Additional = 2 }

export interface ScannedRecord {
  readonly section: Section;
  /** Offset of the owner name. */
  readonly offset: number;
  readonly type: number;
  readonly klass: number;
  readonly ttl: number;
  readonly ttlOffset: number;
  readonly rdataOffset: number;
  readonly rdlength: number;
  /** Offset after the record. */
  readonly end: number;
}

export interface ScannedMessage {
  readonly id: number;
  readonly flags: number;
  /** Full rcode: the header's 4 bits plus the OPT record's upper 8 bits. */
  readonly rcode: number;
  readonly qdcount: number;
  readonly questionEnd: number;
  /** Offset after the question's name (valid when qdcount is 1). */
  readonly qnameEnd: number;
  readonly records: ScannedRecord[];
  readonly ancount: number;
  readonly nscount: number;
  /** The OPT record, if present. */
  readonly opt: ScannedRecord | null;
  /** The largest compression-pointer target anywhere in the message (-1 if none). */
  readonly maxPointerTarget: number;
}

export class MessageError extends Error {
  readonly code = 'DNS_MALFORMED_MESSAGE';
}

/** Scans a message; throws MessageError if any part of it is malformed. */
export function scanMessage(buf: Uint8Array): ScannedMessage {
  const end = buf.length;
  if (end < HEADER_SIZE) throw new MessageError('message shorter than a header');
  const qdcount = (buf[4] << 8) | buf[5];
  const ancount = (buf[6] << 8) | buf[7];
  const nscount = (buf[8] << 8) | buf[9];
  const arcount = (buf[10] << 8) | buf[11];
  let maxPointerTarget = -1;
  const onPointer = (t: number): void => { if (t > maxPointerTarget) maxPointerTarget = t; };

  let off = HEADER_SIZE;
  let qnameEnd = HEADER_SIZE;
  for (let i = 0; i < qdcount; i++) {
    const nameEnd = skipName(buf, off, end, onPointer);
    if (nameEnd < 0 || nameEnd + 4 > end) throw new MessageError('malformed question');
    if (i === 0) qnameEnd = nameEnd;
    off = nameEnd + 4;
  }
  const questionEnd = off;
  const records: ScannedRecord[] = [];
  let opt: ScannedRecord | null = null;
  const total = ancount + nscount + arcount;
  for (let i = 0; i < total; i++) {
    const section = i < ancount ? Section.Answer : i < ancount + nscount ? Section.Authority : Section.Additional;
    const start = off;
    const nameEnd = skipName(buf, off, end, onPointer);
    if (nameEnd < 0 || nameEnd + 10 > end) throw new MessageError(`malformed record ${i}`);
    const type = (buf[nameEnd] << 8) | buf[nameEnd + 1];
    const klass = (buf[nameEnd + 2] << 8) | buf[nameEnd + 3];
    const ttl = ((buf[nameEnd + 4] << 24) | (buf[nameEnd + 5] << 16) | (buf[nameEnd + 6] << 8) | buf[nameEnd + 7]) >>> 0;
    const rdlength = (buf[nameEnd + 8] << 8) | buf[nameEnd + 9];
    const rdataOffset = nameEnd + 10;
    const recEnd = rdataOffset + rdlength;
    if (recEnd > end) throw new MessageError(`record ${i} runs past the end of the message`);
    if (COMPRESSED_RDATA_TYPES.has(type)) checkRdataNames(buf, type, rdataOffset, recEnd, onPointer);
    const rec: ScannedRecord = { section, offset: start, type, klass, ttl, ttlOffset: nameEnd + 4, rdataOffset, rdlength, end: recEnd };
    if (type === Type.OPT) {
      if (section !== Section.Additional || opt !== null || nameEnd !== start + 1) throw new MessageError('misplaced or duplicate OPT record');
      opt = rec;
    }
    records.push(rec);
    off = recEnd;
  }
  if (off !== end) throw new MessageError('trailing bytes after the last record');
  const flags = (buf[2] << 8) | buf[3];
  const rcode = (flags & 0xf) | (opt ? (opt.ttl >>> 24) << 4 : 0);
  return {
    id: (buf[0] << 8) | buf[1], flags, rcode, qdcount, questionEnd, qnameEnd,
    records, ancount, nscount, opt, maxPointerTarget,
  };
}

/**
 * Walks the names inside RDATA of the types that may be compressed, so a malformed
 * name there is caught and every pointer target is known. Fixed fields are skipped.
 */
function checkRdataNames(buf: Uint8Array, type: number, off: number, end: number, onPointer: (t: number) => void): void {
  const name = (at: number): number => {
    const next = skipName(buf, at, end, onPointer);
    if (next < 0) throw new MessageError(`malformed name in ${type} RDATA`);
    return next;
  };
  let at = off;
  switch (type) {
    case Type.SOA: at = name(name(at)); at += 20; break;
    case Type.MINFO: case Type.RP: at = name(name(at)); break;
    case Type.MX: case Type.AFSDB: case Type.KX: case 21 /* RT */: at = name(at + 2); break;
    case 26 /* PX */: at = name(name(at + 2)); break;
    case Type.SRV: at = name(at + 6); break;
    case Type.NAPTR: {
      at += 4;
      for (let s = 0; s < 3; s++) { if (at >= end) throw new MessageError('malformed NAPTR'); at += 1 + buf[at]; }
      at = name(at);
      break;
    }
    case Type.SIG: name(at + 18); return; // signature follows the signer's name
    case Type.NXT: name(at); return; // type bitmap follows
    default: at = name(at); // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
  }
  if (at !== end) throw new MessageError(`RDATA of type ${type} has the wrong length`);
}
