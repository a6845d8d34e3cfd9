#!/usr/bin/env node
// Micro-benchmark of the domain trie (src/lists/trie.ts), on the compiled build (npm run build first):
//  1. builds one trie from every blocklist in /work/shared/data (one category bit per list
//     category, adblock `@@` rules as exceptions) and reports build time, names, nodes, bytes;
//  2. looks up query names straight from wire bytes: the Umbrella top-100k FQDNs (real query
//     names, mostly misses), blocked names (hits) and names under unknown TLDs, and reports
//     ns per lookup;
//  3. checks that lookups allocate nothing: heap used and GC count across 10 M lookups.
// Not a test: numbers vary with the machine's load. `node bench/micro/trie.js [data dir]`.
//
// Also a small library for bench/micro/trie-memory.js: listFiles, loadLists, syntheticNames.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const DIST = path.join(__dirname, '..', '..', 'dist');
const DATA = process.env.SCHOOL_DNS_DATA || path.join(__dirname, '..', '..', '..', 'shared', 'data');

/** Every blocklist file under `dir` (not the benign popular/ lists, licenses, IP lists, UT1 urls/expressions). */
function listFiles(dir = DATA) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  const skip = /\/popular\/|LICENSE|README|MANIFEST|\.json$|\.pdf$|\/ips\/|doh-ip|doh-ips|\/urls$|\/usage$|expression/;
  return out.filter((p) => !skip.test(p));
}

/** A category name for a list file: the UT1 directory, or the file name without its format decorations. */
function categoryOf(file) {
  const ut1 = /\/ut1\/([^/]+)\/domains$/.exec(file);
  if (ut1) return `ut1/${ut1[1]}`;
  const base = path.basename(file).replace(/\.(txt|conf)$/, '').replace(/(-onlydomains|-ags|-nl|-dnsmasq|\.blacklist|-compressed)$/, '');
  return base;
}

let parseList = null;
try {
  ({ parseList } = require(path.join(DIST, 'lists', 'parse.js')));
} catch {
  // dist/lists/parse.js is not there (yet): use the crude extraction below.
}

const NAME = /^[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_][a-z0-9_-]{0,62})*$/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;
const SKIP_NAMES = new Set(['localhost', 'localhost.localdomain', 'local', 'broadcasthost', 'ip6-localhost', 'ip6-loopback', '0.0.0.0']);

