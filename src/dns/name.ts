// Domain names on the wire (RFC 1035 §3.1, §4.1.4): reading, skipping and encoding.
import { MAX_LABEL, MAX_NAME_WIRE } from './constants';

/** Most compression pointers a single name may follow before we call it a loop. */
const MAX_POINTER_HOPS = 64;

/**
 * Skips an uncompressed-or-compressed name starting at `off`, without following pointers.
 * Returns the offset after the name, or -1 if it is malformed or runs past `end`.
 * When `pointers` is given, every pointer target seen is reported to it.
 */
export function skipName(buf: Uint8Array, off: number, end: number, onPointer?: (target: number) => void): number {
  let wireLen = 0;
  for (;;) {
    if (off >= end) return -1;
    const len = buf[off];
    if (len === 0) return wireLen + 1 > MAX_NAME_WIRE ? -1 : off + 1;
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (off + 1 >= end) return -1;
      const target = ((len & 0x3f) << 8) | buf[off + 1];
      // A pointer must point backwards, to a name seen earlier in the message.
      if (target >= off) return -1;
      onPointer?.(target);
      return off + 2;
    }
    if (kind !== 0) return -1; // 0x40 (extended label, obsolete) and 0x80 (reserved)
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE) return -1;
    off += len + 1;
  }
}

/**
 * Reads a name at `off` following compression pointers, as lowercase presentation format
 * without the trailing dot ("" for the root). Bytes outside printable ASCII and the
 * characters . and \ are escaped as \DDD / \. so the text maps back to one wire name.
 * Returns null if the name is malformed.
 */
export function readName(buf: Uint8Array, off: number, end: number = buf.length): string | null {
  // The text is written as bytes into a scratch buffer and made a string once, instead of
  // one string per character appended (escapes are ASCII too).
  let n = 0;
  let hops = 0;
  let wireLen = 0;
  const out = nameScratch;
  for (;;) {
    if (off >= end) return null;
    const len = buf[off];
    if (len === 0) return n === 0 ? '' : out.toString('latin1', 0, n);
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (off + 1 >= end || ++hops > MAX_POINTER_HOPS) return null;
      const target = ((len & 0x3f) << 8) | buf[off + 1];
      if (target >= off) return null;
      off = target;
      continue;
    }
    if (kind !== 0 || off + 1 + len > end) return null;
    wireLen += len + 1;
    if (wireLen > MAX_NAME_WIRE - 1) return null;
    if (n > 0) out[n++] = 0x2e;
    for (let i = off + 1; i <= off + len; i++) {
      let c = buf[i];
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) {
        out[n++] = c;
      } else if (c === 0x2e || c === 0x5c) {
        out[n++] = 0x5c;
        out[n++] = c;
      } else { // \DDD
        out[n++] = 0x5c;
        out[n++] = 0x30 + ((c / 100) | 0);
        out[n++] = 0x30 + (((c / 10) | 0) % 10);
        out[n++] = 0x30 + (c % 10);
      }
    }
    off += len + 1;
  }
}

/** readName's scratch: 254 octets of labels, each written as at most 4 characters (\DDD). */
const nameScratch = Buffer.allocUnsafeSlow(1024);

/**
 * Encodes a presentation-format name ("www.example.com", trailing dot optional, "." or ""
 * for the root, \. and \DDD escapes honoured) into uncompressed wire format.
 * Throws a RangeError naming the problem if the name cannot be a DNS name.
 */
export function encodeName(name: string): Buffer {
  const size = plainNameWireLength(name);
  if (size > 0) {
    const out = Buffer.allocUnsafe(size);
    writePlainName(name, out, 0);
    return out;
  }
  return encodeEscapedName(name);
}

/**
 * The wire length of a name that needs no escapes and is valid as it stands: labels of
 * 1-63 characters up to U+00FF, no backslash, at most 255 octets, trailing dot optional,
 * "" or "." for the root. -1 for anything else (escapes, or an error to report): then
 * encodeName's general path decides. The cold path encodes a name or more per query sent.
 */
export function plainNameWireLength(name: string): number {
  const n = name.length;
  if (n === 0 || (n === 1 && name.charCodeAt(0) === 0x2e)) return 1;
  const end = name.charCodeAt(n - 1) === 0x2e ? n - 1 : n;
  let label = 0;
  for (let i = 0; i < end; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return -1;
      label = 0;
    } else {
      if (c === 0x5c || c > 0xff || ++label > MAX_LABEL) return -1;
    }
  }
  if (label === 0) return -1;
  const size = end + 2; // a length octet per label (one per dot, plus the first) and the root's 0
  return size > MAX_NAME_WIRE ? -1 : size;
}

