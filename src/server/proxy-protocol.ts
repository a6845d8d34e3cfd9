// The PROXY protocol, version 2 (HAProxy's spec, as dnsdist sends it with
// `useProxyProtocol=true`): a binary header in front of the DNS message, saying who the real
// client is. Over UDP it comes first in every datagram; over TCP once, at the start of the
// connection, before the first length-prefixed message.
//
//   12 bytes  signature  \r\n\r\n\0\r\nQUIT\n
//    1 byte   version (high nibble, 2) and command (low nibble: 0 LOCAL, 1 PROXY)
//    1 byte   family (high: 0 UNSPEC, 1 INET, 2 INET6, 3 UNIX) and protocol (low: 0 UNSPEC, 1 STREAM, 2 DGRAM)
//    2 bytes  length of what follows, big endian
//   INET:  source 4, destination 4, source port 2, destination port 2 (12 bytes), then TLVs
//   INET6: source 16, destination 16, source port 2, destination port 2 (36 bytes), then TLVs
//
// LOCAL is the proxy speaking for itself (dnsdist's health checks): the receiver uses the
// connection's own addresses and ignores the rest of the block. TLVs (type, 2-byte length,
// value) are checked to fill the block exactly and otherwise skipped.
//
// The parser is pure and allocates nothing but the two address strings it returns: it fills a
// caller-owned ProxyHeader and returns a number. Which senders may send a header at all is the
// listeners' business (TrustedProxies below): from anyone else a header is never honoured.
import { ipv4Text, ipv6Text } from '../dns/ip-text';
import { parseAddress, parseCidr } from '../policy/cidr';

// Module-local constants for the parser: under CommonJS every use of an exported one is a
// property load from `exports`.
const SIG = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const FIXED = 16;
const INCOMPLETE = 0;

/** The 12-byte signature that starts every version 2 header. */
export const PROXY_V2_SIGNATURE: readonly number[] = Array.from(SIG);
/** Signature, version/command, family/protocol and length. */
export const PROXY_V2_FIXED = FIXED;

/**
 * Why a header was refused: the `reason` label of school_dns_proxy_protocol_rejected_total.
 * - short: fewer than the 16 fixed bytes
 * - signature: does not start with the version 2 signature (no header at all, or a version 1 text header)
 * - version: the version is not 2
 * - command: neither LOCAL nor PROXY
 * - family: a family/protocol byte the spec does not define, or PROXY for something without an IP address (UNSPEC, UNIX)
 * - length: the declared length is too small for the family's two addresses and ports
 * - truncated: the packet ends before the declared length
 * - tlv: the bytes after the addresses are not a run of whole TLVs
 */
export const PROXY_REJECT_REASONS = ['short', 'signature', 'version', 'command', 'family', 'length', 'truncated', 'tlv'] as const;
export type ProxyRejectReason = (typeof PROXY_REJECT_REASONS)[number];

/** parseProxyHeader's result when a stream has not yet delivered the whole header. */
export const PROXY_INCOMPLETE = INCOMPLETE;

/** What a header said; filled in by parseProxyHeader, meant to be reused. */
export class ProxyHeader {
  /** LOCAL: the proxy's own traffic (health checks); source and destination are '' and 0. */
  local = false;
  /** 4 or 6 for PROXY; 0 for LOCAL. */
  family: 0 | 4 | 6 = 0;
  /** STREAM (TCP) or DGRAM (UDP) as the proxy saw the client, or UNSPEC. */
  protocol: 'stream' | 'dgram' | 'unspec' = 'unspec';
  /** The client: "192.0.2.7", or RFC 5952 IPv6 ("2001:db8::7", "::ffff:192.0.2.7"). */
  source = '';
  sourcePort = 0;
  /** The address the client sent its query to (the proxy's listener). */
  destination = '';
  destinationPort = 0;
}

/** The reason for a negative parseProxyHeader result. */
export function proxyRejectReason(code: number): ProxyRejectReason {
  return PROXY_REJECT_REASONS[-code - 1] ?? 'short';
}

const reject = (reason: ProxyRejectReason): number => -1 - PROXY_REJECT_REASONS.indexOf(reason);
const SHORT = reject('short');
const SIGNATURE = reject('signature');
const VERSION = reject('version');
const COMMAND = reject('command');
const FAMILY = reject('family');
const LENGTH = reject('length');
const TRUNCATED = reject('truncated');
const TLV = reject('tlv');

/**
 * Reads a version 2 header at the start of `buf` into `out`. Returns the header's length in
 * bytes (TLVs included: the DNS message starts there), a negative code for a malformed header
 * (proxyRejectReason(code) says why), or, when `complete` is false (a stream still arriving),
 * PROXY_INCOMPLETE while every byte so far could still begin a valid header. With `complete`
 * (a datagram: nothing more will come) a header cut short is refused as short or truncated.
 * `out` is changed only when a header is returned.
 */
