#!/usr/bin/env node
// Collects the per-run summaries that run.sh left in a directory, prints the
// results table and the ratios, and writes everything as one JSON file.
//
//   node bench/report.js <runs-dir> <results.json>
//
// <runs-dir>/<workload>--<server>.json    output of parse-dnsperf.js for that run
// <runs-dir>/<workload>--<server>.error   one line: why that run has no figures
// Settings and versions come from BENCH_* environment variables set by run.sh.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { execFileSync } = require('node:child_process');

const [runsDir, resultsFile] = process.argv.slice(2);
if (!runsDir || !resultsFile) {
  process.stderr.write('usage: report.js <runs-dir> <results.json>\n');
  process.exit(2);
}

const WORKLOADS = ['cached', 'uncached'];
const SERVERS = ['authoritative', 'bare-node', 'unbound', 'school-dns'];
const TARGETS = { 'school-dns/bare-node': 0.8, 'school-dns/unbound': 0.4 }; // cached only
// A run is "disturbed" when other processes used the machine: more than BUSY_MAX % of
// all CPU in the second before it, or more than OTHER_MAX % of the server's core during
// it beyond what the server itself used (a quiet run shows 3-8 there: kernel packet work).
const BUSY_MAX = 10;
const OTHER_MAX = 15;

const env = (k, d = null) => (process.env[k] === undefined ? d : process.env[k]);
const tryRun = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    return `${err.stdout || ''}${err.stderr || ''}`;
  }
};
const firstMatch = (text, re) => {
  const m = re.exec(text || '');
  return m ? m[1] : null;
};

// ---- collect runs -------------------------------------------------------------------
// Each (workload, server) may have several repeats, each a fresh server process; the
// one with the highest qps stands for it (least disturbed by anything else on the
// machine), and all of them are kept in `repeats`.
const pinned = String(process.env.BENCH_PINNING || '').startsWith('pinned');
const round1 = (v) => Math.round(v * 10) / 10;
const files = fs.readdirSync(runsDir);
const runs = [];
for (const workload of WORKLOADS) {
  for (const server of SERVERS) {
    const prefix = `${workload}--${server}--r`;
    const repeats = [];
    for (const f of files.filter((n) => n.startsWith(prefix)).sort()) {
      const text = fs.readFileSync(path.join(runsDir, f), 'utf8');
      const repeat = Number(f.slice(prefix.length).split('.')[0]);
      if (f.endsWith('.json')) {
        const stats = JSON.parse(text);
        const other =
          pinned && stats.serverCoreBusyPct != null && stats.serverCpuPct != null
            ? round1(Math.max(0, stats.serverCoreBusyPct - stats.serverCpuPct))
            : null;
        const disturbed = stats.backgroundCpuPct > BUSY_MAX || (other !== null && other > OTHER_MAX);
        repeats.push({
          repeat,
          ok: !stats.error,
          error: stats.error || null,
          ...stats,
          otherOnServerCorePct: other,
          disturbed,
        });
      } else if (f.endsWith('.error')) {
        repeats.push({ repeat, ok: false, error: text.trim() });
      }
    }
    if (repeats.length === 0) continue;
    const ok = repeats.filter((r) => r.ok);
    if (ok.length === 0) {
      runs.push({ workload, server, ok: false, error: repeats[0].error, repeats });
      continue;
    }
    const best = ok.reduce((a, b) => (b.qps > a.qps ? b : a));
    runs.push({
      workload,
      server,
      ...best,
      ok: true,
      error: null,
      repeats: repeats.map((r) => ({
        repeat: r.repeat,
        ok: r.ok,
        error: r.error,
        qps: r.qps,
        avgLatencyMs: r.avgLatencyMs,
        p99LatencyMs: r.p99LatencyMs,
        lost: r.lost,
        serverCpuPct: r.serverCpuPct,
        otherOnServerCorePct: r.otherOnServerCorePct,
        backgroundCpuPct: r.backgroundCpuPct,
        disturbed: r.disturbed,
      })),
    });
  }
}
const find = (workload, server) => runs.find((r) => r.workload === workload && r.server === server && r.ok);

// ---- ratios -------------------------------------------------------------------------
const ratio = (workload, a, b) => {
  const ra = find(workload, a);
  const rb = find(workload, b);
  const value = ra && rb && rb.qps > 0 ? ra.qps / rb.qps : null;
  const key = `${a}/${b}`;
  const target = workload === 'cached' && TARGETS[key] !== undefined ? TARGETS[key] : null;
  const busy = [ra, rb].some((r) => r && r.disturbed);
  return {
    workload,
    ratio: key,
    value,
    target,
    meetsTarget: value === null || target === null ? null : value >= target,
    disturbed: busy,
  };
};
const ratios = [
  ratio('cached', 'school-dns', 'bare-node'),
  ratio('cached', 'school-dns', 'unbound'),
  ratio('uncached', 'school-dns', 'unbound'),
  // For context, not targets:
  ratio('cached', 'unbound', 'bare-node'),
  ratio('uncached', 'unbound', 'authoritative'),
];

