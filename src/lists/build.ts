// The server's side of building lists: a builder process at the lowest CPU priority gets
// the policy's sources and writes the finished trie to a file, which the server reads
// asynchronously (the I/O runs on libuv's threads) and views as typed arrays without a
// copy, so the event loop only sees a few callbacks.
import { ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DomainTrie } from './trie';
import type { FetchProgress, FetchRequest, FetchResponse, UrlFetchSettings, UrlReport, UrlSourceRef } from './fetch-source';
import type { PolicySpec } from '../policy/types';

/** Asks the builder to read and validate a policy file. */
export interface PolicyRequest {
  readonly kind: 'policy';
  readonly file: string;
}

export type PolicyResponse = { ok: true; text: string; spec: PolicySpec } | { ok: false; error: string };

export interface BuildRequest {
  readonly kind: 'build';
  readonly categories: ReadonlyArray<{ bit: number; category: string; specs: ReadonlyArray<{ path?: string; url?: string; format: string }> }>;
  readonly inline: ReadonlyArray<{ bit: number; name: string }>;
  readonly categoryCount: number;
  readonly baseDir: string;
  readonly expectedNames?: number;
  readonly fetchTimeoutMs?: number;
  /** URL sources are read as the last fetch request prepared them (fetch-source.ts), with these settings. */
  readonly urls?: UrlFetchSettings;
  /** Where the builder writes the trie (set by buildInBuilder). */
  readonly outFile: string;
}

/** The trie as the builder wrote it: table and masks (Int32), then labels (bytes). */
export interface TrieFile {
  readonly path: string;
  readonly version: number;
  readonly capacity: number;
  readonly nodeCount: number;
  readonly nameCount: number;
  readonly maskCount: number;
  readonly tableLength: number;
  readonly masksLength: number;
  readonly labelsLength: number;
}

export interface SourceResult {
  readonly category: string;
  readonly origin: string;
  readonly format: string;
  readonly entries: number;
  readonly allows: number;
  readonly invalid: number;
  readonly invalidSamples: readonly { line: number; reason: string; text: string }[];
  readonly error?: string;
  readonly mtimeMs?: number;
  readonly size?: number;
}

export type BuildResponse =
  | { ok: true; trie: TrieFile; sources: SourceResult[]; entriesPerCategory: number[]; names: number }
  | { ok: false; error: string };

export interface BuildResult {
  readonly trie: DomainTrie;
  readonly sources: SourceResult[];
  readonly entriesPerCategory: number[];
}

/**
 * The compiled builder script. Under jest the sources run as TypeScript, but the builder
 * is a plain node process: it then uses the build in dist/ (npm test builds first).
 */
function builderPath(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'build-worker.js');
  return path.resolve(__dirname, '..', '..', 'dist', 'lists', 'build-worker.js');
}

/** `nice`, when this system has it: every thread of the builder then runs at nice 19. */
const NICE = ['/usr/bin/nice', '/bin/nice'].find((p) => {
  try { accessSync(p, constants.X_OK); return true; } catch { return false; }
});

export class BuildError extends Error {
  readonly code = 'LIST_BUILD_FAILED';
}

let sequence = 0;

/**
 * The builder process, started once and kept: starting a process copies the parent's page
 * tables, which stalls the event loop for tens of milliseconds once the server holds a large
 * trie, so it is started while the server is still small (at the first build) and reused.
 */
class Builder {
  private child: ChildProcess | null = null;
  private pending: ((err: Error | null, res?: BuildResponse | PolicyResponse | FetchResponse) => void) | null = null;
  private onProgress: ((p: FetchProgress) => void) | null = null;
  private stderr = '';

  private start(): ChildProcess {
    const args = [process.execPath, '--expose-gc', builderPath()];
    const child = spawn(NICE ?? args[0], NICE ? ['-n', '19', ...args] : args.slice(1), {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      env: { ...process.env, SCHOOL_DNS_BUILD_RENICE: NICE ? '0' : '1' },
    });
    child.stderr!.on('data', (b: Buffer) => { this.stderr = (this.stderr + String(b)).slice(-4000); });
    // Only the current child settles requests: one stopped or replaced had its request settled then.
    child.on('message', (res: BuildResponse | PolicyResponse | FetchResponse | FetchProgress) => {
      if (this.child !== child) return;
      if ('kind' in res && res.kind === 'progress') this.onProgress?.(res);
      else this.settle(null, res as BuildResponse | PolicyResponse | FetchResponse);
    });
    child.on('error', (e) => {
      if (this.child === child) this.settle(new BuildError(`the list builder could not start: ${e.message}`, { cause: e }));
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      this.settle(new BuildError(`the list builder exited (${signal ?? `code ${code}`}) before finishing${this.stderr ? `: ${this.stderr.trim()}` : ''}`));
    });
    // The builder must never keep the server alive, nor be left behind by it.
    child.unref();
    (child as unknown as { channel?: { unref(): void } }).channel?.unref();
    return child;
  }

