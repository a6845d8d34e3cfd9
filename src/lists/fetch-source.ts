// URL list sources in the builder process: fetch each one (conditionally, from the saved copy's
// validators), check what came, keep the last good version on disk, and decide what the lists
// are built from: the new download, the saved copy (unchanged, or because the download failed
// or was refused), or nothing (no copy yet). The server gets one report per source; the texts
// stay here until the build that follows asks for them.
import { fetchUrl } from './fetch';
import { CopyMeta, readCopyMeta, readCopyText, sha256, touchCopy, writeCopy } from './fetch-copy';
import { parseList, type ListFormat } from './parse';
import { SourceError, type SourceText } from './source';

export interface UrlSourceRef {
  readonly category: string;
  /** Position among the category's sources (0-based): the `source` metric label. */
  readonly index: number;
  readonly url: string;
  readonly format: string;
}

export interface UrlFetchSettings {
  /** Where the copies are kept (<state>/lists); null keeps none (no conditional requests, no fallback). */
  readonly cacheDir: string | null;
  readonly connectTimeoutMs: number;
  readonly downloadTimeoutMs: number;
  readonly maxBytes: number;
  readonly maxRedirects: number;
  /** Accept a download that fails the sanity checks (shrunk by more than half, mostly not list lines). */
  readonly force: boolean;
  /**
   * Use a saved copy as it is, without asking the list host: the first load at startup, so the
   * server never waits for the network when it has something to serve (a refresh follows at once).
   */
  readonly preferCopy?: boolean;
}

/** What a FilterManager uses when it is given nothing: no copies kept, the defaults of the `lists` config section. */
export const DEFAULT_URL_SETTINGS: Omit<UrlFetchSettings, 'force'> = Object.freeze({
  cacheDir: null,
  connectTimeoutMs: 10_000,
  downloadTimeoutMs: 600_000,
  maxBytes: 64 * 1024 * 1024,
  maxRedirects: 5,
});

/**
 * ok: the list host answered with a good list (or "not modified"); stale: it failed, the saved
 * copy serves; failing: it failed and nothing serves; pending: not asked yet (the saved copy serves).
 */
export type UrlState = 'ok' | 'stale' | 'failing' | 'pending';

export interface UrlReport {
  readonly category: string;
  readonly index: number;
  readonly url: string;
  /** When this attempt started (Unix ms). */
  readonly attemptAt: number;
  readonly durationMs: number;
  /** saved-copy: the host was not asked (preferCopy). */
  readonly outcome: 'updated' | 'not-modified' | 'refused' | 'failed' | 'saved-copy';
  readonly state: UrlState;
  /** HTTP status of the list host's answer, when one came. */
  readonly status: number | null;
  /** Stable error code (SOURCE_*) and message when the outcome is refused or failed. */
  readonly code: string | null;
  readonly error: string | null;
  /** Entries in the version that serves (null when nothing serves). */
  readonly names: number | null;
  /** Bytes of the version that serves. */
  readonly bytes: number | null;
  /** Bytes that came over the network this time. */
  readonly wireBytes: number;
  /** The saved copy after this attempt. */
  readonly copy: { readonly fetchedAt: number; readonly checkedAt: number; readonly names: number; readonly size: number } | null;
  /** Identity of the text that serves (sha256), null when nothing does: equal ids, nothing to rebuild. */
  readonly id: string | null;
  /** Why a good download could not be saved to disk (it still serves). */
  readonly saveError: string | null;
}

export interface FetchRequest {
  readonly kind: 'fetch';
  readonly sources: readonly UrlSourceRef[];
  readonly settings: UrlFetchSettings;
}

export type FetchResponse = { ok: true; reports: UrlReport[] } | { ok: false; error: string };

/** Sent by the builder while a fetch request runs: bytes so far, or a finished source. */
export interface FetchProgress {
  readonly kind: 'progress';
  readonly category: string;
  readonly index: number;
  readonly url: string;
  readonly bytes: number;
  readonly total: number | null;
  readonly done?: UrlReport;
}

