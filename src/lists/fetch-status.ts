// The server's view of its URL list sources: asks the builder process to fetch them, and keeps,
// per source, what the last attempts gave (for `lists status` and the admin API), the metrics
// (labels: category and the source's position in it, both bounded by the policy) and the log
// lines that say what failed and what serves instead.
import type { Logger } from '../log/logger';
import { KeyedCounter, Series } from '../metrics/fast';
import type { Metrics } from '../metrics/metrics';
import { fetchInBuilder } from './build';
import type { FetchProgress, UrlFetchSettings, UrlReport, UrlSourceRef, UrlState } from './fetch-source';

export interface UrlSourceStatus {
  readonly category: string;
  readonly index: number;
  readonly url: string;
  readonly format: string;
  /** pending: not asked since the server started (its saved copy, if any, serves). */
  readonly state: UrlState;
  readonly lastAttemptAt: number | null;
  /** When the list host last gave a good list or said it had not changed (from the saved copy after a restart). */
  readonly lastSuccessAt: number | null;
  readonly lastOutcome: UrlReport['outcome'] | null;
  readonly status: number | null;
  readonly code: string | null;
  readonly error: string | null;
  /** Of the version that serves. */
  readonly names: number | null;
  readonly bytes: number | null;
  /** The saved copy on disk. */
  readonly copy: UrlReport['copy'];
  /** Since when the saved copy serves because the source fails (null while it works). */
  readonly copyInUseSince: number | null;
  readonly consecutiveFailures: number;
}

/** What POST /lists/update streams while it runs. */
export type UrlProgressEvent =
  | { readonly event: 'progress'; readonly category: string; readonly index: number; readonly url: string; readonly bytes: number; readonly total: number | null }
  | ({ readonly event: 'source' } & UrlSourceStatus);

export class UrlSources {
  private readonly byKey = new Map<string, UrlSourceStatus>();
  private order: string[] = [];
  private readonly listeners = new Set<(e: UrlProgressEvent) => void>();
  private readonly failures: KeyedCounter;
  private readonly up: KeyedCounter;
  private readonly lastSuccess: KeyedCounter;
  private readonly names: KeyedCounter;

  constructor(metrics: Metrics, private readonly log: Logger) {
    const r = metrics.registry;
    const labels = ['category', 'source'];
    this.failures = new KeyedCounter('school_dns_list_source_failures_total',
      'Failed or refused fetches of a URL list source (source: its position in the category, from 0).', labels, r);
    this.up = new KeyedCounter('school_dns_list_source_up',
      '1 when the last fetch of a URL list source gave a good list or "not modified", 0 when it failed (the saved copy, if any, serves).', labels, r, 'gauge');
    this.lastSuccess = new KeyedCounter('school_dns_list_source_last_success_timestamp_seconds',
      'When a URL list source last gave a good list or "not modified" (Unix time; 0: never).', labels, r, 'gauge');
    this.names = new KeyedCounter('school_dns_list_source_names',
      'Entries in the version of a URL list source that serves (0 when none does).', labels, r, 'gauge');
  }

  /** The URL sources of the current policy, in policy order. */
  status(): UrlSourceStatus[] {
    return this.order.map((k) => this.byKey.get(k)!);
  }

  /** Listens to download progress and finished sources until the returned function is called. */
  subscribe(listener: (e: UrlProgressEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Fetches every URL source in the builder process and records what came. Returns the
   * identity of what the lists are to be built from: equal to the last one, nothing changed.
   * Throws when the builder itself fails (no source is then recorded).
   */
  async refresh(sources: readonly UrlSourceRef[], settings: UrlFetchSettings): Promise<string> {
    this.track(sources);
    // Each finished source arrives as progress first (so status and listeners see it at once),
    // then all of them in the answer: record each once.
    const seen = new Set<string>();
    const reports = await fetchInBuilder(sources, settings, (p) => {
      if (p.done && !seen.has(keyOf(p.done))) {
        seen.add(keyOf(p.done));
        this.record(p.done);
      } else if (!p.done) {
        this.progress(p);
      }
    });
    for (const r of reports) if (!seen.has(keyOf(r))) this.record(r);
    return reports.map((r) => `${r.url}\u0000${r.id ?? '-'}`).join('\u0001');
  }

  private progress(p: FetchProgress): void {
    this.emit({ event: 'progress', category: p.category, index: p.index, url: p.url, bytes: p.bytes, total: p.total });
  }

  private emit(e: UrlProgressEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // a listener's trouble (a closed admin connection) is not ours
      }
    }
  }

