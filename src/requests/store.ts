// The review requests ("this should not be blocked") and the staff's decisions on them, kept
// durably in the state directory as an append-only journal of JSON lines:
//
//   requests.jsonl   one line per event: submit, approve, reject, revoke; after a compaction it
//                    starts with a meta line and holds one "request" line per kept request.
//
// Why a journal: each operation is one small append and one fdatasync before its promise
// resolves, so nothing acknowledged is lost in a crash, and nothing needs a native module. A
// crash mid-append leaves at most a torn last line, which replay drops (it was never
// acknowledged). The approvals are derived from the same journal, not kept in a second file,
// so no crash can leave the two disagreeing. Compaction (write a snapshot aside, fsync,
// rename over, fsync the directory) bounds the file: it keeps every pending and approved
// request and the newest `keepDecided` rejected or revoked ones.
//
// No client address or other personal data is stored: the source address only feeds the
// in-memory rate limit (per IPv4 address, per IPv6 /64) and is never written or logged.
import { constants as fsConstants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { isNameError, normalizeName } from '../lists/normalize';
import type { Logger } from '../log/logger';
import { Approval, APPROVAL_SCOPES, ApprovalScope, ApprovalSet } from './approvals';
import type { ReviewSink, ReviewSubmission, SubmitResult } from './types';

export type RequestStatus = 'pending' | 'approved' | 'rejected' | 'revoked';
export const REQUEST_STATUSES: readonly RequestStatus[] = ['pending', 'approved', 'rejected', 'revoked'];

/** One review request as the admin API and the CLI show it. */
export interface ReviewRequest {
  /** Increasing from 1, never reused. */
  readonly id: number;
  readonly name: string;
  readonly school: string;
  readonly group: string;
  /** The category that blocked it when it was asked, or null. */
  readonly category: string | null;
  readonly message: string;
  /** ISO 8601 (UTC). */
  readonly createdAt: string;
  readonly status: RequestStatus;
  /** When it was last decided (approved, rejected, revoked); null while pending. */
  readonly decidedAt: string | null;
  /** Who decided, as the staff's tool said (the CLI sends the user name); null when not given. */
  readonly decidedBy: string | null;
  /** The staff's note with the decision. */
  readonly note: string | null;
  /** Who an approval opens the name for; null unless approved (or revoked). */
  readonly scope: ApprovalScope | null;
}

export type RequestErrorCode = 'INVALID' | 'NOT_FOUND' | 'NOT_PENDING' | 'NOT_APPROVED' | 'STORE_FAILED';

/** A failed approve/reject/revoke. Branch on `code`. */
export class RequestError extends Error {
  constructor(readonly code: RequestErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The state directory or its journal cannot be used (a startup error). */
export class StateDirectoryError extends Error {
  readonly code = 'STATE_DIR_UNUSABLE';
}

export interface RequestLimits {
  /** Longest message kept, in characters (code points); longer ones are cut. */
  readonly maxMessageLength: number;
  /** Submissions accepted per source (IPv4 address or IPv6 /64) per window. */
  readonly perSourceCount: number;
  readonly perSourceWindowMs: number;
  /** Sources the rate limiter remembers at once (oldest forgotten first). */
  readonly maxSources: number;
  /** Pending requests held at once; more get STORE_FULL. */
  readonly maxPending: number;
  /** Rejected and revoked requests a compaction keeps (the newest); pending and approved are always kept. */
  readonly keepDecided: number;
  /** Journal lines below which no compaction is considered. */
  readonly compactMinLines: number;
}

export const DEFAULT_LIMITS: RequestLimits = Object.freeze({
  maxMessageLength: 500,
  perSourceCount: 5,
  perSourceWindowMs: 10 * 60_000,
  maxSources: 65536,
  maxPending: 10_000,
  keepDecided: 10_000,
  compactMinLines: 1000,
});

/** Longest school, group, category, decidedBy; longest note (code points). */
const MAX_LABEL = 100;
const MAX_NOTE = 500;

/** How the journal reaches the disk; tests inject one that records or fails. */
export interface JournalIo {
  write(fh: FileHandle, data: Buffer): Promise<void>;
  /** Makes written data durable (fdatasync). */
  sync(fh: FileHandle): Promise<void>;
}

export const REAL_IO: JournalIo = {
  async write(fh, data) {
    let off = 0;
    while (off < data.length) off += (await fh.write(data, off, data.length - off)).bytesWritten;
  },
  sync: (fh) => fh.datasync(),
};

export interface RequestStoreOptions {
  /** The state directory; created with mode 0700 when missing. */
  readonly directory: string;
  readonly log: Logger;
  readonly limits?: Partial<RequestLimits>;
  /** Date.now() unless a test gives a clock. */
  readonly now?: () => number;
  readonly io?: JournalIo;
  /** Called with the new approvals whenever they change, and once when the store opens. */
  readonly onApprovals?: (approvals: ApprovalSet) => void;
}

export const JOURNAL_FILE = 'requests.jsonl';

interface Rec {
  id: number;
  name: string;
  school: string;
  group: string;
  category: string | null;
  message: string;
  createdAt: number;
  status: RequestStatus;
  decidedAt: number | null;
  decidedBy: string | null;
  note: string | null;
  scope: ApprovalScope | null;
}

interface Decision {
  readonly scope?: string;
  readonly note?: string;
  readonly by?: string;
}

export class RequestStore implements ReviewSink {
  private readonly records = new Map<number, Rec>();
  /** name \0 school \0 group -> id of the pending request. */
  private readonly pendingByKey = new Map<string, number>();
  private readonly sources = new Map<string, number[]>();
  private readonly limits: RequestLimits;
  private readonly now: () => number;
  private readonly io: JournalIo;
  private readonly file: string;
  private nextId = 1;
  private lines = 0;
  private size = 0;
  private fh: FileHandle | null = null;
  /** Set when the journal could not be restored after a failed append: every write fails until restart. */
  private broken: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private approvalSet = ApprovalSet.EMPTY;
  private closed = false;
  /** After a failed compaction: journal lines before the next attempt. */
  private compactAgainAt = 0;

  private constructor(private readonly opts: RequestStoreOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.now = opts.now ?? Date.now;
    this.io = opts.io ?? REAL_IO;
    this.file = path.join(opts.directory, JOURNAL_FILE);
  }

  /**
   * Opens (creating when needed) the state directory and the journal, and replays it.
   * Throws StateDirectoryError when the directory cannot be created, read or written.
   */
  static async open(opts: RequestStoreOptions): Promise<RequestStore> {
    const store = new RequestStore(opts);
    await store.load();
    return store;
  }

  /** The approvals now in force (approved requests). */
  get approvals(): ApprovalSet {
    return this.approvalSet;
  }

  get directory(): string {
    return this.opts.directory;
  }

  /** Journal lines now (for tests and compaction). */
  get journalLines(): number {
    return this.lines;
  }

  // -------------------------------------------------------------------------
  // The block page's side

  async submit(s: ReviewSubmission, source: string): Promise<SubmitResult> {
    const v = this.validateSubmission(s);
    if (typeof v === 'string') return { ok: false, code: 'INVALID', message: v };
    if (this.closed) return { ok: false, code: 'STORE_FAILED', message: 'the request store is closed' };
    const wait = this.rateLimit(typeof source === 'string' ? source : '');
    if (wait > 0) {
      const minutes = Math.ceil(wait / 60_000);
      return { ok: false, code: 'RATE_LIMITED', message: `too many requests from this device; try again in ${minutes} minute${minutes === 1 ? '' : 's'}` };
    }
    return this.serially(async (): Promise<SubmitResult> => {
      const key = pendingKey(v.name, v.school, v.group);
      const existing = this.pendingByKey.get(key);
      if (existing !== undefined) return { ok: true, id: existing, duplicate: true };
      if (this.pendingByKey.size >= this.limits.maxPending) {
        this.opts.log.warn('review request refused: too many pending requests', { pending: this.pendingByKey.size });
        return { ok: false, code: 'STORE_FULL', message: `${this.limits.maxPending} requests are already waiting for review; try again later` };
      }
      const rec: Rec = {
        id: this.nextId, ...v, createdAt: this.now(), status: 'pending', decidedAt: null, decidedBy: null, note: null, scope: null,
      };
      try {
        await this.append({ t: 'submit', id: rec.id, name: rec.name, school: rec.school, group: rec.group, category: rec.category, message: rec.message, at: iso(rec.createdAt) });
      } catch (e) {
        return { ok: false, code: 'STORE_FAILED', message: `the request could not be saved: ${(e as Error).message}` };
      }
      this.nextId++;
      this.records.set(rec.id, rec);
      this.pendingByKey.set(key, rec.id);
      this.opts.log.info('review request received', { id: rec.id, name: rec.name, school: rec.school, group: rec.group, category: rec.category });
      this.maybeCompact();
      return { ok: true, id: rec.id, duplicate: false };
    });
  }

  // -------------------------------------------------------------------------
  // The staff's side (admin API, CLI)

  /** Requests with this status (or all), oldest first. */
  list(status: RequestStatus | 'all' = 'pending'): ReviewRequest[] {
    const out: ReviewRequest[] = [];
    for (const r of this.records.values()) if (status === 'all' || r.status === status) out.push(view(r));
    return out;
  }

  get(id: number): ReviewRequest | null {
    const r = this.records.get(id);
    return r ? view(r) : null;
  }

  counts(): Record<RequestStatus, number> {
    const c: Record<RequestStatus, number> = { pending: 0, approved: 0, rejected: 0, revoked: 0 };
    for (const r of this.records.values()) c[r.status]++;
    return c;
  }

  /**
   * Approves a pending request: from the moment the promise resolves, the name (and its
   * subdomains) resolves for the clients the scope covers (default: the requesting group at
   * the requesting school). Throws RequestError.
   */
  approve(id: number, d: Decision = {}): Promise<ReviewRequest> {
    return this.decide('approve', id, d);
  }

  /** Rejects a pending request: recorded, nothing else changes. Throws RequestError. */
  reject(id: number, d: Decision = {}): Promise<ReviewRequest> {
    return this.decide('reject', id, d);
  }

  /** Withdraws an approval: the name is filtered for those clients again. Throws RequestError. */
  revoke(id: number, d: Decision = {}): Promise<ReviewRequest> {
    return this.decide('revoke', id, d);
  }

  /** Rewrites the journal as a snapshot of what is kept (see the file comment). */
  compact(): Promise<void> {
    return this.serially(() => this.compactNow());
  }

  /** Waits for writes in progress, then closes the journal. */
  async close(): Promise<void> {
    this.closed = true;
    await this.serially(async () => {
      const fh = this.fh;
      this.fh = null;
      await fh?.close();
    });
  }

  // -------------------------------------------------------------------------

  private async decide(kind: 'approve' | 'reject' | 'revoke', id: number, d: Decision): Promise<ReviewRequest> {
    if (!Number.isSafeInteger(id) || id < 1) throw new RequestError('INVALID', `"${String(id)}" is not a request id (a whole number from 1)`);
    let scope: ApprovalScope | null = null;
    if (kind === 'approve') {
      const s = d.scope ?? 'school-group';
      if (!(APPROVAL_SCOPES as readonly string[]).includes(s)) throw new RequestError('INVALID', `scope must be one of ${APPROVAL_SCOPES.join(', ')} (got "${cut(String(s), 40)}")`);
      scope = s as ApprovalScope;
    } else if (d.scope !== undefined) {
      throw new RequestError('INVALID', `a scope is only given when approving`);
    }
    const note = optionalText(d.note, MAX_NOTE, 'note');
    const by = optionalText(d.by, MAX_LABEL, 'by');
    if (this.closed) throw new RequestError('STORE_FAILED', 'the request store is closed');
    return this.serially(async () => {
      const r = this.records.get(id);
      if (!r) throw new RequestError('NOT_FOUND', `there is no request #${id}`);
      if (kind === 'revoke' ? r.status !== 'approved' : r.status !== 'pending') {
        const when = r.decidedAt !== null ? ` on ${iso(r.decidedAt)}${r.decidedBy ? ` by ${r.decidedBy}` : ''}` : '';
        if (kind === 'revoke') throw new RequestError('NOT_APPROVED', `request #${id} is ${r.status}${when}, not approved: there is no approval to revoke`);
        throw new RequestError('NOT_PENDING', `request #${id} is already ${r.status}${when}; only pending requests can be ${kind === 'approve' ? 'approved' : 'rejected'}`);
      }
      const at = this.now();
      try {
        await this.append({ t: kind, id, at: iso(at), by, note, ...(scope ? { scope } : {}) });
      } catch (e) {
        throw new RequestError('STORE_FAILED', `the decision could not be saved: ${(e as Error).message}`, { cause: e });
      }
      this.apply(r, kind, at, by, note, scope);
      this.opts.log.info(`review request ${kind === 'approve' ? 'approved' : kind === 'reject' ? 'rejected' : 'approval revoked'}`, { id, name: r.name, school: r.school, group: r.group, scope: r.scope, by });
      if (kind !== 'reject') this.publishApprovals();
      this.maybeCompact();
      return view(r);
    });
  }

  private apply(r: Rec, kind: 'approve' | 'reject' | 'revoke', at: number, by: string | null, note: string | null, scope: ApprovalScope | null): void {
    if (r.status === 'pending') this.pendingByKey.delete(pendingKey(r.name, r.school, r.group));
    r.status = kind === 'approve' ? 'approved' : kind === 'reject' ? 'rejected' : 'revoked';
    r.decidedAt = at;
    r.decidedBy = by;
    r.note = note;
    if (kind === 'approve') r.scope = scope;
  }

  private publishApprovals(): void {
    const list: Approval[] = [];
    for (const r of this.records.values()) {
      if (r.status === 'approved' && r.scope) list.push({ id: r.id, name: r.name, scope: r.scope, school: r.school, group: r.group });
    }
    this.approvalSet = new ApprovalSet(list); // built aside, then one assignment
    this.opts.onApprovals?.(this.approvalSet);
  }

  /** Runs operations one at a time, in order: the journal's order is the order they took effect. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Appends one line and makes it durable; on failure the journal is cut back to its last good length. */
  private async append(entry: Record<string, unknown>): Promise<void> {
    if (this.broken !== null) throw new Error(this.broken);
    const fh = this.fh;
    if (fh === null) throw new Error('the request store is closed');
    const data = Buffer.from(JSON.stringify(entry) + '\n', 'utf8');
    try {
      await this.io.write(fh, data);
      await this.io.sync(fh);
    } catch (e) {
      try {
        await fh.truncate(this.size);
      } catch (t) {
        this.broken = `the journal ${this.file} could not be restored after a failed write (${(t as Error).message}); restart school-dns`;
        this.opts.log.error('review request journal unusable', { file: this.file, error: this.broken });
      }
      this.opts.log.error('could not write the review request journal', { file: this.file, error: (e as Error).message });
      throw e;
    }
    this.size += data.length;
    this.lines++;
  }

  private retainedCount(): number {
    let decided = 0;
    let kept = 0;
    for (const r of this.records.values()) {
      if (r.status === 'pending' || r.status === 'approved') kept++;
      else decided++;
    }
    return kept + Math.min(decided, this.limits.keepDecided);
  }

  /** Compacts (queued after the current operation) once the journal is twice what a snapshot would hold. */
  private maybeCompact(): void {
    if (this.lines < this.limits.compactMinLines || this.lines < this.compactAgainAt || this.lines < 2 * (this.retainedCount() + 1)) return;
    void this.serially(() => this.compactNow());
  }

  private async compactNow(): Promise<void> {
    if (this.fh === null || this.broken !== null) return;
    // Forget the oldest rejected and revoked requests beyond what is kept.
    let extra = -this.limits.keepDecided;
    for (const r of this.records.values()) if (r.status === 'rejected' || r.status === 'revoked') extra++;
    const drop = new Set<number>();
    for (const r of this.records.values()) {
      if (extra <= 0) break;
      if (r.status === 'rejected' || r.status === 'revoked') {
        drop.add(r.id);
        extra--;
      }
    }
    const kept = [...this.records.values()].filter((r) => !drop.has(r.id));
    const text = [JSON.stringify({ t: 'meta', v: 1, nextId: this.nextId }), ...kept.map((r) => JSON.stringify(snapshot(r)))].join('\n') + '\n';
    const tmp = `${this.file}.tmp`;
    let out: FileHandle | null = null;
    try {
      out = await fsp.open(tmp, 'w', 0o600);
      await this.io.write(out, Buffer.from(text, 'utf8'));
      await this.io.sync(out);
      await out.close();
      out = null;
      await fsp.rename(tmp, this.file);
    } catch (e) {
      await out?.close().catch(() => undefined);
      await fsp.rm(tmp, { force: true }).catch(() => undefined);
      this.compactAgainAt = this.lines * 2; // not on every write while the disk refuses
      this.opts.log.warn('could not compact the review request journal; it keeps growing', { file: this.file, error: (e as Error).message });
      return;
    }
    // The old handle points at the replaced file: append to the new one from here on.
    const old = this.fh;
    try {
      this.fh = await fsp.open(this.file, 'a', 0o600);
    } catch (e) {
      this.fh = null;
      this.broken = `the journal ${this.file} could not be reopened after compaction (${(e as Error).message}); restart school-dns`;
      this.opts.log.error('review request journal unusable', { file: this.file, error: this.broken });
    }
    await old.close().catch(() => undefined);
    await syncDirectory(this.opts.directory);
    for (const id of drop) this.records.delete(id);
    const before = this.lines;
    this.lines = kept.length + 1;
    this.size = Buffer.byteLength(text);
    this.compactAgainAt = 0;
    this.opts.log.info('review request journal compacted', { linesBefore: before, lines: this.lines, forgotten: drop.size });
  }

  // -------------------------------------------------------------------------
  // Opening and replay

  private async load(): Promise<void> {
    const dir = this.opts.directory;
    const unusable = (what: string, e: unknown): StateDirectoryError =>
      new StateDirectoryError(`the state directory ${dir} cannot be used: ${what}: ${(e as Error).message}. Set state.directory in the configuration to a directory school-dns may write, or create this one for its user.`, { cause: e });
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw unusable('it cannot be created', e);
    }
    let text: Buffer;
    try {
      const st = await fsp.stat(dir);
      if (!st.isDirectory()) throw Object.assign(new Error('it is not a directory'), { code: 'ENOTDIR' });
      await fsp.access(dir, fsConstants.W_OK | fsConstants.X_OK);
      text = await fsp.readFile(this.file).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return Buffer.alloc(0);
        throw e;
      });
    } catch (e) {
      throw unusable('it cannot be read or written', e);
    }
    const damaged = await this.replay(text);
    try {
      this.fh = await fsp.open(this.file, 'a', 0o600);
      if (text.length === 0) await syncDirectory(dir); // the new journal's directory entry is durable too
    } catch (e) {
      throw unusable(`its journal ${JOURNAL_FILE} cannot be opened for writing`, e);
    }
    if (damaged) await this.compactNow();
    this.publishApprovals();
    const c = this.counts();
    this.opts.log.info('review requests loaded', { directory: dir, ...c });
  }

  /** Replays the journal into memory; returns true when lines in the middle were damaged. */
  private async replay(buf: Buffer): Promise<boolean> {
    // Only lines ending in "\n" were ever acknowledged: a torn last line is dropped.
    let good = buf.lastIndexOf(0x0a) + 1;
    const lines = buf.subarray(0, good).toString('utf8').split('\n');
    lines.pop(); // after the last "\n"
    const bad: number[] = [];
    const offsets: number[] = [];
    let off = 0;
    for (let i = 0; i < lines.length; i++) {
      offsets.push(off);
      off += Buffer.byteLength(lines[i]) + 1;
      const err = this.replayLine(lines[i]);
      if (err !== null) bad.push(i);
    }
    // Damaged lines at the very end are a torn write too (some filesystems leave zeros).
    let lastGood = lines.length;
    while (bad.length > 0 && bad[bad.length - 1] === lastGood - 1) {
      bad.pop();
      lastGood--;
    }
    if (lastGood < lines.length) good = offsets[lastGood];
    if (good < buf.length) {
      this.opts.log.warn('review request journal ended in an incomplete write; dropped it (it was never acknowledged)', { file: this.file, bytes: buf.length - good });
      try {
        await fsp.truncate(this.file, good);
      } catch (e) {
        throw new StateDirectoryError(`the journal ${this.file} ends in an incomplete write that cannot be cut off: ${(e as Error).message}`, { cause: e });
      }
    }
    this.lines = lastGood;
    this.size = good;
    if (bad.length === 0) return false;
    // Lines in the middle that cannot be read: keep a copy of the file as it was, skip them.
    const copy = `${this.file}.damaged-${this.now()}`;
    await fsp.writeFile(copy, buf, { mode: 0o600 }).catch(() => undefined);
    this.opts.log.error('review request journal has damaged lines; they were skipped and the file was copied aside', {
      file: this.file, lines: bad.slice(0, 10).map((i) => i + 1), copy,
    });
    return true;
  }

  /** Applies one journal line; returns why it cannot be used, or null. */
  private replayLine(line: string): string | null {
    let e: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(line);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
      e = v as Record<string, unknown>;
    } catch {
      return 'not JSON';
    }
    const id = e.id;
    switch (e.t) {
      case 'meta': {
        if (!Number.isSafeInteger(e.nextId) || (e.nextId as number) < 1) return 'bad meta';
        this.nextId = Math.max(this.nextId, e.nextId as number);
        return null;
      }
      case 'submit':
      case 'request': {
        if (!Number.isSafeInteger(id) || (id as number) < 1 || this.records.has(id as number)) return 'bad or repeated id';
        const v = this.validateSubmission(e as unknown as ReviewSubmission);
        if (typeof v === 'string') return v;
        const createdAt = parseTime(e.at ?? e.createdAt);
        if (createdAt === null) return 'bad time';
        const r: Rec = { id: id as number, ...v, createdAt, status: 'pending', decidedAt: null, decidedBy: null, note: null, scope: null };
        if (e.t === 'request' && e.status !== 'pending') {
          const status = e.status as RequestStatus;
          const decidedAt = parseTime(e.decidedAt);
          if (!REQUEST_STATUSES.includes(status) || decidedAt === null) return 'bad status';
          const scope = e.scope ?? null;
          if (scope !== null && !(APPROVAL_SCOPES as readonly unknown[]).includes(scope)) return 'bad scope';
          if ((status === 'approved' || status === 'revoked') && scope === null) return 'approval without a scope';
          r.status = status;
          r.decidedAt = decidedAt;
          r.decidedBy = storedText(e.decidedBy, MAX_LABEL);
          r.note = storedText(e.note, MAX_NOTE);
          r.scope = scope as ApprovalScope | null;
        }
        this.records.set(r.id, r);
        if (r.status === 'pending') this.pendingByKey.set(pendingKey(r.name, r.school, r.group), r.id);
        this.nextId = Math.max(this.nextId, r.id + 1);
        return null;
      }
      case 'approve':
      case 'reject':
      case 'revoke': {
        const r = typeof id === 'number' ? this.records.get(id) : undefined;
        if (!r) return 'decision for an unknown request';
        if (e.t === 'revoke' ? r.status !== 'approved' : r.status !== 'pending') return 'decision out of order';
        const at = parseTime(e.at);
        if (at === null) return 'bad time';
        const scope = e.t === 'approve' ? e.scope : null;
        if (e.t === 'approve' && !(APPROVAL_SCOPES as readonly unknown[]).includes(scope)) return 'bad scope';
        this.apply(r, e.t, at, storedText(e.by, MAX_LABEL), storedText(e.note, MAX_NOTE), scope as ApprovalScope | null);
        return null;
      }
      default:
        return 'unknown entry';
    }
  }

  // -------------------------------------------------------------------------
  // Validation

  private validateSubmission(s: ReviewSubmission): Pick<Rec, 'name' | 'school' | 'group' | 'category' | 'message'> | string {
    if (s === null || typeof s !== 'object') return 'no request';
    if (typeof s.name !== 'string') return 'the name is missing';
    const name = normalizeName(s.name);
    if (isNameError(name)) return `"${cut(cleanText(s.name, 80), 80)}" is not a domain name: ${name.error}`;
    const school = label(s.school);
    if (school === null) return `the school must be text of 1 to ${MAX_LABEL} printable characters`;
    const group = label(s.group);
    if (group === null) return `the group must be text of 1 to ${MAX_LABEL} printable characters`;
    const category = s.category === null || s.category === undefined ? null : label(s.category);
    if (category === null && s.category !== null && s.category !== undefined) return `the category must be null or text of 1 to ${MAX_LABEL} printable characters`;
    if (s.message !== undefined && s.message !== null && typeof s.message !== 'string') return 'the message must be text';
    const message = cleanText(s.message ?? '', this.limits.maxMessageLength);
    return { name, school, group, category, message };
  }

  /** Records a submission from `source`; returns 0, or the milliseconds until it may submit again. */
  private rateLimit(source: string): number {
    const key = sourceKey(source);
    const now = this.now();
    const { perSourceCount: max, perSourceWindowMs: window } = this.limits;
    const times = (this.sources.get(key) ?? []).filter((t) => t > now - window);
    if (times.length >= max) {
      this.sources.set(key, times);
      return times[0] + window - now;
    }
    times.push(now);
    this.sources.delete(key); // re-inserted last: the Map's order is least recently used first
    this.sources.set(key, times);
    if (this.sources.size > this.limits.maxSources) {
      for (const [k, t] of this.sources) {
        if (t[t.length - 1] <= now - window) this.sources.delete(k);
      }
      for (const k of this.sources.keys()) {
        if (this.sources.size <= this.limits.maxSources) break;
        this.sources.delete(k);
      }
    }
    return 0;
  }
}

