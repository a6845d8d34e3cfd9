#!/usr/bin/env bash
# What metrics and the query log cost on the hot path (issue 6): the same build of school-dns,
# measured with dnsperf with both on and with both off. Not part of the test suite.
#
#   bash bench/logging-cost.sh
#
# Variants (a fresh server process per run, forward mode to NSD, as bench/run.sh):
#   off     metrics counting taken out (bench/logging-cost-nometrics.js, preloaded) and
#           queryLog.enabled: false
#   on      the defaults: metrics counted, the query log on (blocked queries recorded)
#   on-all  as on, with queryLog.allQueries: true (every query recorded): the worst case
# Workloads:
#   cached   1000 names c<N>.bench.test, warmed first: every query a cache hit, none blocked
#            (so "on" logs nothing here: this is the cost of counting)
#   blocked  1000 names b<N>.blocked.example, all in a blocked category: every query is
#            answered by the filter, and with the log on every one is recorded (the writer
#            sums repeats of one query within a second into one row: see src/querylog/aggregate.ts)
#   blocked-unique  2 million distinct blocked names u<N>.b<N%1000>.blocked.example, read in
#            order: no query repeats, so every one is a row of its own (the writer's worst case)
# Target: on >= 0.9 x off in queries per second, per workload (best run of each).
#
# Knobs (environment variables, all optional):
#   BENCH_DURATION=10  BENCH_CLIENTS=4  BENCH_OUTSTANDING=100  BENCH_TIMEOUT=2
#   BENCH_REPEAT=1            rounds; each runs every workload and variant once, alternating
#                             the order of the variants from round to round
#   BENCH_VARIANTS="off on on-all"  BENCH_WORKLOADS="cached blocked blocked-unique"
#   BENCH_IDLE_WAIT=20        wait up to this many seconds for the machine to be idle (<= 10% busy)
#   BENCH_SKIP_BUILD=1        do not run `npm run build` first
#   BENCH_PIN=0               do not pin (default: server on CPU 1, dnsperf and NSD on CPU 0)
#   BENCH_KEEP_TMP=1          keep the temp dir (configs, logs, the query log database)
#   BENCH_AUTH_PORT=5410 BENCH_SCHOOL_PORT=5361 BENCH_SCHOOL_ADMIN_PORT=9161
# Everything listens on 127.0.0.1. Results: bench/results/logging-cost-<time>.json.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"

DURATION=${BENCH_DURATION:-10}
CLIENTS=${BENCH_CLIENTS:-4}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
TIMEOUT=${BENCH_TIMEOUT:-2}
REPEAT=${BENCH_REPEAT:-1}
VARIANTS=${BENCH_VARIANTS:-"off on on-all"}
WORKLOADS=${BENCH_WORKLOADS:-"cached blocked blocked-unique"}
IDLE_WAIT=${BENCH_IDLE_WAIT:-20}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
PIN=${BENCH_PIN:-1}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
AUTH_PORT=${BENCH_AUTH_PORT:-5410}
SCHOOL_PORT=${BENCH_SCHOOL_PORT:-5361}
ADMIN_PORT=${BENCH_SCHOOL_ADMIN_PORT:-9161}
HOST=127.0.0.1
ZONE=bench.test
ZONE_ADDR=192.0.2.1
NAMES=1000

BENCH_NAME=logging-cost
STOP_WAIT_TENTHS=100
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

missing=()
command -v node >/dev/null || missing+=("node (Node.js 20)")
command -v dnsperf >/dev/null || missing+=("dnsperf (apt-get install -y dnsperf)")
command -v nsd >/dev/null || missing+=("nsd (apt-get install -y nsd)")
command -v ss >/dev/null || missing+=("ss (apt-get install -y iproute2)")
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"
for v in $VARIANTS; do [[ $v == off || $v == on || $v == on-all ]] || die "unknown variant '$v' (off, on, on-all)"; done
for w in $WORKLOADS; do [[ $w == cached || $w == blocked || $w == blocked-unique ]] || die "unknown workload '$w' (cached, blocked, blocked-unique)"; done

setup_pinning
if [[ $PIN == 1 ]]; then PINNING="pinned: school-dns on CPU 1; dnsperf and NSD on CPU 0"; else PINNING="not pinned"; fi

bench_tmp logging-cost
RUNS="$TMP/runs"
mkdir -p "$RUNS"

port_free() { ! ss -Hlnu "sport = :$1" | grep -q . && ! ss -Hlnt "sport = :$1" | grep -q .; }

