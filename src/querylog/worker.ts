// The query log's writer thread: owns the SQLite connection, so the event loop of the DNS
// server never waits on the disk. It writes each batch in one transaction, answers report
// requests, and enforces retention (at start, then every hour) in small chunks so that batches
// keep landing during a long delete.
import { parentPort, workerData } from 'node:worker_threads';
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
}

export type ToWorker =
  | { readonly type: 'batch'; readonly batch: Batch }
  | { readonly type: 'report'; readonly id: number; readonly query: ReportQuery }
  | { readonly type: 'retention'; readonly id: number }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'ready'; readonly keyCreated: boolean }
  | { readonly type: 'fatal'; readonly error: string }
  | { readonly type: 'written'; readonly seq: number; readonly count: number; readonly error?: string }
  | { readonly type: 'report'; readonly id: number; readonly result?: unknown; readonly error?: string }
  | { readonly type: 'retention'; readonly id: number; readonly deleted?: number; readonly error?: string }
  | { readonly type: 'log'; readonly level: 'info' | 'warn' | 'error'; readonly message: string; readonly fields?: Record<string, unknown> }
  | { readonly type: 'closed' };

const DAY_MS = 86_400_000;

function main(): void {
  const port = parentPort;
  if (!port) throw new Error('worker.ts runs as a worker thread');
  const cfg = workerData as WorkerConfig;
  const send = (m: FromWorker): void => port.postMessage(m);
  let store: QueryLogStore;
  let client: (address: string) => string | null;
  let keyCreated = false;
  try {
    let key: Buffer | null = null;
    if (cfg.clientMode === 'hash') ({ key, created: keyCreated } = loadOrCreateKey(cfg.keyPath));
    client = clientTransform(cfg.clientMode, key);
    store = QueryLogStore.open(cfg.path);
  } catch (e) {
    send({ type: 'fatal', error: (e as Error).message });
    return;
  }

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
  const timer = setInterval(scheduled, cfg.retentionIntervalMs);

  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'batch':
        try {
          store.insert(m.batch, client);
          send({ type: 'written', seq: m.batch.seq, count: m.batch.count });
        } catch (e) {
          send({ type: 'written', seq: m.batch.seq, count: m.batch.count, error: (e as Error).message });
        }
        break;
      case 'report':
        try {
          send({ type: 'report', id: m.id, result: store.report(m.query) });
        } catch (e) {
          send({ type: 'report', id: m.id, error: (e as Error).message });
        }
        break;
      case 'retention':
        retention().then((deleted) => send({ type: 'retention', id: m.id, deleted }), (e) => send({ type: 'retention', id: m.id, error: (e as Error).message }));
        break;
      case 'close':
        closing = true;
        clearInterval(timer);
        void (retentionRunning ?? Promise.resolve(0)).catch(() => 0).then(() => {
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