  private settle(err: Error | null, res?: BuildResponse | PolicyResponse | FetchResponse): void {
    const p = this.pending;
    this.pending = null;
    p?.(err, res);
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** Requests run one after another (the manager already coalesces its own reloads). */
  run<R extends BuildResponse | PolicyResponse | FetchResponse>(req: BuildRequest | PolicyRequest | FetchRequest, timeoutMs: number, onProgress?: (p: FetchProgress) => void): Promise<R> {
    const result = this.queue.then(() => {
      this.onProgress = onProgress ?? null;
      return this.runNow(req, timeoutMs) as Promise<R>;
    });
    this.queue = result.catch(() => undefined);
    return result;
  }

  private runNow(req: BuildRequest | PolicyRequest | FetchRequest, timeoutMs: number): Promise<BuildResponse | PolicyResponse | FetchResponse> {
    this.child ??= this.start();
    const child = this.child;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.child === child) this.child = null;
        child.kill('SIGKILL'); // a stuck builder is replaced by a fresh one next time
        this.settle(new BuildError(`building the lists took longer than ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending = (err, res) => {
        clearTimeout(timer);
        if (err) reject(err); else resolve(res as BuildResponse | PolicyResponse | FetchResponse);
      };
      child.send(req);
    });
  }

  stop(): void {
    const child = this.child;
    this.child = null;
    child?.kill('SIGTERM');
    this.settle(new BuildError('the list builder was stopped'));
  }
}

const builder = new Builder();

/** Stops the builder process (the server calls this on shutdown). */
export function stopBuilder(): void {
  builder.stop();
}

/** Reads and validates a policy file in the builder process, off the event loop. */
export function readPolicyInBuilder(file: string, timeoutMs = 60_000): Promise<PolicyResponse> {
  return builder.run<PolicyResponse>({ kind: 'policy', file }, timeoutMs);
}

/**
 * Fetches URL sources in the builder process (conditional requests, the on-disk copies, the
 * sanity checks: fetch-source.ts); the build that follows reads them as prepared there.
 */
export async function fetchInBuilder(
  sources: readonly UrlSourceRef[], settings: UrlFetchSettings, onProgress?: (p: FetchProgress) => void,
): Promise<UrlReport[]> {
  // Every source may take its whole connect and download time, one after another.
  const timeoutMs = 60_000 + sources.length * (settings.connectTimeoutMs + settings.downloadTimeoutMs);
  const res = await builder.run<FetchResponse>({ kind: 'fetch', sources, settings }, timeoutMs, onProgress);
  if (!res.ok) throw new BuildError(`fetching the list sources failed: ${res.error}`);
  return res.reports;
}

export function buildInBuilder(request: Omit<BuildRequest, 'outFile' | 'kind'>, timeoutMs = 300_000): Promise<BuildResult> {
  const outFile = path.join(os.tmpdir(), `school-dns-trie-${process.pid}-${++sequence}.bin`);
  return builder.run<BuildResponse>({ ...request, kind: 'build', outFile }, timeoutMs).then(async (res) => {
    if (!res.ok) throw new BuildError(`building the lists failed: ${res.error}`);
    try {
      return { trie: await readTrie(res.trie), sources: res.sources, entriesPerCategory: res.entriesPerCategory };
    } finally {
      await fsp.rm(outFile, { force: true });
    }
  }, async (e) => {
    await fsp.rm(outFile, { force: true });
    throw e;
  });
}

/** Reads the builder's file asynchronously and views its bytes as the trie's arrays (no copy). */
async function readTrie(f: TrieFile): Promise<DomainTrie> {
  const bytes = await fsp.readFile(f.path);
  const expected = (f.tableLength + f.masksLength) * 4 + f.labelsLength;
  if (bytes.length !== expected) throw new BuildError(`the trie file has ${bytes.length} bytes, expected ${expected}`);
  // A file this large is read into its own ArrayBuffer at offset 0, so Int32 views are aligned;
  // copy into a fresh one if it ever is not.
  const buf = bytes.byteOffset % 4 === 0 ? bytes : Buffer.from(bytes);
  const base = buf.byteOffset;
  const table = new Int32Array(buf.buffer, base, f.tableLength);
  const masks = new Int32Array(buf.buffer, base + f.tableLength * 4, f.masksLength);
  const labels = new Uint8Array(buf.buffer, base + (f.tableLength + f.masksLength) * 4, f.labelsLength);
  return DomainTrie.fromData({
    version: f.version, capacity: f.capacity, nodeCount: f.nodeCount, nameCount: f.nameCount, maskCount: f.maskCount,
    table, masks, labels,
  });
}
