// Records as the recursor keeps them: owner name as lowercase presentation text, RDATA
// self-contained (names inside the RDATA of the RFC 1035-era types decompressed, every
// other type opaque, RFC 3597), and a small uncompressed encoder for the answers we build.
import type { Answer, TtlPolicy } from '../dns/answer';
import { Class, Flag, HEADER_SIZE, Rcode, Type } from '../dns/constants';
import { ScannedMessage, Section } from '../dns/message';
import { addressText } from '../dns/ip-text';
import { flattenName, foldAsciiInPlace, nameWireLength, readName, skipName, writeName } from '../dns/name';

export interface Rr {
  /** Owner, lowercase presentation format without the trailing dot ("" for the root). */
  readonly name: string;
  readonly type: number;
  readonly klass: number;
  readonly ttl: number;
  /** RDATA with no compression pointers. */
  readonly rdata: Buffer;
}

/**
 * Copies RDATA out of `buf`, expanding compressed names inside it for the types that may
 * carry them; returns null if it is malformed. Fixed-size fields are copied as they are.
 */
export function decompressRdata(buf: Uint8Array, type: number, off: number, len: number): Buffer | null {
  switch (type) {
    case Type.SOA: case Type.MINFO: case Type.RP: case Type.MX: case Type.AFSDB: case Type.KX: case 21 /* RT */:
    case 26 /* PX */: case Type.SRV: case Type.NAPTR: case Type.SIG: case Type.NXT:
    case Type.NS: case Type.MD: case Type.MF: case Type.CNAME: case Type.MB: case Type.MG: case Type.MR:
    case Type.PTR: case Type.DNAME:
      return expandRdata(buf, type, off, len);
    default:
      // No names inside (A, AAAA, TXT, HTTPS, CAA, unknown types...): the bytes as they are.
      return copyOut(buf, off, len);
  }
}

/** buf[off, off+len) in a buffer of its own (small ones copied by hand: no view made). */
function copyOut(buf: Uint8Array, off: number, len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  if (len <= 32) {
    for (let i = 0; i < len; i++) out[i] = buf[off + i];
  } else {
    out.set(buf.subarray(off, off + len));
  }
  return out;
}

/** Scratch for one name at a time: names are copied out of it before the next is read. */
const nameScratch = new Uint8Array(256);

