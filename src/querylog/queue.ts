// The query log's bounded queue on the event loop. A record is a few numbers, the query name's
// wire bytes copied into a byte arena (no string is built for it here: the writer decodes it),
// and references to strings that already exist (school, group, category, client address).
// take() hands the buffered records over as one batch; they count against the capacity until
// the writer has taken them (done()), so a writer that is stuck (a slow disk, a write lock held
// elsewhere) fills the queue, and further records are dropped and counted, never waited for.

/** What a record says happened to the query. */
export const ACTION_BLOCKED = 0;
export const ACTION_ALLOWED = 1;
export const ACTION_PASSED = 2;
export const ACTION_NAMES = ['blocked', 'allowed', 'passed'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

/** Longest wire-format name (RFC 1035 §3.1). */
const MAX_NAME_WIRE = 255;

/**
 * One batch as it crosses to the writer thread: typed arrays (transferred, not copied) and one
 * table of the distinct strings in it, so postMessage copies each school, group, category and
 * client address once per batch rather than once per record.
 */
export interface Batch {
  readonly seq: number;
  readonly count: number;
  /** Added to at[i] gives unix time in ms (at[] holds performance.now() readings). */
  readonly clockOffset: number;
  readonly at: Float64Array;
  readonly qtype: Uint16Array;
  readonly action: Uint8Array;
  readonly rcode: Uint8Array;
  /** Record i's wire-format name is names[nameEnd[i-1] (0 for i = 0) .. nameEnd[i]). */
  readonly nameEnd: Uint32Array;
  readonly names: Uint8Array;
  /** Distinct strings of the batch; index 0 is null. */
  readonly strings: (string | null)[];
  /** Record i's school is strings[school[i]]; likewise group, category and client. */
  readonly school: Uint32Array;
  readonly group: Uint32Array;
  readonly category: Uint32Array;
  readonly client: Uint32Array;
}

/** The buffers of a batch, for postMessage's transfer list. */
export function transferables(b: Batch): ArrayBuffer[] {
  return [b.at, b.qtype, b.action, b.rcode, b.nameEnd, b.names, b.school, b.group, b.category, b.client].map((a) => a.buffer as ArrayBuffer);
}

export class RecordQueue {
  private n = 0;
  private used = 0;
  private inFlight = 0;
  private seq = 0;
  /** Records refused because the queue was full, since it was made. */
  dropped = 0;
  private readonly at: Float64Array;
  private readonly qtype: Uint16Array;
  private readonly action: Uint8Array;
  private readonly rcode: Uint8Array;
  private readonly nameEnd: Uint32Array;
  private readonly names: Uint8Array;
  private readonly school: string[];
  private readonly group: string[];
  private readonly category: (string | null)[];
  private readonly client: (string | null)[];
  private readonly index = new Map<string, number>();

  /**
   * @param capacity most records buffered here and handed to the writer but not yet taken
   * @param batchSize most records in one batch (the buffer here holds one batch)
   */
  constructor(readonly capacity: number, readonly batchSize: number) {
    if (!(capacity >= 1 && batchSize >= 1)) throw new RangeError('capacity and batchSize must be at least 1');
    const b = Math.min(capacity, batchSize);
    this.batchSize = b;
    this.at = new Float64Array(b);
    this.qtype = new Uint16Array(b);
    this.action = new Uint8Array(b);
    this.rcode = new Uint8Array(b);
    this.nameEnd = new Uint32Array(b);
    this.names = new Uint8Array(b * MAX_NAME_WIRE);
    this.school = new Array<string>(b).fill('');
    this.group = new Array<string>(b).fill('');
    this.category = new Array<string | null>(b).fill(null);
    this.client = new Array<string | null>(b).fill(null);
  }

  /** Records buffered here plus those handed to the writer and not yet taken. */
  get pending(): number {
    return this.n + this.inFlight;
  }

  /** Records buffered here, not yet handed over. */
  get buffered(): number {
    return this.n;
  }

  /** Whether the buffer holds a whole batch (take() it now). */
  get batchFull(): boolean {
    return this.n >= this.batchSize;
  }

  /**
   * Adds one record; false, counted in `dropped`, when the queue is full (or the batch buffer
   * is: the caller takes a batch when batchFull says so). The name is `buf[nameStart..nameEnd)`
   * in wire format (at most 255 bytes; longer is cut, which a parsed query never is).
   */
  push(
    at: number, school: string, group: string, category: string | null, client: string | null,
    buf: Uint8Array, nameStart: number, nameEnd: number, qtype: number, action: number, rcode: number,
  ): boolean {
    const i = this.n;
    if (i + this.inFlight >= this.capacity || i >= this.batchSize) {
      this.dropped++;
      return false;
    }
    this.at[i] = at;
    this.qtype[i] = qtype;
    this.action[i] = action;
    this.rcode[i] = rcode;
    this.school[i] = school;
    this.group[i] = group;
    this.category[i] = category;
    this.client[i] = client;
    const names = this.names;
    let p = this.used;
    const end = Math.min(nameEnd, nameStart + MAX_NAME_WIRE);
    for (let k = nameStart; k < end; k++) names[p++] = buf[k]!;
    this.used = p;
    this.nameEnd[i] = p;
    this.n = i + 1;
    return true;
  }

  /** The buffered records as one batch (copies), now in flight; null when none are buffered. */
  take(clockOffset: number): Batch | null {
    const n = this.n;
    if (n === 0) return null;
    const strings: (string | null)[] = [null];
    const index = this.index;
    const intern = (s: string | null): number => {
      if (s === null) return 0;
      let k = index.get(s);
      if (k === undefined) {
        k = strings.length;
        strings.push(s);
        index.set(s, k);
      }
      return k;
    };
    const school = new Uint32Array(n);
    const group = new Uint32Array(n);
    const category = new Uint32Array(n);
    const client = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      school[i] = intern(this.school[i]!);
      group[i] = intern(this.group[i]!);
      category[i] = intern(this.category[i]!);
      client[i] = intern(this.client[i]!);
      // Let go of the strings, so the buffer does not keep them alive.
      this.school[i] = '';
      this.group[i] = '';
      this.category[i] = null;
      this.client[i] = null;
    }
    index.clear();
    const batch: Batch = {
      seq: ++this.seq,
      count: n,
      clockOffset,
      at: this.at.slice(0, n),
      qtype: this.qtype.slice(0, n),
      action: this.action.slice(0, n),
      rcode: this.rcode.slice(0, n),
      nameEnd: this.nameEnd.slice(0, n),
      names: this.names.slice(0, this.used),
      strings, school, group, category, client,
    };
    this.n = 0;
    this.used = 0;
    this.inFlight += n;
    return batch;
  }

  /** The writer has taken `count` records of a batch. */
  done(count: number): void {
    this.inFlight = Math.max(0, this.inFlight - count);
  }

  /** The writer went away: every record handed to it and not taken is lost. Returns how many. */
  lose(): number {
    const lost = this.inFlight;
    this.inFlight = 0;
    return lost;
  }
}
