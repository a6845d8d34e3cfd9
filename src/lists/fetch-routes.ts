// Admin API for list sources: GET /lists (what each source gave, and what serves) and
// POST /lists/update[?force=1] (fetch every URL source now; newline-delimited JSON progress
// while it runs, then the outcome). `school-dns lists status|update` are their clients.
import type { Route } from '../admin/http';
import type { FilterManager } from '../filter/manager';
import type { ListRefresher } from './fetch-refresh';
import type { UrlProgressEvent, UrlSourceStatus } from './fetch-status';

/** One source as GET /lists shows it; times are ISO 8601. */
export interface ListSourceView {
  readonly kind: 'url' | 'file';
  readonly category: string;
  readonly index: number;
  readonly origin: string;
  readonly format: string;
  /** ok; stale: a URL source fails and its saved copy serves; failing: nothing from it serves; pending: not tried yet. */
  readonly state: 'ok' | 'stale' | 'failing' | 'pending';
  readonly names: number | null;
  readonly bytes: number | null;
  readonly code: string | null;
  readonly error: string | null;
  /** URL sources. */
  readonly status?: number | null;
  readonly lastOutcome?: string | null;
  readonly lastAttemptAt?: string | null;
  readonly lastSuccessAt?: string | null;
  readonly copy?: { readonly fetchedAt: string; readonly checkedAt: string; readonly names: number; readonly size: number } | null;
  readonly copyInUseSince?: string | null;
  readonly consecutiveFailures?: number;
  /** File sources: the file's modification time. */
  readonly modifiedAt?: string | null;
}

export interface ListsStatusBody {
  readonly now: string;
  readonly lists: { readonly names: number; readonly builtAt: string } | null;
  readonly refresh: { readonly intervalSeconds: number | null; readonly jitter: number; readonly nextAt: string | null };
  readonly sources: readonly ListSourceView[];
}

export type ListsUpdateEvent =
  | { readonly event: 'start'; readonly force: boolean; readonly sources: readonly ListSourceView[] }
  | UrlProgressEventView
  | { readonly event: 'done'; readonly ok: boolean; readonly changed: boolean; readonly error: string | null; readonly names: number; readonly durationMs: number; readonly sources: readonly ListSourceView[] };

type UrlProgressEventView =
  | Extract<UrlProgressEvent, { event: 'progress' }>
  | ({ readonly event: 'source' } & ListSourceView);

const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

export function urlView(s: UrlSourceStatus): ListSourceView {
  return {
    kind: 'url', category: s.category, index: s.index, origin: s.url, format: s.format, state: s.state, names: s.names, bytes: s.bytes,
    code: s.code, error: s.error, status: s.status, lastOutcome: s.lastOutcome, lastAttemptAt: iso(s.lastAttemptAt), lastSuccessAt: iso(s.lastSuccessAt),
    copy: s.copy ? { fetchedAt: iso(s.copy.fetchedAt)!, checkedAt: iso(s.copy.checkedAt)!, names: s.copy.names, size: s.copy.size } : null,
    copyInUseSince: iso(s.copyInUseSince), consecutiveFailures: s.consecutiveFailures,
  };
}

/** Every source of the policy in use, in policy order: files from the last build, URLs from their tracker. */
export function listsStatus(manager: FilterManager, refresher: ListRefresher | null): ListsStatusBody {
  const state = manager.state;
  const urls = new Map(manager.urls.status().map((s) => [`${s.category}\u0000${s.index}`, s]));
  const sources: ListSourceView[] = [];
  for (const c of state?.policy.sources ?? []) {
    c.specs.forEach((spec, index) => {
      if (spec.url !== undefined) {
        const u = urls.get(`${c.category}\u0000${index}`);
        if (u) sources.push(urlView(u));
        return;
      }
      const r = state!.sources.find((x) => x.category === c.category && x.origin === spec.path);
      sources.push({
        kind: 'file', category: c.category, index, origin: spec.path ?? '?', format: r?.format ?? spec.format,
        state: r === undefined ? 'pending' : r.error ? 'failing' : 'ok', names: r && !r.error ? r.entries : null, bytes: r?.size ?? null,
        code: r?.error ? (/^([A-Z_]+):/.exec(r.error)?.[1] ?? null) : null, error: r?.error ?? null, modifiedAt: iso(r?.mtimeMs),
      });
    });
  }
  return {
    now: new Date().toISOString(),
    lists: state ? { names: state.trie.nameCount, builtAt: new Date(state.builtAt).toISOString() } : null,
    refresh: {
      intervalSeconds: refresher?.intervalMs == null ? null : Math.round(refresher.intervalMs / 1000),
      jitter: refresher?.jitter ?? 0,
      nextAt: iso(refresher?.nextAt),
    },
    sources,
  };
}

/** Routes for the admin server; they answer 409 when filtering is off. */
export function listRoutes(manager: FilterManager | null, refresher: () => ListRefresher | null): Map<string, Route> {
  const routes = new Map<string, Route>();
  const off = { status: 409, body: { ok: false, error: 'filtering is off (policy.file is null): there are no lists' } };
  routes.set('GET /lists', async () => (manager ? { status: 200, body: listsStatus(manager, refresher()) } : off));
  routes.set('POST /lists/update', async (url) => {
    if (!manager) return off;
    const f = url.searchParams.get('force');
    if (f !== null && !['1', 'true', '0', 'false', ''].includes(f)) {
      return { status: 400, body: { ok: false, error: 'force must be 1 (or true) to accept lists that shrank by more than half, or left out' } };
    }
    const force = f === '1' || f === 'true';
    return {
      status: 200,
      body: null,
      stream: async (send: (e: ListsUpdateEvent) => void) => {
        send({ event: 'start', force, sources: listsStatus(manager, refresher()).sources.filter((s) => s.kind === 'url') });
        const stop = manager.urls.subscribe((e) => send(e.event === 'progress' ? e : { event: 'source', ...urlView(e) }));
        try {
          const r = await manager.reload({ force });
          send({
            event: 'done', ok: r.ok, changed: r.changed, error: r.error ?? null, names: r.names, durationMs: Math.round(r.durationMs),
            sources: listsStatus(manager, refresher()).sources,
          });
        } finally {
          stop();
        }
      },
    };
  });
  return routes;
}
