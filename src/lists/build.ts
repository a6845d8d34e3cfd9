// The main-thread side of building lists: start a worker, send it the policy's sources,
// get the finished trie back. One worker per build; it exits when done, so its memory
// goes back with it.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { DomainTrie, TrieData } from './trie';

export interface BuildRequest {
  readonly categories: ReadonlyArray<{ bit: number; category: string; specs: ReadonlyArray<{ path?: string; url?: string; format: string }> }>;
  readonly inline: ReadonlyArray<{ bit: number; name: string }>;
  readonly categoryCount: number;
  readonly baseDir: string;
  readonly expectedNames?: number;
  readonly fetchTimeoutMs?: number;
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
  | { ok: true; trie: TrieData; sources: SourceResult[]; entriesPerCategory: number[]; names: number }
  | { ok: false; error: string };

export interface BuildResult {
  readonly trie: DomainTrie;
  readonly sources: SourceResult[];
  readonly entriesPerCategory: number[];
}

/**
 * The compiled worker script. Under jest the sources run as TypeScript, but a worker needs
 * JavaScript: it then uses the build in dist/ (npm test builds first).
 */
function workerPath(): string {
  if (__filename.endsWith('.js')) return path.join(__dirname, 'build-worker.js');
  return path.resolve(__dirname, '..', '..', 'dist', 'lists', 'build-worker.js');
}

export class BuildError extends Error {
  readonly code = 'LIST_BUILD_FAILED';
}

export function buildInWorker(req: BuildRequest, timeoutMs = 300_000): Promise<BuildResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerPath());
    let settled = false;
    const done = (err: Error | null, result?: BuildResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      if (err) reject(err); else resolve(result as BuildResult);
    };
    const timer = setTimeout(() => done(new BuildError(`building the lists took longer than ${timeoutMs / 1000} s`)), timeoutMs);
    worker.once('message', (res: BuildResponse) => {
      if (!res.ok) return done(new BuildError(`building the lists failed: ${res.error}`));
      done(null, { trie: DomainTrie.fromData(res.trie), sources: res.sources, entriesPerCategory: res.entriesPerCategory });
    });
    worker.once('error', (e) => done(new BuildError(`the list builder crashed: ${e.message}`, { cause: e })));
    worker.once('exit', (code) => done(new BuildError(`the list builder exited (code ${code}) before finishing`)));
    worker.postMessage(req);
  });
}
