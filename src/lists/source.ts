// Reading a list source: a file (relative to the policy's directory) or an http(s) URL, with a
// timeout and a size cap, reporting failures with a stable code. This is the plain read (used by
// `validate`); the server's builder reads URL sources through fetch-source.ts, which adds the
// on-disk copy, conditional requests and the sanity checks.
import { promises as fs } from 'node:fs';
import { resolve } from 'node:path';
import { fetchUrl } from './fetch';
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
  /** Largest accepted source in bytes (default 64 MiB); a download is aborted as soon as it passes this. */
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

export type SourceErrorCode =
  | 'SOURCE_UNREADABLE' | 'SOURCE_TOO_LARGE' | 'SOURCE_HTTP_STATUS' | 'SOURCE_TIMEOUT'
  /** A downloaded list with less than half the names of the saved copy (refused unless forced). */
  | 'SOURCE_SHRUNK'
  /** A downloaded list whose lines are mostly not entries of its format (an error page, say). */
  | 'SOURCE_NOT_A_LIST';

export const DEFAULT_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

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
  const res = await fetchUrl(url, { timeoutMs, maxBytes });
  if (res.notModified) throw new SourceError('SOURCE_HTTP_STATUS', url, 'HTTP status 304 to a request that was not conditional', 304);
  const text = res.body.toString('utf8');
  const mtimeMs = res.lastModified ? Date.parse(res.lastModified) : NaN;
  return Number.isFinite(mtimeMs) ? { text, origin: url, mtimeMs, size: res.body.length } : { text, origin: url, size: res.body.length };
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
