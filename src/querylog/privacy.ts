// What the query log keeps of a client's address. The log is about children's devices, so the
// default keeps only the network: an IPv4 address cut to its /24, an IPv6 address to its /48
// (a site's prefix; the /64 below it is often one home or one device). The alternatives:
//
//   hash  a keyed hash (HMAC-SHA-256 with a random key kept in the state directory, mode 0600),
//         cut to 64 bits: the same device gets the same token, so staff can see "one device
//         asked for 40 blocked names" without the log naming it. Pseudonymous, not anonymous:
//         whoever holds both the key and the database can hash every address of a school's
//         networks and match them in seconds.
//   omit  nothing at all.
//   full  the whole address: only when the operator asks for it by name.
import { createHmac } from 'node:crypto';
import { formatWords, parseAddress } from '../policy/cidr';

export const CLIENT_MODES = ['truncate', 'hash', 'omit', 'full'] as const;
export type ClientMode = (typeof CLIENT_MODES)[number];

/** Bits kept by `truncate`. */
export const TRUNCATE_IPV4_BITS = 24;
export const TRUNCATE_IPV6_BITS = 48;
/** Hex digits kept of the HMAC (64 bits: collisions are negligible among a school's devices). */
export const HASH_HEX_DIGITS = 16;
/** Bytes of the random hash key. */
export const HASH_KEY_BYTES = 32;

/**
 * "192.0.2.77" -> "192.0.2.0/24", "2001:db8:5:6::1" -> "2001:db8:5::/48". An IPv4-mapped IPv6
 * address is an IPv4 client; a zone ("%eth0") is dropped. Anything that is not an IP address
 * (it cannot come from a socket) becomes "?".
 */
export function truncateAddress(address: string): string {
  const a = parseAddress(withoutZone(address));
  if (a === null) return '?';
  if (a.family === 4) {
    const w = (a.words[0]! & 0xffffff00) >>> 0;
    return `${formatWords(4, [w])}/${TRUNCATE_IPV4_BITS}`;
  }
  const w = [a.words[0]!, (a.words[1]! & 0xffff0000) >>> 0, 0, 0];
  return `${formatWords(6, w)}/${TRUNCATE_IPV6_BITS}`;
}

/**
 * "h:" and the first 64 bits of HMAC-SHA-256(key, canonical address), in hex. The canonical
 * spelling ("::ffff:10.1.2.3" is "10.1.2.3") gives one device one token however it is written.
 */
export function hashAddress(key: Buffer, address: string): string {
  const a = parseAddress(withoutZone(address));
  const canonical = a === null ? address : formatWords(a.family, a.words);
  return `h:${createHmac('sha256', key).update(canonical).digest('hex').slice(0, HASH_HEX_DIGITS)}`;
}

/**
 * The transform for a mode, with a bounded memo (a school has a few thousand devices: the same
 * addresses come back all day). `key` is needed for `hash` only.
 */
export function clientTransform(mode: ClientMode, key: Buffer | null = null, memoSize = 4096): (address: string) => string | null {
  if (mode === 'omit') return () => null;
  if (mode === 'full') return (address) => address;
  if (mode === 'hash' && (key === null || key.length < 16)) throw new RangeError('the hash mode needs a key of at least 16 bytes');
  const one = mode === 'hash' ? (address: string) => hashAddress(key!, address) : truncateAddress;
  const memo = new Map<string, string>();
  return (address) => {
    let v = memo.get(address);
    if (v === undefined) {
      v = one(address);
      if (memo.size >= memoSize) memo.clear();
      memo.set(address, v);
    }
    return v;
  };
}

function withoutZone(address: string): string {
  const pct = address.indexOf('%');
  return pct < 0 ? address : address.slice(0, pct);
}
