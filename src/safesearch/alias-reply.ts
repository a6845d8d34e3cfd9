// The reply to a question answered by an alias we chose (SafeSearch): the client's question
// exactly as asked, a CNAME from the asked name to the target, then the answer the chain gave
// for the target (its CNAME chain and addresses, or its negative answer with the SOA), with
// the target's rcode. The target's records are re-written name by name: a compression pointer
// in them points into the target's message, never into this one, so every name is flattened
// and then written in full or as a pointer to an identical name written earlier in this
// message. RDATA names are compressed only for the RFC 1035 types (RFC 3597 §4).
import { COMPRESSED_RDATA_TYPES, EdnsOption, HEADER_SIZE, Rcode, Type } from '../dns/constants';
import { scanMessage, Section, type ScannedRecord } from '../dns/message';
import { flattenName, skipName } from '../dns/name';
import type { Query } from '../dns/query';
import { emptyReply, optSize, responseFlags, writeOpt, type ExtendedError } from '../dns/reply';

const MAX_MESSAGE = 65535;
/** Names remembered for compression; a reply rarely has more than a handful of distinct names. */
const MAX_REMEMBERED = 32;

/** RDATA names that may be compressed (RFC 1035 types; RFC 3597 §4 forbids it for later ones). */
const RFC1035_NAME_TYPES: ReadonlySet<number> = new Set([
  Type.NS, Type.MD, Type.MF, Type.CNAME, Type.SOA, Type.MB, Type.MG, Type.MR, Type.PTR, Type.MINFO, Type.MX,
]);

/**
 * Where the names are in the RDATA of a type that holds names: `pre` fixed bytes first, then
 * `names` names, then opaque bytes to the end. Null for types whose RDATA is opaque.
 */
function rdataLayout(type: number, buf: Uint8Array, off: number, end: number): { pre: number; names: number } | null {
  switch (type) {
    case Type.SOA: case Type.MINFO: case Type.RP: return { pre: 0, names: 2 };
    case Type.MX: case Type.AFSDB: case Type.KX: case 21 /* RT */: return { pre: 2, names: 1 };
    case 26 /* PX */: return { pre: 2, names: 2 };
    case Type.SRV: return { pre: 6, names: 1 };
    case Type.SIG: return { pre: 18, names: 1 };
    case Type.NAPTR: {
      let at = off + 4;
      for (let s = 0; s < 3; s++) {
        if (at >= end) return null;
        at += 1 + buf[at]!;
      }
      return { pre: at - off, names: 1 };
    }
    default:
      // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME; NXT (name, then a type bitmap)
      return COMPRESSED_RDATA_TYPES.has(type) ? { pre: 0, names: 1 } : null;
  }
}

/** The Extended DNS Error in a message's OPT record, if any (RFC 8914). */
export function readEde(buf: Uint8Array, opt: ScannedRecord | null): ExtendedError | undefined {
  if (opt === null) return undefined;
  let at = opt.rdataOffset;
  const end = opt.end;
  while (at + 4 <= end) {
    const code = (buf[at]! << 8) | buf[at + 1]!;
    const len = (buf[at + 2]! << 8) | buf[at + 3]!;
    if (at + 4 + len > end) return undefined;
    if (code === EdnsOption.EDE && len >= 2) {
      const info = (buf[at + 4]! << 8) | buf[at + 5]!;
      const text = Buffer.from(buf.buffer, buf.byteOffset + at + 6, len - 2).toString('utf8');
      return text === '' ? { code: info } : { code: info, text };
    }
    at += 4 + len;
  }
  return undefined;
}

/** Writes names into a message, as a pointer when the same name was written in full before. */
class NameWriter {
  private readonly starts: number[] = [];
  private readonly lengths: number[] = [];

  constructor(private readonly out: Buffer) {}

  /** Notes a name already written in full at `at`, `len` bytes long. */
  remember(at: number, len: number): void {
    if (at < 0x4000 && this.starts.length < MAX_REMEMBERED) {
      this.starts.push(at);
      this.lengths.push(len);
    }
  }

  /** Writes the uncompressed wire name name[0, len) at `o`; returns the offset after it. */
  write(o: number, name: Uint8Array, len: number, compress: boolean): number {
    const out = this.out;
    if (compress) {
      for (let i = 0; i < this.starts.length; i++) {
        const s = this.starts[i]!;
        if (this.lengths[i] === len && sameFolded(out, s, name, len)) {
          out[o] = 0xc0 | (s >> 8);
          out[o + 1] = s & 0xff;
          return o + 2;
        }
      }
    }
    out.set(name.subarray(0, len), o);
    this.remember(o, len);
    return o + len;
  }
}

/** Whether out[s, s+len) and name[0, len) are the same wire name, ignoring ASCII case. */
function sameFolded(out: Uint8Array, s: number, name: Uint8Array, len: number): boolean {
  for (let k = 0; k < len; k++) {
    let a = out[s + k]!;
    let b = name[k]!;
    if (a >= 0x41 && a <= 0x5a) a |= 0x20;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (a !== b) return false;
  }
  return true;
}

