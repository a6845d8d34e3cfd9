// Runs in a child process (started at nice 19 by build.ts): reads every list source of a
// policy, parses it, and builds the domain trie, so a reload of millions of names never
// competes with the event loop that answers queries -- not even through the garbage
// collector's helper threads, which a worker thread would share with the server. The
// finished trie is written to a file that the server reads asynchronously.
import { closeSync, openSync, readlinkSync, writeSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parseList } from './parse';
import { readSource } from './source';
import { clearPrepared, fetchSources, urlSourceText, type FetchRequest, type FetchResponse } from './fetch-source';
import { TrieBuilder, TrieData } from './trie';
import type { BuildRequest, BuildResponse, PolicyRequest, PolicyResponse, SourceResult, TrieFile } from './build';
import { readFileSync } from 'node:fs';
import { parsePolicy } from '../policy/load';

async function build(req: BuildRequest): Promise<BuildResponse> {
  const builder = new TrieBuilder(req.expectedNames);
  const sources: SourceResult[] = [];
  const entriesPerCategory = new Array<number>(req.categoryCount).fill(0);
  for (const cat of req.categories) {
    for (const spec of cat.specs) {
      const origin = spec.path ?? spec.url ?? '?';
      try {
        const src = spec.url !== undefined && req.urls
          ? await urlSourceText(spec.url, spec.format, req.urls)
          : await readSource(spec as never, { baseDir: req.baseDir, timeoutMs: req.fetchTimeoutMs });
        const bit = cat.bit;
        const report = parseList(src.text, spec.format as never, (name, allow) => builder.add(name, bit, allow));
        entriesPerCategory[bit] += report.entries;
        sources.push({
          category: cat.category, origin: src.origin, format: report.format, entries: report.entries, allows: report.allows,
          invalid: report.invalid, invalidSamples: report.invalidSamples, mtimeMs: src.mtimeMs, size: src.size,
        });
      } catch (e) {
        const err = e as { message?: string; code?: string };
        sources.push({
          category: cat.category, origin, format: spec.format, entries: 0, allows: 0, invalid: 0, invalidSamples: [],
          error: `${err.code ? `${err.code}: ` : ''}${err.message ?? String(e)}`,
        });
      }
    }
  }
  for (const n of req.inline) {
    builder.add(n.name, n.bit, false);
    entriesPerCategory[n.bit] += 1;
  }
  clearPrepared();
  const trie = builder.build();
  const file = writeTrie(trie.data, req.outFile);
  return { ok: true, trie: file, sources, entriesPerCategory, names: trie.nameCount };
}

/** Writes the trie's arrays to `path`: table, masks (both Int32), then labels; returns the layout. */
function writeTrie(d: TrieData, path: string): TrieFile {
  const fd = openSync(path, 'w', 0o600);
  try {
    for (const a of [d.table, d.masks, d.labels]) {
      const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
      for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
    }
  } finally {
    closeSync(fd);
  }
  return {
    path, version: d.version, capacity: d.capacity, nodeCount: d.nodeCount, nameCount: d.nameCount, maskCount: d.maskCount,
    tableLength: d.table.length, masksLength: d.masks.length, labelsLength: d.labels.length,
  };
}

/**
 * Reads and validates a policy file here rather than on the server's event loop (a YAML
 * parse of a large policy takes tens of milliseconds); the spec is plain data.
 */
function readPolicy(req: PolicyRequest): PolicyResponse {
  let text: string;
  try {
    text = readFileSync(req.file, 'utf8');
  } catch (e) {
    return { ok: false, error: `cannot read the policy file ${req.file}: ${(e as Error).message}` };
  }
  try {
    return { ok: true, text, spec: parsePolicy(text, req.file) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/**
 * Lowers this process's main thread to nice 19 when build.ts could not start it under
 * `nice` (then the other threads keep normal priority). On Linux, setpriority() with a
 * thread's id applies to that thread; /proc/thread-self names it.
 */
function yieldCpuToQueries(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0) setPriority(tid, 19);
  } catch {
    // not Linux, or not permitted: build at normal priority
  }
}

if (process.send) {
  if (process.env.SCHOOL_DNS_BUILD_RENICE === '1') yieldCpuToQueries();
  // One build at a time (the server sends the next request only after this answer). Between
  // builds, collect what the last one left so the idle process gives its memory back.
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (req: BuildRequest | PolicyRequest | FetchRequest) => {
    if (req.kind === 'policy') {
      process.send!(readPolicy(req));
      return;
    }
    if (req.kind === 'fetch') {
      fetchSources(req, (p) => process.send!(p)).then(
        (res) => process.send!(res),
        (e: Error) => process.send!({ ok: false, error: e?.stack ?? String(e) } satisfies FetchResponse),
      );
      return;
    }
    build(req).then(
      (res) => process.send!(res, () => gc?.()),
      (e: Error) => process.send!({ ok: false, error: e?.stack ?? String(e) } satisfies BuildResponse, () => gc?.()),
    );
  });
  process.on('disconnect', () => process.exit(0)); // the server went away
}
