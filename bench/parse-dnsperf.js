#!/usr/bin/env node
// Turns the output of one `dnsperf -v` run into a JSON summary on stdout.
//
//   node bench/parse-dnsperf.js <dnsperf-output-file> [extra-fields-json]
//
// From dnsperf's own statistics block: queries sent/completed/lost, queries per
// second, average/min/max latency, latency stddev, response codes, run time.
// From the per-response lines that -v prints ("> NOERROR name A 0.000123"):
// latency percentiles p50/p90/p99/p99.9, at microsecond resolution, over the
// completed queries (dnsperf 2.10 has no latency histogram of its own).
// Timed-out queries are counted as lost by dnsperf and are not in the percentiles.
// extra-fields-json, if given, is a JSON object merged into the summary.
'use strict';

const fs = require('node:fs');
const readline = require('node:readline');

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: parse-dnsperf.js <dnsperf-output-file>\n');
  process.exit(2);
}

const MAX_US = 10_000_000; // 10 s; anything slower lands in the last bucket
const hist = new Uint32Array(MAX_US + 1);
let samples = 0;
const stats = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const num = (s) => (s === undefined ? null : Number(s));
/** dnsperf prints seconds with 6 decimals: milliseconds, exactly to the microsecond. */
const ms = (s) => Math.round(Number(s) * 1e6) / 1000;

async function main() {
  const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
  for await (const line of rl) {
    if (line.startsWith('> ')) {
      const f = line.split(' ');
      const lat = Number(f[f.length - 1]);
      if (f.length >= 5 && Number.isFinite(lat)) {
        hist[Math.min(MAX_US, Math.round(lat * 1e6))]++;
        samples++;
      }
      continue;
    }
    let m;
    if ((m = /^\s*Queries sent:\s+(\d+)/.exec(line))) stats.sent = num(m[1]);
    else if ((m = /^\s*Queries completed:\s+(\d+)/.exec(line))) stats.completed = num(m[1]);
    else if ((m = /^\s*Queries lost:\s+(\d+)/.exec(line))) stats.lost = num(m[1]);
    else if ((m = /^\s*Queries interrupted:\s+(\d+)/.exec(line))) stats.interrupted = num(m[1]);
    else if ((m = /^\s*Run time \(s\):\s+([\d.]+)/.exec(line))) stats.runTimeS = num(m[1]);
    else if ((m = /^\s*Queries per second:\s+([\d.]+)/.exec(line))) stats.qps = num(m[1]);
    else if ((m = /^\s*Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(line))) {
      stats.avgLatencyMs = ms(m[1]);
      stats.minLatencyMs = ms(m[2]);
      stats.maxLatencyMs = ms(m[3]);
    } else if ((m = /^\s*Latency StdDev \(s\):\s+([\d.]+)/.exec(line))) stats.stddevLatencyMs = ms(m[1]);
    else if ((m = /^\s*Response codes:\s+(.*)$/.exec(line))) {
      stats.rcodes = {};
      for (const part of m[1].split(',')) {
        const r = /([A-Z]+)\s+(\d+)/.exec(part.trim());
        if (r) stats.rcodes[r[1]] = Number(r[2]);
      }
    }
  }

  const pct = (p) => {
    if (samples === 0) return null;
    const rank = Math.ceil((p / 100) * samples);
    let seen = 0;
    for (let us = 0; us <= MAX_US; us++) {
      seen += hist[us];
      if (seen >= rank) return us / 1000;
    }
    return MAX_US / 1000;
  };
  stats.latencySamples = samples;
  stats.p50LatencyMs = pct(50);
  stats.p90LatencyMs = pct(90);
  stats.p99LatencyMs = pct(99);
  stats.p999LatencyMs = pct(99.9);
  if (stats.qps === undefined) {
    process.stderr.write(`parse-dnsperf: no "Queries per second" line in ${file}\n`);
    process.stdout.write(`${JSON.stringify({ error: 'dnsperf output had no statistics', ...stats })}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(stats)}\n`);
}

main().catch((err) => {
  process.stderr.write(`parse-dnsperf: ${err.message}\n`);
  process.exit(1);
});
