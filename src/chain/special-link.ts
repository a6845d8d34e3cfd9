// Questions a recursive resolver answers itself instead of sending them anywhere:
// - classes other than IN (CHAOS version.bind and friends): REFUSED;
// - ANY: a synthesized HINFO "RFC8482" (RFC 8482 §4.2), so ANY cannot amplify;
// - localhost and *.localhost: loopback addresses (RFC 6761 §6.3);
// - invalid and *.invalid: NXDOMAIN (RFC 6761 §6.4);
// - reverse zones of private and special addresses: NXDOMAIN (RFC 6303), so a school's
//   internal address plan never leaks to upstream resolvers.
//
// And the names devices ask to learn whether they may go around the network's resolver,
// answered so that they keep using this one (each answer with an SOA in the authority
// section, as from a locally served zone, RFC 6303 §3, so clients can cache it, RFC 2308):
// - use-application-dns.net: NXDOMAIN. Firefox's canary domain: a network that answers it
//   with NXDOMAIN (or no address) asks Firefox not to turn on DNS over HTTPS by itself
//   (Mozilla, "Canary domain - use-application-dns.net", support.mozilla.org).
// - mask.icloud.com, mask-h2.icloud.com: NXDOMAIN. Apple asks networks that must see their
//   traffic to answer these with NXDOMAIN or an empty answer; iCloud Private Relay then tells
//   the user it is off on this network and traffic goes the normal way (Apple, "Prepare your
//   network or web server for iCloud Private Relay", developer.apple.com).
// - resolver.arpa and every name below it, _dns.resolver.arpa SVCB included: NODATA.
//   Discovery of Designated Resolvers (RFC 9462) asks _dns.resolver.arpa for this resolver's
//   encrypted endpoints. We offer none, and resolver.arpa is answered by the resolver itself,
//   as a locally served zone, never forwarded (RFC 9462 §6.4): were it forwarded, an upstream
//   resolver could answer with its own encrypted endpoints and clients would leave us for it.
// These are the same for every client; the chain places this link before the filter so that
// no blocklist listing one of them turns the negative answer into a sinkhole address.
import { Class, HEADER_SIZE, Rcode, Type } from '../dns/constants';
import { encodeName, equalsFolded } from '../dns/name';
import { emptyReply, optSize, responseFlags, singleRecordReply, writeOpt } from '../dns/reply';
import type { Handler, QueryContext } from './types';

const HINFO_RFC8482 = Buffer.from('\x07RFC8482\x00', 'latin1');
const LOCAL_TTL = 3600;
const LOOPBACK_V4 = Buffer.from([127, 0, 0, 1]);
const LOOPBACK_V6 = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);

/** RFC 6303 §4 zones, lowercase presentation form, without the trailing dot. */
const LOCALLY_SERVED = new Set<string>([
  '10.in-addr.arpa', '168.192.in-addr.arpa', '254.169.in-addr.arpa', '127.in-addr.arpa', '0.in-addr.arpa',
  ...Array.from({ length: 16 }, (_, i) => `${16 + i}.172.in-addr.arpa`),
  ...Array.from({ length: 64 }, (_, i) => `${64 + i}.100.in-addr.arpa`), // RFC 6598 shared address space
  '2.0.192.in-addr.arpa', '100.51.198.in-addr.arpa', '113.0.203.in-addr.arpa', '255.255.255.255.in-addr.arpa',
  'd.f.ip6.arpa', '8.e.f.ip6.arpa', '9.e.f.ip6.arpa', 'a.e.f.ip6.arpa', 'b.e.f.ip6.arpa', '8.b.d.0.1.0.0.2.ip6.arpa',
  '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa',
  '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa',
]);

const LOCALHOST = Buffer.from('localhost');
const INVALID = Buffer.from('invalid');
const ARPA = Buffer.from('arpa');
const NET = Buffer.from('net');
const COM = Buffer.from('com');

/** The zones of the bypass signals above, as wire names (each covers its subdomains). */
const FIREFOX_CANARY = encodeName('use-application-dns.net');
const PRIVATE_RELAY = [encodeName('mask.icloud.com'), encodeName('mask-h2.icloud.com')];
const RESOLVER_ARPA = encodeName('resolver.arpa');

/** Lifetime of the signals' negative answers (SOA TTL and MINIMUM, RFC 2308 §5). */
export const SIGNAL_NEGATIVE_TTL = 300;
/** RNAME of the synthesized SOA: no one to mail (RFC 6303 §3 uses the same). */
const NOBODY_INVALID = encodeName('nobody.invalid');

/** Offset of the last label's length byte in an uncompressed name, or -1 for the root. */
function lastLabel(buf: Uint8Array, start: number): number {
  let off = start;
  let last = -1;
  while (buf[off] !== 0) {
    last = off;
    off += buf[off] + 1;
  }
  return last;
}

function labelIs(buf: Uint8Array, off: number, word: Uint8Array): boolean {
  if (buf[off] !== word.length) return false;
  for (let i = 0; i < word.length; i++) if ((buf[off + 1 + i] | 0x20) !== word[i]) return false;
  return true;
}

/**
 * Where `zone` (an uncompressed wire name) starts in the name buf[start, end) when the name is
 * the zone or below it (ASCII case ignored), else -1. Walks the labels; allocates nothing.
 */