# start NAME PORT LOGFILE CMD... : sets STARTED_PID once CMD answers a probe for the zone.
start() {
  local name=$1 port=$2 logfile=$3 i
  shift 3
  port_free "$port" || die "port $port on $HOST is already in use by another process"
  "$@" >"$logfile" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for i in $(seq 60); do
    kill -0 "$STARTED_PID" 2>/dev/null || { tail -n 20 "$logfile" >&2; die "$name exited during startup"; }
    if node "$BENCH/probe.js" "$HOST" "$port" "probe$i.$ZONE" 1 "$ZONE_ADDR" 2>/dev/null; then return 0; fi
  done
  tail -n 20 "$logfile" >&2
  die "$name did not answer on $HOST:$port within 60 s"
}

CLK_TCK=$(getconf CLK_TCK)
# ticks PID: CPU time (user + system, clock ticks) used so far by the process, all its threads.
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }


# metric NAME LABELS: one value from the admin endpoint ("" when absent).
metric() {
  node -e '
    fetch(process.argv[1], { signal: AbortSignal.timeout(3000) }).then((r) => r.text()).then((t) => {
      const line = t.split("\n").find((l) => l.startsWith(process.argv[2] + (process.argv[3] ? `{${process.argv[3]}}` : "") + " "));
      if (line) console.log(line.split(" ").pop());
    }).catch(() => {});
  ' "http://$HOST:$ADMIN_PORT/metrics" "$1" "${2:-}" 2>/dev/null || true
}

# ---- zone, query files, configs ------------------------------------------------------------
mkdir -p "$TMP/nsd" "$TMP/school"
write_wildcard_nsd

for (( i = 0; i < NAMES; i++ )); do echo "c$i.$ZONE A"; done >"$TMP/cached.txt"
for (( i = 0; i < NAMES; i++ )); do echo "b$i.blocked.example A"; done >"$TMP/blocked.txt"
awk 'BEGIN { for (i = 0; i < 2000000; i++) printf "u%d.b%d.blocked.example A\n", i, i % 1000 }' >"$TMP/blocked-unique.txt"
for (( i = 0; i < NAMES; i++ )); do echo "b$i.blocked.example"; done >"$TMP/school/blocked-list.txt"
cat >"$TMP/school/policy.yaml" <<EOF
timezone: Asia/Ho_Chi_Minh
categories:
  blocked:
    sources: [blocked-list.txt]
groups:
  bench:
    block: [blocked]
schools:
  - name: Bench school
    networks:
      - { cidr: 127.0.0.0/8, group: bench }
defaultGroup: bench
EOF
for v in off on on-all; do
  case $v in
    off) ql="enabled: false" ;;
    on) ql="enabled: true" ;;
    on-all) ql="enabled: true
  allQueries: true" ;;
  esac
  cat >"$TMP/school/$v.yaml" <<EOF
server:
  listen: ["$HOST:$SCHOOL_PORT"]
admin:
  listen: "$HOST:$ADMIN_PORT"
resolver:
  mode: forward
  upstreams: ["$HOST:$AUTH_PORT"]
policy:
  file: policy.yaml
blockPage:
  enabled: false
state:
  directory: state-$v
queryLog:
  $ql
log:
  level: warn
EOF
done

if [[ $SKIP_BUILD != 1 ]]; then
  log "building school-dns (npm run build)"
  (cd "$ROOT" && npm run --silent build) >"$TMP/build.log" 2>&1 || { tail -n 30 "$TMP/build.log" >&2; die "npm run build failed"; }
fi
[[ -f "$ROOT/dist/cli/main.js" ]] || die "$ROOT/dist/cli/main.js does not exist: build first"

log "temp dir $TMP; $PINNING"
start "NSD (upstream)" "$AUTH_PORT" "$TMP/nsd/stdout.log" "${PIN_LOAD[@]}" nsd -d -c "$TMP/nsd/nsd.conf"
UPSTREAM_PID=$STARTED_PID

DNSPERF_FLAGS=(-c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t "$TIMEOUT")

