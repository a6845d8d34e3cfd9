// The query log's writer thread: owns the SQLite connection, so the event loop of the DNS
// server never waits on the disk. Batches from the queue are taken at once (and said so, which
// frees their room in the queue) and summed up in an Aggregator; once per write window (a
// second), or sooner when it holds many rows, its rows are written in one transaction. It also
// answers report requests and enforces retention (at start, then every hour) in chunks, so
// that batches keep being taken during a long delete.
//
// A write that waits (a lock held by another connection, a slow disk) blocks this thread only:
// batches then stay untaken, the queue on the event loop fills, and records are dropped there.
//
// The thread runs at nice 19 (on Linux a thread has its own nice value): on a core that answering
// keeps saturated, the writer gets about 1.5% of it (CFS weights 15 : 1024), and past what that
// writes the queue drops (and counts) records rather than the log slowing down every child's
// browsing (nice 10, a tenth of the core, cost a saturated server 14% of its answers on a flood of
// distinct blocked names: bench/logging-cost.sh). An idle core, or an idle second core, it uses fully.
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { Aggregator } from './aggregate';
import { loadOrCreateKey } from './key';
import { ClientMode, clientTransform } from './privacy';
import type { Batch } from './queue';
import { QueryLogStore, ReportQuery } from './store';

export interface WorkerConfig {
  readonly path: string;
  /** Where the hash key lives (used only by clientMode "hash"). */
  readonly keyPath: string;
  readonly clientMode: ClientMode;
  readonly retentionDays: number;
  readonly retentionIntervalMs: number;
  /** Rows deleted per chunk of a retention pass. */
  readonly retentionChunk: number;
  /** Rows are written at least this often. */
  readonly windowMs: number;
  /** ... and as soon as this many distinct rows are held. */
  readonly maxRows: number;
}

export type ToWorker =
  | { readonly type: 'batch'; readonly batch: Batch }
  | { readonly type: 'report'; readonly id: number; readonly query: ReportQuery }
  | { readonly type: 'retention'; readonly id: number }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready'; readonly keyCreated: boolean }
  | { readonly type: 'fatal'; readonly error: string }
  /** The batch was taken: its records no longer count against the queue. */
  | { readonly type: 'taken'; readonly seq: number; readonly count: number }
  /** Records written (as `rows` rows), or lost with `error`. */
  | { readonly type: 'written'; readonly records: number; readonly rows: number; readonly error?: string }
  | { readonly type: 'report'; readonly id: number; readonly result?: unknown; readonly error?: string }
  | { readonly type: 'retention'; readonly id: number; readonly deleted?: number; readonly error?: string }
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly message: string; readonly fields?: Record<string, unknown> }
  | { readonly type: 'closed' };

const DAY_MS = 86_400_000;
const WRITER_NICE = 19;

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('worker.ts runs as a worker thread');
  const cfg = workerData as WorkerConfig;
  const send = (m: FromWorker): void => port.postMessage(m);
  try {
    setPriority(WRITER_NICE); // this thread only
  } catch {
    // Not allowed here: the writer runs at the server's priority.
  }
  let store: QueryLogStore;
  let agg: Aggregator;
  let keyCreated = false;
  try {
    let key: Buffer | null = null;
    if (cfg.clientMode === 'hash') ({ key, created: keyCreated } = loadOrCreateKey(cfg.keyPath));
    agg = new Aggregator(clientTransform(cfg.clientMode, key));
    store = QueryLogStore.open(cfg.path);
  } catch (e) {
    send({ type: 'fatal', error: (e as Error).message });
    return;
  }

  /** Writes what the aggregator holds. */
  const write = (): void => {
    if (agg.size === 0) return;
    const { rows, records } = agg.drain();
    try {
      store.insert(rows);
      send({ type: 'written', records, rows: rows.length });
    } catch (e) {
      send({ type: 'written', records, rows: rows.length, error: (e as Error).message });
    }
  };

  let closing = false;
  let retentionRunning: Promise<number> | null = null;
  const retention = (): Promise<number> => {
    retentionRunning ??= (async () => {
      const cutoff = Date.now() - cfg.retentionDays * DAY_MS;
      let deleted = 0;
      for (;;) {
        const n = store.deleteOlderThan(cutoff, cfg.retentionChunk);
        deleted += n;
        if (n < cfg.retentionChunk || closing) break;
        // Let waiting batches and reports in between chunks.
        await new Promise((r) => setImmediate(r));
      }
      return deleted;
    })().finally(() => { retentionRunning = null; });
    return retentionRunning;
  };
  const scheduled = (): void => {
    retention().then((deleted) => {
      if (deleted > 0) send({ type: 'log', level: 'info', message: 'query log: retention pass deleted old rows', fields: { deleted, retentionDays: cfg.retentionDays } });
    }, (e) => send({ type: 'log', level: 'error', message: 'query log: retention pass failed', fields: { error: (e as Error).message } }));
  };
  const retentionTimer = setInterval(scheduled, cfg.retentionIntervalMs);
  const windowTimer = setInterval(write, cfg.windowMs);

  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'batch':
        agg.add(m.batch);
        send({ type: 'taken', seq: m.batch.seq, count: m.batch.count });
        if (agg.size >= cfg.maxRows) write();
        break;
      case 'report':
        // What was taken so far is in the report.
        write();
        try {
          send({ type: 'report', id: m.id, result: store.report(m.query) });
        } catch (e) {
          send({ type: 'report', id: m.id, error: (e as Error).message });
        }
        break;
      case 'retention':
        write();
        retention().then((deleted) => send({ type: 'retention', id: m.id, deleted }), (e) => send({ type: 'retention', id: m.id, error: (e as Error).message }));
        break;
      case 'close':
        closing = true;
        clearInterval(retentionTimer);
        clearInterval(windowTimer);
        void (retentionRunning ?? Promise.resolve(0)).catch(() => 0).then(() => {
          write();
          try { store.close(); } catch { /* closing anyway */ }
          send({ type: 'closed' });
          port.close();
        });
        break;
    }
  });
  send({ type: 'ready', keyCreated });
  scheduled();
}

if (parentPort && (workerData as { path?: unknown } | undefined)?.path !== undefined) main();
