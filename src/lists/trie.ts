// The domain trie: which categories (and which category exceptions) cover a query name.
//
// An entry "example.com" in category c means "example.com and every name under it". The trie
// is keyed by reversed labels (com → example), a node is terminal when some entry ends there,
// and a lookup ORs the masks of every terminal on the path from the TLD down to the query name.
//
// Layout at rest: three typed arrays, so a worker can build the trie and hand it over with zero
// copy. (V8 spends 50-100 bytes on every small object, so 1.5 M names as objects or Map
// entries would cost hundreds of MB, and the GC would have to trace them all.)
//
//   table   Int32Array, 4 words per slot of one open-addressing hash table (linear probing):
//             [0] key        32-bit hash of the node's whole name (the suffix "example.com",
//                            hashed label by label from the TLD down); filters probes
//             [1] parent     slot of the parent node, ROOT (-1) for a TLD
//             [2] labelPos   offset of the node's label in `labels`; 0 means "empty slot"
//             [3] mask       index into `masks`; 0 means "not a terminal"
//           A node *is* its slot: there are no separate node arrays, and a parent is named by
//           its slot. A node matches a query level when key, parent slot and label bytes are all
//           equal, so a match is exact (the key is only a filter): by induction from the TLD,
//           equal parent slots and equal labels mean equal names. One table serves every
//           parent, so a TLD with a million children (com) costs no more than one with one
//           child; a probe reads a 16-byte slot (4 per cache line).
//   labels  Uint8Array of interned labels, each stored as [length][bytes] like on the wire; the
//           byte at offset 0 is a 0 that no slot points to. Interning ("www", "analytics", the
//           same second-level label under several TLDs) saves ~17 % of the label bytes on the
//           real lists (19.0 MB → 15.8 MB for 1.72 M nodes); see TrieBuilder.labelCache.
//   masks   Int32Array, 4 words per distinct (member, exception) mask pair: member bits 0..31,
//           member 32..63, exception 0..31, exception 32..63. Entry 0 is all zeros. The real
//           lists make ~1,600 distinct pairs over 1.5 M names, so a 4-byte index in the slot
//           replaces 16 bytes of masks per node.
//
// The table's capacity is not a power of two: slots are picked by "fast range"
// (key × capacity / 2^32), so the load factor after build() is always between 0.55 and 0.75
// whatever the number of names (a power of two would leave it anywhere in 0.375-0.75, and
// 16-byte slots make the difference tens of MB).
//
// Why the key hashes the whole suffix rather than (parent slot, label), and why labels are
// compared only at the end: memory latency. The table for 1.5 M names is ~40 MB, so nearly
// every probe of a cold name misses the caches and the TLB (a dependent random read over 40 MB
// measured ~220 ns on the 2-core VM this was developed on). So a lookup
//   1. scans the wire name once for label starts (into a preallocated Int32Array: a wire name
//      has at most 127 labels);
//   2. walks the levels from the TLD down: hashes the label (FNV-1a, folding ASCII case as it
//      goes), chains that hash onto the parent's key (murmur3 fmix32), and takes the first slot
//      of the probe run whose key and parent slot match, without reading the label yet. No
//      probe address depends on an earlier probe's result (only the parent check does), so
//      the CPU can run ahead into the next level while a miss is pending; a typical lookup
//      ends at the second level (the registrable domain is not listed), after one miss;
//   3. reads the candidates' labels in a tight loop (independent loads, in flight together);
//   4. compares the labels byte for byte (folding case again) and ORs the masks of terminals.
//      If a candidate's label differs (two names in one probe run with equal 32-bit keys and
//      the same parent: vanishingly rare), the lookup is redone exactly, comparing labels at
//      every probe.
// Measured with bench/micro/trie.js (CPU time per lookup, 1.5 M real names, a shared 2-core VM:
// ±30 % from run to run). Umbrella top-100k cycled, so that most lookups miss the caches:
// 320-440 ns; its misses alone 275-295 ns, its hits 420-520 ns; listed names 430-460 ns; names
// under an unknown TLD 40 ns; 1000 names that stay cached 96 ns. In interleaved runs in one
// process, keys made from (parent slot, label) with the labels compared during the probe did
// ~290-420 ns on Umbrella and ~550-720 ns on listed names, this design ~290-330 and ~470-505;
// reading every level's home slot up front (all levels in flight at once) helped listed names
// but cost the usual early miss 15-20 %, so it was dropped. Load factors 0.6 / 0.7 / 0.8
// measured the same within noise.
// Nothing is allocated: no strings, arrays or closures; all values are small integers. The
// packet is never written to.
//
// Building: TrieBuilder fills the same table layout directly (no Map of strings, no objects
// per name; add() allocates only when an array grows), growing the table by half when needed.
// Keys do not depend on slots, so a rehash moves each node by its stored key (reading the old
// table in order), writes the node's new slot into the old table's key word, and then fixes
// every parent field from there: no extra map. build() resizes the table only if it was left
// too sparse, and copies the labels to an exact-size buffer, so every transferred ArrayBuffer
// is exactly as big as its contents.
// Measured with bench/micro/trie-memory.js (builder in a worker, arrays transferred, worker
// terminated, GC forced; whole-process RSS in decimal MB, Node alone being ~44 MB): 1.52 M real
// names → a 56.7 MB trie, RSS 121-127 MB (peak 212-225 MB while building); 5 M synthetic
// names → 197.5 MB, RSS 243-256 MB (peak 414-434 MB; 336 MB with the builder presized).