/** Writes a name plainNameWireLength accepted at out[at]; returns the offset after it. */
export function writePlainName(name: string, out: Uint8Array, at: number): number {
  const n = name.length;
  const end = n > 0 && name.charCodeAt(n - 1) === 0x2e ? n - 1 : n;
  let lenAt = at;
  let o = at + 1;
  for (let i = 0; i < end; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x2e) {
      out[lenAt] = o - lenAt - 1;
      lenAt = o++;
    } else {
      out[o++] = c;
    }
  }
  if (end > 0) {
    out[lenAt] = o - lenAt - 1;
    out[o++] = 0;
  } else {
    out[lenAt] = 0;
  }
  return o;
}

/** The wire length of a name (encodeName's length, without making the buffer for a plain name). */
export function nameWireLength(name: string): number {
  const plain = plainNameWireLength(name);
  return plain > 0 ? plain : encodeName(name).length;
}

/** Writes a name's wire form at out[at] (room for nameWireLength(name) octets); returns the offset after it. */
export function writeName(name: string, out: Buffer, at: number): number {
  return plainNameWireLength(name) > 0 ? writePlainName(name, out, at) : at + encodeName(name).copy(out, at);
}

/** encodeName's general path: escapes, and every error. */
function encodeEscapedName(name: string): Buffer {
  const labels: number[][] = [];
  let cur: number[] = [];
  const text = name === '.' ? '' : name;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x5c /* \ */) {
      const d = text.slice(i + 1, i + 4);
      if (/^[0-9]{3}$/.test(d)) {
        const v = Number(d);
        if (v > 255) throw new RangeError(`bad escape \\${d} in name "${name}"`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < text.length) {
        cur.push(text.charCodeAt(++i));
      } else {
        throw new RangeError(`dangling backslash in name "${name}"`);
      }
    } else if (ch === 0x2e /* . */) {
      if (cur.length === 0) throw new RangeError(`empty label in name "${name}"`);
      labels.push(cur);
      cur = [];
    } else if (ch > 0xff) {
      throw new RangeError(`non-ASCII character in name "${name}" (convert it to punycode first)`);
    } else {
      cur.push(ch);
    }
  }
  if (cur.length > 0) labels.push(cur);
  let size = 1;
  for (const l of labels) {
    if (l.length > MAX_LABEL) throw new RangeError(`label longer than ${MAX_LABEL} octets in name "${name}"`);
    size += l.length + 1;
  }
  if (size > MAX_NAME_WIRE) throw new RangeError(`name "${name}" is longer than ${MAX_NAME_WIRE} octets on the wire`);
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const l of labels) {
    out[o++] = l.length;
    for (const b of l) out[o++] = b;
  }
  out[o] = 0;
  return out;
}

/** Lowercases ASCII letters in place in buf[start, end). DNS case folding is ASCII only (RFC 4343). */
export function foldAsciiInPlace(buf: Uint8Array, start: number, end: number): void {
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c >= 0x41 && c <= 0x5a) buf[i] = c | 0x20;
  }
}

/** Compares a[aOff, aOff+len) with b[bOff, bOff+len) ignoring ASCII case. */
export function equalsFolded(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): boolean {
  for (let i = 0; i < len; i++) {
    let x = a[aOff + i];
    let y = b[bOff + i];
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}

/**
 * Copies the (possibly compressed) name at buf[off] into `out` as an uncompressed wire
 * name starting at 0, reading nothing at or past `end`. Returns its length, or -1 if
 * malformed or longer than `out`.
 */
export function flattenName(buf: Uint8Array, off: number, out: Uint8Array, end: number = buf.length): number {
  let o = 0;
  let hops = 0;
  for (;;) {
    if (off >= end) return -1;
    const len = buf[off];
    if (len === 0) {
      if (o >= out.length) return -1;
      out[o] = 0;
      return o + 1;
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= end || ++hops > MAX_POINTER_HOPS) return -1;
      const target = ((len & 0x3f) << 8) | buf[off + 1];
      if (target >= off) return -1;
      off = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || off + 1 + len > end || o + 1 + len >= out.length) return -1;
    for (let i = 0; i <= len; i++) out[o + i] = buf[off + i];
    o += len + 1;
    off += len + 1;
  }
}
