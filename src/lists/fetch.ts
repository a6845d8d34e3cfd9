// One HTTP(S) GET of a list, with the limits a server that runs for years needs: a connect
// timeout and a whole-download timeout, a size cap enforced while the bytes arrive (after
// decompression too), a bounded number of redirects (never from https to http), gzip/deflate
// content encodings, and conditional requests (If-None-Match / If-Modified-Since) so that an
// unchanged list costs one small answer. Runs in the list builder process, never on the
// server's event loop. Every failure is a SourceError with a stable code and the URL.
import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { SourceError } from './source';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_REDIRECTS = 5;

export interface FetchOptions {
  /** Time to open the connection (TCP, and TLS for https), per hop. */
  readonly connectTimeoutMs?: number;
  /** Time for everything: redirects, headers and the whole body. */
  readonly timeoutMs: number;
  /** Largest accepted list in bytes, after decompression; checked while streaming. */
  readonly maxBytes: number;
  readonly maxRedirects?: number;
  /** Validators of the copy we hold: sent as If-None-Match / If-Modified-Since. */
  readonly etag?: string | null;
  readonly lastModified?: string | null;
  /** Called as bytes arrive (bytes on the wire so far; the Content-Length, when given). */
  readonly onProgress?: (bytes: number, total: number | null) => void;
}

export type FetchResult =
  | { readonly notModified: true; readonly status: 304; readonly etag: string | null; readonly lastModified: string | null }
  | {
    readonly notModified: false;
    readonly status: number;
    /** The list's bytes, decompressed. */
    readonly body: Buffer;
    /** Bytes received on the wire (compressed, when it was). */
    readonly wireBytes: number;
    readonly etag: string | null;
    readonly lastModified: string | null;
  };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const USER_AGENT = `school-dns/${(require('../../package.json') as { version: string }).version}`;