export const MAX_CATEGORIES = 64;

/** The parent of a TLD. */
const ROOT = -1;
/** The key a TLD's key is chained from. */
const ROOT_KEY = 0;
/** Load factor of a table build() has to resize (and of a presized builder's table). */
const TARGET_LOAD = 0.7;
/** build() keeps the builder's table if its load is at least this (it is at most BUILD_MAX_LOAD). */
const MIN_LOAD = 0.55;
/** The builder grows the table when adding a name could push the load past this... */
const BUILD_MAX_LOAD = 0.75;
/**
 * ...by this factor. 1.5 rather than 2: while growing, old and new table are both alive (2.5×
 * the old size rather than 3×), and the table the adds end with is at most 1.5× what the names
 * need, so build() usually keeps it instead of copying it once more.
 */
const GROWTH = 1.5;
const MIN_CAPACITY = 8;
const MAX_WIRE_NAME = 255;
const MAX_LABEL = 63;
/** At most 127 labels fit in a 255-octet wire name. */
const MAX_LABELS = 127;
const FNV_BASIS = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
/** 2^-32: fast range maps a 32-bit key onto [0, capacity) with one multiply. */
const TWO_POW_MINUS_32 = 2.3283064365386963e-10;
const DATA_VERSION = 2;
/** Pairs in the builder's label-interning cache, at most. */
const MAX_LABEL_CACHE = 1 << 18;
/**
 * Math.imul through a module constant: inside a vm context (jest runs tests in one) every
 * global lookup such as `Math` goes through an interceptor that the JIT cannot optimize
 * away, which made lookups ~40× slower there. A module constant costs nothing in plain Node.
 */
const imul = Math.imul;

/** Chains a label's FNV-1a hash onto its parent's key (murmur3 fmix32 finalizer). */
function chainKey(labelHash: number, parentKey: number): number {
  let k = labelHash ^ imul(parentKey + 0x3c6ef372, 0x9e3779b1);
  k ^= k >>> 16;
  k = imul(k, 0x85ebca6b);
  k ^= k >>> 13;
  k = imul(k, 0xc2b2ae35);
  return k ^ (k >>> 16);
}

/**
 * Home slot of a key: floor(key × capacity / 2^32). The product is at most (2^32−1)·cap, whose
 * rounding error (< cap·2^−20) cannot carry it up to cap·2^32, so the result is always < cap.
 */
function homeSlot(key: number, capacity: number): number {
  return ((key >>> 0) * capacity * TWO_POW_MINUS_32) | 0;
}

function capacityFor(nodes: number): number {
  return Math.max(MIN_CAPACITY, Math.ceil(nodes / TARGET_LOAD) + 1);
}

/**
 * The table key of a normalized name (the 32-bit hash of the whole name, chained label by label
 * from the TLD). Exposed for tests and diagnostics: two names with equal keys must still be
 * told apart by their labels.
 */
export function nameKey(name: string): number {
  let key = ROOT_KEY;
  let end = name.length;
  for (;;) {
    let start = end - 1;
    while (start >= 0 && name.charCodeAt(start) !== 0x2e) start--;
    let h = FNV_BASIS;
    for (let i = start + 1; i < end; i++) {
      let c = name.charCodeAt(i);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      h = imul(h ^ c, FNV_PRIME);
    }
    key = chainKey(h, key);
    if (start < 0) return key;
    end = start;
  }
}