# one VARIANT WORKLOAD REPEAT
one() {
  local v=$1 w=$2 rep=$3 pid raw="$TMP/raw-$1-$2-$3.txt" bg pre=() extra
  local w0 d0 f0 w1 d1 f1 h0 m0 h1 m1 t0 t1
  [[ $v == off ]] && pre=(-r "$BENCH/logging-cost-nometrics.js")
  rm -rf "$TMP/school/state-$v"
  start "school-dns ($v)" "$SCHOOL_PORT" "$TMP/school/$v-$w-$rep.log" \
    "${PIN_SERVER[@]}" node "${pre[@]}" "$ROOT/dist/cli/main.js" serve --config "$TMP/school/$v.yaml"
  pid=$STARTED_PID
  # Warm: the cache for "cached", and in every workload the JIT for the measured path.
  local warmfile="$TMP/$w.txt"
  [[ $w == blocked-unique ]] && warmfile="$TMP/blocked.txt"
  "${PIN_LOAD[@]}" dnsperf -s "$HOST" -p "$SCHOOL_PORT" -d "$warmfile" -n 3 -c "$CLIENTS" -T 1 -q 20 -t "$TIMEOUT" >/dev/null 2>&1 || true
  wait_idle
  bg=$BUSY
  w0=$(metric school_dns_querylog_records_total 'result="written"'); d0=$(metric school_dns_querylog_records_total 'result="dropped"')
  h0=$(metric school_dns_cache_requests_total 'result="hit"'); m0=$(metric school_dns_cache_requests_total 'result="miss"')
  log "measuring $v, $w workload, run $rep/$REPEAT, ${DURATION}s"
  t0=$(ticks "$pid")
  "${PIN_LOAD[@]}" dnsperf -s "$HOST" -p "$SCHOOL_PORT" -d "$TMP/$w.txt" -l "$DURATION" "${DNSPERF_FLAGS[@]}" -v >"$raw" 2>&1 &
  local dp=$!
  PIDS+=("$dp"); wait "$dp" || true; forget_pid "$dp"
  t1=$(ticks "$pid")
  sleep 2 # the last batch (250 ms) and write window (1 s) reach the database
  w1=$(metric school_dns_querylog_records_total 'result="written"'); d1=$(metric school_dns_querylog_records_total 'result="dropped"')
  f1=$(metric school_dns_querylog_records_total 'result="failed"')
  h1=$(metric school_dns_cache_requests_total 'result="hit"'); m1=$(metric school_dns_cache_requests_total 'result="miss"')
  extra="{\"variant\":\"$v\",\"workload\":\"$w\",\"repeat\":$rep,\"backgroundCpuPct\":$bg,\"serverCpuS\":$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')"
  [[ -n $w1 && -n $w0 ]] && extra+=",\"logWritten\":$(( ${w1%.*} - ${w0%.*} )),\"logDropped\":$(( ${d1%.*} - ${d0%.*} )),\"logFailed\":${f1%.*}"
  [[ $v != off && -n $h1 && -n $h0 ]] && extra+=",\"cacheHits\":$(( ${h1%.*} - ${h0%.*} )),\"cacheMisses\":$(( ${m1%.*} - ${m0%.*} ))"
  extra+="}"
  if node "$BENCH/parse-dnsperf.js" "$raw" "$extra" >"$RUNS/$w--$v--r$rep.json"; then
    node -e '
      const f = process.argv[1];
      const r = JSON.parse(require("fs").readFileSync(f, "utf8"));
      r.cpuUsPerQuery = r.completed > 0 ? (r.serverCpuS * 1e6) / r.completed : null;
      require("fs").writeFileSync(f, JSON.stringify(r));
      const log = r.logWritten != null ? `; query log: ${r.logWritten} written, ${r.logDropped} dropped` : "";
      const cache = r.cacheHits != null ? `; cache ${r.cacheHits} hits, ${r.cacheMisses} misses` : "";
      console.error(`    ${Math.round(r.qps)} qps, avg ${r.avgLatencyMs.toFixed(3)} ms, p99 ${r.p99LatencyMs.toFixed(3)} ms, lost ${r.lost}, server ${r.cpuUsPerQuery.toFixed(2)} us CPU per query${log}${cache}`);
    ' "$RUNS/$w--$v--r$rep.json"
  else
    rm -f "$RUNS/$w--$v--r$rep.json"
    log "dnsperf produced no statistics for $v/$w: $(grep -v '^>' "$raw" | tail -n 3 | tr '\n' ' ')"
  fi
  rm -f "$raw"
  stop_pid "$pid"; forget_pid "$pid"
  if [[ -f "$TMP/school/state-$v/querylog.sqlite" ]]; then
    node -e '
      const D = require(process.argv[1]); const f = process.argv[2];
      const db = new D(process.argv[3], { readonly: true });
      const r = JSON.parse(require("fs").readFileSync(f, "utf8"));
      Object.assign(r, db.prepare("SELECT count(*) AS logRows, total(count) AS logRecordsInFile FROM queries").get());
      require("fs").writeFileSync(f, JSON.stringify(r));
      console.error(`    the query log file holds ${r.logRecordsInFile} records (warm-up included) in ${r.logRows} rows`);
    ' "$ROOT/node_modules/better-sqlite3" "$RUNS/$w--$v--r$rep.json" "$TMP/school/state-$v/querylog.sqlite" 1>&2 || true
  fi
  if grep -qvE '^[[:space:]]*$' "$TMP/school/$v-$w-$rep.log"; then
    log "school-dns ($v) wrote (last lines):"; tail -n 5 "$TMP/school/$v-$w-$rep.log" | cut -c1-300 | sed 's/^/    /' >&2
  fi
}

