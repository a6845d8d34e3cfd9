// The admin API for the query log (what `school-dns report` calls):
//   GET /report?since=7d[&school=NAME][&group=NAME][&top=10]
// The blocked queries of the last `since` (a duration: 7d, 24h, 30m, 1d12h), per school and age
// group: how many, and the most blocked names and categories. 400 for a bad parameter, 409 when
// the log is off, 503 when its writer cannot answer.
import type { Route } from '../admin/http';
import { formatDuration, parseDuration } from './duration';
import type { QueryLog } from './querylog';

export const DEFAULT_SINCE = '7d';
export const DEFAULT_TOP = 10;
export const MAX_TOP = 1000;
const MAX_LABEL = 200;

export interface ReportBody {
  readonly ok: true;
  /** ISO 8601 times of the window. */
  readonly since: string;
  readonly until: string;
  /** The window as given, normalised ("7d"). */
  readonly window: string;
  readonly school: string | null;
  readonly group: string | null;
  readonly top: number;
  readonly blocked: number;
  readonly groups: {
    readonly school: string;
    readonly group: string;
    readonly blocked: number;
    readonly categories: { readonly category: string; readonly count: number }[];
    readonly names: { readonly name: string; readonly count: number }[];
  }[];
  /** The oldest record kept (any action), or null when the log is empty. */
  readonly oldest: string | null;
  readonly retentionDays: number;
  readonly allQueries: boolean;
  /** Since the server started: records dropped (queue full) and failed to write. */
  readonly dropped: number;
  readonly failed: number;
}

type Answer = { status: number; body: unknown };

/**
 * @param log the running log, or null
 * @param offReason why there is none (said in the 409 answer)
 */
export function reportRoutes(log: QueryLog | null, offReason: string, settings: { retentionDays: number; allQueries: boolean }, now: () => number = Date.now): Map<string, Route> {
  const routes = new Map<string, Route>();
  routes.set('GET /report', async (url): Promise<Answer> => {
    if (log === null) return { status: 409, body: { ok: false, code: 'QUERYLOG_OFF', error: `the query log is off: ${offReason}` } };
    const p = url.searchParams;
    for (const key of p.keys()) {
      if (!['since', 'school', 'group', 'top'].includes(key)) return bad(`unknown parameter "${key.slice(0, 40)}": give since, school, group, top`);
    }
    let windowMs: number;
    try {
      windowMs = parseDuration(p.get('since') ?? DEFAULT_SINCE);
    } catch (e) {
      if ((e as { code?: string }).code === 'BAD_DURATION') return bad(`since: ${(e as Error).message}`);
      throw e;
    }
    const topText = p.get('top') ?? String(DEFAULT_TOP);
    if (!/^\d{1,4}$/.test(topText) || Number(topText) < 1 || Number(topText) > MAX_TOP) return bad(`top must be a whole number from 1 to ${MAX_TOP} (got "${topText.slice(0, 20)}")`);
    const label = (k: 'school' | 'group'): string | null | Answer => {
      const v = p.get(k);
      if (v === null) return null;
      if (v.trim() === '' || v.length > MAX_LABEL) return bad(`${k} must be a name from the policy, 1 to ${MAX_LABEL} characters`);
      return v;
    };
    const school = label('school');
    if (typeof school === 'object' && school !== null) return school;
    const group = label('group');
    if (typeof group === 'object' && group !== null) return group;
    const until = now();
    const since = until - windowMs;
    try {
      const top = Number(topText);
      const data = await log.report({ since, until, school, group, top });
      const body: ReportBody = {
        ok: true, since: new Date(since).toISOString(), until: new Date(until).toISOString(), window: formatDuration(windowMs),
        school, group, top, blocked: data.blocked, groups: data.groups,
        oldest: data.oldest === null ? null : new Date(data.oldest).toISOString(),
        retentionDays: settings.retentionDays, allQueries: settings.allQueries, dropped: log.dropped, failed: log.failed,
      };
      return { status: 200, body };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'QUERYLOG_DOWN' || code === 'QUERYLOG_TIMEOUT') return { status: 503, body: { ok: false, code, error: (e as Error).message } };
      throw e;
    }
  });
  return routes;
}

function bad(error: string): Answer {
  return { status: 400, body: { ok: false, code: 'INVALID', error } };
}