/** What the trie is made of: only typed arrays and numbers, so a worker can transfer it with zero copy. */
export interface TrieData {
  /** Layout version, checked by fromData. */
  version: number;
  /** Slots in the hash table (table.length / 4). */
  capacity: number;
  /** Nodes (slots in use): every name and every intermediate parent domain. */
  nodeCount: number;
  /** Distinct names added (terminal nodes). */
  nameCount: number;
  /** Distinct (member, exception) mask pairs, including the all-zero pair 0 (masks.length / 4). */
  maskCount: number;
  /** 4 words per slot: name key, parent slot (−1 = root), label offset (0 = empty slot), mask index (0 = not terminal). */
  table: Int32Array;
  /** Interned labels, each [length][lowercase bytes]; byte 0 is an unused 0. */
  labels: Uint8Array;
  /** 4 words per mask pair: member bits 0..31, 32..63, exception bits 0..31, 32..63. */
  masks: Int32Array;
}

/** Accepts typed arrays from another realm too (data from a worker, or a jest vm context), where instanceof fails. */
function isKind(x: unknown, tag: string): boolean {
  return Object.prototype.toString.call(x) === `[object ${tag}]`;
}

export class DomainTrie {
  readonly data: TrieData;
  readonly nameCount: number;
  readonly nodeCount: number;
  readonly byteSize: number;
  private readonly table: Int32Array;
  private readonly labels: Uint8Array;
  private readonly masks: Int32Array;
  private readonly capacity: number;
  /** Working memory of a lookup, per level (level k = k-th label from the left): label start in the buffer, key, slot. */
  private readonly starts = new Int32Array(MAX_LABELS + 1);
  private readonly keys = new Int32Array(MAX_LABELS + 1);
  private readonly slots = new Int32Array(MAX_LABELS + 1);
  /** lookupName / matchedSuffix encode the presentation name here. */
  private readonly wire = new Uint8Array(MAX_WIRE_NAME + 2);
  /** Where the prefetching reads go, so that the JIT cannot drop them. */
  private sink = 0;

  private constructor(d: TrieData) {
    this.data = d;
    this.table = d.table;
    this.labels = d.labels;
    this.masks = d.masks;
    this.capacity = d.capacity;
    this.nameCount = d.nameCount;
    this.nodeCount = d.nodeCount;
    this.byteSize = d.table.byteLength + d.labels.byteLength + d.masks.byteLength;
  }

  /** Wraps data made by TrieBuilder.build() (here, or in a worker and received through postMessage). Throws on malformed data. */
  static fromData(d: TrieData): DomainTrie {
    if (d === null || typeof d !== 'object') throw new TypeError('trie data must be an object');
    if (d.version !== DATA_VERSION) throw new RangeError(`trie data version ${String(d.version)}, expected ${DATA_VERSION}`);
    if (!isKind(d.table, 'Int32Array') || !isKind(d.masks, 'Int32Array') || !isKind(d.labels, 'Uint8Array')) {
      throw new TypeError('trie data: table and masks must be Int32Arrays, labels a Uint8Array');
    }
    const counts = [d.capacity, d.nodeCount, d.nameCount, d.maskCount];
    if (!counts.every((n) => Number.isInteger(n) && n >= 0)) throw new RangeError('trie data: counts must be non-negative integers');
    if (d.capacity < 1 || d.table.length !== d.capacity * 4) throw new RangeError('trie data: table length does not match capacity (detached?)');
    if (d.nodeCount >= d.capacity) throw new RangeError('trie data: the table has no empty slot');
    if (d.maskCount < 1 || d.masks.length !== d.maskCount * 4) throw new RangeError('trie data: masks length does not match maskCount');
    if (d.labels.length < 1 || d.nameCount > d.nodeCount) throw new RangeError('trie data: inconsistent labels or counts');
    return new DomainTrie(d);
  }

  /** A trie with no names. */
  static empty(): DomainTrie {
    return new TrieBuilder().build();
  }

  /** ArrayBuffers to list in postMessage's transfer list. After the transfer this trie is empty (finds nothing). */
  transferables(): ArrayBuffer[] {
    return [this.table.buffer as ArrayBuffer, this.labels.buffer as ArrayBuffer, this.masks.buffer as ArrayBuffer];
  }

  /** Distinct (member, exception) mask pairs in the trie, counting the empty one. */
  get maskCount(): number {
    return this.data.maskCount;
  }