function zoneAt(buf: Uint8Array, start: number, end: number, zone: Uint8Array): number {
  const at = end - zone.length;
  if (at < start) return -1;
  let off = start;
  while (off < at) off += buf[off] + 1;
  return off === at && equalsFolded(buf, at, zone, 0, zone.length) ? at : -1;
}

/**
 * An answer with no records and, in the authority section, the SOA of a zone served here:
 * owner and MNAME point at the zone's name inside the question (offset `zoneOff`).
 */
function negativeReply(ctx: QueryContext, rcode: number, zoneOff: number): Buffer {
  const q = ctx.query;
  const qEnd = q.questionEnd;
  const rdLen = 2 + NOBODY_INVALID.length + 20;
  const out = Buffer.allocUnsafe(qEnd + 12 + rdLen + (q.edns ? optSize() : 0));
  out.writeUInt16BE(q.id, 0);
  out.writeUInt16BE(responseFlags(q.flags, rcode), 2);
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(0, 6);
  out.writeUInt16BE(1, 8);
  out.writeUInt16BE(q.edns ? 1 : 0, 10);
  out.set(ctx.buf.subarray(HEADER_SIZE, qEnd), HEADER_SIZE);
  let o = qEnd;
  out.writeUInt16BE(0xc000 | zoneOff, o);
  out.writeUInt16BE(Type.SOA, o + 2);
  out.writeUInt16BE(Class.IN, o + 4);
  out.writeUInt32BE(SIGNAL_NEGATIVE_TTL, o + 6);
  out.writeUInt16BE(rdLen, o + 10);
  o += 12;
  out.writeUInt16BE(0xc000 | zoneOff, o); // MNAME
  o += 2;
  out.set(NOBODY_INVALID, o);
  o += NOBODY_INVALID.length;
  out.writeUInt32BE(1, o); // serial
  out.writeUInt32BE(3600, o + 4); // refresh
  out.writeUInt32BE(1200, o + 8); // retry
  out.writeUInt32BE(604800, o + 12); // expire
  out.writeUInt32BE(SIGNAL_NEGATIVE_TTL, o + 16); // minimum: the negative TTL
  o += 20;
  if (q.edns) o = writeOpt(out, o, rcode, q.dnssecOk);
  return out.subarray(0, o);
}

/** The reply for the bypass signals, or null when the name is none of them. */
function signal(ctx: QueryContext, tld: number): Buffer | null {
  const buf = ctx.buf;
  const end = ctx.query.qnameEnd;
  let at: number;
  if (labelIs(buf, tld, NET)) {
    if ((at = zoneAt(buf, HEADER_SIZE, end, FIREFOX_CANARY)) >= 0) return negativeReply(ctx, Rcode.NXDOMAIN, at);
  } else if (labelIs(buf, tld, COM)) {
    for (const zone of PRIVATE_RELAY) {
      if ((at = zoneAt(buf, HEADER_SIZE, end, zone)) >= 0) return negativeReply(ctx, Rcode.NXDOMAIN, at);
    }
  } else if (labelIs(buf, tld, ARPA)) {
    if ((at = zoneAt(buf, HEADER_SIZE, end, RESOLVER_ARPA)) >= 0) return negativeReply(ctx, Rcode.NOERROR, at);
  }
  return null;
}

/** Whether the name is one of the RFC 6303 zones or below one. */
function inLocallyServed(name: string): boolean {
  for (let i = 0; ;) {
    if (LOCALLY_SERVED.has(i === 0 ? name : name.slice(i))) return true;
    const dot = name.indexOf('.', i);
    if (dot < 0) return false;
    i = dot + 1;
  }
}

export function specialLink(): Handler {
  return (ctx, next) => {
    const q = ctx.query;
    if (q.qclass !== Class.IN) return local(ctx, emptyReply(ctx.buf, q, Rcode.REFUSED));
    const tld = lastLabel(ctx.buf, HEADER_SIZE);
    if (tld >= 0) {
      if (labelIs(ctx.buf, tld, LOCALHOST)) return local(ctx, localhost(ctx));
      if (labelIs(ctx.buf, tld, INVALID)) return local(ctx, emptyReply(ctx.buf, q, Rcode.NXDOMAIN));
      const bypass = signal(ctx, tld);
      if (bypass !== null) return local(ctx, bypass);
      if (labelIs(ctx.buf, tld, ARPA) && inLocallyServed(ctx.qname)) return local(ctx, emptyReply(ctx.buf, q, Rcode.NXDOMAIN));
    }
    if (q.qtype === Type.ANY) return local(ctx, singleRecordReply(ctx.buf, q, Type.HINFO, LOCAL_TTL, HINFO_RFC8482));
    return next(ctx);
  };
}

function localhost(ctx: QueryContext): Buffer {
  const q = ctx.query;
  if (q.qtype === Type.A) return singleRecordReply(ctx.buf, q, Type.A, LOCAL_TTL, LOOPBACK_V4);
  if (q.qtype === Type.AAAA) return singleRecordReply(ctx.buf, q, Type.AAAA, LOCAL_TTL, LOOPBACK_V6);
  return emptyReply(ctx.buf, q, Rcode.NOERROR);
}

function local(ctx: QueryContext, reply: Buffer): Buffer {
  ctx.source = 'local';
  return reply;
}