/** What the next build reads for a URL: the text, the saved copy, or an error. */
type Prepared =
  | { readonly kind: 'text'; readonly text: string; readonly size: number; readonly mtimeMs?: number }
  | { readonly kind: 'copy'; readonly mtimeMs?: number }
  | { readonly kind: 'none'; readonly code: string; readonly message: string };

const prepared = new Map<string, Prepared>();
const key = (url: string, format: string): string => `${url}\u0000${format}`;

/** Progress messages at most this often per source. */
const PROGRESS_EVERY_MS = 200;

/** Fetches every source in turn (one list host at a time is plenty). */
export async function fetchSources(req: FetchRequest, progress: (p: FetchProgress) => void): Promise<FetchResponse> {
  prepared.clear();
  const reports: UrlReport[] = [];
  for (const s of req.sources) {
    let last = 0;
    const report = await prepareUrlSource(s, req.settings, (bytes, total) => {
      const now = Date.now();
      if (now - last < PROGRESS_EVERY_MS) return;
      last = now;
      progress({ kind: 'progress', category: s.category, index: s.index, url: s.url, bytes, total });
    });
    progress({ kind: 'progress', category: s.category, index: s.index, url: s.url, bytes: report.wireBytes, total: null, done: report });
    reports.push(report);
  }
  return { ok: true, reports };
}

/** Forgets the prepared texts (after a build, so their memory goes back). */
export function clearPrepared(): void {
  prepared.clear();
}

/**
 * The text a build uses for a URL source, as the last fetch prepared it. A build with no
 * fetch before it (the builder was restarted in between) fetches now.
 */
export async function urlSourceText(url: string, format: string, settings: UrlFetchSettings): Promise<SourceText> {
  let p = prepared.get(key(url, format));
  if (p === undefined) {
    await prepareUrlSource({ category: '', index: 0, url, format }, settings);
    p = prepared.get(key(url, format))!;
  }
  if (p.kind === 'text') return { text: p.text, origin: url, size: p.size, mtimeMs: p.mtimeMs };
  if (p.kind === 'copy') {
    const buf = await readCopyText(settings.cacheDir!, url);
    return { text: buf.toString('utf8'), origin: url, size: buf.length, mtimeMs: p.mtimeMs };
  }
  throw Object.assign(new Error(p.message), { code: p.code });
}