  /**
   * Walks the uncompressed wire-format name at buf[off] (length-prefixed labels ending in a 0
   * byte) from the last label to the first, folding ASCII case on the fly (buf is not modified),
   * and ORs the member and exception masks of every terminal on the path (the name itself and
   * each parent domain) into out, which is zeroed first: out[0] = member bits 0..31, out[1] =
   * member 32..63, out[2] = exception 0..31, out[3] = exception 32..63. Returns true if any
   * terminal matched. Allocates nothing. A name that runs past the end of buf, has a label
   * longer than 63 octets (or a compression pointer) or is longer than 255 octets matches nothing.
   */
  lookupWire(buf: Uint8Array, off: number, out: Int32Array): boolean {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    const n = this.scan(buf, off);
    if (n <= 0) return false;
    const table = this.table;
    const labels = this.labels;
    const starts = this.starts;
    const slots = this.slots;
    // 1. the candidate path, TLD first: hash each label (folding case), chain the hash onto the
    // parent's key, and take the first slot of the probe run with that key and parent; labels
    // are not compared yet
    const capacity = this.capacity;
    let key = ROOT_KEY;
    let parent = ROOT;
    let k = n - 1;
    for (; k >= 0; k--) {
      const p = starts[k];
      const stop = p + 1 + buf[p];
      let h = FNV_BASIS;
      for (let i = p + 1; i < stop; i++) {
        let c = buf[i];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        h = imul(h ^ c, FNV_PRIME);
      }
      key = chainKey(h, key);
      let s = homeSlot(key, capacity);
      for (;;) {
        const b = s << 2;
        // `!(x > 0)` rather than `x === 0`: after a transfer the arrays are detached and read
        // as undefined, and the walk must end (as a miss) instead of probing forever.
        if (!(table[b + 2] > 0)) {
          s = -1;
          break;
        }
        if (table[b] === key && table[b + 1] === parent) break;
        if (++s === capacity) s = 0;
      }
      if (s < 0) break;
      slots[k] = s;
      parent = s;
    }
    const deepest = k + 1;
    if (deepest === n) return false;
    // 2. read the candidates' labels: independent loads, in flight together
    let sink = 0;
    for (let j = n - 1; j >= deepest; j--) sink ^= labels[table[(slots[j] << 2) + 2]];
    this.sink ^= sink;
    // 3. compare labels, OR the masks of terminals
    const masks = this.masks;
    let hit = false;
    for (let j = n - 1; j >= deepest; j--) {
      const b = slots[j] << 2;
      const lp = table[b + 2];
      const p = starts[j];
      const len = buf[p];
      if (labels[lp] !== len) return this.lookupExact(buf, n, out);
      for (let i = 1; i <= len; i++) {
        let c = buf[p + i];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        if (c !== labels[lp + i]) return this.lookupExact(buf, n, out);
      }
      const m = table[b + 3];
      if (m !== 0) {
        const mb = m << 2;
        out[0] |= masks[mb];
        out[1] |= masks[mb + 1];
        out[2] |= masks[mb + 2];
        out[3] |= masks[mb + 3];
        hit = true;
      }
    }
    return hit;
  }

  /**
   * Same as lookupWire for a presentation name ("www.example.com", any case, optional trailing
   * dot). A name that cannot be a DNS name (empty label, label over 63 octets, over 255 octets
   * on the wire, a character above U+00FF) matches nothing. "" and "." (the root) match nothing.
   */
  lookupName(name: string, out: Int32Array): boolean {
    if (!this.encode(name)) {
      out.fill(0);
      return false;
    }
    return this.lookupWire(this.wire, 0, out);
  }

  /**
   * For explanations: the most specific matched suffix of `name` (e.g. "example.com" for
   * "a.b.example.com") whose terminal carries bit `bit` as a member (or, with exception = true,
   * as an exception), in lowercase without a trailing dot; null if none does.
   */
  matchedSuffix(name: string, bit: number, exception = false): string | null {
    if (!Number.isInteger(bit) || bit < 0 || bit >= MAX_CATEGORIES) throw new RangeError(`category bit ${bit} is not in 0..63`);
    if (!this.encode(name)) return null;
    const wire = this.wire;
    const n = this.scan(wire, 0);
    this.hashLevels(wire, n);
    const deepest = this.exactPath(wire, n);
    const word = (exception ? 2 : 0) + (bit >>> 5);
    const flag = 1 << (bit & 31);
    let best = -1;
    for (let k = n - 1; k >= deepest; k--) {
      const m = this.table[(this.slots[k] << 2) + 3];
      if (m !== 0 && (this.masks[(m << 2) + word] & flag) !== 0) best = k;
    }
    if (best < 0) return null;
    let text = '';
    for (let o = this.starts[best]; wire[o] !== 0; o += wire[o] + 1) {
      if (text.length > 0) text += '.';
      for (let i = o + 1; i <= o + wire[o]; i++) {
        const c = wire[i];
        text += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
      }
    }
    return text;
  }