/** decompressRdata for the types that may carry compressed names. */
function expandRdata(buf: Uint8Array, type: number, off: number, len: number): Buffer | null {
  const end = off + len;
  if (type === Type.NS || type === Type.CNAME || type === Type.PTR || type === Type.DNAME) {
    // One name and nothing else (the usual case: referrals and aliases).
    const n = flattenName(buf, off, nameScratch, end);
    if (n < 0 || skipName(buf, off, end) !== end) return null;
    return copyOut(nameScratch, 0, n);
  }
  const parts: Uint8Array[] = [];
  let at = off;
  const name = (): boolean => {
    const n = flattenName(buf, at, nameScratch, end);
    if (n < 0) return false;
    parts.push(Buffer.from(nameScratch.subarray(0, n)));
    at = skipName(buf, at, end); // past the name as it sits in the message (flattenName has checked it)
    return true;
  };
  const fixed = (n: number): boolean => {
    if (at + n > end) return false;
    parts.push(buf.subarray(at, at + n));
    at += n;
    return true;
  };
  let ok: boolean;
  switch (type) {
    case Type.SOA: ok = name() && name() && fixed(20); break;
    case Type.MINFO: case Type.RP: ok = name() && name(); break;
    case Type.MX: case Type.AFSDB: case Type.KX: case 21 /* RT */: ok = fixed(2) && name(); break;
    case 26 /* PX */: ok = fixed(2) && name() && name(); break;
    case Type.SRV: ok = fixed(6) && name(); break;
    case Type.NAPTR: {
      ok = fixed(4);
      for (let s = 0; ok && s < 3; s++) ok = at < end && fixed(1 + buf[at]);
      ok = ok && name();
      break;
    }
    case Type.SIG: ok = fixed(18) && name() && fixed(end - at); break;
    case Type.NXT: ok = name() && fixed(end - at); break;
    default: ok = name(); break; // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME
  }
  if (!ok || at !== end) return null;
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/** The records of a scanned message by section, as the recursor believes them. */
export interface Sections {
  readonly answer: Rr[];
  readonly authority: Rr[];
  readonly additional: Rr[];
}

/**
 * The class-IN records of a message whose owners are at or below `zone`, by section, with
 * self-contained RDATA; everything else (other classes, OPT, out-of-bailiwick owners,
 * malformed records) is left out. The one pass the recursor makes over a reply.
 */
export function sectionsOf(buf: Uint8Array, msg: ScannedMessage, zone: string): Sections {
  const answer: Rr[] = [];
  const authority: Rr[] = [];
  const additional: Rr[] = [];
  for (const r of msg.records) {
    if (r.klass !== Class.IN || r.type === Type.OPT) continue;
    const name = readName(buf, r.offset);
    if (name === null || !isSubdomain(name, zone)) continue;
    const rdata = decompressRdata(buf, r.type, r.rdataOffset, r.rdlength);
    if (rdata === null) continue;
    const rr: Rr = { name, type: r.type, klass: r.klass, ttl: r.ttl, rdata };
    (r.section === Section.Answer ? answer : r.section === Section.Authority ? authority : additional).push(rr);
  }
  return { answer, authority, additional };
}

/** The name at the start of an RDATA (NS, CNAME, DNAME, PTR targets); null if malformed. */
export function rdataName(rdata: Buffer, offset = 0): string | null {
  return readName(rdata, offset);
}

/** MX exchange / SRV target etc. are not needed by the recursor; SOA MINIMUM is. */
export function soaMinimum(rdata: Buffer): number {
  return rdata.length >= 4 ? rdata.readUInt32BE(rdata.length - 4) : 0;
}

/**
 * Encodes a response: header with ID 0, QR|RA and `rcode`, the question bytes as given,
 * then the answer and authority records, uncompressed.
 */
export function encodeResponse(question: Buffer, rcode: number, answer: readonly Rr[], authority: readonly Rr[]): Buffer {
  const size = HEADER_SIZE + question.length + recordsSize(answer) + recordsSize(authority);
  const out = Buffer.allocUnsafe(size);
  out.writeUInt16BE(0, 0);
  out.writeUInt16BE(Flag.QR | Flag.RA | (rcode & 0xf), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(answer.length, 6);
  out.writeUInt16BE(authority.length, 8);
  out.writeUInt16BE(0, 10);
  let at = HEADER_SIZE + question.copy(out, HEADER_SIZE);
  for (const r of answer) at = writeRr(out, at, r);
  for (const r of authority) at = writeRr(out, at, r);
  return out;
}

/**
 * The Answer (src/dns/answer.ts) for a response built from records: what
 * answerFromMessage(encodeResponse(...)) gives, in one pass, without encoding the
 * message, scanning it back and copying it again. Question lowercased, TTLs clamped by
 * the policy, an authority SOA's TTL cut to min(TTL, MINIMUM, maxNegativeTtl) (RFC 2308
 * §5), CNAME and DNAME targets in the answer section noted for the filter.
 */
export function answerFromRecords(question: Buffer, rcode: number, answer: readonly Rr[], authority: readonly Rr[], policy: TtlPolicy, now: number): Answer {
  const wire = encodeResponse(question, rcode, answer, authority);
  const qnameEnd = HEADER_SIZE + question.length - 4;
  foldAsciiInPlace(wire, HEADER_SIZE, qnameEnd);
  const count = answer.length + authority.length;
  const ttlOffsets = new Uint16Array(count);
  const ttls = new Uint32Array(count);
  const qtype = question.readUInt16BE(question.length - 4);
  let targets: number[] | null = null;
  let lifetime = Number.MAX_SAFE_INTEGER;
  let soa = false;
  let hasType = false;
  let at = HEADER_SIZE + question.length;
  for (let i = 0; i < count; i++) {
    const inAnswer = i < answer.length;
    const r = inAnswer ? answer[i] : authority[i - answer.length];
    const rdataAt = at + recordSize(r) - r.rdata.length;
    const ttlOffset = rdataAt - 6;
    // The TTL as written (encodeResponse floors it), then clamped as answerFromMessage would.
    const written = wire.readUInt32BE(ttlOffset);
    let ttl = Math.min(Math.max(written, policy.minTtl), policy.maxTtl);
    if (inAnswer) {
      if (r.type === qtype || qtype === Type.ANY) hasType = true;
      if (r.type === Type.CNAME || r.type === Type.DNAME) (targets ??= []).push(rdataAt);
    } else if (r.type === Type.SOA && r.rdata.length >= 22) {
      ttl = Math.min(written, soaMinimum(r.rdata), policy.maxNegativeTtl);
      soa = true;
    }
    wire.writeUInt32BE(ttl, ttlOffset);
    ttlOffsets[i] = ttlOffset;
    ttls[i] = ttl;
    if (ttl < lifetime) lifetime = ttl;
    at = rdataAt + r.rdata.length;
  }
  const negative = soa && (rcode === Rcode.NXDOMAIN || (rcode === Rcode.NOERROR && !hasType));
  const cacheable = (rcode === Rcode.NOERROR && answer.length > 0 && !negative) || negative;
  return {
    wire, ttlOffsets, ttls, rcode, negative, storedAt: now,
    aliasTargets: targets === null ? NO_TARGETS : Uint16Array.from(targets),
    lifetime: cacheable && count > 0 ? lifetime : 0,
  };
}

const NO_TARGETS = new Uint16Array(0);

export function encodeRr(r: Rr): Buffer {
  const out = Buffer.allocUnsafe(recordSize(r));
  writeRr(out, 0, r);
  return out;
}

/** Octets of records written uncompressed. */
function recordsSize(list: readonly Rr[]): number {
  let n = 0;
  for (const r of list) n += recordSize(r);
  return n;
}

function recordSize(r: Rr): number {
  return nameWireLength(r.name) + 10 + r.rdata.length;
}

function writeRr(out: Buffer, at: number, r: Rr): number {
  at = writeName(r.name, out, at);
  out.writeUInt16BE(r.type, at);
  out.writeUInt16BE(r.klass, at + 2);
  out.writeUInt32BE(Math.max(0, Math.floor(r.ttl)) >>> 0, at + 4);
  out.writeUInt16BE(r.rdata.length, at + 8);
  return at + 10 + r.rdata.copy(out, at + 10);
}

/** Whether `name` is `zone` or below it (presentation text, lowercase). */
export function isSubdomain(name: string, zone: string): boolean {
  return zone === '' || name === zone || (name.length > zone.length && name.endsWith(zone) && name[name.length - zone.length - 1] === '.' && !isEscapedDot(name, name.length - zone.length - 1));
}

function isEscapedDot(name: string, i: number): boolean {
  let n = 0;
  for (let j = i - 1; j >= 0 && name[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

/** Labels of a presentation name, escapes kept ("" → []). */
export function labelsOf(name: string): string[] {
  if (name === '') return [];
  if (name.indexOf('\\') < 0) return name.split('.'); // no escapes: every dot ends a label
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i];
    if (c === '\\') { cur += c + (name[i + 1] ?? ''); i++; continue; }
    if (c === '.') { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}

/** How many labels a presentation name has (0 for the root). */
export function labelCount(name: string): number {
  if (name === '') return 0;
  if (name.indexOf('\\') >= 0) return labelsOf(name).length;
  let n = 1;
  for (let i = name.indexOf('.'); i >= 0; i = name.indexOf('.', i + 1)) n++;
  return n;
}

/** The parent of a name ("" for a TLD; the root has none: returns null). */
export function parentName(name: string): string | null {
  if (name === '') return null;
  if (name.indexOf('\\') < 0) {
    const dot = name.indexOf('.');
    return dot < 0 ? '' : name.slice(dot + 1);
  }
  return labelsOf(name).slice(1).join('.');
}

/** `name` cut to its last `n` labels. */
export function suffix(name: string, n: number): string {
  if (n <= 0) return '';
  if (name.indexOf('\\') < 0) {
    let at = name.length;
    for (let k = 0; k < n; k++) {
      at = name.lastIndexOf('.', at - 1);
      if (at < 0) return name;
    }
    return name.slice(at + 1);
  }
  const l = labelsOf(name);
  return l.slice(Math.max(0, l.length - n)).join('.');
}

/**
 * Whether an A or AAAA RDATA may be a server the recursor sends queries to: not
 * "this network" (0.0.0.0/8) or unspecified (::), not multicast (224.0.0.0/4, ff00::/8),
 * not reserved or the limited broadcast (240.0.0.0/4); IPv4-mapped IPv6 judged as its
 * IPv4 address. Glue or an NS name's address like that is never a DNS server, and
 * following it would have the resolver send packets to a broadcast or multicast group of
 * the school's network at the word of whoever runs a zone. Loopback and private addresses
 * stay usable (internal zones, labs, tests).
 */
export function isServerAddress(rdata: Uint8Array): boolean {
  if (rdata.length === 4) return isServerIPv4(rdata[0]);
  if (rdata.length !== 16) return false;
  if (rdata[0] === 0xff) return false;
  let zeros = 0;
  while (zeros < 16 && rdata[zeros] === 0) zeros++;
  if (zeros === 16) return false;
  if (zeros >= 10 && rdata[10] === 0xff && rdata[11] === 0xff) return isServerIPv4(rdata[12]);
  return true;
}

function isServerIPv4(first: number): boolean {
  return first !== 0 && first < 224;
}

/** An A or AAAA RDATA as an address literal, as Node reports peers (RFC 5952 for IPv6). */
export function ipText(rdata: Buffer): string {
  return addressText(rdata);
}