  /** Makes the policy's sources the ones shown; keeps the history of those that stay. */
  private track(sources: readonly UrlSourceRef[]): void {
    const keep = new Set<string>();
    const order: string[] = [];
    for (const s of sources) {
      const k = keyOf(s);
      if (keep.has(k)) continue;
      keep.add(k);
      order.push(k);
      if (!this.byKey.has(k)) {
        this.byKey.set(k, {
          category: s.category, index: s.index, url: s.url, format: s.format, state: 'pending', lastAttemptAt: null, lastSuccessAt: null,
          lastOutcome: null, status: null, code: null, error: null, names: null, bytes: null, copy: null, copyInUseSince: null, consecutiveFailures: 0,
        });
      }
    }
    for (const k of [...this.byKey.keys()]) if (!keep.has(k)) this.byKey.delete(k);
    this.order = order;
    const series = (c: KeyedCounter): Set<Series> => new Set(sources.map((s) => c.series(s.category, String(s.index))));
    for (const c of [this.failures, this.up, this.lastSuccess, this.names]) c.retain(series(c));
  }

  /** Whether a source serves its saved copy without the list host having been asked yet. */
  hasPending(): boolean {
    return this.status().some((s) => s.state === 'pending' && s.copy !== null);
  }

  private record(r: UrlReport): void {
    const k = keyOf(r);
    const prev = this.byKey.get(k);
    if (!prev) return;
    const label = [r.category, String(r.index)];
    if (r.outcome === 'saved-copy') {
      // Not an attempt: the saved copy serves until the host is asked, right after startup.
      const copy = r.copy!;
      this.byKey.set(k, { ...prev, names: r.names, bytes: r.bytes, copy, lastSuccessAt: prev.lastSuccessAt ?? copy.checkedAt });
      this.names.series(...label).value = r.names ?? 0;
      this.lastSuccess.series(...label).value = (prev.lastSuccessAt ?? copy.checkedAt) / 1000;
      this.log.info('list served from its saved copy until the list host answers', {
        category: r.category, source: r.index, url: r.url, names: r.names, copyFrom: new Date(copy.fetchedAt).toISOString(),
      });
      return;
    }
    const ok = r.state === 'ok';
    const now = Date.now();
    const next: UrlSourceStatus = {
      ...prev,
      state: r.state,
      lastAttemptAt: r.attemptAt,
      lastSuccessAt: ok ? now : prev.lastSuccessAt ?? r.copy?.checkedAt ?? null,
      lastOutcome: r.outcome,
      status: r.status,
      code: r.code,
      error: r.error,
      names: r.names,
      bytes: r.bytes,
      copy: r.copy,
      copyInUseSince: r.state === 'stale' ? prev.copyInUseSince ?? r.attemptAt : null,
      consecutiveFailures: ok ? 0 : prev.consecutiveFailures + 1,
    };
    this.byKey.set(k, next);
    if (!ok) this.failures.series(...label).value += 1;
    this.up.series(...label).value = ok ? 1 : 0;
    this.lastSuccess.series(...label).value = (next.lastSuccessAt ?? 0) / 1000;
    this.names.series(...label).value = r.names ?? 0;
    this.logReport(r, prev);
    this.emit({ event: 'source', ...next });
  }

  private logReport(r: UrlReport, prev: UrlSourceStatus): void {
    const where = { category: r.category, source: r.index, url: r.url };
    if (r.saveError) this.log.warn('could not save the downloaded list in the state directory; it serves, but a restart cannot fall back to it', { ...where, error: r.saveError });
    if (r.state === 'ok') {
      if (prev.state === 'stale' || prev.state === 'failing') this.log.info('list source works again', { ...where, failures: prev.consecutiveFailures });
      if (r.outcome === 'updated') this.log.info('list downloaded', { ...where, names: r.names, bytes: r.bytes, transferred: r.wireBytes, ms: r.durationMs });
      else this.log.debug('list not modified since the saved copy', { ...where, names: r.names });
      return;
    }
    const what = r.outcome === 'refused' ? 'downloaded list refused' : 'list source failed';
    if (r.state === 'stale') {
      this.log.warn(`${what}; serving the saved copy`, {
        ...where, code: r.code, error: r.error, copyFrom: r.copy ? new Date(r.copy.fetchedAt).toISOString() : null, names: r.names,
      });
    } else {
      this.log.error(`${what} and there is no saved copy: its category has no names from it`, { ...where, code: r.code, error: r.error });
    }
  }
}

function keyOf(s: { category: string; index: number; url: string }): string {
  return `${s.category}\u0000${s.index}\u0000${s.url}`;
}