// ---------------------------------------------------------------------------

function pendingKey(name: string, school: string, group: string): string {
  return `${name}\u0000${school}\u0000${group}`;
}

function view(r: Rec): ReviewRequest {
  return Object.freeze({
    id: r.id, name: r.name, school: r.school, group: r.group, category: r.category, message: r.message,
    createdAt: iso(r.createdAt), status: r.status,
    decidedAt: r.decidedAt === null ? null : iso(r.decidedAt), decidedBy: r.decidedBy, note: r.note, scope: r.scope,
  });
}

function snapshot(r: Rec): Record<string, unknown> {
  return { t: 'request', ...view(r) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function parseTime(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v);
  return Number.isFinite(t) ? t : null;
}

function cut(s: string, max: number): string {
  const cps = Array.from(s);
  return cps.length <= max ? s : cps.slice(0, max).join('');
}

// C0 and C1 controls, DEL, zero-width and bidirectional formatting characters, BOM: they can
// hide or reorder text in a terminal or a table. Lone surrogates are not text at all.
const INVISIBLE = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const WHITESPACE_CONTROLS = /[\t\n\v\f\r]+/g;

/** Free text made safe to keep and show: controls stripped (line breaks and tabs become spaces), spaces collapsed, trimmed, cut to `max` characters. */
export function cleanText(raw: string, max: number): string {
  return cut(raw.replace(WHITESPACE_CONTROLS, ' ').replace(INVISIBLE, '').replace(/ {2,}/g, ' ').trim(), max).trim();
}

/** A short label (school, group, category): printable, 1..MAX_LABEL characters, as given. */
function label(v: unknown): string | null {
  if (typeof v !== 'string' || v.trim() === '' || Array.from(v).length > MAX_LABEL) return null;
  WHITESPACE_CONTROLS.lastIndex = 0;
  INVISIBLE.lastIndex = 0;
  return WHITESPACE_CONTROLS.test(v) || INVISIBLE.test(v) ? null : v;
}

function optionalText(v: unknown, max: number, what: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw new RequestError('INVALID', `${what} must be text`);
  if (Array.from(v).length > max) throw new RequestError('INVALID', `${what} is longer than ${max} characters`);
  const c = cleanText(v, max);
  return c === '' ? null : c;
}

function storedText(v: unknown, max: number): string | null {
  return typeof v === 'string' && v !== '' ? cleanText(v, max) : null;
}

/**
 * The rate limiter's key for a source address: an IPv4 address (IPv4-mapped IPv6 included)
 * as itself, an IPv6 address by its /64 (a device picks any address in its /64 at will).
 */
export function sourceKey(source: string): string {
  let a = source;
  const pct = a.indexOf('%');
  if (pct >= 0) a = a.slice(0, pct);
  if (a.toLowerCase().startsWith('::ffff:') && isIP(a.slice(7)) === 4) return a.slice(7);
  if (isIP(a) !== 6) return a;
  const [head, tail = ''] = a.toLowerCase().split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (t.length > 0 && t[t.length - 1].includes('.')) t.splice(t.length - 1, 1, '0', '0'); // embedded IPv4: two words, not in the /64
  const words = a.includes('::') ? [...h, ...new Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return `${words.slice(0, 4).map((w) => parseInt(w, 16).toString(16)).join(':')}::/64`;
}

async function syncDirectory(dir: string): Promise<void> {
  let fh: FileHandle | null = null;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems cannot fsync a directory; the rename or creation is still done.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