for rep in $(seq "$REPEAT"); do
  order=($VARIANTS)
  if (( rep % 2 == 0 )); then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for w in $WORKLOADS; do
    for v in "${order[@]}"; do one "$v" "$w" "$rep"; done
  done
done
stop_pid "$UPSTREAM_PID"; forget_pid "$UPSTREAM_PID"

mkdir -p "$BENCH/results"
RESULTS="$BENCH/results/logging-cost-$(date -u +%Y%m%dT%H%M%SZ).json"
node - "$RUNS" "$RESULTS" "$DURATION" "$CLIENTS" "$OUTSTANDING" "$REPEAT" "$PINNING" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [runsDir, out, duration, clients, outstanding, repeat, pinning] = process.argv.slice(2);
const runs = fs.readdirSync(runsDir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(fs.readFileSync(path.join(runsDir, f), 'utf8')));
const best = {};
const cpu = {};
for (const r of runs) {
  const k = `${r.workload}/${r.variant}`;
  if (!best[k] || r.qps > best[k].qps) best[k] = r;
  if (r.cpuUsPerQuery != null && (cpu[k] == null || r.cpuUsPerQuery < cpu[k])) cpu[k] = r.cpuUsPerQuery;
}
const rows = [];
console.log(`\nqueries per second: the best of ${repeat} run(s) of ${duration} s each (dnsperf -c ${clients} -q ${outstanding}; ${pinning});`);
console.log('server CPU per query: the lowest of the runs (all threads of the process: the query log writer too)');
console.log('workload        variant     qps   avg ms   p99 ms   lost  server CPU us/query  query log records written/dropped, rows');
for (const w of ['cached', 'blocked', 'blocked-unique']) {
  for (const v of ['off', 'on', 'on-all']) {
    const r = best[`${w}/${v}`];
    if (!r) continue;
    const log = r.logWritten != null ? `${r.logWritten}/${r.logDropped}${r.logRows != null ? `, ${r.logRows} rows in the file` : ''}` : '-';
    console.log(`${w.padEnd(15)} ${v.padEnd(7)} ${String(Math.round(r.qps)).padStart(7)}  ${r.avgLatencyMs.toFixed(3).padStart(7)}  ${r.p99LatencyMs.toFixed(3).padStart(7)}  ${String(r.lost).padStart(5)}  ${(cpu[`${w}/${v}`] ?? NaN).toFixed(2).padStart(19)}  ${log}`);
  }
}
console.log('');
const ratios = {};
for (const w of ['cached', 'blocked', 'blocked-unique']) {
  const off = best[`${w}/off`];
  for (const v of ['on', 'on-all']) {
    const on = best[`${w}/${v}`];
    if (!off || !on) continue;
    const ratio = on.qps / off.qps;
    const cpuRatio = cpu[`${w}/off`] != null && cpu[`${w}/${v}`] != null ? cpu[`${w}/off`] / cpu[`${w}/${v}`] : null;
    ratios[`${w}/${v}`] = { qps: ratio, cpu: cpuRatio };
    const target = v === 'on' ? ` (target >= 0.9: ${ratio >= 0.9 ? 'met' : 'NOT met'})` : ' (every query logged; no target)';
    console.log(`${w.padEnd(15)} ${v.padEnd(6)} / off = ${ratio.toFixed(3)} in qps${target}; ${cpuRatio == null ? '' : `${cpuRatio.toFixed(3)} in server CPU per query (off / ${v})`}`);
  }
}
fs.writeFileSync(out, JSON.stringify({ settings: { duration: Number(duration), clients: Number(clients), outstanding: Number(outstanding), repeat: Number(repeat), pinning }, best, cpuUsPerQuery: cpu, ratios, runs }, null, 2) + '\n');
console.log(`\nresults: ${out}`);
EOF