  /** Records where each label of the wire name at buf[off] starts; returns the label count, or −1 if malformed. */
  private scan(buf: Uint8Array, off: number): number {
    const starts = this.starts;
    const end = buf.length;
    const limit = off + MAX_WIRE_NAME;
    let n = 0;
    let o = off;
    for (;;) {
      if (o >= end || o >= limit) return -1;
      const len = buf[o];
      if (len === 0) return n;
      if (len > MAX_LABEL) return -1;
      starts[n++] = o;
      o += len + 1;
    }
  }

  /** Fills keys[k] and slots[k] (home slot) for levels n−1 (the TLD) down to 0, folding case as it hashes. */
  private hashLevels(buf: Uint8Array, n: number): void {
    const starts = this.starts;
    const keys = this.keys;
    const slots = this.slots;
    const capacity = this.capacity;
    let key = ROOT_KEY;
    for (let k = n - 1; k >= 0; k--) {
      const p = starts[k];
      const stop = p + 1 + buf[p];
      let h = FNV_BASIS;
      for (let i = p + 1; i < stop; i++) {
        let c = buf[i];
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        h = imul(h ^ c, FNV_PRIME);
      }
      key = chainKey(h, key);
      keys[k] = key;
      slots[k] = homeSlot(key, capacity);
    }
  }

  /**
   * The exact walk: at every probe compares key, parent and label bytes. Needs starts, keys and
   * home slots (hashLevels); leaves the matched slots in slots[n−1 .. d] and returns d (n when
   * even the TLD is absent).
   */
  private exactPath(buf: Uint8Array, n: number): number {
    const table = this.table;
    const labels = this.labels;
    const capacity = this.capacity;
    let parent = ROOT;
    for (let k = n - 1; k >= 0; k--) {
      const key = this.keys[k];
      const p = this.starts[k];
      const len = buf[p];
      let s = this.slots[k];
      for (;;) {
        const b = s << 2;
        const lp = table[b + 2];
        if (!(lp > 0)) return k + 1;
        if (table[b] === key && table[b + 1] === parent && labels[lp] === len) {
          let i = 1;
          for (; i <= len; i++) {
            let c = buf[p + i];
            if (c >= 0x41 && c <= 0x5a) c |= 0x20;
            if (c !== labels[lp + i]) break;
          }
          if (i > len) break;
        }
        if (++s === capacity) s = 0;
      }
      this.slots[k] = s;
      parent = s;
    }
    return 0;
  }

  /** lookupWire's fallback when a candidate's label turned out different (equal 32-bit keys). */
  private lookupExact(buf: Uint8Array, n: number, out: Int32Array): boolean {
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    out[3] = 0;
    this.hashLevels(buf, n);
    const deepest = this.exactPath(buf, n);
    let hit = false;
    for (let k = n - 1; k >= deepest; k--) {
      const m = this.table[(this.slots[k] << 2) + 3];
      if (m !== 0) {
        const mb = m << 2;
        out[0] |= this.masks[mb];
        out[1] |= this.masks[mb + 1];
        out[2] |= this.masks[mb + 2];
        out[3] |= this.masks[mb + 3];
        hit = true;
      }
    }
    return hit;
  }

  /** Encodes a presentation name into this.wire (case kept: the lookups fold it); false if it is not a valid non-root name. */
  private encode(name: string): boolean {
    const wire = this.wire;
    let len = name.length;
    if (len > 0 && name.charCodeAt(len - 1) === 0x2e) len--;
    if (len === 0 || len > MAX_WIRE_NAME - 2) return false;
    let lenAt = 0;
    let o = 1;
    for (let i = 0; i < len; i++) {
      const c = name.charCodeAt(i);
      if (c === 0x2e) {
        const l = o - lenAt - 1;
        if (l === 0 || l > MAX_LABEL) return false;
        wire[lenAt] = l;
        lenAt = o++;
      } else {
        if (c > 0xff) return false;
        wire[o++] = c;
      }
    }
    const l = o - lenAt - 1;
    if (l === 0 || l > MAX_LABEL) return false;
    wire[lenAt] = l;
    wire[o] = 0;
    return true;
  }
}

