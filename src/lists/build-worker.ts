// Runs in a worker thread: reads every list source of a policy, parses it, and builds the
// domain trie, so a reload of millions of names never stalls the event loop that answers
// queries. The finished trie goes back as transferred ArrayBuffers (no copy).
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { parseList } from './parse';
import { readSource } from './source';
import { TrieBuilder } from './trie';
import type { BuildRequest, BuildResponse, SourceResult } from './build';

async function build(req: BuildRequest): Promise<BuildResponse> {
  const builder = new TrieBuilder(req.expectedNames);
  const sources: SourceResult[] = [];
  const entriesPerCategory = new Array<number>(req.categoryCount).fill(0);
  for (const cat of req.categories) {
    for (const spec of cat.specs) {
      const origin = spec.path ?? spec.url ?? '?';
      try {
        const src = await readSource(spec as never, { baseDir: req.baseDir, timeoutMs: req.fetchTimeoutMs });
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
  const trie = builder.build();
  return { ok: true, trie: trie.data, sources, entriesPerCategory, names: trie.nameCount };
}

/**
 * Lowers this thread's CPU priority (nice 19) so that on a small machine the event loop
 * answering queries always wins the CPU over a rebuild. On Linux, setpriority() with a
 * thread's id applies to that thread alone; /proc/thread-self names it. Elsewhere: no-op.
 */
function yieldCpuToQueries(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (tid > 0 && tid !== process.pid) setPriority(tid, 19);
  } catch {
    // not Linux, or not permitted: build at normal priority
  }
}

if (parentPort) {
  yieldCpuToQueries();
  const port = parentPort;
  port.on('message', (req: BuildRequest) => {
    build(req).then(
      (res) => port.postMessage(res, res.ok ? collectBuffers(res.trie) : []),
      (e: Error) => port.postMessage({ ok: false, error: e?.stack ?? String(e) } satisfies BuildResponse),
    );
  });
}

/** Every distinct ArrayBuffer among the typed arrays of the trie data. */
function collectBuffers(data: unknown): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const v of Object.values(data as Record<string, unknown>)) {
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) seen.add(v.buffer);
  }
  return [...seen];
}
