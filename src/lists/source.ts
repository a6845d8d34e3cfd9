// Reading a list source: a file (relative to the policy's directory) or an http(s) URL.
// Caching, ETag/If-Modified-Since and refresh scheduling are not here; this only reads, with a
// timeout and a size cap, and reports failures with a stable code.
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import type { ListFormat } from './parse';

export interface SourceSpec {
  path?: string;
  url?: string;
  format: ListFormat | 'auto';
}

export interface ReadSourceOptions {
  /** Directory that relative `path`s are resolved against. */
  baseDir: string;
  /** Whole-request timeout for URL sources, headers and body (default 30 s). */
  timeoutMs?: number;
  /** Largest accepted source in bytes (default 50 MB); a download is aborted as soon as it passes this. */
  maxBytes?: number;
}

export interface SourceText {
  text: string;
  /** Absolute path or URL. */
  origin: string;
  /** File modification time; for URLs, the Last-Modified header when the server sent a valid one. */
  mtimeMs?: number;
  /** Size in bytes. */
  size: number;
}

export type SourceErrorCode = 'SOURCE_UNREADABLE' | 'SOURCE_TOO_LARGE' | 'SOURCE_HTTP_STATUS' | 'SOURCE_TIMEOUT';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BYTES = 50 * 1024 * 1024;

/** A source that could not be read. `message` always names the origin. */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    readonly code: SourceErrorCode,
    readonly origin: string,
    message: string,
    /** HTTP status for SOURCE_HTTP_STATUS. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(`${origin}: ${message}`, options);
  }
}

export async function readSource(spec: SourceSpec, opts: ReadSourceOptions): Promise<SourceText> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (spec.path !== undefined && spec.url !== undefined) {
    throw new SourceError('SOURCE_UNREADABLE', spec.url, 'a source has either a path or a url, not both');
  }
  if (spec.path !== undefined) return readFileSource(resolve(opts.baseDir, spec.path), maxBytes);
  if (spec.url !== undefined) return readUrlSource(spec.url, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, maxBytes);
  throw new SourceError('SOURCE_UNREADABLE', '(no path or url)', 'a source needs a path or a url');
}

async function readFileSource(origin: string, maxBytes: number): Promise<SourceText> {
  let st;
  try {
    st = await fs.stat(origin);
  } catch (e) {
    throw new SourceError('SOURCE_UNREADABLE', origin, describe(e), undefined, { cause: e });
  }
  if (!st.isFile()) throw new SourceError('SOURCE_UNREADABLE', origin, 'not a regular file');
  if (st.size > maxBytes) {
    throw new SourceError('SOURCE_TOO_LARGE', origin, `${st.size} bytes is over the ${maxBytes}-byte limit`);
  }
  let buf: Buffer;
  try {
    buf = await fs.readFile(origin);
  } catch (e) {
    throw new SourceError('SOURCE_UNREADABLE', origin, describe(e), undefined, { cause: e });
  }
  // The file may have grown between stat and read.
  if (buf.length > maxBytes) {
    throw new SourceError('SOURCE_TOO_LARGE', origin, `${buf.length} bytes is over the ${maxBytes}-byte limit`);
  }
  return { text: buf.toString('utf8'), origin, mtimeMs: st.mtimeMs, size: buf.length };
}

async function readUrlSource(url: string, timeoutMs: number, maxBytes: number): Promise<SourceText> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SourceError('SOURCE_UNREADABLE', url, 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new SourceError('SOURCE_UNREADABLE', url, `unsupported URL scheme "${parsed.protocol}" (only http: and https:)`);
  }

  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, timeoutMs);
  const timeoutError = (): SourceError => new SourceError('SOURCE_TIMEOUT', url, `no complete answer within ${timeoutMs} ms`);

  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: ac.signal, redirect: 'follow', headers: { accept: 'text/plain, */*;q=0.5' } });
    } catch (e) {
      if (timedOut) throw timeoutError();
      throw new SourceError('SOURCE_UNREADABLE', url, describe(e), undefined, { cause: e });
    }
    if (res.status < 200 || res.status > 299) {
      ac.abort(); // drop the body; we do not want it
      throw new SourceError('SOURCE_HTTP_STATUS', url, `HTTP status ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`, res.status);
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (Number.isFinite(declared) && declared > maxBytes) {
      ac.abort();
      throw new SourceError('SOURCE_TOO_LARGE', url, `Content-Length ${declared} is over the ${maxBytes}-byte limit`);
    }

    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      const reader = res.body.getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          size += value.byteLength;
          if (size > maxBytes) {
            ac.abort();
            throw new SourceError('SOURCE_TOO_LARGE', url, `more than ${maxBytes} bytes (download aborted)`);
          }
          chunks.push(value);
        }
      } catch (e) {
        if (e instanceof SourceError) throw e;
        if (timedOut) throw timeoutError();
        throw new SourceError('SOURCE_UNREADABLE', url, `reading the body: ${describe(e)}`, undefined, { cause: e });
      }
    }
    const text = Buffer.concat(chunks, size).toString('utf8');
    const lm = res.headers.get('last-modified');
    const mtimeMs = lm ? Date.parse(lm) : NaN;
    return Number.isFinite(mtimeMs) ? { text, origin: url, mtimeMs, size } : { text, origin: url, size };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A short message for fs and fetch errors (fetch hides the useful part in `cause`). Duck-typed, not
 * instanceof: errors from another realm (worker, test sandbox) are Errors too.
 */
function describe(e: unknown): string {
  const msg = messageOf(e);
  if (msg === undefined) return String(e);
  const cause = messageOf((e as { cause?: unknown }).cause);
  return cause && cause !== msg ? `${msg}: ${cause}` : msg;
}

function messageOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const m = (e as { message?: unknown }).message;
  return typeof m === 'string' && m !== '' ? m : undefined;
}
