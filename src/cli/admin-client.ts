// How CLI commands talk to a running school-dns: its admin HTTP API, never its files.
import { readFileSync } from 'node:fs';
export const DEFAULT_ADMIN = 'http://127.0.0.1:9153';

export class AdminUnreachable extends Error {
  readonly code = 'ADMIN_UNREACHABLE';
}

/**
 * Headers for every admin request: the token, when the server needs one (admin.tokenFile),
 * from SCHOOL_DNS_ADMIN_TOKEN_FILE (a file, as systemd credentials are) or SCHOOL_DNS_ADMIN_TOKEN.
 */
export function adminHeaders(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let token = env.SCHOOL_DNS_ADMIN_TOKEN?.trim();
  if (env.SCHOOL_DNS_ADMIN_TOKEN_FILE) {
    try {
      token = readFileSync(env.SCHOOL_DNS_ADMIN_TOKEN_FILE, 'utf8').trim();
    } catch (e) {
      throw new AdminUnreachable(`cannot read SCHOOL_DNS_ADMIN_TOKEN_FILE=${env.SCHOOL_DNS_ADMIN_TOKEN_FILE}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A 401 from the server: the token is missing or wrong. */
function unauthorized(base: string): AdminUnreachable {
  return new AdminUnreachable(`school-dns at ${base} refused the request: its admin API needs a token (admin.tokenFile in its configuration). ` +
    'Give the same token in SCHOOL_DNS_ADMIN_TOKEN_FILE (a file) or SCHOOL_DNS_ADMIN_TOKEN.');
}

/**
 * One request to the admin API with the token, if any. A server that cannot be reached, or
 * that refuses the token (401), is an AdminUnreachable with advice; any other status is the caller's.
 */
export async function adminFetch(base: string, method: 'GET' | 'POST', pathAndQuery: string, timeoutMs: number): Promise<Response> {
  const url = new URL(pathAndQuery, base.endsWith('/') ? base : `${base}/`);
  let res: Response;
  try {
    res = await fetch(url, { method, headers: adminHeaders(), signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new AdminUnreachable(`cannot reach school-dns at ${base} (${cause}). Is it running? Is --admin right (the admin.listen address in its configuration)?`, { cause: e });
  }
  if (res.status === 401) throw unauthorized(base);
  return res;
}

/** A response's body: parsed JSON, or the text when it is not JSON. */
export async function bodyOf(res: Response): Promise<unknown> {
  const text = await res.text();
  try { return JSON.parse(text); } catch { return text; }
}

export async function adminRequest(base: string, method: 'GET' | 'POST', pathAndQuery: string, timeoutMs = 120_000): Promise<{ status: number; body: unknown }> {
  const res = await adminFetch(base, method, pathAndQuery, timeoutMs);
  return { status: res.status, body: await bodyOf(res) };
}
