// What counting costs on the hot path: the same dispatcher and chain (client identification
// from a policy, the age-group filter, the cache) answering queries in-process, once with
// the real Metrics and once with a metrics object whose every method does nothing.
//
//   npm run build && node bench/micro/metrics-cost.js [rounds]
//
// Each variant runs in its own process (so V8 sees one metrics shape per call site, as in
// the server), alternating on/off for `rounds` rounds (default 5). Times are the process's
// CPU time per query (wall time on a shared machine measures the neighbours); the median and
// the minimum of the rounds are printed. Two query mixes: cache hits
// from 64 clients in 4 (school, group) pairs, and blocked names from the same clients.
const { spawnSync } = require('node:child_process');
const dist = require('node:path').join(__dirname, '..', '..', 'dist') + '/';

const POLICY = `
categories:
  adult: { sources: [adult.txt] }
groups:
  kids: { block: [adult] }
  teachers: { block: [adult] }
schools:
  - name: North
    networks:
      - { cidr: 10.1.1.0/24, group: kids }
      - { cidr: 10.1.2.0/24, group: teachers }
  - name: South
    networks:
      - { cidr: 10.2.1.0/24, group: kids }
      - { cidr: 10.2.2.0/24, group: teachers }
defaultGroup: kids
`;

function child(variant, mix) {
  const dp = require('dns-packet');
  const { buildChain } = require(dist + 'server/chain');
  const { Dispatcher } = require(dist + 'server/dispatch');
  const { Metrics } = require(dist + 'metrics/metrics');
  const { policyLabels } = require(dist + 'metrics/school-series');
  const { AnswerCache } = require(dist + 'cache/answer-cache');
  const { createLogger } = require(dist + 'log/logger');
  const { answerFromMessage } = require(dist + 'dns/answer');
  const { scanMessage } = require(dist + 'dns/message');
  const { QueryContext } = require(dist + 'chain/types');
  const { parseQuery } = require(dist + 'dns/query');
  const { parsePolicy } = require(dist + 'policy/load');
  const { compilePolicy } = require(dist + 'policy/policy');
  const { TrieBuilder } = require(dist + 'lists/trie');
  const { SchoolFilter } = require(dist + 'filter/school-filter');

  const spec = parsePolicy(POLICY, '/tmp/bench-policy.yaml');
  const policy = compilePolicy(spec);
  const b = new TrieBuilder();
  for (let i = 0; i < 1000; i++) b.add(`b${i}.blocked.test`, 0, false);
  const state = { policy, trie: b.build(), sources: [], entriesPerCategory: [], builtAt: 0, buildMs: 0, fingerprint: 'x', policyText: '' };

  let metrics;
  if (variant === 'on') {
    metrics = new Metrics([], { processMetrics: false, resolution: 'forwarded' });
    metrics.schools.policyChanged(policyLabels(spec));
  } else {
    const noop = () => {};
    const series = { value: 0, labels: {} };
    metrics = {
      inflight: 0, queryStarted: noop, queryFinished: noop, response: noop, rejectedPacket: noop, cacheResult: noop,
      safeSearchRewrite: noop, schools: { query: noop, blockedSeries: () => series },
    };
  }
  const filter = new SchoolFilter({ state }, { sinkholeIPv4: '10.9.9.9', sinkholeIPv6: null, ttl: 60 }, metrics);
  const cache = new AnswerCache({ maxEntries: 10000, maxBytes: 1 << 26 });
  const resolve = () => { throw new Error('miss'); };
  const { chain } = buildChain({ metrics, cache, resolve, filter, identify: filter.identify });
  const d = new Dispatcher(chain, metrics, createLogger({ level: 'error', format: 'json' }));

  const qs = [];
  for (let i = 0; i < 1000; i++) {
    const name = mix === 'blocked' ? `b${i}.blocked.test` : `n${i}.bench.test`;
    const q = dp.encode({ type: 'query', id: i, flags: 256, questions: [{ name, type: 'A' }] });
    if (mix === 'cached') {
      const up = dp.encode({ type: 'response', id: 1, flags: 0x8180, questions: [{ name, type: 'A' }], answers: [{ name, type: 'A', ttl: 3600, data: '192.0.2.1' }] });
      const a = answerFromMessage(up, scanMessage(up), { minTtl: 0, maxTtl: 86400, maxNegativeTtl: 3600 }, Date.now());
      cache.set(new QueryContext(q, parseQuery(q), 0, '127.0.0.1', 1, 0).key, a);
    }
    qs.push(q);
  }
  const clients = [];
  for (let i = 0; i < 64; i++) clients.push(`10.${1 + (i & 1)}.${1 + ((i >> 1) & 1)}.${10 + (i >> 2)}`);
  let sent = 0;
  const send = () => { sent++; };
  for (let i = 0; i < 300000; i++) d.handle(qs[i % 1000], 0, clients[i & 63], 5000, send);
  const N = 1000000;
  // CPU time of this process, not wall time: other work on the machine steals less of the measure.
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) d.handle(qs[i % 1000], 0, clients[i & 63], 5000, send);
  const c = process.cpuUsage(c0);
  const ns = ((c.user + c.system) * 1000) / N;
  if (sent !== 300000 + N) throw new Error(`expected every query answered synchronously, got ${sent}`);
  if (variant === 'on' && mix === 'blocked') {
    // The counting really happened: every query counted for its school and group, every block by category.
    metrics.registry.getMetricsAsJSON().then((json) => {
      const sum = (name) => json.find((m) => m.name === name).values.reduce((a, v) => a + v.value, 0);
      if (sum('school_dns_school_queries_total') !== sent || sum('school_dns_blocked_queries_total') !== sent) throw new Error('counts do not match');
      process.stdout.write(JSON.stringify({ ns }));
    });
  } else {
    process.stdout.write(JSON.stringify({ ns }));
  }
}