/**
 * Collects (name, category bit, exception) entries and builds a DomainTrie. Meant to run in a
 * worker thread: the result's `data` holds only typed arrays. Single use: after build() the
 * builder is spent and its memory released.
 */
export class TrieBuilder {
  private table: Int32Array;
  private capacity: number;
  /** Node count from which add() doubles the table first (leaving room for a whole name's worth of new nodes). */
  private growAt: number;
  private nodes = 0;
  private labels: Uint8Array;
  private labelsUsed = 1;
  /**
   * Label interning cache: direct-mapped [FNV hash, label offset] pairs, overwritten on a miss,
   * so it stays small (at most 2^18 pairs, 2 MB) whatever the number of labels. Simulated on the
   * real lists, it stores 15.8 MB of labels where exact interning (a full hash set of every
   * label: 128 MB of index at 5 M names) stores 15.5 MB and none stores 19.0 MB; on 5 M
   * synthetic names 59.6 / 59.3 / 62.9 MB. The frequent labels (www, m, api...) stay cached.
   */
  private labelCache = new Int32Array(2 << 10);
  private labelCount = 0;
  /** Mask pairs, 4 words each; pair 0 is all zeros. */
  private maskWords = new Int32Array(64);
  private maskCount = 1;
  private readonly maskIds = new Map<string, number>();
  /** (old mask index, bit, exception) → new mask index, so add() rarely builds a mask key string. */
  private readonly transitions = new Map<number, number>();
  private distinctNames = 0;
  private built = false;
  /** Per level of the name being added (level k = k-th label from the left): label start, end, hash, key. */
  private readonly starts = new Int32Array(MAX_LABELS + 1);
  private readonly ends = new Int32Array(MAX_LABELS + 1);
  private readonly hashes = new Int32Array(MAX_LABELS + 1);
  private readonly keys = new Int32Array(MAX_LABELS + 1);
  private readonly cands = new Int32Array(MAX_LABELS + 1);
  private sink = 0;

  /** expectedNames (optional) presizes the arrays to avoid regrowing; a wrong guess costs only memory or a rehash. */
  constructor(expectedNames = 0) {
    // Names have ~1.13 nodes each on the real lists (parents that are not names themselves),
    // ~1.28 on the synthetic 5 M; 1.3 lets a right guess end within build()'s load range.
    const expectedNodes = Math.max(16, Math.ceil(Math.max(0, expectedNames) * 1.3));
    this.capacity = capacityFor(expectedNodes) + MAX_LABELS;
    this.table = new Int32Array(this.capacity * 4);
    this.growAt = Math.floor(this.capacity * BUILD_MAX_LOAD) - MAX_LABELS;
    this.labels = new Uint8Array(Math.max(256, Math.ceil(expectedNames * 12))); // 10.4 B/name real, 11.9 synthetic
  }

  /** Distinct names added so far. */
  get names(): number {
    return this.distinctNames;
  }

  /** Nodes so far (names plus intermediate parent domains). */
  get nodeCount(): number {
    return this.nodes;
  }

