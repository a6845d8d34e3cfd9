// IP addresses from their bytes to text, as Node reports peers' addresses (RFC 5952 for
// IPv6, IPv4-mapped addresses as ::ffff:a.b.c.d), without going through a string parser:
// the PROXY v2 header's addresses and the recursor's A/AAAA glue both come as bytes.

/** Four bytes at `at` as a dotted quad. */
export function ipv4Text(b: Uint8Array, at: number): string {
  return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
}

const groups = new Uint16Array(8);
/** Hex of a byte without leading zeros, and with (for the low byte of a group above 0xff). */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16));
const HEX2 = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** RFC 5952 text: lower-case hex, no leading zeros, the longest run of 2+ zero groups as "::"; ::ffff:a.b.c.d for IPv4-mapped. */
export function ipv6Text(b: Uint8Array, at: number): string {
  for (let i = 0; i < 8; i++) groups[i] = (b[at + 2 * i]! << 8) | b[at + 2 * i + 1]!;
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${ipv4Text(b, at + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += '::';
      i += bestLen - 1;
      continue;
    }
    if (s !== '' && !s.endsWith(':')) s += ':';
    const g = groups[i]!;
    s += g > 0xff ? HEX[g >>> 8]! + HEX2[g & 0xff]! : HEX[g]!;
  }
  return s;
}

/** A 4- or 16-byte address (A or AAAA RDATA) as text. */
export function addressText(b: Uint8Array): string {
  return b.length === 4 ? ipv4Text(b, 0) : ipv6Text(b, 0);
}