/**
 * The reply to `q` (the client's query in `query`): a CNAME from the question's name to
 * `target` (an uncompressed, lowercase wire name), then the answer and authority records of
 * `targetReply` (the chain's reply to the same question for `target`), with its rcode and its
 * Extended DNS Error. With `targetReply` null, the CNAME alone (a question of type CNAME).
 * The CNAME's TTL is `cnameTtl`, lowered to the smallest TTL of the target's records, so the
 * alias never outlives what it leads to. A target that failed (SERVFAIL, REFUSED, ...) gives
 * that rcode with no records.
 */
export function aliasReply(query: Uint8Array, q: Query, target: Uint8Array, targetReply: Uint8Array | null, cnameTtl: number): Buffer {
  let rcode: number = Rcode.NOERROR;
  let ede: ExtendedError | undefined;
  let records: ScannedRecord[] = [];
  let ancount = 0;
  if (targetReply !== null) {
    let msg;
    try {
      msg = scanMessage(targetReply);
    } catch (e) {
      // The chain's own replies always scan; anything else is a bug for the dispatcher.
      if ((e as { code?: string }).code !== 'DNS_MALFORMED_MESSAGE') throw e;
      return emptyReply(query, q, Rcode.SERVFAIL);
    }
    rcode = msg.flags & 0xf;
    ede = readEde(targetReply, msg.opt);
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) return emptyReply(query, q, rcode, ede);
    records = msg.records.filter((r) => r.section !== Section.Additional);
    ancount = msg.ancount;
  }
  let ttl = cnameTtl;
  for (const r of records) if (r.ttl < ttl) ttl = r.ttl;

  const qEnd = q.questionEnd;
  let bound = qEnd + 12 + target.length + (q.edns ? optSize(ede) : 0);
  for (const r of records) bound += 255 + 10 + r.rdlength + 2 * 255;
  const out = Buffer.allocUnsafe(bound);
  out.writeUInt16BE(q.id, 0);
  // QR, RA, RD and CD as asked, the target's rcode; no AA (we are not the zone's server) and
  // no AD (the CNAME is ours, no signature covers it).
  out.writeUInt16BE(responseFlags(q.flags, rcode), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(1 + ancount, 6);
  out.writeUInt16BE(records.length - ancount, 8);
  out.writeUInt16BE(q.edns ? 1 : 0, 10);
  out.set(query.subarray(HEADER_SIZE, qEnd), HEADER_SIZE);
  let o = qEnd;
  // The CNAME: owned by the question's name (a pointer to it, so the client's spelling).
  out.writeUInt16BE(0xc000 | HEADER_SIZE, o);
  out.writeUInt16BE(Type.CNAME, o + 2);
  out.writeUInt16BE(q.qclass, o + 4);
  out.writeUInt32BE(ttl, o + 6);
  out.writeUInt16BE(target.length, o + 10);
  o += 12;
  const names = new NameWriter(out);
  out.set(target, o);
  names.remember(o, target.length);
  o += target.length;

  const src = targetReply as Uint8Array;
  const scratch = new Uint8Array(256);
  for (const r of records) {
    const ownerLen = flattenName(src, r.offset, scratch);
    if (ownerLen < 0) return emptyReply(query, q, Rcode.SERVFAIL);
    o = names.write(o, scratch, ownerLen, true);
    // type, class, TTL as the target's reply has them
    out.set(src.subarray(r.ttlOffset - 4, r.ttlOffset + 4), o);
    const rdlenAt = o + 8;
    o += 10;
    const rdStart = o;
    const layout = rdataLayout(r.type, src, r.rdataOffset, r.end);
    if (layout === null) {
      out.set(src.subarray(r.rdataOffset, r.end), o);
      o += r.rdlength;
    } else {
      let at = r.rdataOffset;
      out.set(src.subarray(at, at + layout.pre), o);
      o += layout.pre;
      at += layout.pre;
      for (let n = 0; n < layout.names; n++) {
        const len = flattenName(src, at, scratch);
        const next = skipName(src, at, r.end);
        if (len < 0 || next < 0) return emptyReply(query, q, Rcode.SERVFAIL);
        o = names.write(o, scratch, len, RFC1035_NAME_TYPES.has(r.type));
        at = next;
      }
      out.set(src.subarray(at, r.end), o);
      o += r.end - at;
    }
    out.writeUInt16BE(o - rdStart, rdlenAt);
  }
  if (o > MAX_MESSAGE - (q.edns ? optSize(ede) : 0)) return emptyReply(query, q, Rcode.SERVFAIL);
  if (q.edns) o = writeOpt(out, o, rcode, q.dnssecOk, ede);
  return out.subarray(0, o);
}