/** Fetches `url`; throws SourceError (origin: `url`) for every way it can fail. */
export async function fetchUrl(url: string, opts: FetchOptions): Promise<FetchResult> {
  let target = checkUrl(url, url);
  const deadline = Date.now() + opts.timeoutMs;
  const maxRedirects = opts.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const conditional = Boolean(opts.etag || opts.lastModified);
  for (let hop = 0; ; hop++) {
    const res = await exchange(url, target, opts, deadline);
    const status = res.statusCode ?? 0;
    if (REDIRECTS.has(status) && res.headers.location !== undefined) {
      res.destroy();
      if (hop >= maxRedirects) throw new SourceError('SOURCE_UNREADABLE', url, `more than ${maxRedirects} redirects (the last one to ${res.headers.location})`);
      const next = checkUrl(url, res.headers.location, target);
      if (target.protocol === 'https:' && next.protocol === 'http:') {
        throw new SourceError('SOURCE_UNREADABLE', url, `redirected from https to plain http (${next.href}); refused: give the http address in the policy if that is really meant`);
      }
      target = next;
      continue;
    }
    const etag = header(res, 'etag');
    const lastModified = header(res, 'last-modified');
    if (status === 304 && conditional) {
      res.destroy();
      return { notModified: true, status, etag, lastModified };
    }
    if (status < 200 || status > 299) {
      res.destroy();
      throw new SourceError('SOURCE_HTTP_STATUS', url, `HTTP status ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, status);
    }
    const { body, wireBytes } = await readBody(url, res, opts, deadline);
    return { notModified: false, status, body, wireBytes, etag, lastModified };
  }
}

/** A header's value, when it is short printable ASCII (validators are sent back as they came). */
function header(res: http.IncomingMessage, name: string): string | null {
  const v = res.headers[name];
  return typeof v === 'string' && v !== '' && v.length <= 1024 && /^[\t\x20-\x7e]+$/.test(v) ? v : null;
}

/** Parses `text` (relative to `base`, for a Location header) and allows http and https only. */
function checkUrl(origin: string, text: string, base?: URL): URL {
  let u: URL;
  try {
    u = new URL(text, base);
  } catch {
    throw new SourceError('SOURCE_UNREADABLE', origin, base ? `redirected to an invalid address ${JSON.stringify(text.slice(0, 200))}` : 'not a valid URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new SourceError('SOURCE_UNREADABLE', origin, `${base ? 'redirected to an ' : ''}unsupported URL scheme "${u.protocol}" (only http: and https:)`);
  }
  return u;
}

/** Sends one GET and resolves with the response head; the body is left unread. */
function exchange(origin: string, target: URL, opts: FetchOptions, deadline: number): Promise<http.IncomingMessage> {
  const headers: Record<string, string> = {
    'user-agent': USER_AGENT,
    accept: 'text/plain, */*;q=0.5',
    'accept-encoding': 'gzip, deflate',
  };
  if (opts.etag) headers['if-none-match'] = opts.etag;
  if (opts.lastModified) headers['if-modified-since'] = opts.lastModified;
  const mod = target.protocol === 'https:' ? https : http;
  const connectMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: SourceError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      clearTimeout(connect);
      req.destroy();
      reject(e);
    };
    const remaining = Math.max(1, deadline - Date.now());
    const total = setTimeout(() => fail(timeoutError(origin, opts.timeoutMs)), remaining);
    const connect = setTimeout(() => fail(new SourceError('SOURCE_TIMEOUT', origin, `could not connect to ${target.host} within ${connectMs} ms`)), Math.min(connectMs, remaining));
    // No agent: a fresh connection each time, so the connect timeout always measures a connect.
    const req = mod.request(target, { method: 'GET', headers, agent: false });
    req.on('socket', (socket) => {
      socket.once(target.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connect));
    });
    req.on('error', (e) => fail(new SourceError('SOURCE_UNREADABLE', origin, `fetch failed: ${describe(e)}`, undefined, { cause: e })));
    req.on('response', (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settled = true;
      clearTimeout(connect);
      clearTimeout(total);
      resolve(res);
    });
    req.end();
  });
}

/** Reads and decodes the body, enforcing the size cap and the deadline as it streams. */
function readBody(origin: string, res: http.IncomingMessage, opts: FetchOptions, deadline: number): Promise<{ body: Buffer; wireBytes: number }> {
  const max = opts.maxBytes;
  const encoding = (header(res, 'content-encoding') ?? 'identity').toLowerCase().trim();
  const cl = res.headers['content-length'];
  const declared = cl !== undefined && /^\d{1,15}$/.test(cl) ? Number(cl) : NaN;
  if (encoding === 'identity' && Number.isFinite(declared) && declared > max) {
    res.destroy();
    return Promise.reject(new SourceError('SOURCE_TOO_LARGE', origin, `Content-Length ${declared} is over the ${max}-byte limit`));
  }
  let decoder: zlib.Gunzip | zlib.Inflate | null = null;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = zlib.createGunzip();
  else if (encoding === 'deflate') decoder = zlib.createInflate();
  else if (encoding !== 'identity') {
    res.destroy();
    return Promise.reject(new SourceError('SOURCE_UNREADABLE', origin, `unsupported Content-Encoding "${encoding.slice(0, 40)}" (gzip and deflate are understood)`));
  }
  const total = Number.isFinite(declared) ? declared : null;

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let wire = 0;
    let done = false;
    const finish = (err: SourceError | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        res.destroy();
        decoder?.destroy();
        reject(err);
        return;
      }
      let body = Buffer.concat(chunks, size);
      // A list file that is itself gzip (list.txt.gz served as application/gzip, without a
      // Content-Encoding): unpack it, within the same cap.
      if (decoder === null && body.length >= 2 && body[0] === 0x1f && body[1] === 0x8b) {
        try {
          body = zlib.gunzipSync(body, { maxOutputLength: max });
        } catch (e) {
          const tooBig = (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' || /maxOutputLength|buffer/i.test((e as Error).message ?? '');
          reject(tooBig
            ? new SourceError('SOURCE_TOO_LARGE', origin, `more than ${max} bytes once unpacked (the body is a gzip file)`)
            : new SourceError('SOURCE_UNREADABLE', origin, `the body looks like a gzip file but cannot be unpacked: ${describe(e)}`, undefined, { cause: e }));
          return;
        }
      }
      resolve({ body, wireBytes: wire });
    };
    const timer = setTimeout(() => finish(timeoutError(origin, opts.timeoutMs)), Math.max(1, deadline - Date.now()));
    const take = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > max) {
        finish(new SourceError('SOURCE_TOO_LARGE', origin, `more than ${max} bytes (download aborted)`));
        return;
      }
      chunks.push(chunk);
    };
    res.on('data', (chunk: Buffer) => {
      wire += chunk.length;
      opts.onProgress?.(wire, total);
      if (decoder) decoder.write(chunk);
      else take(chunk);
    });
    res.on('error', (e) => finish(new SourceError('SOURCE_UNREADABLE', origin, `the connection broke while reading the body: ${describe(e)}`, undefined, { cause: e })));
    res.on('aborted', () => finish(new SourceError('SOURCE_UNREADABLE', origin, 'the connection broke while reading the body')));
    res.on('close', () => {
      if (!res.complete) finish(new SourceError('SOURCE_UNREADABLE', origin, 'the connection closed before the whole body arrived'));
    });
    if (decoder) {
      decoder.on('data', take);
      decoder.on('error', (e) => finish(new SourceError('SOURCE_UNREADABLE', origin, `the ${encoding} body cannot be decoded: ${describe(e)}`, undefined, { cause: e })));
      decoder.on('end', () => finish(null));
      res.on('end', () => decoder!.end());
    } else {
      res.on('end', () => finish(null));
    }
  });
}

function timeoutError(origin: string, ms: number): SourceError {
  return new SourceError('SOURCE_TIMEOUT', origin, `no complete answer within ${ms} ms`);
}

/** A short message for network errors, with the system code when there is one. */
export function describe(e: unknown): string {
  if (typeof e !== 'object' || e === null) return String(e);
  const { message, code } = e as { message?: unknown; code?: unknown };
  const m = typeof message === 'string' && message !== '' ? message : String(e);
  return typeof code === 'string' && !m.includes(code) ? `${m} (${code})` : m;
}
