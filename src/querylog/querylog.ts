// The query log on the server's side: record() is called once per answered query and, for a
// query worth logging (blocked ones; every one with queryLog.allQueries), puts a small record
// into a bounded queue. Every flushMs, or when a batch is full, the queue's records go to the
// writer thread (worker.ts) in one message (typed arrays transferred, not copied); the writer
// owns the SQLite database. The event loop never waits for the disk: when the writer is stuck
// and the queue is full, records are dropped and counted
// (school_dns_querylog_records_total{result="dropped"}).
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { HEADER_SIZE } from '../dns/constants';
import type { QueryContext } from '../chain/types';
import type { Logger } from '../log/logger';
import type { Metrics } from '../metrics/metrics';
import { FastCounter } from '../metrics/fast';
import { DECISION_ALLOW } from '../policy/policy';
import type { ClientMode } from './privacy';
import { ACTION_ALLOWED, ACTION_BLOCKED, ACTION_PASSED, RecordQueue, transferables } from './queue';
import type { ReportData, ReportQuery } from './store';
import type { FromWorker, ToWorker, WorkerConfig } from './worker';

export interface QueryLogOptions {
  /** The SQLite file. */
  readonly path: string;
  /** The hash key file (client mode "hash"). */
  readonly keyPath: string;
  /** Log every query, not only blocked ones. */
  readonly allQueries: boolean;
  readonly retentionDays: number;
  readonly clientMode: ClientMode;
  /** Most records waiting to be written; more are dropped and counted. */
  readonly queueSize: number;
  readonly log: Logger;
  /** Where the counters and the queue gauge are published. */
  readonly metrics?: Metrics;
  /** The category of a blocking decision code (the current policy's describeDecision). */
  readonly category?: (verdict: number) => string | null;
  /** Most records per batch (default 512). */
  readonly batchSize?: number;
  /** Longest a record waits before its batch is sent to the writer (default 250 ms). */
  readonly flushMs?: number;
  /** Time between retention passes (default one hour; one runs at start too). */
  readonly retentionIntervalMs?: number;
  readonly retentionChunk?: number;
  /** The writer writes what it took at least this often (default 1000 ms; see aggregate.ts). */
  readonly windowMs?: number;
  /** ... and as soon as it holds this many distinct rows (default 10000). */
  readonly maxRows?: number;
}

/** The log cannot be opened or written at all. Branch on `code`. */
export class QueryLogError extends Error {
  constructor(readonly code: 'QUERYLOG_UNUSABLE' | 'QUERYLOG_DOWN' | 'QUERYLOG_TIMEOUT', message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What the dispatcher calls for every answered query. */
export interface QuerySink {
  record(ctx: QueryContext, reply: Buffer): void;
}

const RESULT_WRITTEN = 0;
const RESULT_DROPPED = 1;
const RESULT_FAILED = 2;
/** Wait for the writer to say it is ready, to answer a report, to close. */
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 60_000;
const CLOSE_TIMEOUT_MS = 10_000;
const RESTART_DELAY_MS = 10_000;
/** At most one "failed to write" error line per this long. */
const ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * The compiled writer script. Under jest the sources run as TypeScript, but a worker thread is
 * plain node: it then uses the build in dist/ (npm test builds first).
 */
export function workerPath(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'worker.js');
  return path.resolve(__dirname, '..', '..', 'dist', 'querylog', 'worker.js');
}

export class QueryLog implements QuerySink {
  private readonly queue: RecordQueue;
  private readonly counts: FastCounter;
  private readonly all: boolean;
  private readonly keepClient: boolean;
  private readonly category: (verdict: number) => string | null;
  private worker: Worker | null = null;
  private up = false;
  private closing = false;
  private flushTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private lastErrorLog = 0;
  /** Records the writer took and has not written yet (in its aggregator). */
  private held = 0;
  private closed: Promise<void> | null = null;

