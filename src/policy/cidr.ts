// Longest-prefix matching of client addresses against CIDR prefixes, IPv4 and IPv6.
//
// Addresses are parsed by hand into 32-bit words (IPv4: one word; IPv6: four, most
// significant first) in a scratch array, so a lookup allocates nothing. Each family has a
// binary trie over the address bits, stored in typed arrays; a lookup walks it from the
// first bit and remembers the last node that carries a value, so its cost depends on the
// prefix lengths in the table (at most 32 or 128 steps) and not on how many prefixes there
// are. A few thousand prefixes of typical lengths take a few hundred kilobytes.
//
// Addresses as Node reports them are accepted: "10.1.2.3", "2001:db8::1",
// "::ffff:10.1.2.3" (an IPv4 client on a dual-stack socket: looked up as IPv4 10.1.2.3,
// so IPv4 prefixes match it and IPv6 prefixes such as ::/0 do not) and "fe80::1%eth0"
// (the zone is dropped). Prefixes inside ::ffff:0:0/96 are stored as the IPv4 prefixes they
// stand for.

export type Family = 4 | 6;

/** A parsed prefix: the network's words (host bits zero), its length and its usual spelling. */
export interface Cidr {
  readonly family: Family;
  /** One word for IPv4, four for IPv6, unsigned, most significant first. */
  readonly words: readonly number[];
  readonly length: number;
  /** Canonical spelling: "10.1.0.0/24", "2001:db8:1::/64" (RFC 5952 for IPv6). */
  readonly text: string;
}

// ---------------------------------------------------------------------------
// Parsing addresses without allocating

/** Scratch words for the address being parsed; valid until the next parse. */
const scratch = new Uint32Array(4);
const head = new Uint16Array(8);
const tail = new Uint16Array(8);

/**
 * Parses an IPv4 or IPv6 address (zone dropped, IPv4-mapped IPv6 turned into IPv4) into
 * `out` and returns its family, or 0 when it is not an address. IPv4 goes to out[0].
 */
function parseInto(s: string, out: Uint32Array): 0 | Family {
  let end = s.length;
  let colon = false;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 58) colon = true;
    else if (c === 37) {
      // "%zone": only after an IPv6 address, and not empty
      if (!colon || i === end - 1) return 0;
      end = i;
      break;
    }
  }
  if (!colon) {
    const v = parse4(s, 0, end);
    if (v < 0) return 0;
    out[0] = v;
    return 4;
  }
  if (!parse6(s, 0, end, out)) return 0;
  if (out[0] === 0 && out[1] === 0 && out[2] === 0xffff) {
    out[0] = out[3]!;
    return 4;
  }
  return 6;
}

/** A dotted quad in s[start, end) as an unsigned number, or -1. No leading zeros ("010" is ambiguous). */
function parse4(s: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    const first = i;
    let part = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      part = part * 10 + (c - 48);
      i++;
      if (i - first > 3) return -1;
    }
    if (i === first || part > 255 || (i - first > 1 && s.charCodeAt(first) === 48)) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || s.charCodeAt(i) !== 46) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** An IPv6 address in s[start, end) (RFC 4291 text forms, with an optional IPv4 tail) into out. */
