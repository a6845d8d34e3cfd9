// The query log's bounded queue on the event loop. A record is a few numbers, the query name's
// wire bytes copied into a byte arena (no string is built for it here: the writer decodes it),
// and references to strings that already exist (school, group, category, client address).
// take() hands the buffered records over as one batch; they count against the capacity until
// the writer reports them done, so a writer that falls behind (a slow disk, a long retention
// pass) fills the queue and further records are dropped and counted, never waited for.

/** What a record says happened to the query. */
export const ACTION_BLOCKED = 0;
export const ACTION_ALLOWED = 1;
export const ACTION_PASSED = 2;
export const ACTION_NAMES = ['blocked', 'allowed', 'passed'] as const;
export type ActionName = (typeof ACTION_NAMES)[number];

/** Longest wire-format name (RFC 1035 §3.1). */
const MAX_NAME_WIRE = 255;

/** One batch as it crosses to the writer thread: plain data, copied by postMessage. */
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
  readonly school: string[];
  readonly group: string[];
  readonly category: (string | null)[];
  readonly client: (string | null)[];
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

  /**
   * @param capacity most records buffered here and at the writer together
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

  /** Records buffered here plus those handed to the writer and not yet done. */
  get pending(): number {
    return this.n + this.inFlight;
  }

  /** Records buffered here, not yet taken. */
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
      school: this.school.slice(0, n),
      group: this.group.slice(0, n),
      category: this.category.slice(0, n),
      client: this.client.slice(0, n),
    };
    // Let go of the strings, so the buffer does not keep them alive.
    for (let i = 0; i < n; i++) {
      this.school[i] = '';
      this.group[i] = '';
      this.category[i] = null;
      this.client[i] = null;
    }
    this.n = 0;
    this.used = 0;
    this.inFlight += n;
    return batch;
  }

  /** The writer is done with `count` records of a batch (written or failed). */
  done(count: number): void {
    this.inFlight = Math.max(0, this.inFlight - count);
  }

  /** The writer went away: every record in flight is lost. Returns how many. */
  lose(): number {
    const lost = this.inFlight;
    this.inFlight = 0;
    return lost;
  }
}