  /**
   * Adds `name` (normalized: lowercase ASCII, no trailing dot, labels separated by '.') to
   * category `bit` (0..63), as an exception (allow rule) if `exception`. Adding a name again
   * ORs the new bit into its masks. Throws a RangeError for a name that is empty, has an empty
   * label, a label over 63 octets, a character outside printable ASCII or is over 253 characters
   * (uppercase letters are folded, so they are accepted).
   */
  add(name: string, bit: number, exception = false): void {
    if (this.built) throw new Error('TrieBuilder.add after build()');
    if (!Number.isInteger(bit) || bit < 0 || bit >= MAX_CATEGORIES) throw new RangeError(`category bit ${bit} is not in 0..63`);
    if (name.length === 0 || name.length > MAX_WIRE_NAME - 2) throw new RangeError(`bad name length ${name.length}: "${name.slice(0, 80)}"`);
    // Check the whole name and find its labels first, so that a bad name inserts nothing.
    const starts = this.starts;
    const ends = this.ends;
    let n = 0;
    let start = 0;
    for (let i = 0; i <= name.length; i++) {
      const c = i < name.length ? name.charCodeAt(i) : 0x2e;
      if (c === 0x2e) {
        if (i === start || i - start > MAX_LABEL) throw new RangeError(`empty label or label over 63 octets in "${name.slice(0, 80)}"`);
        starts[n] = start;
        ends[n++] = i;
        start = i + 1;
      } else if (c < 0x21 || c > 0x7e) {
        throw new RangeError(`character U+${c.toString(16).padStart(4, '0')} in "${name.slice(0, 80)}"`);
      }
    }
    while (this.nodes >= this.growAt) this.rehash(Math.ceil(this.capacity * GROWTH));

    // Keys of every level, TLD first, reading their home slots as we go (independent loads:
    // the misses overlap; see the top of the file).
    const hashes = this.hashes;
    const keys = this.keys;
    const table = this.table;
    const capacity = this.capacity;
    let key = ROOT_KEY;
    let sink = 0;
    for (let k = n - 1; k >= 0; k--) {
      let h = FNV_BASIS;
      for (let i = starts[k]; i < ends[k]; i++) {
        let c = name.charCodeAt(i);
        if (c >= 0x41 && c <= 0x5a) c |= 0x20;
        h = imul(h ^ c, FNV_PRIME);
      }
      hashes[k] = h;
      key = chainKey(h, key);
      keys[k] = key;
      sink ^= table[homeSlot(key, capacity) << 2];
    }
    this.sink ^= sink;

    // As in a lookup: the candidate path by key and parent, then the candidates' labels read
    // together and compared; from the first level that is missing (or differs), the exact
    // probe-and-insert.
    const cands = this.cands;
    let parent = ROOT;
    let k = n - 1;
    for (; k >= 0; k--) {
      const key = keys[k];
      let s = homeSlot(key, capacity);
      for (;;) {
        const b = s << 2;
        if (table[b + 2] === 0) {
          s = -1;
          break;
        }
        if (table[b] === key && table[b + 1] === parent) break;
        if (++s === capacity) s = 0;
      }
      if (s < 0) break;
      cands[k] = s;
      parent = s;
    }
    const labels = this.labels;
    for (let j = n - 1; j > k; j--) sink ^= labels[table[(cands[j] << 2) + 2]];
    this.sink ^= sink;
    parent = ROOT;
    let j = n - 1;
    for (; j > k; j--) {
      const lp = table[(cands[j] << 2) + 2];
      if (labels[lp] !== ends[j] - starts[j] || !this.sameLabel(lp, name, starts[j], ends[j])) break;
      parent = cands[j];
    }
    for (; j >= 0; j--) parent = this.childOrInsert(parent, keys[j], hashes[j], name, starts[j], ends[j]);
    const b = (parent << 2) + 3;
    const old = this.table[b];
    const tkey = old * 128 + bit * 2 + (exception ? 1 : 0);
    let next = this.transitions.get(tkey);
    if (next === undefined) {
      next = this.maskIdFor(old, bit, exception);
      this.transitions.set(tkey, next);
    }
    if (old === 0) this.distinctNames++;
    this.table[b] = next;
  }

  /** Builds the trie; the builder cannot be used afterwards. */
  build(): DomainTrie {
    if (this.built) throw new Error('TrieBuilder.build called twice');
    this.built = true;
    this.labelCache = new Int32Array(0);
    // The adds left the load at most BUILD_MAX_LOAD; copying the table costs a second table's
    // worth of memory for a moment, so only a table left too sparse (just grown, or presized
    // for far more names) is resized.
    if (this.nodes > this.capacity * BUILD_MAX_LOAD || this.nodes < this.capacity * MIN_LOAD) this.rehash(capacityFor(this.nodes));
    const data: TrieData = {
      version: DATA_VERSION,
      capacity: this.capacity,
      nodeCount: this.nodes,
      nameCount: this.distinctNames,
      maskCount: this.maskCount,
      table: this.table,
      labels: this.labels.slice(0, this.labelsUsed),
      masks: this.maskWords.slice(0, this.maskCount * 4),
    };
    this.table = new Int32Array(0);
    this.labels = new Uint8Array(0);
    this.maskWords = new Int32Array(0);
    return DomainTrie.fromData(data);
  }