function parse6(s: string, start: number, end: number, out: Uint32Array): boolean {
  let headN = 0;
  let tailN = 0;
  let gap = false; // seen "::"
  let i = start;
  if (i >= end) return false;
  if (s.charCodeAt(i) === 58) {
    if (i + 1 >= end || s.charCodeAt(i + 1) !== 58) return false;
    gap = true;
    i += 2;
  }
  while (i < end) {
    let j = i;
    let v = 0;
    while (j < end && j - i < 5) {
      const d = hexDigit(s.charCodeAt(j));
      if (d < 0) break;
      v = v * 16 + d;
      j++;
    }
    if (j < end && s.charCodeAt(j) === 46) {
      // the last 32 bits written as a dotted quad
      if ((gap ? headN + tailN : headN) > 6) return false;
      const v4 = parse4(s, i, end);
      if (v4 < 0) return false;
      if (gap) {
        tail[tailN++] = v4 >>> 16;
        tail[tailN++] = v4 & 0xffff;
      } else {
        head[headN++] = v4 >>> 16;
        head[headN++] = v4 & 0xffff;
      }
      i = end;
      break;
    }
    const digits = j - i;
    if (digits === 0 || digits > 4 || headN + tailN >= 8) return false;
    if (gap) tail[tailN++] = v;
    else head[headN++] = v;
    if (j === end) {
      i = end;
      break;
    }
    if (s.charCodeAt(j) !== 58) return false;
    j++;
    if (j < end && s.charCodeAt(j) === 58) {
      if (gap) return false; // a second "::"
      gap = true;
      j++;
    } else if (j === end) {
      return false; // a single trailing ":"
    }
    i = j;
  }
  const n = headN + tailN;
  if (gap ? n > 7 : n !== 8) return false;
  for (let w = 0; w < 4; w++) out[w] = 0;
  for (let k = 0; k < headN; k++) setGroup(out, k, head[k]!);
  for (let k = 0; k < tailN; k++) setGroup(out, 8 - tailN + k, tail[k]!);
  return true;
}

function setGroup(out: Uint32Array, index: number, value: number): void {
  const w = index >>> 1;
  out[w] = index & 1 ? (out[w]! & 0xffff0000) | value : ((value << 16) | (out[w]! & 0xffff)) >>> 0;
}

/** The address as words and family, or null when it is not an IP address. For setup code, not the hot path. */
export function parseAddress(text: string): { family: Family; words: number[] } | null {
  const family = parseInto(text, scratch);
  if (family === 0) return null;
  return { family, words: family === 4 ? [scratch[0]!] : [scratch[0]!, scratch[1]!, scratch[2]!, scratch[3]!] };
}

// ---------------------------------------------------------------------------
// Prefixes

