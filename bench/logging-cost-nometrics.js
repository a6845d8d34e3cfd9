// Preloaded (node -r) by bench/logging-cost.sh for the "off" side: the same build, with metrics
// counting taken out. school-dns has no setting for that (counting is a few typed-array
// additions per query, and a school always wants its metrics), so the benchmark removes it
// here: the metrics link (first in the chain: per-query clock read, counters, duration
// histogram) becomes a plain pass-through, and every other counting method a no-op. The
// /metrics endpoint still answers (with zeros).
'use strict';

const path = require('node:path');
const dist = path.join(__dirname, '..', 'dist');

const { Metrics } = require(path.join(dist, 'metrics', 'metrics.js'));
const schoolSeries = require(path.join(dist, 'metrics', 'school-series.js'));
const metricsLink = require(path.join(dist, 'chain', 'metrics-link.js'));

const noop = function noop() {};
for (const name of Object.getOwnPropertyNames(Metrics.prototype)) {
  if (['constructor', 'gauge', 'inflight'].includes(name)) continue;
  const d = Object.getOwnPropertyDescriptor(Metrics.prototype, name);
  if (typeof d.value === 'function') Metrics.prototype[name] = noop;
}
const unused = { value: 0, labels: {} };
schoolSeries.SchoolSeries.prototype.query = noop;
schoolSeries.SchoolSeries.prototype.blockedSeries = function blockedSeries() { return unused; };
metricsLink.metricsLink = function metricsLinkOff() { return (ctx, next) => next(ctx); };
process.env.SCHOOL_DNS_BENCH_METRICS = 'off';