  private constructor(private readonly opts: QueryLogOptions) {
    this.queue = new RecordQueue(opts.queueSize, opts.batchSize ?? 2048);
    this.all = opts.allQueries;
    this.keepClient = opts.clientMode !== 'omit';
    this.category = opts.category ?? (() => null);
    const registry = opts.metrics?.registry;
    this.counts = new FastCounter('school_dns_querylog_records_total',
      'Query log records, by result: written to the database, dropped because the queue was full (or the writer was down), failed to write.',
      [{ result: 'written' }, { result: 'dropped' }, { result: 'failed' }], registry ?? new Registry());
    opts.metrics?.gauge('school_dns_querylog_queue_records', 'Query log records queued for the writer thread and not yet taken by it (at most queryLog.queueSize).', () => this.queue.pending);
  }

  /** Opens the log (its writer thread and database). Throws QueryLogError when it cannot be used. */
  static async start(opts: QueryLogOptions): Promise<QueryLog> {
    const q = new QueryLog(opts);
    await q.startWorker();
    q.flushTimer = setInterval(() => q.flush(), opts.flushMs ?? 250);
    q.flushTimer.unref();
    return q;
  }

  /** Records dropped because the queue was full or the writer was down. */
  get dropped(): number {
    return this.counts.value(RESULT_DROPPED);
  }

  get written(): number {
    return this.counts.value(RESULT_WRITTEN);
  }

  get failed(): number {
    return this.counts.value(RESULT_FAILED);
  }

  /** Records waiting: buffered here, or handed to the writer and not yet taken by it. */
  get pending(): number {
    return this.queue.pending;
  }

  /** The hot path: after the reply was sent. No string is built here. */
  record(ctx: QueryContext, reply: Buffer): void {
    let action: number;
    let category: string | null = null;
    if (ctx.source === 'blocked') {
      action = ACTION_BLOCKED;
      category = this.category(ctx.verdict);
    } else if (!this.all) {
      return;
    } else {
      action = ctx.verdict === DECISION_ALLOW ? ACTION_ALLOWED : ACTION_PASSED;
    }
    const q = this.queue;
    if (!this.up) {
      this.counts.inc(RESULT_DROPPED);
      return;
    }
    if (!q.push(ctx.receivedAt, ctx.client.school, ctx.client.group, category, this.keepClient ? ctx.remoteAddress : null,
      ctx.buf, HEADER_SIZE, ctx.query.qnameEnd, ctx.query.qtype, action, reply[3]! & 0x0f)) {
      this.counts.inc(RESULT_DROPPED);
      return;
    }
    if (q.batchFull) this.flush();
  }

  /** Sends the buffered records to the writer now. */
  flush(): void {
    if (!this.up || this.worker === null) return;
    const batch = this.queue.take(Date.now() - performance.now());
    if (batch !== null) this.worker.postMessage({ type: 'batch', batch } satisfies ToWorker, transferables(batch));
  }

  /** Blocked names and categories per school and group, from the writer. */
  report(query: ReportQuery): Promise<ReportData> {
    return this.request((id) => ({ type: 'report', id, query })) as Promise<ReportData>;
  }

  /** Runs a retention pass now (one also runs at start and every hour); resolves how many rows it deleted. */
  retention(): Promise<number> {
    return this.request((id) => ({ type: 'retention', id })) as Promise<number>;
  }

  /** For /healthz. */
  health(): Record<string, unknown> {
    return {
      ok: this.up, path: this.opts.path, allQueries: this.all, retentionDays: this.opts.retentionDays,
      pending: this.queue.pending, unwritten: this.held, written: this.written, dropped: this.dropped, failed: this.failed,
    };
  }