/** One source: fetch, check, save, and decide what serves. Never throws. */
export async function prepareUrlSource(
  s: UrlSourceRef, settings: UrlFetchSettings, onProgress?: (bytes: number, total: number | null) => void,
): Promise<UrlReport> {
  const attemptAt = Date.now();
  const dir = settings.cacheDir;
  let meta = dir ? await readCopyMeta(dir, s.url) : null;
  let wireBytes = 0;
  const base = { category: s.category, index: s.index, url: s.url, attemptAt };
  const copyOf = (m: CopyMeta | null): UrlReport['copy'] => (m ? { fetchedAt: m.fetchedAt, checkedAt: m.checkedAt, names: m.names, size: m.size } : null);
  const copyMtime = (m: CopyMeta): number | undefined => {
    const t = m.lastModified ? Date.parse(m.lastModified) : NaN;
    return Number.isFinite(t) ? t : undefined;
  };

  /** The download failed or was refused: the saved copy serves, if there is one. */
  const fallBack = (outcome: 'refused' | 'failed', e: unknown, status: number | null): UrlReport => {
    const code = (e as { code?: string }).code ?? 'SOURCE_UNREADABLE';
    const error = errorText(e, s.url);
    if (meta) {
      prepared.set(key(s.url, s.format), { kind: 'copy', mtimeMs: copyMtime(meta) });
    } else {
      prepared.set(key(s.url, s.format), { kind: 'none', code, message: `${error}; no saved copy to use instead` });
    }
    return {
      ...base, durationMs: Date.now() - attemptAt, outcome, state: meta ? 'stale' : 'failing', status, code, error,
      names: meta?.names ?? null, bytes: meta?.size ?? null, wireBytes, copy: copyOf(meta), id: meta?.sha256 ?? null, saveError: null,
    };
  };

  if (settings.preferCopy && meta) {
    prepared.set(key(s.url, s.format), { kind: 'copy', mtimeMs: copyMtime(meta) });
    return {
      ...base, durationMs: 0, outcome: 'saved-copy', state: 'pending', status: null, code: null, error: null,
      names: meta.names, bytes: meta.size, wireBytes: 0, copy: copyOf(meta), id: meta.sha256, saveError: null,
    };
  }

  let res;
  try {
    res = await fetchUrl(s.url, {
      connectTimeoutMs: settings.connectTimeoutMs, timeoutMs: settings.downloadTimeoutMs, maxBytes: settings.maxBytes,
      maxRedirects: settings.maxRedirects, etag: meta?.etag, lastModified: meta?.lastModified,
      onProgress: (bytes, total) => {
        wireBytes = bytes;
        onProgress?.(bytes, total);
      },
    });
  } catch (e) {
    return fallBack('failed', e, (e as { status?: number }).status ?? null);
  }

  if (res.notModified) {
    // Only sent when we hold a copy (the request was conditional).
    let saveError: string | null = null;
    try {
      meta = await touchCopy(dir!, meta!, Date.now(), res.etag, res.lastModified);
    } catch (e) {
      saveError = errorText(e, s.url);
    }
    const m = meta!;
    prepared.set(key(s.url, s.format), { kind: 'copy', mtimeMs: copyMtime(m) });
    return {
      ...base, durationMs: Date.now() - attemptAt, outcome: 'not-modified', state: 'ok', status: 304, code: null, error: null,
      names: m.names, bytes: m.size, wireBytes, copy: copyOf(m), id: m.sha256, saveError,
    };
  }

  const text = res.body.toString('utf8');
  let names: number;
  try {
    const report = parseList(text, s.format as ListFormat | 'auto', () => undefined);
    names = report.entries;
    if (!settings.force && report.invalid > report.entries) {
      const first = report.invalidSamples[0];
      throw new SourceError('SOURCE_NOT_A_LIST', s.url,
        `${report.invalid} lines are not ${report.format} list entries and only ${report.entries} are${first ? ` (line ${first.line}: ${first.reason})` : ''}; not used (an error page?). If this is right, run "school-dns lists update --force"`);
    }
    if (!settings.force && meta && meta.format === s.format && names * 2 < meta.names) {
      throw new SourceError('SOURCE_SHRUNK', s.url,
        `has ${names} names, less than half of the ${meta.names} in the copy from ${new Date(meta.fetchedAt).toISOString()}; not used. If the list really shrank, run "school-dns lists update --force"`);
    }
  } catch (e) {
    return fallBack('refused', e, res.status);
  }

  const now = Date.now();
  const next: CopyMeta = {
    version: 1, url: s.url, etag: res.etag, lastModified: res.lastModified, fetchedAt: now, checkedAt: now,
    size: res.body.length, names, sha256: sha256(res.body), format: s.format,
  };
  let saveError: string | null = null;
  if (dir) {
    try {
      await writeCopy(dir, res.body, next);
    } catch (e) {
      saveError = errorText(e, s.url);
    }
  }
  const lm = res.lastModified ? Date.parse(res.lastModified) : NaN;
  const mtimeMs = Number.isFinite(lm) ? lm : undefined;
  // Saved: the build reads it back from disk, so the text is not held here meanwhile.
  prepared.set(key(s.url, s.format), dir && saveError === null ? { kind: 'copy', mtimeMs } : { kind: 'text', text, size: res.body.length, mtimeMs });
  meta = dir && saveError === null ? next : meta;
  return {
    ...base, durationMs: Date.now() - attemptAt, outcome: 'updated', state: 'ok', status: res.status, code: null, error: null,
    names, bytes: res.body.length, wireBytes: res.wireBytes, copy: copyOf(meta), id: next.sha256, saveError,
  };
}

/** The message of an error without the "URL: " prefix SourceError puts in front. */
function errorText(e: unknown, url: string): string {
  const m = (e as { message?: unknown }).message;
  const text = typeof m === 'string' ? m : String(e);
  return text.startsWith(`${url}: `) ? text.slice(url.length + 2) : text;
}
