// An exact-match table of a few hundred domain names, looked up straight from a packet's
// wire bytes: one pass over the name to hash it (ASCII case folded), then a probe or two in
// an open-addressing table and one byte comparison. A name that is not in the table (almost
// every query) allocates nothing and costs about as much as reading it once.
import { encodeName } from '../dns/name';

const EMPTY = -1;

/** FNV-1a over wire bytes with A-Z folded to a-z. */
function hashWire(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    let c = buf[i]!;
    if (c >= 0x41 && c <= 0x5a) c |= 0x20;
    h = Math.imul(h ^ c, 0x01000193);
  }
  return h >>> 0;
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