/** The mask of the first `bits` bits (0..32) of a word, unsigned. */
function wordMask(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/**
 * Parses "10.1.0.0/24", "2001:db8:1::/64" or a bare address (a prefix of one address, /32 or
 * /128). A prefix whose address has bits set after the prefix length is refused, naming the
 * network it was probably meant to be: in a policy, a typo that silently widened or moved a
 * network would put children in the wrong group. Returns the prefix, or what is wrong.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addrText = (slash < 0 ? text : text.slice(0, slash)).trim();
  if (text.includes('%')) return 'must not have a zone ("%eth0"): prefixes match on every interface';
  const a = parseAddress(addrText);
  if (a === null) return 'is not an IP prefix like "10.1.0.0/24" or "2001:db8:1::/64"';
  // parseAddress folds IPv4-mapped IPv6 into IPv4; the length written is then an IPv6 length.
  const writtenFamily: Family = addrText.includes(':') ? 6 : 4;
  const max = writtenFamily === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1).trim();
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return `has a bad prefix length: after "/" comes a whole number from 0 to ${max}`;
    length = Number(lenText);
  }
  let family = a.family;
  let words = a.words;
  if (writtenFamily === 6 && family === 4) {
    if (length < 96) {
      // a prefix wider than ::ffff:0:0/96: keep it as IPv6 (it cannot match mapped clients, which are looked up as IPv4)
      family = 6;
      words = [0, 0, 0xffff, a.words[0]!];
    } else {
      length -= 96;
    }
  }
  const network = words.map((w, k) => (w & wordMask(length - 32 * k)) >>> 0);
  const canonical: Cidr = { family, words: network, length, text: `${formatWords(family, network)}/${length}` };
  if (network.some((w, k) => w !== words[k])) {
    return `is not a network address: the /${slash >= 0 ? text.slice(slash + 1).trim() : length} network that holds it is ${writtenCanonical(canonical, writtenFamily)}; write that, or check the prefix length`;
  }
  return canonical;
}

/** The canonical spelling in the family the operator wrote (IPv4-mapped stays IPv6). */
function writtenCanonical(c: Cidr, written: Family): string {
  if (c.family === 4 && written === 6) return `::ffff:${formatWords(4, c.words)}/${c.length + 96}`;
  return c.text;
}

/** "10.1.2.3" or RFC 5952 IPv6 ("2001:db8::1"). */
export function formatWords(family: Family, words: readonly number[]): string {
  if (family === 4) {
    const w = words[0]!;
    return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
  }
  const groups: number[] = [];
  for (const w of words) groups.push(w >>> 16, w & 0xffff);
  // the longest run of two or more zero groups becomes "::" (the first such run on a tie)
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** The canonical spelling of an address ("::ffff:10.1.2.3" -> "10.1.2.3"), or null. */
export function canonicalAddress(text: string): string | null {
  const a = parseAddress(text);
  return a === null ? null : formatWords(a.family, a.words);
}

// ---------------------------------------------------------------------------
// The table

/** A binary trie over address bits. Node 0 is the root; child 0 means "none". */
class Trie {
  private kids = new Int32Array(64);
  private vals = new Int32Array(32).fill(-1);
  private count = 1;

  constructor(private readonly bits: number) {}

  /** Sets the value index of a prefix; returns the index it had, or -1. */
  insert(words: readonly number[], length: number, value: number): number {
    let node = 0;
    for (let b = 0; b < length; b++) {
      const bit = (words[b >>> 5]! >>> (31 - (b & 31))) & 1;
      let next = this.kids[node * 2 + bit]!;
      if (next === 0) {
        next = this.newNode();
        this.kids[node * 2 + bit] = next;
      }
      node = next;
    }
    const old = this.vals[node]!;
    if (old < 0) this.vals[node] = value;
    return old;
  }

  /** The value index of the longest prefix matching the words, or -1. */
  find(words: Uint32Array): number {
    const kids = this.kids;
    const vals = this.vals;
    let best = vals[0]!;
    let node = 0;
    for (let b = 0; b < this.bits; b++) {
      node = kids[node * 2 + ((words[b >>> 5]! >>> (31 - (b & 31))) & 1)]!;
      if (node === 0) break;
      const v = vals[node]!;
      if (v >= 0) best = v;
    }
    return best;
  }

  private newNode(): number {
    if (this.count === this.vals.length) {
      const vals = new Int32Array(this.vals.length * 2).fill(-1);
      vals.set(this.vals);
      this.vals = vals;
      const kids = new Int32Array(this.kids.length * 2);
      kids.set(this.kids);
      this.kids = kids;
    }
    return this.count++;
  }
}

/** Maps IP prefixes to values; lookup() returns the value of the longest matching prefix. */
export class CidrTable<V> {
  private readonly v4 = new Trie(32);
  private readonly v6 = new Trie(128);
  private readonly values: V[] = [];
  private entries = 0;

  /**
   * Adds a prefix ("10.1.0.0/24", a bare address, or a parsed Cidr). Returns false, leaving
   * the table as it was, when that exact prefix is already there. Throws on a malformed prefix.
   */
  add(prefix: string | Cidr, value: V): boolean {
    const c: Cidr | string = typeof prefix === 'string' ? parseCidr(prefix) : prefix;
    if (typeof c === 'string') throw new Error(`invalid prefix ${JSON.stringify(prefix)}: ${c}`);
    const index = this.values.length;
    const old = (c.family === 4 ? this.v4 : this.v6).insert(c.words, c.length, index);
    if (old >= 0) return false;
    this.values.push(value);
    this.entries++;
    return true;
  }

  /** The number of prefixes in the table. */
  get size(): number {
    return this.entries;
  }

  /** The value of the longest prefix that contains the address; undefined when none does or it is not an address. */
  lookup(address: string): V | undefined {
    const family = parseInto(address, scratch);
    if (family === 0) return undefined;
    const i = (family === 4 ? this.v4 : this.v6).find(scratch);
    return i < 0 ? undefined : this.values[i];
  }
}
