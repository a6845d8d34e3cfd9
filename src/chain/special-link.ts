// Questions a recursive resolver answers itself instead of sending them anywhere:
// - classes other than IN (CHAOS version.bind and friends): REFUSED;
// - ANY: a synthesized HINFO "RFC8482" (RFC 8482 §4.2), so ANY cannot amplify;
// - localhost and *.localhost: loopback addresses (RFC 6761 §6.3);
// - invalid and *.invalid: NXDOMAIN (RFC 6761 §6.4);
// - reverse zones of private and special addresses: NXDOMAIN (RFC 6303), so a school's
//   internal address plan never leaks to upstream resolvers.
import { Class, HEADER_SIZE, Rcode, Type } from '../dns/constants';
import { emptyReply, singleRecordReply } from '../dns/reply';
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
