#!/usr/bin/env node
// Memory of the domain trie, loaded the way the server loads it: a worker thread reads and
// parses the lists and builds the trie, transfers the finished typed arrays to the main thread
// (zero copy) and is terminated; then the main thread forces GC and reports the resident set of
// the whole process against the targets:
//   real       every list in /work/shared/data together (~1.5 M distinct names; topped up with
//              synthetic names if fewer): RSS at most 200 MB
//   synthetic  5 M synthetic names (see syntheticNames in trie.js): RSS at most 500 MB
// It also reports the peak RSS while building (sampled every 10 ms, the worker included) and
// how busy the main thread's event loop was meanwhile, and how late its timers ran.
//
//   node bench/micro/trie-memory.js                    both cases, each in a fresh process
//   node --expose-gc bench/micro/trie-memory.js real   one case in this process
//   ... synthetic [--presize]                          --presize passes the expected name count
//                                                      to TrieBuilder (no regrowing while adding)
// Needs the compiled build (npm run build). Not a test: figures vary with the machine.
'use strict';
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Worker } = require('node:worker_threads');
const { monitorEventLoopDelay, performance } = require('node:perf_hooks');

const TRIE = path.join(__dirname, '..', '..', 'dist', 'lists', 'trie.js');
const BENCH = path.join(__dirname, 'trie.js');
const CASES = {
  real: { targetNames: 1500000, targetRss: 200 },
  synthetic: { targetNames: 5000000, targetRss: 500 },
};
const MB = (b) => `${(b / 1e6).toFixed(1)} MB`; // decimal MB, also for the targets

// Runs in the worker: everything the server's list builder does, then hands the arrays over.
const WORKER = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { TrieBuilder } = require(workerData.trie);
const bench = require(workerData.bench);
const { mode, targetNames, presize } = workerData;
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const t0 = Date.now();
const c0 = cpu();
const builder = new TrieBuilder(presize ? targetNames : 0);
const stats = { mode, realNames: 0, syntheticNames: 0, lists: null };
if (mode === 'real') {
  stats.lists = bench.loadLists((name, bit, allow) => builder.add(name, bit, allow));
  stats.realNames = builder.names;
} else {
  const pick = bench.rng(5);
  bench.syntheticNames(targetNames, (name) => builder.add(name, Math.floor(pick() * 24), pick() < 0.01));
}
// Top up to the target with synthetic names (only if the real lists hold fewer).
for (let seed = 100; builder.names < targetNames; seed++) {
  const before = builder.names;
  bench.syntheticNames(targetNames - builder.names, (name) => builder.add(name, 63), seed);
  stats.syntheticNames += builder.names - before;
}
stats.addMs = Date.now() - t0;
stats.addCpuMs = cpu() - c0;
const t1 = Date.now();
const c1 = cpu();
const trie = builder.build();
stats.buildMs = Date.now() - t1;
stats.buildCpuMs = cpu() - c1;
stats.workerHeapUsed = process.memoryUsage().heapUsed;
parentPort.postMessage({ data: trie.data, stats }, trie.transferables());
`;

async function runCase(mode, presize) {
  const { DomainTrie } = require(TRIE);
  const spec = CASES[mode];
  if (!spec) throw new Error(`unknown case ${mode} (real | synthetic)`);
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const settle = async () => {
    for (let i = 0; i < 3; i++) {
      global.gc();
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await settle();
  const base = process.memoryUsage();

  // The event loop's delay with nothing to do, for comparison: on a shared, loaded machine the
  // OS alone makes timers late by tens of ms.
  let peakRss = base.rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 10);
  const idle = monitorEventLoopDelay({ resolution: 5 });
  idle.enable();
  await new Promise((r) => setTimeout(r, 2000));
  idle.disable();

  // Peak RSS, event-loop delay and the main thread's busy share while the worker builds.
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const elu0 = performance.eventLoopUtilization();

  const t0 = Date.now();
  const worker = new Worker(WORKER, { eval: true, workerData: { trie: TRIE, bench: BENCH, mode, targetNames: spec.targetNames, presize } });
  const msg = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code}`)));
  });
  const r0 = process.hrtime.bigint();
  const trie = DomainTrie.fromData(msg.data);
  const fromDataUs = Number(process.hrtime.bigint() - r0) / 1e3;
  const r1 = process.hrtime.bigint();
  DomainTrie.fromData(msg.data);
  const fromDataAgainUs = Number(process.hrtime.bigint() - r1) / 1e3;
  const totalMs = Date.now() - t0;
  const elu = performance.eventLoopUtilization(elu0);
  await worker.terminate();
  delay.disable();
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  await settle();
  const mem = process.memoryUsage();

  // Sanity: the trie works on the main thread.
  const out = new Int32Array(4);
  const probe = mode === 'real' ? ['www.pornhub.com', 'ads.doubleclick.net', 'www.wikipedia.org'] : [];
  const probes = probe.map((n) => `${n}: ${trie.lookupName(n, out) ? `bits ${[...out].map((w) => (w >>> 0).toString(16)).join(',')}` : 'no match'}`);

  const s = msg.stats;
  const ok = mem.rss <= spec.targetRss * 1e6;
  console.log(`== ${mode}: ${trie.nameCount} distinct names (${s.realNames ? `${s.realNames} real from ${s.lists.files} lists` : 'synthetic'}${s.realNames && s.syntheticNames ? ` + ${s.syntheticNames} synthetic top-up` : ''}${s.realNames && !s.syntheticNames ? ', no top-up needed' : ''}), ${trie.nodeCount} nodes${presize ? ', builder presized' : ''}`);
  console.log(`   RSS after load ${MB(mem.rss)} (target ${spec.targetRss} MB: ${ok ? 'met' : 'MISSED'}); before the build ${MB(base.rss)}; peak while building ${MB(peakRss)}`);
  console.log(`   heap used ${MB(mem.heapUsed)} (before ${MB(base.heapUsed)}), trie byteSize ${MB(trie.byteSize)} (${(trie.byteSize / trie.nameCount).toFixed(1)} B/name)`);
  console.log(`   worker: add ${s.addMs} ms (CPU ${s.addCpuMs.toFixed(0)} ms), build() ${s.buildMs} ms (CPU ${s.buildCpuMs.toFixed(0)} ms), heap used at the end ${MB(s.workerHeapUsed)}; start to trie on main thread ${totalMs} ms; fromData ${fromDataUs.toFixed(0)} µs (a second call: ${fromDataAgainUs.toFixed(0)} µs)`);
  console.log(`   main event loop while building: busy ${(elu.active).toFixed(0)} ms of ${(elu.idle + elu.active).toFixed(0)} ms (utilization ${(100 * elu.utilization).toFixed(2)} %, including the RSS sampler every 10 ms); timer delay max ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms (idle for 2 s before the build: max ${(idle.max / 1e6).toFixed(1)} ms, p99 ${(idle.percentile(99) / 1e6).toFixed(1)} ms)`);
  if (probes.length) console.log(`   lookups on the main thread: ${probes.join('; ')}`);
  return ok;
}

async function main() {
  const args = process.argv.slice(2);
  const presize = args.includes('--presize');
  const mode = args.find((a) => !a.startsWith('--'));
  if (mode) {
    const ok = await runCase(mode, presize);
    if (!ok) process.exitCode = 1;
    return;
  }
  // Each case in a fresh process, so that one does not inherit the other's heap.
  let failed = false;
  for (const m of Object.keys(CASES)) {
    try {
      execFileSync(process.execPath, ['--expose-gc', __filename, m, ...args], { stdio: 'inherit' });
    } catch {
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
