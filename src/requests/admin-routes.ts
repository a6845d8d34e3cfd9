// The admin API for review requests (what `school-dns requests` calls):
//   GET  /requests?status=pending|approved|rejected|revoked|all
//   POST /requests/ID/approve   scope (school-group | school | group), note, by
//   POST /requests/ID/reject    note, by
//   POST /requests/ID/revoke    note, by
// Parameters come in the query string or a JSON object body (the body wins). Answers are JSON;
// 400 for a bad parameter, 404 for an unknown request, 409 for a request in the wrong state
// (or filtering off), 503 when the decision could not be written.
import type http from 'node:http';
import type { Route } from '../admin/http';
import { describeScope } from './approvals';
import { REQUEST_STATUSES, RequestStatus, RequestStore, ReviewRequest } from './store';

/** Largest request body read, in bytes. */
const MAX_BODY = 16 * 1024;
const PARAMS = ['scope', 'note', 'by'] as const;

type Answer = { status: number; body: unknown };

export function requestRoutes(store: RequestStore | null): Map<string, Route> {
  const routes = new Map<string, Route>();
  const off: Answer = { status: 409, body: { ok: false, code: 'FILTERING_OFF', error: 'filtering is off (policy.file is null): there are no review requests' } };

  routes.set('GET /requests', async (url) => {
    if (!store) return off;
    const status = url.searchParams.get('status') ?? 'pending';
    if (status !== 'all' && !(REQUEST_STATUSES as readonly string[]).includes(status)) {
      return bad(`status must be one of ${[...REQUEST_STATUSES, 'all'].join(', ')} (got "${status.slice(0, 40)}")`);
    }
    return { status: 200, body: { status, counts: store.counts(), requests: store.list(status as RequestStatus | 'all') } };
  });

  for (const verb of ['approve', 'reject', 'revoke'] as const) {
    routes.set(`POST /requests/*/${verb}`, async (url, req) => {
      if (!store) return off;
      const idText = url.pathname.split('/')[2] ?? '';
      if (!/^[1-9]\d{0,14}$/.test(idText)) return bad(`"${decodeSafe(idText).slice(0, 40)}" is not a request id (a whole number from 1)`);
      const params = await readParams(url, req);
      if (typeof params === 'string') return bad(params);
      if (verb !== 'approve' && params.scope !== undefined) return bad('scope is only given when approving');
      try {
        const r = await store[verb](Number(idText), params);
        return { status: 200, body: { ok: true, message: outcome(verb, r), request: r } };
      } catch (e) {
        const code = (e as { code?: string }).code;
        const status = code === 'INVALID' ? 400 : code === 'NOT_FOUND' ? 404 : code === 'NOT_PENDING' || code === 'NOT_APPROVED' ? 409 : code === 'STORE_FAILED' ? 503 : 0;
        if (status === 0) throw e;
        return { status, body: { ok: false, code, error: (e as Error).message } };
      }
    });
  }
  return routes;
}

function bad(error: string): Answer {
  return { status: 400, body: { ok: false, code: 'INVALID', error } };
}

function outcome(verb: 'approve' | 'reject' | 'revoke', r: ReviewRequest): string {
  if (verb === 'approve') return `approved request #${r.id}: ${r.name} (and its subdomains) now resolves for ${describeScope({ scope: r.scope!, school: r.school, group: r.group })}`;
  if (verb === 'reject') return `rejected request #${r.id} (${r.name}); nothing else changed`;
  return `revoked the approval of request #${r.id}: ${r.name} is filtered again for ${describeScope({ scope: r.scope!, school: r.school, group: r.group })}`;
}

function decodeSafe(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** scope, note and by from the query string, overridden by a JSON object body; a string says what is wrong. */
async function readParams(url: URL, req: http.IncomingMessage): Promise<Record<(typeof PARAMS)[number], string | undefined> | string> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of url.searchParams) {
    if (!(PARAMS as readonly string[]).includes(k)) return `unknown parameter "${k.slice(0, 40)}"; known: ${PARAMS.join(', ')}`;
    out[k] = v;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) return `the request body is larger than ${MAX_BODY} bytes`;
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text !== '') {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return 'the request body must be a JSON object, such as {"scope": "school", "note": "needed for class"}';
    }
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return 'the request body must be a JSON object';
    for (const [k, v] of Object.entries(body)) {
      if (!(PARAMS as readonly string[]).includes(k)) return `unknown parameter "${k.slice(0, 40)}"; known: ${PARAMS.join(', ')}`;
      if (v !== null && typeof v !== 'string') return `${k} must be text`;
      out[k] = v ?? undefined;
    }
  }
  return out as Record<(typeof PARAMS)[number], string | undefined>;
}
