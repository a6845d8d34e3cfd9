// How CLI commands talk to a running school-dns: its admin HTTP API, never its files.
export const DEFAULT_ADMIN = 'http://127.0.0.1:9153';

export class AdminUnreachable extends Error {
  readonly code = 'ADMIN_UNREACHABLE';
}

export async function adminRequest(base: string, method: 'GET' | 'POST', pathAndQuery: string, timeoutMs = 120_000): Promise<{ status: number; body: unknown }> {
  const url = new URL(pathAndQuery, base.endsWith('/') ? base : `${base}/`);
  let res: Response;
  try {
    res = await fetch(url, { method, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    throw new AdminUnreachable(`cannot reach school-dns at ${base} (${cause}). Is it running? Is --admin right (the admin.listen address in its configuration)?`, { cause: e });
  }
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return { status: res.status, body };
}
