#!/usr/bin/env node
// Writes the two dnsperf query files the benchmark uses:
//
//   <dir>/cached.txt    N distinct names  c0.bench.test .. c<N-1>.bench.test, type A.
//                       Every resolver gets one warm-up pass over this file before
//                       the measured run, so every measured query is a cache hit.
//   <dir>/uncached.txt  M distinct names  u0.bench.test .. u<M-1>.bench.test, type A.
//                       dnsperf reads the file in order, so as long as a run sends
//                       fewer than M queries no name repeats and every query has to
//                       go to the upstream. run.sh checks that and warns otherwise.
//
//   node bench/make-queries.js <dir> [cached-count=1000] [uncached-count=3000000]
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [dir, cachedArg, uncachedArg] = process.argv.slice(2);
if (!dir) {
  process.stderr.write('usage: make-queries.js <dir> [cached-count] [uncached-count]\n');
  process.exit(2);
}
const cachedCount = Number(cachedArg || 1000);
const uncachedCount = Number(uncachedArg || 3_000_000);
const ZONE = 'bench.test';

function write(file, prefix, count) {
  const fd = fs.openSync(path.join(dir, file), 'w');
  const CHUNK = 50_000;
  for (let start = 0; start < count; start += CHUNK) {
    const end = Math.min(count, start + CHUNK);
    let s = '';
    for (let i = start; i < end; i++) s += `${prefix}${i}.${ZONE} A\n`;
    fs.writeSync(fd, s);
  }
  fs.closeSync(fd);
}

fs.mkdirSync(dir, { recursive: true });
write('cached.txt', 'c', cachedCount);
write('uncached.txt', 'u', uncachedCount);
process.stderr.write(
  `make-queries: ${cachedCount} cached names, ${uncachedCount} uncached names in ${dir}\n`,
);