function parent() {
  const rounds = Number(process.argv[2] ?? 5);
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const mix of ['cached', 'blocked']) {
    const res = { on: [], off: [] };
    for (let r = 0; r < rounds; r++) {
      for (const variant of r % 2 ? ['off', 'on'] : ['on', 'off']) {
        const p = spawnSync(process.execPath, [__filename, '--child', variant, mix], { encoding: 'utf8' });
        if (p.status !== 0) throw new Error(`${variant}/${mix} failed: ${p.stderr}`);
        res[variant].push(JSON.parse(p.stdout).ns);
      }
    }
    const fmt = (xs) => `median ${median(xs).toFixed(0)} ns, min ${Math.min(...xs).toFixed(0)} ns`;
    console.log(`${mix.padEnd(7)} metrics on : ${fmt(res.on)}   (${res.on.map((x) => x.toFixed(0)).join(' ')})`);
    console.log(`${mix.padEnd(7)} metrics off: ${fmt(res.off)}   (${res.off.map((x) => x.toFixed(0)).join(' ')})`);
    console.log(`${mix.padEnd(7)} cost of counting: median ${(median(res.on) - median(res.off)).toFixed(0)} ns, min ${(Math.min(...res.on) - Math.min(...res.off)).toFixed(0)} ns per query`);
  }
}

/**
 * The counting calls alone, in a tight loop (what the metrics link does per query, minus the
 * clock read): steadier than the whole chain on a busy machine. And the clock read the
 * duration needs, which the no-op variant above pays too (its argument is still evaluated).
 */
function calls() {
  const { Metrics } = require(dist + 'metrics/metrics');
  const { policyLabels } = require(dist + 'metrics/school-series');
  const { parsePolicy } = require(dist + 'policy/load');
  const { compilePolicy } = require(dist + 'policy/policy');
  const spec = parsePolicy(POLICY, '/tmp/bench-policy.yaml');
  const policy = compilePolicy(spec);
  const m = new Metrics([], { processMetrics: false, resolution: 'forwarded' });
  m.schools.policyChanged(policyLabels(spec));
  const clients = ['10.1.1.1', '10.1.2.1', '10.2.1.1', '10.2.2.1'].map((a) => policy.identify(a));
  const sources = ['cache', 'upstream', 'cache', 'blocked'];
  const cpu = (f) => {
    const N = 5e6;
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) f(i);
    const c = process.cpuUsage(c0);
    return ((c.user + c.system) * 1000) / N;
  };
  const best = (f) => Math.min(cpu(f), cpu(f), cpu(f));
  const all = best((i) => { m.queryStarted(0, 1); m.queryFinished(0, 0.0003, sources[i & 3]); m.response(0); m.schools.query(clients[i & 3]); });
  const school = best((i) => m.schools.query(clients[i & 3]));
  const clock = best(() => performance.now());
  console.log(`counting calls per query: ${all.toFixed(1)} ns (of which by school and group: ${school.toFixed(1)} ns); one performance.now(): ${clock.toFixed(1)} ns`);
}

if (process.argv[2] === '--child') child(process.argv[3], process.argv[4]);
else {
  parent();
  calls();
}