  /** Writes what is queued, then closes the database and ends the writer. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.flush();
    this.closing = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const w = this.worker;
    if (w === null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.opts.log.warn('query log: the writer did not close in time; stopping it', { pending: this.queue.pending });
        void w.terminate();
      }, CLOSE_TIMEOUT_MS);
      w.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.post({ type: 'close' });
    });
  }

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }

  private request(make: (id: number) => ToWorker): Promise<unknown> {
    if (!this.up || this.worker === null) {
      return Promise.reject(new QueryLogError('QUERYLOG_DOWN', 'the query log\'s writer is not running (see the server\'s log); try again shortly'));
    }
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new QueryLogError('QUERYLOG_TIMEOUT', `the query log did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`));
      }, REQUEST_TIMEOUT_MS);
      this.waiting.set(id, { resolve, reject, timer });
      this.post(make(id));
    });
  }

  private answer(id: number, error: string | undefined, value: unknown): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    clearTimeout(w.timer);
    if (error !== undefined) w.reject(new QueryLogError('QUERYLOG_DOWN', `the query log failed: ${error}`));
    else w.resolve(value);
  }

  private startWorker(): Promise<void> {
    const cfg: WorkerConfig = {
      path: this.opts.path,
      keyPath: this.opts.keyPath,
      clientMode: this.opts.clientMode,
      retentionDays: this.opts.retentionDays,
      retentionIntervalMs: this.opts.retentionIntervalMs ?? 3_600_000,
      retentionChunk: this.opts.retentionChunk ?? 5000,
      windowMs: this.opts.windowMs ?? 1000,
      maxRows: this.opts.maxRows ?? 10_000,
    };
    const log = this.opts.log;
    const w = new Worker(workerPath(), { workerData: cfg, stdout: false, stderr: false });
    this.worker = w;
    // The writer must not keep the process alive: close() is how it ends.
    w.unref();
    return new Promise((resolve, reject) => {
      let started = false;
      const startTimer = setTimeout(() => {
        void w.terminate();
        reject(new QueryLogError('QUERYLOG_UNUSABLE', `the query log's writer did not start within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      w.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            started = true;
            this.up = true;
            clearTimeout(startTimer);
            log.info('query log open', { path: this.opts.path, allQueries: this.all, clientAddress: this.opts.clientMode, retentionDays: this.opts.retentionDays });
            if (m.keyCreated) log.info('query log: made a new client hash key', { keyPath: this.opts.keyPath });
            resolve();
            break;
          case 'fatal':
            clearTimeout(startTimer);
            reject(new QueryLogError('QUERYLOG_UNUSABLE', m.error));
            break;
          case 'taken':
            this.queue.done(m.count);
            this.held += m.count;
            break;
          case 'written':
            this.held = Math.max(0, this.held - m.records);
            if (m.error === undefined) {
              this.counts.inc(RESULT_WRITTEN, m.records);
            } else {
              this.counts.inc(RESULT_FAILED, m.records);
              const now = Date.now();
              if (now - this.lastErrorLog >= ERROR_LOG_INTERVAL_MS) {
                this.lastErrorLog = now;
                log.error('query log: records could not be written and are lost', { error: m.error, records: m.records, failedSoFar: this.failed });
              }
            }
            break;
          case 'report':
            this.answer(m.id, m.error, m.result);
            break;
          case 'retention':
            this.answer(m.id, m.error, m.deleted);
            break;
          case 'log':
            log[m.level](m.message, m.fields);
            break;
          case 'closed':
            break;
        }
      });
      w.on('error', (err) => {
        log.error('query log: the writer thread failed', { err });
        if (!started) {
          clearTimeout(startTimer);
          reject(new QueryLogError('QUERYLOG_UNUSABLE', `the query log's writer failed to start: ${err.message}`, { cause: err }));
        }
      });
      w.on('exit', (code) => {
        this.up = false;
        this.worker = null;
        clearTimeout(startTimer);
        const lost = this.queue.lose() + this.held;
        this.held = 0;
        if (lost > 0) this.counts.inc(RESULT_FAILED, lost);
        for (const [id] of this.waiting) this.answer(id, 'the writer stopped', undefined);
        if (this.closing || !started) return;
        log.error('query log: the writer stopped; records are dropped until it is back', { exitCode: code, lost, retryInSeconds: RESTART_DELAY_MS / 1000 });
        this.scheduleRestart();
      });
    });
  }

  private scheduleRestart(): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (this.closing) return;
      this.startWorker().catch((e) => {
        this.opts.log.error('query log: the writer could not be restarted', { error: (e as Error).message });
        if (!this.closing) this.scheduleRestart();
      });
    }, RESTART_DELAY_MS);
    this.restartTimer.unref();
  }
}
