// An exact-match table of a few hundred domain names, looked up straight from a packet's
// wire bytes. First two checks that turn most names away in a couple of nanoseconds: the
// name's length against the table's shortest and longest, and its first label's length and
// first letter against those of the table's names (a bitmap). Then one pass over the name to
// hash it (ASCII case folded), a probe or two in an open-addressing table and one byte
// comparison. A name that is not in the table (almost every query) allocates nothing.
import { encodeName } from '../dns/name';

const EMPTY = -1;

/**
 * A polynomial hash of wire bytes with each byte ORed with 0x20: equal for names that differ
 * only in ASCII case (A-Z become a-z; other bytes are changed the same way in every name, and
 * the table compares the bytes properly after). Cheaper than FNV's multiply per byte.
 */
function hashWire(buf: Uint8Array, start: number, end: number): number {
  let h = 0;
  for (let i = start; i < end; i++) h = (h * 31 + (buf[i]! | 0x20)) | 0;
  return h ^ (h >>> 15);
}

export class WireNameTable {
  /** Every name's folded wire bytes, back to back. */
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  private readonly lengths: Uint16Array;
  private readonly values: Int32Array;
  /** Open addressing, linear probing: entry index or EMPTY. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly minLength: number;
  private readonly maxLength: number;
  /** Bit (length of the first label * 256 + its first byte, folded) set for the table's names. */
  private readonly firstLabels = new Uint8Array(64 * 256);

  /** `entries`: presentation names (lowercase or not; no duplicates) and a value each (>= 0). */
  constructor(entries: ReadonlyArray<{ readonly name: string; readonly value: number }>) {
    const seen = new Set<string>();
    for (const e of entries) {
      const key = e.name.toLowerCase().replace(/\.$/, '');
      if (seen.has(key)) throw new RangeError(`${e.name} is in the table twice`);
      if (!(e.value >= 0)) throw new RangeError(`the value of ${e.name} must be 0 or more`);
      seen.add(key);
    }
    const wires = entries.map((e) => encodeName(e.name.toLowerCase()));
    const total = wires.reduce((n, w) => n + w.length, 0);
    this.bytes = new Uint8Array(total);
    this.offsets = new Int32Array(entries.length);
    this.lengths = new Uint16Array(entries.length);
    this.values = new Int32Array(entries.length);
    let size = 16;
    while (size < entries.length * 4) size *= 2; // at most a quarter full: short probes
    this.slots = new Int32Array(size).fill(EMPTY);
    this.mask = size - 1;
    let min = Infinity;
    let max = 0;
    let o = 0;
    entries.forEach((e, i) => {
      const w = wires[i]!;
      this.bytes.set(w, o);
      this.offsets[i] = o;
      this.lengths[i] = w.length;
      this.values[i] = e.value;
      o += w.length;
      let s = hashWire(w, 0, w.length) & this.mask;
      while (this.slots[s] !== EMPTY) s = (s + 1) & this.mask;
      this.slots[s] = i;
      this.firstLabels[w[0]! * 256 + (w.length > 1 ? w[1]! : 0)] = 1;
      min = Math.min(min, w.length);
      max = Math.max(max, w.length);
    });
    this.minLength = min;
    this.maxLength = max;
  }

  get size(): number {
    return this.values.length;
  }

  /**
   * The value of the uncompressed wire name in buf[start, end) (`end` just after its root
   * label), compared ignoring ASCII case; -1 when it is not in the table.
   */
  lookup(buf: Uint8Array, start: number, end: number): number {
    const len = end - start;
    if (len < this.minLength || len > this.maxLength) return -1;
    let c = buf[start + 1]!; // the first label is never empty here: the root is shorter than minLength
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    if (this.firstLabels[(buf[start]! & 0x3f) * 256 + c] === 0) return -1;
    let s = hashWire(buf, start, end) & this.mask;
    for (;;) {
      const i = this.slots[s]!;
      if (i === EMPTY) return -1;
      if (this.lengths[i] === len && this.same(i, buf, start, len)) return this.values[i]!;
      s = (s + 1) & this.mask;
    }
  }

  private same(i: number, buf: Uint8Array, start: number, len: number): boolean {
    const b = this.bytes;
    const o = this.offsets[i]!;
    for (let k = 0; k < len; k++) {
      let c = buf[start + k]!;
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== b[o + k]) return false;
    }
    return true;
  }
}
