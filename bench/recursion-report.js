#!/usr/bin/env node
// Report of the recursion benchmark (bench/recursion.sh): reads every run's files in
// <runs-dir> (one sub-directory "<resolver>--q<in-flight>--r<repeat>"), prints a table of
// medians with their spread and the school-dns/unbound ratios against the targets of
// issue 4, and writes everything to <results.json>.
//
//   node bench/recursion-report.js <runs-dir> <results.json> [categories-dir]
//
// categories-dir (optional) holds the by-category runs ("<resolver>--<category>--q<n>"):
// one cold pass over one category's questions, with the NSD counts before and after.
//
// Settings come from REC_* environment variables set by recursion.sh.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const [runsDir, resultsFile, catsDir] = process.argv.slice(2);
if (!runsDir || !resultsFile) {
  process.stderr.write('usage: recursion-report.js <runs-dir> <results.json> [categories-dir]\n');
  process.exit(2);
}

const readJson = (f) => { try { return JSON.parse(fs.readFileSync(f, 'utf8')); } catch { return null; } };
const readText = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch { return null; } };

/** NSD snapshot lines "address tier key value" -> { total, byTier, byServer, byKey }. */
function nsdSnapshot(file) {
  const text = readText(file);
  if (text === null) return null;
  const s = { total: 0, byTier: {}, byServer: {}, byKey: {} };
  for (const line of text.split('\n')) {
    const [addr, tier, k, v] = line.split(' ');
    if (!k) continue;
    const n = Number(v);
    if (k === 'num.queries') {
      s.total += n;
      s.byTier[tier] = (s.byTier[tier] || 0) + n;
      s.byServer[addr] = (s.byServer[addr] || 0) + n;
    } else {
      s.byKey[k] = (s.byKey[k] || 0) + n;
    }
  }
  return s;
}