  /** Slot of the child of `parent` with this key and label name[start, end) (already checked by add), inserted if missing. */
  private childOrInsert(parent: number, key: number, h: number, name: string, start: number, end: number): number {
    const len = end - start;
    const table = this.table;
    const labels = this.labels;
    const capacity = this.capacity;
    let s = homeSlot(key, capacity);
    for (;;) {
      const b = s << 2;
      const lp = table[b + 2];
      if (lp === 0) break;
      if (table[b] === key && table[b + 1] === parent && labels[lp] === len && this.sameLabel(lp, name, start, end)) return s;
      if (++s === capacity) s = 0;
    }
    const b = s << 2;
    table[b] = key;
    table[b + 1] = parent;
    table[b + 2] = this.intern(h, name, start, end);
    table[b + 3] = 0;
    this.nodes++;
    return s;
  }

  private sameLabel(lp: number, name: string, start: number, end: number): boolean {
    const labels = this.labels;
    for (let i = start, j = lp + 1; i < end; i++, j++) {
      let c = name.charCodeAt(i);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      if (c !== labels[j]) return false;
    }
    return true;
  }

  /** Offset of the label name[start, end) (FNV hash h) in this.labels: the cached copy if there is one, else appended. */
  private intern(h: number, name: string, start: number, end: number): number {
    const len = end - start;
    let cache = this.labelCache;
    let i = (chainKey(h, ROOT_KEY) & ((cache.length >>> 1) - 1)) << 1;
    const cached = cache[i + 1];
    if (cached !== 0 && cache[i] === h && this.labels[cached] === len && this.sameLabel(cached, name, start, end)) return cached;
    if (this.labelsUsed + len + 1 > this.labels.length) {
      this.labels = grow(this.labels, Math.max(this.labels.length * 2, this.labelsUsed + len + 1));
    }
    const labels = this.labels;
    const lp = this.labelsUsed;
    labels[lp] = len;
    for (let k = 0; k < len; k++) {
      let c = name.charCodeAt(start + k);
      if (c >= 0x41 && c <= 0x5a) c |= 0x20;
      labels[lp + 1 + k] = c;
    }
    this.labelsUsed += len + 1;
    // Grow the cache (starting afresh: it is only a cache) while labels outnumber its pairs 2:1.
    if (++this.labelCount > cache.length && cache.length < MAX_LABEL_CACHE * 2) {
      cache = this.labelCache = new Int32Array(cache.length * 2);
      i = (chainKey(h, ROOT_KEY) & ((cache.length >>> 1) - 1)) << 1;
    }
    cache[i] = h;
    cache[i + 1] = lp;
    return lp;
  }

  /** Index of the mask pair `old` with `bit` added (as member or exception), created if new. */
  private maskIdFor(old: number, bit: number, exception: boolean): number {
    const w = this.maskWords;
    const words = [w[old * 4], w[old * 4 + 1], w[old * 4 + 2], w[old * 4 + 3]];
    words[(exception ? 2 : 0) + (bit >>> 5)] |= 1 << (bit & 31);
    const text = words.join(',');
    let id = this.maskIds.get(text);
    if (id === undefined) {
      id = this.maskCount++;
      if (id * 4 + 4 > this.maskWords.length) this.maskWords = grow(this.maskWords, this.maskWords.length * 2);
      this.maskWords.set(words, id * 4);
      this.maskIds.set(text, id);
    }
    return id;
  }

  /**
   * Moves every node to a table of `capacity` slots. Keys do not depend on slots, so nodes move
   * in old-slot order; each moved node's old key word receives its new slot, and a second pass
   * over the new table rewrites the parent fields through those.
   */
  private rehash(capacity: number): void {
    const old = this.table;
    const oldCapacity = this.capacity;
    const table = new Int32Array(capacity * 4);
    for (let os = 0; os < oldCapacity; os++) {
      const ob = os << 2;
      const lp = old[ob + 2];
      if (lp === 0) continue;
      const key = old[ob];
      let s = homeSlot(key, capacity);
      while (table[(s << 2) + 2] !== 0) if (++s === capacity) s = 0;
      const b = s << 2;
      table[b] = key;
      table[b + 1] = old[ob + 1];
      table[b + 2] = lp;
      table[b + 3] = old[ob + 3];
      old[ob] = s;
    }
    for (let b = 0; b < capacity * 4; b += 4) {
      const p = table[b + 1];
      if (table[b + 2] !== 0 && p !== ROOT) table[b + 1] = old[p << 2];
    }
    this.table = table;
    this.capacity = capacity;
    this.growAt = Math.floor(capacity * BUILD_MAX_LOAD) - MAX_LABELS;
  }
}

function grow<T extends Int32Array | Uint8Array>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
