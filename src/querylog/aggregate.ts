// In the writer thread: records that say the same thing within one write window (a second)
// become one row with a count. The same client asking the same name again and again is what
// blocked traffic mostly is (apps retry a blocked tracker or game server every few seconds,
// browsers ask A, AAAA and HTTPS), and one row per retry is what makes a log slow and large.
// A row keeps the time of its first query; nothing else is lost.
//
// Cheap per record: rows are found by the name's wire bytes (one latin1 string, a Map look-up)
// and then by comparing small numbers; school, group, category and client strings are numbered
// once per batch, and a client address is transformed once per batch.
import { TYPE_NAMES } from '../dns/constants';
import { foldAsciiInPlace, readName } from '../dns/name';
import { ACTION_NAMES, Batch } from './queue';

export interface Row {
  /** Unix ms of the first query of the row. */
  time: number;
  readonly school: string;
  readonly group: string;
  readonly category: string | null;
  readonly name: string;
  readonly qtype: string;
  readonly action: string;
  readonly rcode: number;
  readonly client: string | null;
  count: number;
}

/** A row and the numbers it is found by. */
interface Slot {
  readonly row: Row;
  readonly kind: number; // qtype << 16 | action << 8 | rcode
  readonly school: number;
  readonly group: number;
  readonly category: number;
  readonly client: number;
}

type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

export class Aggregator {
  /** Rows by the name's folded wire bytes (latin1). */
  private byName = new Map<string, Slot[]>();
  /** Numbers for this window's strings (0 is null). */
  private ids = new Map<string, number>();
  private rows = 0;
  private held = 0;

  /** @param client what is kept of a client address (src/querylog/privacy.ts) */
  constructor(private readonly client: (address: string) => string | null) {}

  /** Distinct rows held. */
  get size(): number {
    return this.rows;
  }

  /** Records held (the sum of the rows' counts). */
  get records(): number {
    return this.held;
  }

  add(b: Batch): void {
    const s = b.strings;
    // This window's numbers for the batch's strings, and for its clients as transformed.
    const id = new Uint32Array(s.length);
    const clientId = new Uint32Array(s.length);
    const clientText: (string | null)[] = new Array(s.length).fill(null);
    for (let k = 1; k < s.length; k++) id[k] = this.number(s[k]!);
    for (let i = 0; i < b.count; i++) {
      const k = b.client[i]!;
      if (k === 0 || clientId[k] !== 0) continue;
      const t = this.client(s[k]!);
      clientText[k] = t;
      clientId[k] = t === null ? 0 : this.number(`\u0001${t}`);
    }
    // Case does not make another name: fold the names' ASCII letters first. Label length
    // bytes (at most 63) are never in "A".."Z" (65..90), so the whole arena can be folded.
    foldAsciiInPlace(b.names, 0, b.names.length);
    const text = Buffer.from(b.names.buffer, b.names.byteOffset, b.names.byteLength) as Latin1;
    let start = 0;
    for (let i = 0; i < b.count; i++) {
      const end = b.nameEnd[i]!;
      const kind = (b.qtype[i]! << 16) | (b.action[i]! << 8) | b.rcode[i]!;
      const school = id[b.school[i]!]!;
      const group = id[b.group[i]!]!;
      const category = id[b.category[i]!]!;
      const client = clientId[b.client[i]!]!;
      const time = Math.round(b.at[i]! + b.clockOffset);
      const nameKey = text.latin1Slice(start, end);
      let slots = this.byName.get(nameKey);
      let slot: Slot | undefined;
      if (slots === undefined) {
        slots = [];
        this.byName.set(nameKey, slots);
      } else {
        for (let j = 0; j < slots.length; j++) {
          const x = slots[j]!;
          if (x.kind === kind && x.school === school && x.group === group && x.category === category && x.client === client) {
            slot = x;
            break;
          }
        }
      }
      if (slot !== undefined) {
        slot.row.count++;
        if (time < slot.row.time) slot.row.time = time;
      } else {
        const t = b.qtype[i]!;
        const row: Row = {
          time, school: s[b.school[i]!]!, group: s[b.group[i]!]!, category: s[b.category[i]!] ?? null,
          name: readName(b.names, start, end) ?? '', qtype: TYPE_NAMES[t] ?? String(t),
          action: ACTION_NAMES[b.action[i]!] ?? 'passed', rcode: b.rcode[i]!, client: clientText[b.client[i]!] ?? null, count: 1,
        };
        slots.push({ row, kind, school, group, category, client });
        this.rows++;
      }
      start = end;
    }
    this.held += b.count;
  }

  /** The rows held, oldest first, and how many records they sum up; then holds nothing. */
  drain(): { rows: Row[]; records: number } {
    const rows: Row[] = [];
    for (const slots of this.byName.values()) for (const x of slots) rows.push(x.row);
    rows.sort((a, b) => a.time - b.time);
    const records = this.held;
    this.byName = new Map();
    this.ids = new Map();
    this.rows = 0;
    this.held = 0;
    return { rows, records };
  }

  private number(s: string): number {
    let n = this.ids.get(s);
    if (n === undefined) {
      n = this.ids.size + 1;
      this.ids.set(s, n);
    }
    return n;
  }
}