// ---- environment --------------------------------------------------------------------
const repo = path.resolve(__dirname, '..');
const meta = {
  timestamp: env('BENCH_TIMESTAMP', new Date().toISOString()),
  commit: tryRun('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']).trim() || null,
  dirtyTree: tryRun('git', ['-C', repo, 'status', '--porcelain', '--', 'src']).trim() !== '',
  host: {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0] ? os.cpus()[0].model : null,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
  },
  versions: {
    node: process.version,
    dnsperf: firstMatch(tryRun('dnsperf', ['-h']), /Version\s+(\S+)/),
    unbound: firstMatch(tryRun('unbound', ['-V']), /Version\s+(\S+)/),
    nsd: firstMatch(tryRun('nsd', ['-v']), /version\s+(\S+)/i),
  },
  settings: {
    durationS: Number(env('BENCH_DURATION', 0)),
    clients: Number(env('BENCH_CLIENTS', 0)),
    outstanding: Number(env('BENCH_OUTSTANDING', 0)),
    timeoutS: Number(env('BENCH_TIMEOUT', 0)),
    maxQps: Number(env('BENCH_MAX_QPS', 0)) || 'unlimited',
    dnsperfThreads: 1,
    repeats: Number(env('BENCH_REPEAT', 1)),
    cachedNames: Number(env('BENCH_CACHED_NAMES', 0)),
    uncachedNames: Number(env('BENCH_UNCACHED_NAMES', 0)),
    dnsperfCommand: env('BENCH_DNSPERF_CMD'),
    pinning: env('BENCH_PINNING'),
    authoritative: env('BENCH_AUTHORITATIVE'),
    schoolDnsPolicy: env('BENCH_SCHOOL_POLICY'),
  },
};

const result = { meta, runs, ratios };
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
fs.writeFileSync(resultsFile, `${JSON.stringify(result, null, 2)}\n`);

// ---- print --------------------------------------------------------------------------
const fmt = (v, digits = 3) => (v === null || v === undefined ? '-' : Number(v).toFixed(digits));
const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
const out = [];
out.push('');
out.push(`school-dns benchmark  ${meta.timestamp}  commit ${meta.commit}${meta.dirtyTree ? ' (src/ has uncommitted changes)' : ''}`);
out.push(
  `  ${meta.settings.durationS}s per run, ${meta.settings.clients} clients, ${meta.settings.outstanding} outstanding, ` +
    `1 dnsperf thread, max qps ${meta.settings.maxQps}; ${meta.settings.pinning}`,
);
out.push(`  school-dns policy: ${meta.settings.schoolDnsPolicy}`);
out.push('');
out.push(
  `${pad('workload', 9)} ${pad('server', 14)} ${lpad('qps', 9)} ${lpad('avg ms', 8)} ${lpad('p50 ms', 8)} ` +
    `${lpad('p99 ms', 8)} ${lpad('p99.9 ms', 8)} ${lpad('max ms', 8)} ${lpad('srv%', 5)} ${lpad('oth%', 5)} ${lpad('busy%', 5)} ${lpad('lost', 8)}  rcodes`,
);
for (const r of runs) {
  if (!r.ok) {
    out.push(`${pad(r.workload, 9)} ${pad(r.server, 14)} FAILED: ${r.error}`);
    continue;
  }
  const lostPct = r.sent ? ` (${((100 * r.lost) / r.sent).toFixed(2)}%)` : '';
  const rcodes = Object.entries(r.rcodes || {})
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  out.push(
    `${pad(r.workload, 9)} ${pad(r.server, 14)} ${lpad(Math.round(r.qps), 9)} ${lpad(fmt(r.avgLatencyMs), 8)} ` +
      `${lpad(fmt(r.p50LatencyMs), 8)} ${lpad(fmt(r.p99LatencyMs), 8)} ${lpad(fmt(r.p999LatencyMs), 8)} ` +
      `${lpad(fmt(r.maxLatencyMs), 8)} ` +
      `${lpad(fmt(r.serverCpuPct, 0), 5)} ${lpad(fmt(r.otherOnServerCorePct, 0), 5)} ${lpad(fmt(r.backgroundCpuPct, 0), 5)} ` +
      `${lpad(r.lost, 8)}${lostPct}  ${rcodes}` +
      `${r.cacheHits != null ? `; cache hits ${r.cacheHits}, misses ${r.cacheMisses}` : ''}` +
      `${r.disturbed ? '  [disturbed]' : ''}`,
  );
  if (r.repeats.length > 1) {
    out.push(`${' '.repeat(25)}all runs: ${r.repeats.map((x) => (x.ok ? Math.round(x.qps) : 'failed')).join(', ')} qps`);
  }
}
out.push('');
out.push('srv%  CPU the server process used during the run (100 = one core). Near 100: the server was');
out.push('      the limit. Well below: dnsperf (one thread, ~110-140k qps here) was, and qps is a lower bound.');
out.push("oth%  CPU on the server's core during the run not used by the server: kernel packet work (3-8)");
out.push(`      plus other processes. busy%  whole-machine CPU use in the second before the run.`);
const disturbedRuns = runs.filter((r) => r.ok && r.disturbed);
if (disturbedRuns.length) {
  out.push('');
  out.push(
    `WARNING: ${disturbedRuns.length} run(s) marked [disturbed]: other processes used the machine ` +
      `(busy% > ${BUSY_MAX} or oth% > ${OTHER_MAX}). Their figures are low and noisy; re-run on an idle ` +
      'machine or with BENCH_REPEAT=2.',
  );
}
out.push('');
out.push('Ratios (queries per second):');
for (const r of ratios) {
  let verdict = '';
  if (r.target !== null) {
    if (r.meetsTarget === null) verdict = `  target >= ${r.target}: not measured`;
    else verdict = `  target >= ${r.target}: ${r.meetsTarget ? 'MET' : 'NOT MET'}`;
  } else if (r.ratio.startsWith('school-dns')) verdict = '  (no target)';
  else verdict = '  (context)';
  if (r.disturbed && r.value !== null) verdict += '  (unreliable: a run was disturbed)';
  out.push(`  ${pad(r.workload, 9)} ${pad(r.ratio, 26)} ${lpad(fmt(r.value), 6)}${verdict}`);
}
out.push('');
out.push(`Results written to ${resultsFile}`);
process.stdout.write(`${out.join('\n')}\n`);