/** Crude name extraction when parse.js is absent: enough for plain, hosts, adblock, RPZ, dnsmasq and unbound lines. */
function crudeExtract(text, onEntry) {
  let entries = 0;
  for (let line of text.split('\n')) {
    line = line.trim();
    if (!line || '#!;['.includes(line[0])) continue;
    let names;
    let allow = false;
    let m;
    if ((m = /^(@@)?\|\|([^^/$]+)\^/.exec(line))) {
      allow = m[1] === '@@';
      names = [m[2]];
    } else if ((m = /^(?:server|local|address)=\/([^/]+)\//.exec(line))) names = [m[1]];
    else if ((m = /^local-zone:\s*"([^"]+)"/.exec(line))) names = [m[1]];
    else if ((m = /^(\S+)\s+CNAME\s+\.$/.exec(line))) names = [m[1]];
    else {
      const parts = line.split(/\s+/);
      names = parts.length > 1 && (IPV4.test(parts[0]) || parts[0].includes(':')) ? parts.slice(1) : [parts[0]];
    }
    for (let n of names) {
      if (n[0] === '#') break;
      n = n.toLowerCase();
      if (n.startsWith('*.')) n = n.slice(2);
      if (n.endsWith('.')) n = n.slice(0, -1);
      if (IPV4.test(n) || SKIP_NAMES.has(n) || n.length > 253 || !NAME.test(n)) continue;
      onEntry(n, allow);
      entries++;
    }
  }
  return entries;
}

/**
 * Reads every list and reports each entry through onEntry(name, bit, allow). Categories get bits
 * in order of first appearance (wrapping at 64). Returns { files, entries, categories, parser }.
 */
function loadLists(onEntry, dir = DATA) {
  const bits = new Map();
  let entries = 0;
  const files = listFiles(dir);
  for (const file of files) {
    const cat = categoryOf(file);
    if (!bits.has(cat)) bits.set(cat, bits.size % 64);
    const bit = bits.get(cat);
    const text = fs.readFileSync(file, 'utf8');
    if (parseList) entries += parseList(text, 'auto', (name, allow) => onEntry(name, bit, allow)).entries;
    else entries += crudeExtract(text, (name, allow) => onEntry(name, bit, allow));
  }
  return { files: files.length, entries, categories: bits.size, parser: parseList ? 'dist/lists/parse.js parseList' : 'crude extraction' };
}

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Shapes of names in big blocklists: mostly registrable domains under a few big TLDs, some
// under country second levels, a quarter with one or two subdomain labels.
const TLDS = [
  ['com', 45], ['net', 8], ['org', 5], ['ru', 4], ['de', 3], ['info', 3], ['xyz', 3], ['top', 3], ['online', 2],
  ['co.uk', 2], ['com.br', 2], ['cn', 2], ['fr', 2], ['pl', 2], ['nl', 1], ['it', 1], ['es', 1], ['in', 1],
  ['site', 1], ['club', 1], ['shop', 1], ['vn', 1], ['com.vn', 1], ['io', 1], ['me', 1], ['jp', 1], ['co', 1],
];
const SUBS = ['www', 'm', 'cdn', 'api', 'mail', 'ads', 'img', 'static', 'track', 'app'];

/** Calls onName(name) `count` times with synthetic names (duplicates possible, but rare). */
function syntheticNames(count, onName, seed = 42) {
  const rand = rng(seed);
  const table = [];
  for (const [tld, w] of TLDS) for (let i = 0; i < w; i++) table.push(tld);
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const label = (min, max) => {
    const len = min + Math.floor(rand() * (max - min + 1));
    let s = '';
    for (let i = 0; i < len; i++) {
      s += i > 0 && i < len - 1 && rand() < 0.04 ? '-' : chars[Math.floor(rand() * (rand() < 0.85 ? 26 : 36))];
    }
    return s;
  };
  for (let i = 0; i < count; i++) {
    let name = `${label(5, 15)}.${table[Math.floor(rand() * table.length)]}`;
    const r = rand();
    if (r < 0.15) name = `${SUBS[Math.floor(rand() * SUBS.length)]}.${name}`;
    else if (r < 0.22) name = `${label(3, 10)}.${name}`;
    else if (r < 0.25) name = `${label(2, 8)}.${label(3, 10)}.${name}`;
    onName(name);
  }
}

/** Wire-format names packed into one buffer, with their offsets, as they would sit in packets. */
function packWire(names) {
  const offsets = new Int32Array(names.length);
  let size = 0;
  for (const n of names) size += n.length + 2;
  const buf = Buffer.alloc(size);
  let o = 0;
  names.forEach((n, i) => {
    offsets[i] = o;
    for (const label of n.split('.')) {
      buf[o++] = label.length;
      o += buf.write(label, o, 'latin1');
    }
    buf[o++] = 0;
  });
  return { buf, offsets };
}

async function main() {
  const { TrieBuilder } = require(path.join(DIST, 'lists', 'trie.js'));
  const gcCount = () => {
    const { PerformanceObserver } = require('node:perf_hooks');
    const counter = { n: 0, kinds: [] };
    const kinds = { 1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak-callbacks' };
    const obs = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        counter.n++;
        counter.kinds.push(`${kinds[e.detail?.kind] ?? e.detail?.kind} ${e.duration.toFixed(1)} ms`);
      }
    });
    obs.observe({ entryTypes: ['gc'] });
    return { counter, stop: () => obs.disconnect() };
  };

  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };

  // 1. build (here on the main thread; the server builds in a worker, see trie-memory.js)
  const blocked = [];
  const rand = rng(7);
  let w0 = process.hrtime.bigint();
  let c0 = cpuMs();
  const builder = new TrieBuilder();
  const info = loadLists((name, bit, allow) => {
    builder.add(name, bit, allow);
    if (!allow && rand() < 0.1) blocked.push(name);
  });
  const tRead = [Number(process.hrtime.bigint() - w0) / 1e6, cpuMs() - c0];
  w0 = process.hrtime.bigint();
  c0 = cpuMs();
  const trie = builder.build();
  const tBuild = [Number(process.hrtime.bigint() - w0) / 1e6, cpuMs() - c0];
  // parsing alone, to tell the trie's share of the first figure
  w0 = process.hrtime.bigint();
  c0 = cpuMs();
  loadLists(() => undefined);
  const tParse = [Number(process.hrtime.bigint() - w0) / 1e6, cpuMs() - c0];
  const d = trie.data;
  const ms = ([wall, cpu]) => `${wall.toFixed(0)} ms (CPU ${cpu.toFixed(0)} ms)`;
  console.log(`lists: ${info.files} files, ${info.categories} categories (bits wrap at 64), ${info.entries} entries, read with ${info.parser}`);
  console.log(`trie: ${trie.nameCount} distinct names, ${trie.nodeCount} nodes, ${trie.maskCount} distinct mask pairs, capacity ${d.capacity} (load ${(trie.nodeCount / d.capacity).toFixed(3)})`);
  console.log(`  byteSize ${(trie.byteSize / 1e6).toFixed(1)} MB: table ${(d.table.byteLength / 1e6).toFixed(1)} MB, labels ${(d.labels.byteLength / 1e6).toFixed(1)} MB, masks ${(d.masks.byteLength / 1e3).toFixed(1)} kB; ${(trie.byteSize / trie.nameCount).toFixed(1)} B per name`);
  console.log(`  read + parse + add: ${ms(tRead)}, of which read + parse alone ${ms(tParse)}; build(): ${ms(tBuild)}`);

  // 2. lookups
  const umbrella = fs.readFileSync(path.join(DATA, 'popular', 'umbrella-top-100k.txt'), 'utf8').split('\n').map((s) => s.trim()).filter((s) => s && s.length <= 253);
  const out = new Int32Array(4);
  const umbrellaHits = umbrella.filter((n) => trie.lookupName(n, out));
  const umbrellaMisses = umbrella.filter((n) => !trie.lookupName(n, out));
  // Zipf (s = 1) over the Umbrella ranking: popular names repeat, as in a resolver's traffic.
  const zipf = [];
  {
    const cum = new Float64Array(umbrella.length);
    let acc = 0;
    for (let i = 0; i < umbrella.length; i++) cum[i] = acc += 1 / (i + 1);
    const r = rng(11);
    for (let i = 0; i < 1000000; i++) {
      const x = r() * acc;
      let lo = 0;
      let hi = cum.length - 1;
      while (lo < hi) {
        const m = (lo + hi) >> 1;
        if (cum[m] < x) lo = m + 1;
        else hi = m;
      }
      zipf.push(umbrella[lo]);
    }
  }
  const listed = blocked.slice(0, 100000).map((n, i) => (i % 2 ? `www.${n}` : n)).filter((n) => n.length <= 253);
  const unknownTld = umbrella.slice(0, 20000).map((n) => `${n}.invalid-tld`);
  const sets = [
    ['Umbrella top-100k in rank order, cycled (the typical mix; most lookups miss the CPU caches)', packWire(umbrella)],
    ['Umbrella sampled Zipf(1) by rank (popular names repeat, as in real traffic)', packWire(zipf)],
    ['Umbrella names that match nothing (misses)', packWire(umbrellaMisses)],
    ['Umbrella names that match a list (hits)', packWire(umbrellaHits)],
    ['listed names (hits), half of them under www.', packWire(listed)],
    ['names under an unknown TLD (miss at the first label)', packWire(unknownTld)],
    ['Umbrella top 1000, cycled (everything stays in the CPU caches: the cost of the code alone)', packWire(umbrella.slice(0, 1000))],
  ];
  const run = (set, n) => {
    const { buf, offsets } = set;
    const len = offsets.length;
    let hit = 0;
    for (let i = 0, j = 0; i < n; i++) {
      if (trie.lookupWire(buf, offsets[j], out)) hit++;
      if (++j === len) j = 0;
    }
    return hit;
  };
  for (const [, set] of sets) run(set, 1000000); // warm up the JIT on every shape
  console.log('lookups: lookupWire on wire-format names in one buffer, case folded on the fly; best of 3 runs of 3 M');
  console.log('  (CPU time is the figure to read on a shared machine; wall time includes time other processes took the core)');
  for (const [name, set] of sets) {
    const n = 3000000;
    let bestCpu = Infinity;
    let bestWall = Infinity;
    let hitCount = 0;
    for (let r = 0; r < 3; r++) {
      const c = cpuMs();
      const w = process.hrtime.bigint();
      hitCount = run(set, n);
      bestWall = Math.min(bestWall, Number(process.hrtime.bigint() - w) / n);
      bestCpu = Math.min(bestCpu, ((cpuMs() - c) * 1e6) / n);
    }
    console.log(`  ${bestCpu.toFixed(0).padStart(5)} ns CPU ${bestWall.toFixed(0).padStart(5)} ns wall  hit rate ${(100 * hitCount / n).toFixed(1).padStart(5)} %  ${name}, ${set.offsets.length} names`);
  }

  // 3. allocation: heap used and GC events across 10 M lookups on the typical mix. The GC
  // observer is attached after a pause, so that it only sees collections during the loop.
  global.gc?.();
  const tick = () => new Promise((r) => setTimeout(r, 50));
  await tick();
  const { counter, stop } = gcCount();
  const heap0 = process.memoryUsage().heapUsed;
  const c = cpuMs();
  run(sets[0][1], 10000000);
  const ns = ((cpuMs() - c) * 1e6) / 1e7;
  const heap1 = process.memoryUsage().heapUsed;
  await tick();
  stop();
  console.log(`allocation: 10 M lookups (${ns.toFixed(0)} ns CPU each): heap used ${heap1 - heap0 >= 0 ? '+' : ''}${((heap1 - heap0) / 1024).toFixed(1)} kB, ${counter.n} GC events during the loop${counter.n ? ` (${counter.kinds.join(', ')})` : ''}`);
  console.log('  (10 M lookups allocating even 16 bytes each would be 160 MB of garbage and dozens of scavenges)');
}

module.exports = { listFiles, loadLists, syntheticNames, categoryOf, rng, DATA };

if (require.main === module) main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
