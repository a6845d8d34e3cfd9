// The canonical form of an upstream answer, as the cache stores it, and the fast path
// that turns it into a reply for one client: copy the bytes, patch ID, flags, question
// case and TTLs in place, append our OPT. No decode, no re-encode.
import { Flag, HEADER_SIZE, Rcode, Type } from './constants';
import { MessageError, ScannedMessage, Section } from './message';
import { foldAsciiInPlace } from './name';
import { ExtendedError, optSize, writeOpt } from './reply';
import type { Query } from './query';

export interface TtlPolicy {
  /** TTLs below this are raised to it. */
  readonly minTtl: number;
  /** TTLs above this are lowered to it. */
  readonly maxTtl: number;
  /** Upper bound for negative answers (RFC 2308 §5). */
  readonly maxNegativeTtl: number;
}

export interface Answer {
  /** Header (ID 0), lowercase question and the records, without OPT or TSIG. */
  readonly wire: Buffer;
  /** Offsets of every record's TTL field in `wire`. */
  readonly ttlOffsets: Uint16Array;
  /** TTL of each record when stored (after clamping), parallel to ttlOffsets. */
  readonly ttls: Uint32Array;
  readonly rcode: number;
  /** Seconds this answer may be reused: the smallest TTL in it (0: do not cache). */
  readonly lifetime: number;
  /** Date.now() when it was received. */
  readonly storedAt: number;
  /** NXDOMAIN or NODATA with an SOA (RFC 2308). */
  readonly negative: boolean;
  /**
   * Offsets in `wire` of the target names of CNAME and DNAME records in the answer
   * section: the names the filter must check too (CNAME cloaking). Usually empty.
   */
  readonly aliasTargets: Uint16Array;
}

const NO_TARGETS = new Uint16Array(0);

/**
 * Builds the canonical Answer from an upstream message that has already been scanned and
 * matched to our question. Drops OPT (hop by hop) and TSIG, clears AA and TC, lowercases
 * the question, clamps TTLs, and applies RFC 2308's negative TTL to the SOA.
 */
export function answerFromMessage(buf: Uint8Array, msg: ScannedMessage, policy: TtlPolicy, now: number): Answer {
  const keep = msg.records.filter((r) => r.type !== Type.OPT && !(r.type === Type.TSIG && r.section === Section.Additional));
  let size = msg.questionEnd;
  for (const r of keep) size += r.end - r.offset;
  // Removing bytes shifts what follows; a compression pointer into the shifted part would break.
  const firstDropped = msg.records.find((r) => !keep.includes(r));
  if (firstDropped && keep.some((r) => r.offset > firstDropped.offset) && msg.maxPointerTarget >= firstDropped.offset) {
    throw new MessageError('a compression pointer refers past the OPT record');
  }
  const wire = Buffer.allocUnsafe(size);
  wire.set(buf.subarray(0, msg.questionEnd), 0);
  foldAsciiInPlace(wire, HEADER_SIZE, msg.qnameEnd);
  wire.writeUInt16BE(0, 0);
  wire.writeUInt16BE((msg.flags & ~(Flag.AA | Flag.TC)) | Flag.QR | Flag.RA, 2);
  let arcount = 0;
  const ttlOffsets = new Uint16Array(keep.length);
  const ttls = new Uint32Array(keep.length);
  const rcode = msg.flags & 0xf;
  let soa = false;
  let lifetime = Number.MAX_SAFE_INTEGER;
  let targets: number[] | null = null;
  let o = msg.questionEnd;
  for (let i = 0; i < keep.length; i++) {
    const r = keep[i];
    if (r.section === Section.Additional) arcount++;
    if (r.section === Section.Answer && (r.type === Type.CNAME || r.type === Type.DNAME)) {
      (targets ??= []).push(o + (r.rdataOffset - r.offset));
    }
    wire.set(buf.subarray(r.offset, r.end), o);
    const ttlOffset = o + (r.ttlOffset - r.offset);
    let ttl = Math.min(Math.max(r.ttl, policy.minTtl), policy.maxTtl);
    if (r.type === Type.SOA && r.section === Section.Authority && r.rdlength >= 22) {
      // RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM).
      const minimum = wire.readUInt32BE(o + (r.end - r.offset) - 4);
      ttl = Math.min(r.ttl, minimum, policy.maxNegativeTtl);
      soa = true;
    }
    wire.writeUInt32BE(ttl, ttlOffset);
    ttlOffsets[i] = ttlOffset;
    ttls[i] = ttl;
    if (ttl < lifetime) lifetime = ttl;
    o += r.end - r.offset;
  }
  wire.writeUInt16BE(arcount, 10);
  // NXDOMAIN, or NODATA: NOERROR whose answer section (maybe a CNAME chain) has no record of the type asked.
  const negative = soa && (rcode === Rcode.NXDOMAIN || (rcode === Rcode.NOERROR && !hasAnswerOfType(buf, msg)));
  // Only positive answers and negative answers with an SOA are reusable (RFC 2308 §5).
  const cacheable = (rcode === Rcode.NOERROR && msg.ancount > 0 && !negative) || negative;
  return {
    wire, ttlOffsets, ttls, rcode, negative, storedAt: now,
    aliasTargets: targets === null ? NO_TARGETS : Uint16Array.from(targets),
    lifetime: cacheable && keep.length > 0 ? lifetime : 0,
  };
}