export function parseProxyHeader(buf: Uint8Array, out: ProxyHeader, complete: boolean): number {
  const n = buf.length;
  const sigEnd = n < 12 ? n : 12;
  for (let i = 0; i < sigEnd; i++) if (buf[i] !== SIG[i]) return SIGNATURE;
  if (n > 12) {
    const vc = buf[12]!;
    if (vc >>> 4 !== 2) return VERSION;
    if ((vc & 0xf) > 1) return COMMAND;
  }
  if (n < FIXED) return complete ? SHORT : INCOMPLETE;
  const local = (buf[12]! & 0xf) === 0;
  const fp = buf[13]!;
  const length = (buf[14]! << 8) | buf[15]!;
  const total = FIXED + length;
  if (local) {
    // LOCAL: the spec has the receiver ignore the family and the whole block.
    if (n < total) return complete ? TRUNCATED : INCOMPLETE;
    out.local = true;
    out.family = 0;
    out.protocol = protocolOf(fp);
    out.source = '';
    out.sourcePort = 0;
    out.destination = '';
    out.destinationPort = 0;
    return total;
  }
  let need: number;
  switch (fp) {
    case 0x11: case 0x12: need = 12; break; // INET: TCP or UDP over IPv4
    case 0x21: case 0x22: need = 36; break; // INET6
    default: return FAMILY; // UNSPEC and UNIX carry no IP address; other values are undefined
  }
  if (length < need) return LENGTH;
  if (n < total) return complete ? TRUNCATED : INCOMPLETE;
  // TLVs: type (1), length (2), value, filling the rest of the block exactly.
  for (let i = FIXED + need; i < total; ) {
    if (total - i < 3) return TLV;
    i += 3 + ((buf[i + 1]! << 8) | buf[i + 2]!);
    if (i > total) return TLV;
  }
  const at = FIXED;
  out.local = false;
  out.protocol = protocolOf(fp);
  if (need === 12) {
    out.family = 4;
    out.source = ipv4Text(buf, at);
    out.destination = ipv4Text(buf, at + 4);
    out.sourcePort = (buf[at + 8]! << 8) | buf[at + 9]!;
    out.destinationPort = (buf[at + 10]! << 8) | buf[at + 11]!;
  } else {
    out.family = 6;
    out.source = ipv6Text(buf, at);
    out.destination = ipv6Text(buf, at + 16);
    out.sourcePort = (buf[at + 32]! << 8) | buf[at + 33]!;
    out.destinationPort = (buf[at + 34]! << 8) | buf[at + 35]!;
  }
  return total;
}

function protocolOf(fp: number): 'stream' | 'dgram' | 'unspec' {
  const p = fp & 0xf;
  return p === 1 ? 'stream' : p === 2 ? 'dgram' : 'unspec';
}

/**
 * The senders whose PROXY headers are honoured (server.proxyProtocol.from), compiled once into
 * networks and masks. A handful of prefixes is usual (the dnsdist machines), so has() parses a
 * dotted quad in place and compares it with each; IPv6 senders take the general parser.
 */
export class TrustedProxies {
  /** IPv4: network, mask, network, mask, ... */
  private readonly v4: Uint32Array;
  /** IPv6: four words of network then four of mask, per prefix. */
  private readonly v6: Uint32Array;
  readonly size: number;

  /** Prefixes as load.ts checked them ("10.0.0.0/8", "127.0.0.1/32", "2001:db8::/64"); throws on a malformed one. */
  constructor(prefixes: readonly string[]) {
    const v4: number[] = [];
    const v6: number[] = [];
    for (const p of prefixes) {
      const c = parseCidr(p);
      if (typeof c === 'string') throw new Error(`invalid proxy prefix ${JSON.stringify(p)}: ${c}`);
      const masks = c.words.map((_, k) => wordMask(c.length - 32 * k));
      if (c.family === 4) v4.push(c.words[0]!, masks[0]!);
      else v6.push(...c.words, ...masks);
    }
    this.v4 = Uint32Array.from(v4);
    this.v6 = Uint32Array.from(v6);
    this.size = prefixes.length;
  }

  /** Whether a sender ("10.0.0.5", "::ffff:10.0.0.5", "2001:db8::5") may send a header. */
  has(address: string): boolean {
    const a = dottedQuad(address);
    if (a >= 0) return this.has4(a);
    // IPv6, IPv4-mapped IPv6 (folded to IPv4), or not an address.
    const p = parseAddress(address);
    if (p === null) return false;
    if (p.family === 4) return this.has4(p.words[0]!);
    const t = this.v6;
    for (let k = 0; k < t.length; k += 8) {
      if (((p.words[0]! & t[k + 4]!) >>> 0) === t[k] && ((p.words[1]! & t[k + 5]!) >>> 0) === t[k + 1]
        && ((p.words[2]! & t[k + 6]!) >>> 0) === t[k + 2] && ((p.words[3]! & t[k + 7]!) >>> 0) === t[k + 3]) return true;
    }
    return false;
  }

  private has4(a: number): boolean {
    const t = this.v4;
    for (let k = 0; k < t.length; k += 2) if (((a & t[k + 1]!) >>> 0) === t[k]) return true;
    return false;
  }
}

/** The mask of the first `bits` bits (0..32) of a word, unsigned. */
function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** "a.b.c.d" (as Node reports IPv4 senders) as an unsigned number, or -1 for anything else. */
function dottedQuad(s: string): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      return -1;
    }
  }
  return dots === 3 && digits > 0 ? value * 256 + part : -1;
}