function diffMaps(a, b) {
  const out = {};
  for (const k of new Set([...Object.keys(a || {}), ...Object.keys(b || {})])) {
    const d = (b?.[k] || 0) - (a?.[k] || 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

function nsdDelta(a, b) {
  if (!a || !b) return null;
  const byKey = diffMaps(a.byKey, b.byKey);
  const types = {};
  const rcodes = {};
  for (const [k, v] of Object.entries(byKey)) {
    if (k.startsWith('num.type.')) types[k.slice(9)] = v;
    if (k.startsWith('num.rcode.')) rcodes[k.slice(10)] = v;
  }
  return {
    total: b.total - a.total,
    byTier: diffMaps(a.byTier, b.byTier),
    byServer: diffMaps(a.byServer, b.byServer),
    types, rcodes,
    udp: byKey['num.udp'] || 0, tcp: byKey['num.tcp'] || 0, truncated: byKey['num.truncated'] || 0,
  };
}

/** A resolver's own counters: Prometheus lines (school-dns) or key=value lines (Unbound). */
function selfSnapshot(file) {
  const text = readText(file);
  if (text === null) return null;
  const out = {};
  for (const line of text.split('\n')) {
    let m = /^(school_dns_(?:recursor_events_total|cache_requests_total|responses_total|upstream_coalesced_total))(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m) { out[`${m[1]}${m[2] || ''}`] = Number(m[3]); continue; }
    m = /^((?:total|num)\.[^=]+)=(\S+)$/.exec(line);
    if (m && Number.isFinite(Number(m[2]))) out[m[1]] = Number(m[2]);
  }
  return out;
}

/** Flushed rounds at the start of each run that are reported apart (JIT still settling). */
const SETTLE = Math.max(0, Number(process.env.REC_SETTLE || 0));
const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stat = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (s.length === 0) return null;
  return { median: median(s), min: Math.min(...s), max: Math.max(...s), n: s.length, values: s };
};

// ---- read the runs ------------------------------------------------------------------
const runs = [];
for (const d of fs.readdirSync(runsDir).sort()) {
  const m = /^(.+)--q(\d+)--r(\d+)$/.exec(d);
  if (!m) continue;
  const dir = path.join(runsDir, d);
  const run = { resolver: m[1], outstanding: Number(m[2]), repeat: Number(m[3]) };
  const error = readText(path.join(dir, 'error'));
  if (error !== null) { run.error = error.trim(); runs.push(run); continue; }
  const snaps = ['start', '0', '1', '2', '3'].map((s) => nsdSnapshot(path.join(dir, `nsd-${s}.txt`)));
  const self = ['0', '1', '2'].map((s) => selfSnapshot(path.join(dir, `self-${s}.txt`)));
  run.cold = readJson(path.join(dir, 'cold.json'));
  run.warm = readJson(path.join(dir, 'warm.json'));
  // The flushed cold rounds in the warm process: run.recolds in order; run.recold the
  // median of those after the settling rounds (each figure the median over the rounds),
  // run.recoldFirst the first of them all.
  run.recolds = [];
  for (let i = 1; ; i++) {
    const r = readJson(path.join(dir, `recold-${i}.json`));
    if (!r) break;
    const auth = nsdDelta(nsdSnapshot(path.join(dir, `nsd-r0-${i}.txt`)), nsdSnapshot(path.join(dir, `nsd-r1-${i}.txt`)));
    run.recolds.push({ ...r, authTotal: auth?.total ?? null, authPerQuery: auth && r.sent ? auth.total / r.sent : null });
  }
  const settled = run.recolds.slice(SETTLE);
  run.recold = settled.length === 0 ? null : {
    runTimeS: median(settled.map((r) => r.runTimeS)),
    p50LatencyMs: median(settled.map((r) => r.p50LatencyMs)),
    serverCpuS: median(settled.map((r) => r.serverCpuS)),
    serverSysS: median(settled.map((r) => r.serverSysS)),
    lost: run.recolds.reduce((n, r) => n + (r.lost || 0), 0),
    rounds: settled.length,
  };
  run.recoldSettling = run.recolds.length === 0 ? null : { runTimeS: median(run.recolds.slice(0, SETTLE).map((r) => r.runTimeS)) };
  run.recoldFirst = run.recolds[0] ?? null;
  run.coldRcodeCheck = readJson(path.join(dir, 'cold-rcodes.json'));
  run.warmRcodeCheck = readJson(path.join(dir, 'warm-rcodes.json'));
  run.answerCheck = readJson(path.join(dir, 'answers.json'));
  run.spotCheck = readJson(path.join(dir, 'spot.json'));
  // nsd-start: before the resolver started; 0: before the cold run; 1: after it; 2: after
  // the warm run; 3: after the answer and spot checks.
  run.auth = {
    startup: nsdDelta(snaps[0], snaps[1])?.total ?? null,
    cold: nsdDelta(snaps[1], snaps[2]),
    warm: nsdDelta(snaps[2], snaps[3]),
    checks: nsdDelta(snaps[3], snaps[4])?.total ?? null,
  };
  run.self = { cold: self[0] && self[1] ? diffMaps(self[0], self[1]) : null, warm: self[1] && self[2] ? diffMaps(self[1], self[2]) : null };
  if (run.cold && run.auth.cold && run.cold.sent) run.authPerQueryCold = run.auth.cold.total / run.cold.sent;
  if (run.warm && run.auth.warm && run.warm.sent) run.authPerQueryWarm = run.auth.warm.total / run.warm.sent;
  if (run.recolds.length && run.recolds.every((r) => r.authPerQuery !== null)) run.authPerQueryRecold = median(run.recolds.map((r) => r.authPerQuery));
  if (run.resolver === 'school-dns' && run.self.cold) {
    const sq = Object.entries(run.self.cold).filter(([k]) => k.startsWith('school_dns_recursor_events_total{kind="query"')).reduce((s, [, v]) => s + v, 0);
    run.selfCountedQueriesCold = sq;
  }
  run.busyPct = { cold: run.cold?.busyPct ?? null, warm: run.warm?.busyPct ?? null };
  run.disturbed = (run.cold?.busyPct ?? 0) > 10 || (run.warm?.busyPct ?? 0) > 10;
  const problems = [];
  const expectRcodes = readJson(process.env.REC_SUMMARY || '')?.expectedRcodes;
  if (run.cold) {
    if (run.cold.lost > 0) problems.push(`cold: ${run.cold.lost} lost`);
    if (run.coldRcodeCheck && run.coldRcodeCheck.wrong > 0) problems.push(`cold: ${run.coldRcodeCheck.wrong} wrong rcodes ${JSON.stringify(run.coldRcodeCheck.wrongByKind)}`);
    if (expectRcodes && run.cold.rcodes && (run.cold.rcodes.NOERROR !== expectRcodes.NOERROR || run.cold.rcodes.NXDOMAIN !== expectRcodes.NXDOMAIN)) {
      problems.push(`cold rcodes ${JSON.stringify(run.cold.rcodes)}, expected ${JSON.stringify(expectRcodes)}`);
    }
  } else problems.push('cold: no dnsperf statistics');
  if (run.warm) {
    if (run.warm.lost > 0) problems.push(`warm: ${run.warm.lost} lost`);
    if (run.warmRcodeCheck && run.warmRcodeCheck.wrong > 0) problems.push(`warm: ${run.warmRcodeCheck.wrong} wrong rcodes`);
  } else problems.push('warm: no dnsperf statistics');
  if (run.recold && run.recold.lost > 0) problems.push(`cold (warm process): ${run.recold.lost} lost`);
  if (!run.answerCheck || run.answerCheck.wrong !== 0 || !run.answerCheck.checked) problems.push(`answers: ${run.answerCheck ? `${run.answerCheck.wrong} wrong of ${run.answerCheck.checked}` : 'not checked'}`);
  if (!run.spotCheck || run.spotCheck.ok !== run.spotCheck.total) problems.push(`spot checks ${run.spotCheck ? `${run.spotCheck.ok}/${run.spotCheck.total}` : 'missing'}`);
  if (run.auth.startup) problems.push(`${run.auth.startup} authoritative queries before the cold run (start-up)`);
  run.problems = problems;
  runs.push(run);
}

// ---- by category -------------------------------------------------------------------------
const categories = {};
if (catsDir && fs.existsSync(catsDir)) {
  for (const d of fs.readdirSync(catsDir).sort()) {
    const m = /^(.+)--(.+)--q(\d+)$/.exec(d);
    if (!m) continue;
    const dir = path.join(catsDir, d);
    const c = ((categories[m[3]] ||= {})[m[2]] ||= {});
    const error = readText(path.join(dir, 'error'));
    if (error !== null) { c[m[1]] = { error: error.trim() }; continue; }
    const cold = readJson(path.join(dir, 'cold.json'));
    const auth = nsdDelta(nsdSnapshot(path.join(dir, 'nsd-0.txt')), nsdSnapshot(path.join(dir, 'nsd-1.txt')));
    c[m[1]] = {
      questions: cold?.sent ?? null, rcodes: cold?.rcodes ?? null, lost: cold?.lost ?? null, timeS: cold?.runTimeS ?? null,
      auth: auth ? { total: auth.total, byTier: auth.byTier, types: auth.types } : null,
      authPerQuery: auth && cold?.sent ? auth.total / cold.sent : null,
    };
  }
}

// ---- aggregate --------------------------------------------------------------------------

const METRICS = {
  coldTimeS: (r) => r.cold?.runTimeS,
  coldQps: (r) => r.cold?.qps,
  coldAvgMs: (r) => r.cold?.avgLatencyMs,
  coldP50Ms: (r) => r.cold?.p50LatencyMs,
  coldP99Ms: (r) => r.cold?.p99LatencyMs,
  coldMaxMs: (r) => r.cold?.maxLatencyMs,
  coldCpuS: (r) => r.cold?.serverCpuS,
  coldAuthQueries: (r) => r.auth.cold?.total,
  authPerQueryCold: (r) => r.authPerQueryCold,
  recoldTimeS: (r) => r.recold?.runTimeS,
  recoldP50Ms: (r) => r.recold?.p50LatencyMs,
  recoldCpuS: (r) => r.recold?.serverCpuS,
  recoldSysS: (r) => r.recold?.serverSysS,
  recoldFirstTimeS: (r) => r.recoldFirst?.runTimeS,
  authPerQueryRecold: (r) => r.authPerQueryRecold,
  recoldSettlingTimeS: (r) => r.recoldSettling?.runTimeS,
  warmQps: (r) => r.warm?.qps,
  warmP50Ms: (r) => r.warm?.p50LatencyMs,
  warmCpuS: (r) => r.warm?.serverCpuS,
  warmAuthQueries: (r) => r.auth.warm?.total,
};

const groups = {};
for (const r of runs) {
  const g = (groups[r.outstanding] ||= {});
  (g[r.resolver] ||= []).push(r);
}

const summary = {};
const ratios = {};
for (const [q, byRes] of Object.entries(groups)) {
  summary[q] = {};
  for (const [res, rs] of Object.entries(byRes)) {
    const ok = rs.filter((r) => !r.error);
    summary[q][res] = { runs: rs.length, failed: rs.length - ok.length, problems: ok.flatMap((r) => r.problems.map((p) => `r${r.repeat}: ${p}`)) };
    for (const [k, f] of Object.entries(METRICS)) summary[q][res][k] = stat(ok.map(f));
    // Where the cold queries went (medians over runs).
    const tiers = new Set(ok.flatMap((r) => Object.keys(r.auth.cold?.byTier || {})));
    summary[q][res].coldAuthByTier = Object.fromEntries([...tiers].map((t) => [t, median(ok.map((r) => r.auth.cold?.byTier?.[t] || 0))]));
    const types = new Set(ok.flatMap((r) => Object.keys(r.auth.cold?.types || {})));
    summary[q][res].coldAuthByType = Object.fromEntries([...types].map((t) => [t, median(ok.map((r) => r.auth.cold?.types?.[t] || 0))]));
    const rcodes = new Set(ok.flatMap((r) => Object.keys(r.auth.cold?.rcodes || {})));
    summary[q][res].coldAuthByRcode = Object.fromEntries([...rcodes].map((t) => [t, median(ok.map((r) => r.auth.cold?.rcodes?.[t] || 0))]));
    summary[q][res].coldAuthTcp = median(ok.map((r) => r.auth.cold?.tcp || 0));
  }
  const s = byRes['school-dns']?.filter((r) => !r.error) || [];
  const u = byRes.unbound?.filter((r) => !r.error) || [];
  if (s.length && u.length) {
    // Paired by round: the runs divided by each other were next to each other in time.
    const paired = (f) => {
      const out = [];
      for (const a of s) {
        const b = u.find((x) => x.repeat === a.repeat);
        const va = f(a), vb = f(b || {});
        if (b && typeof va === 'number' && typeof vb === 'number' && vb > 0) out.push(va / vb);
      }
      return stat(out);
    };
    // The flushed rounds of one repeat alternate between the resolvers (bench/recursion.sh
    // flushed_rounds): round i of school-dns and round i of Unbound were seconds apart.
    const roundPairs = (k) => {
      const out = [];
      for (const a of s) {
        const b = u.find((x) => x.repeat === a.repeat);
        for (let i = SETTLE; b && i < Math.min(a.recolds.length, b.recolds.length); i++) {
          const va = a.recolds[i][k], vb = b.recolds[i][k];
          if (typeof va === 'number' && typeof vb === 'number' && vb > 0) out.push(va / vb);
        }
      }
      return stat(out);
    };
    const med = (res, k) => summary[q][res][k]?.median;
    const ratio = (k) => (med('unbound', k) ? med('school-dns', k) / med('unbound', k) : null);
    ratios[q] = {
      // The target is about an empty cache: judged on the cold run in a warm process (caches
      // flushed), since the first run of a fresh Node.js process also times its JIT compiler.
      // Judged on the median of the pairs' ratios: each pair saw the machine at one speed.
      coldTime: (() => {
        const pairs = roundPairs('runTimeS');
        const m = pairs?.median ?? null;
        return {
          ofMedians: ratio('recoldTimeS'), perRound: paired(METRICS.recoldTimeS), pairs,
          pairsWithin: pairs ? pairs.values.filter((x) => x <= 2.0).length : 0,
          target: '<= 2.0', met: m !== null ? m <= 2.0 : null,
        };
      })(),
      coldCpuPairs: roundPairs('serverCpuS'),
      coldTimeSettling: { ofMedians: ratio('recoldSettlingTimeS'), perRound: paired(METRICS.recoldSettlingTimeS) },
      coldTimeFirstFlushed: { ofMedians: ratio('recoldFirstTimeS'), perRound: paired(METRICS.recoldFirstTimeS) },
      coldTimeFreshProcess: { ofMedians: ratio('coldTimeS'), perRound: paired(METRICS.coldTimeS) },
      coldCpuWarmProcess: { ofMedians: ratio('recoldCpuS'), perRound: paired(METRICS.recoldCpuS) },
      authPerQueryColdWarmProcess: { ofMedians: ratio('authPerQueryRecold'), perRound: paired(METRICS.authPerQueryRecold) },
      authPerQueryCold: {
        schoolDns: med('school-dns', 'authPerQueryCold'), unbound: med('unbound', 'authPerQueryCold'),
        ofMedians: ratio('authPerQueryCold'), perRound: paired(METRICS.authPerQueryCold),
        target: 'school-dns <= unbound', met: med('unbound', 'authPerQueryCold') != null ? med('school-dns', 'authPerQueryCold') <= med('unbound', 'authPerQueryCold') : null,
      },
      coldP50Latency: { ofMedians: ratio('coldP50Ms'), perRound: paired(METRICS.coldP50Ms) },
      coldCpu: { ofMedians: ratio('coldCpuS'), perRound: paired(METRICS.coldCpuS) },
      warmQps: { ofMedians: ratio('warmQps'), perRound: paired(METRICS.warmQps) },
      warmCpu: { ofMedians: ratio('warmCpuS'), perRound: paired(METRICS.warmCpuS) },
    };
  }
}

// ---- print ------------------------------------------------------------------------------
const f = (v, d = 3) => (v === null || v === undefined ? '-' : Number(v).toFixed(d));
const spread = (st, d) => (st ? `${f(st.median, d)} (${f(st.min, d)}-${f(st.max, d)})` : '-');
/** Rows of cells -> lines, every column as wide as its widest cell (first column left-aligned). */
function table(rows, indent = '  ') {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => indent + r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('   '));
}
const out = [];
out.push('');
for (const [q, byRes] of Object.entries(summary)) {
  out.push(`${q} queries in flight (dnsperf -c ${process.env.REC_CLIENTS || '?'} -q ${q}); median (min-max) of ${process.env.REC_REPEAT || '?'} runs, each a fresh resolver process:`);
  const rows = [['resolver', 'cold time s', 'cold p50 ms', 'cold p99 ms', 'auth q per client q', 'cold CPU s', 'warm qps', 'warm CPU s', 'warm auth q']];
  for (const [res, s] of Object.entries(byRes)) {
    rows.push([res, spread(s.coldTimeS, 3), spread(s.coldP50Ms, 2), spread(s.coldP99Ms, 1), spread(s.authPerQueryCold, 3),
      spread(s.coldCpuS, 2), spread(s.warmQps, 0), spread(s.warmCpuS, 2), s.warmAuthQueries ? f(s.warmAuthQueries.max, 0) : '-']);
  }
  out.push(...table(rows));
  const nRecold = Math.max(0, ...Object.values(groups[q]).flat().map((r) => r.recolds?.length ?? 0));
  out.push(`  cold again in the same process, after every cache was flushed, ${nRecold} times per run, the resolvers taking turns; ` +
    `median of the rounds after the first ${SETTLE} (in which V8 is still optimising school-dns's cold path):`);
  const rrows = [['resolver', 'cold time s', 'cold p50 ms', 'auth q per client q', 'cold CPU s', 'of it in kernel s', `first ${SETTLE} rounds s`, 'first flushed round s', 'each round s (run 1)']];
  for (const [res, s] of Object.entries(byRes)) {
    const first = groups[q][res].find((r) => !r.error && r.recolds?.length);
    rrows.push([res, spread(s.recoldTimeS, 3), spread(s.recoldP50Ms, 2), spread(s.authPerQueryRecold, 3), spread(s.recoldCpuS, 2),
      spread(s.recoldSysS, 2), spread(s.recoldSettlingTimeS, 3), spread(s.recoldFirstTimeS, 3), first ? first.recolds.map((r) => f(r.runTimeS)).join(' ') : '-']);
  }
  out.push(...table(rrows, '    '));
  out.push('  authoritative queries in the cold run (median), by server tier / query type / response code:');
  for (const [res, s] of Object.entries(byRes)) {
    out.push(`    ${res.padEnd(11)} total ${f(s.coldAuthQueries?.median, 0)}; ${JSON.stringify(s.coldAuthByTier)} ${JSON.stringify(s.coldAuthByType)} ${JSON.stringify(s.coldAuthByRcode)}${s.coldAuthTcp ? `; TCP ${s.coldAuthTcp}` : ''}`);
  }
  const cross = (byRes['school-dns'] && groups[q]['school-dns'].filter((r) => !r.error && r.selfCountedQueriesCold != null)) || [];
  if (cross.length) {
    const agree = cross.every((r) => r.selfCountedQueriesCold === r.auth.cold?.total);
    out.push(`  cross-check: school-dns's own count of queries sent (school_dns_recursor_events_total{kind="query"}) ` +
      `${agree ? 'equals' : 'DIFFERS FROM'} the NSDs' count in every run (${cross.map((r) => `${r.selfCountedQueriesCold}/${r.auth.cold?.total}`).join(', ')})`);
  }
  for (const [res, s] of Object.entries(byRes)) {
    if (s.failed) out.push(`  ${res}: ${s.failed} run(s) FAILED`);
    for (const p of s.problems) out.push(`  ${res} PROBLEM ${p}`);
  }
  const r = ratios[q];
  if (r) {
    const pr = (x) => (x ? `per round ${f(x.min)}-${f(x.max)}` : '');
    out.push('  Ratios, school-dns / unbound (of the medians):');
    out.push(...table([
      [`cold time (caches flushed, warm process, after ${SETTLE} rounds)`, f(r.coldTime.ofMedians), pr(r.coldTime.perRound), ''],
      ['  the same, median of the round pairs', f(r.coldTime.pairs?.median), r.coldTime.pairs ? `pairs ${f(r.coldTime.pairs.min)}-${f(r.coldTime.pairs.max)}` : '',
        `target <= 2.0: ${r.coldTime.met ? 'MET' : 'NOT MET'} (${r.coldTime.pairsWithin} of ${r.coldTime.pairs?.n ?? 0} pairs within)`],
      ['  CPU, median of the round pairs', f(r.coldCpuPairs?.median), r.coldCpuPairs ? `pairs ${f(r.coldCpuPairs.min)}-${f(r.coldCpuPairs.max)}` : '', ''],
      [`cold time (first ${SETTLE} flushed rounds)`, f(r.coldTimeSettling.ofMedians), pr(r.coldTimeSettling.perRound), '(V8 still optimising)'],
      ['cold time (first flushed round)', f(r.coldTimeFirstFlushed.ofMedians), pr(r.coldTimeFirstFlushed.perRound), '(V8 still optimising)'],
      ['cold time (fresh process)', f(r.coldTimeFreshProcess.ofMedians), pr(r.coldTimeFreshProcess.perRound), '(includes the JIT compiler warming up)'],
      ['cold CPU (caches flushed, warm process)', f(r.coldCpuWarmProcess.ofMedians), pr(r.coldCpuWarmProcess.perRound), ''],
      ['auth q per client q (caches flushed)', f(r.authPerQueryColdWarmProcess.ofMedians), pr(r.authPerQueryColdWarmProcess.perRound), ''],
      ['auth queries per client query', f(r.authPerQueryCold.ofMedians), pr(r.authPerQueryCold.perRound),
        `${f(r.authPerQueryCold.schoolDns)} vs ${f(r.authPerQueryCold.unbound)}; target school-dns <= unbound: ${r.authPerQueryCold.met ? 'MET' : 'NOT MET'}`],
      ['cold p50 latency', f(r.coldP50Latency.ofMedians), pr(r.coldP50Latency.perRound), ''],
      ['cold CPU time of the resolver', f(r.coldCpu.ofMedians), pr(r.coldCpu.perRound), ''],
      ['warm qps', f(r.warmQps.ofMedians), pr(r.warmQps.perRound), '(a resolver well below 100% of its core was held back by dnsperf)'],
      ['warm CPU time of the resolver', f(r.warmCpu.ofMedians), pr(r.warmCpu.perRound), ''],
    ], '    '));
  }
  out.push('');
}
for (const [q, cats] of Object.entries(categories)) {
  out.push(`By category (each category's questions alone, cold, a fresh resolver, ${q} in flight, one run): authoritative queries per client query`);
  const names = [...new Set(Object.values(cats).flatMap((c) => Object.keys(c)))].sort();
  const rows = [['category', 'questions', ...names.map((n) => `${n} (root/tld/leaf)`), ...(names.length === 2 ? [`${names[0]} - ${names[1]}`] : [])]];
  for (const [cat, c] of Object.entries(cats)) {
    const cell = (n) => {
      const x = c[n];
      if (!x) return '-';
      if (x.error) return 'FAILED';
      const t = x.auth?.byTier || {};
      const bad = (x.lost ? ` lost ${x.lost}` : '') + (x.rcodes?.SERVFAIL ? ` SERVFAIL ${x.rcodes.SERVFAIL}` : '');
      return `${f(x.authPerQuery)} (${t.root || 0}/${t.tld || 0}/${t.leaf || 0})${bad}`;
    };
    const a = c[names[0]]?.authPerQuery, b = c[names[1]]?.authPerQuery;
    const diff = names.length === 2 ? [a != null && b != null ? `${a - b >= 0 ? '+' : ''}${f(a - b)}` : '-'] : [];
    rows.push([cat, c[names[0]]?.questions ?? '-', ...names.map(cell), ...diff]);
  }
  out.push(...table(rows));
  out.push('');
}
if (Object.keys(categories).length) out.push('(query types each resolver sent, per category: categories.<in flight>.<category>.<resolver>.auth.types in the JSON)');
const disturbed = runs.filter((r) => r.disturbed);
if (disturbed.length) out.push(`Runs started on a busy machine (>10% CPU from other processes): ${disturbed.map((r) => `${r.resolver} q${r.outstanding} r${r.repeat}`).join(', ')}`);
process.stderr.write(`${out.join('\n')}\n`);

const results = {
  timestamp: process.env.REC_TIMESTAMP,
  settings: {
    dnsperf: process.env.REC_DNSPERF_CMD, warmPasses: Number(process.env.REC_WARM_PASSES), qnameMinimisation: process.env.REC_QMIN,
    repeat: Number(process.env.REC_REPEAT), settleRounds: SETTLE, pinning: process.env.REC_PINNING, versions: process.env.REC_VERSIONS,
  },
  workload: readJson(process.env.REC_SUMMARY || ''),
  summary, ratios, categories, runs,
};
fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
process.stderr.write(`results written to ${resultsFile}\n`);
