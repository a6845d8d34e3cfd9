#!/usr/bin/env node
// lru-cache against src/cache/lru.ts on cache-shaped work: per client query a few probes for
// zones (mostly hits), a probe and maybe a store for the name, more probes for it, and a
// zone probe or store; 100,000 entries at most, as the record cache. Run after `npm run build`:
//
//   node bench/micro/lru.js [rounds=5]
//
// Prints nanoseconds per operation for each, per round after the first (JIT warm-up).
'use strict';
const path = require('node:path');
const { LRUCache } = require('lru-cache');
const { Lru } = require(path.join(__dirname, '..', '..', 'dist', 'cache', 'lru'));

const ROUNDS = Number(process.argv[2] || 5);
const MAX = 100_000;
const names = Array.from({ length: 20_000 }, (_, i) => `www${i}.z${i % 200}.test`);
const zones = Array.from({ length: 200 }, (_, i) => `z${i}.test`);
const OPS_PER_QUERY = 12;
const QUERIES = 60_000;

function work(c) {
  let hits = 0;
  for (let q = 0; q < QUERIES; q++) {
    const n = names[q % names.length];
    for (let z = 0; z < 6; z++) if (c.get(zones[(q + z) % zones.length]) !== undefined) hits++;
    if (c.get(n) === undefined) c.set(n, { n });
    for (let k = 0; k < 4; k++) if (c.get(n) !== undefined) hits++;
    if (c.get(zones[q % zones.length]) === undefined) c.set(zones[q % zones.length], { z: true });
  }
  return hits;
}

const makers = {
  'lru-cache': () => new LRUCache({ max: MAX, dispose: () => undefined }),
  'src/cache/lru': () => new Lru(MAX, () => undefined),
};
for (let round = 0; round < ROUNDS; round++) {
  const line = [];
  for (const [name, make] of Object.entries(makers)) {
    const c = make();
    const t0 = process.hrtime.bigint();
    work(c);
    const ns = Number(process.hrtime.bigint() - t0) / (QUERIES * OPS_PER_QUERY);
    line.push(`${name} ${ns.toFixed(1)} ns/op`);
  }
  if (round > 0) console.log(line.join(', '));
}