/** Whether the answer section holds a record of the question's type (else a CNAME chain ends in NODATA). */
function hasAnswerOfType(buf: Uint8Array, msg: ScannedMessage): boolean {
  const qtype = (buf[msg.qnameEnd] << 8) | buf[msg.qnameEnd + 1];
  return msg.records.some((r) => r.section === Section.Answer && (r.type === qtype || qtype === Type.ANY));
}

/** Seconds left before `answer` expires at `now` (negative once expired). */
export function remainingTtl(answer: Answer, now: number): number {
  return answer.lifetime - Math.floor((now - answer.storedAt) / 1000);
}

/**
 * The reply for one client: the stored bytes with the client's ID, RD/CD bits and
 * question spelling, TTLs counted down by the time since storing, and our OPT if the
 * client used EDNS (with `ede` in it when given). AD is kept only if the client asked for it
 * (RFC 6840 §5.8).
 */
export function renderAnswer(answer: Answer, query: Uint8Array, q: Query, now: number, ede?: ExtendedError): Buffer {
  const src = answer.wire;
  const n = src.length;
  const out = Buffer.allocUnsafe(q.edns ? n + optSize(ede) : n);
  out.set(src, 0); // TypedArray#set: a plain memcpy, cheaper than Buffer#copy's checks
  out[0] = q.id >> 8;
  out[1] = q.id & 0xff;
  const wantsAd = (q.flags & Flag.AD) !== 0 || q.dnssecOk;
  out[2] = (src[2] & ~0x01) | ((q.flags >> 8) & 0x01); // RD from the query
  out[3] = (src[3] & ~(0x10 | (wantsAd ? 0 : 0x20))) | (q.flags & 0x10); // CD from the query
  // Same name, same length: copy the client's spelling over our lowercase one (a byte
  // loop: a name is short, and subarray() would allocate a view per query).
  for (let i = HEADER_SIZE; i < q.qnameEnd; i++) out[i] = query[i];
  const elapsed = Math.floor((now - answer.storedAt) / 1000);
  if (elapsed > 0) {
    const offs = answer.ttlOffsets;
    const ttls = answer.ttls;
    for (let i = 0; i < offs.length; i++) {
      const t = ttls[i] - elapsed;
      out.writeUInt32BE(t > 0 ? t : 0, offs[i]);
    }
  }
  if (q.edns) {
    const ar = (out[10] << 8) | out[11];
    out.writeUInt16BE(ar + 1, 10);
    writeOpt(out, n, answer.rcode, q.dnssecOk, ede);
  }
  return out;
}
