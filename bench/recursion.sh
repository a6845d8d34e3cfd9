#!/usr/bin/env bash
# Recursive resolution benchmark (issue 4): school-dns in recursive mode side by side
# with Unbound, both iterating from the same local root through a hierarchy of NSD
# servers on port 53 of 127.0.0.60-64 and 127.0.0.70-79. Not part of the test suite;
# needs root (port 53). See "Recursive resolution" in bench/README.md.
#
#   bash bench/recursion.sh
#
# For each resolver and each repeat, a fresh resolver process:
#   cold  the whole query file once (dnsperf -n 1): run time, latency, and the queries
#         every NSD answered meanwhile (nsd-control stats_noreset, before/after), i.e.
#         authoritative queries per client query
#   warm  the same file again, BENCH_REC_WARM_PASSES times: qps, authoritative queries
#   check every response code (dnsperf -v) against the expected one, every answer's
#         addresses (bench/recursion-check.js answers), and a few bench/probe.js spot checks
#   recold  every cache flushed, then the file once more, BENCH_REC_RECOLD_ROUNDS times in
#         the same process: cold-cache time without the JIT compiler's warm-up. Both
#         resolvers are up for these, and their rounds alternate (school-dns, Unbound,
#         Unbound, school-dns, ...), so each pair is measured seconds apart
# then a table with medians, spreads and school-dns/unbound ratios, and JSON in
# bench/results/recursion-<timestamp>.json.
#
# Knobs (environment variables, all optional):
#   BENCH_REC_REPEAT=3            rounds; each starts every resolver fresh once (the
#                                 order alternates between rounds)
#   BENCH_REC_RESOLVERS="school-dns unbound"
#   BENCH_REC_QUERIES=3000        distinct questions in the query file
#   BENCH_REC_ZONES=50            second-level zones per TLD (4 TLDs)
#   BENCH_REC_SEED=1              seed of the generated query file
#   BENCH_REC_CLIENTS=4           dnsperf -c
#   BENCH_REC_OUTSTANDING=50      dnsperf -q (queries in flight); a list ("1 50") runs
#                                 every setting, each with fresh resolvers
#   BENCH_REC_MAX_QPS=0           dnsperf -Q on the cold run; 0 = no rate limit
#   BENCH_REC_TIMEOUT=5           dnsperf -t (an answer later than this counts as lost)
#   BENCH_REC_WARM_PASSES=10      passes over the file in the warm run (dnsperf -n)
#   BENCH_REC_RECOLD_ROUNDS=8     cold runs in the same process after the warm run, each
#                                 after every cache was flushed, alternating between the
#                                 resolvers (0: none)
#   BENCH_REC_SETTLE_ROUNDS=3     of those, the first ones, in which V8 is still compiling
#                                 school-dns's cold path (node --trace-opt shows iterate,
#                                 sectionsOf and resolveUncoalesced optimised in the first
#                                 two): reported apart; the cold-time target is judged on the
#                                 median of the ratios of the pairs after them
#   BENCH_REC_QMIN=yes            QNAME minimisation, both resolvers (yes|no)
#   BENCH_REC_BY_CATEGORY=1       after the rounds, each category of question alone (cold,
#                                 fresh resolvers, once): authoritative queries per client
#                                 query by category; 0 skips
#   BENCH_REC_CATEGORY_OUTSTANDING="1 <first BENCH_REC_OUTSTANDING>"   in flight for those
#                                 (1: one question at a time, no concurrency effects; its
#                                 run times are dnsperf's pacing, not the resolver's)
#   BENCH_REC_UNBOUND_PORT=5380 BENCH_REC_SCHOOL_PORT=5381 BENCH_REC_SCHOOL_ADMIN_PORT=9181
#   BENCH_IDLE_WAIT=20            wait up to this many seconds for an idle machine before
#                                 each measured run
#   BENCH_SKIP_BUILD=1            use dist/ as it is
#   BENCH_PIN=0                   no CPU pinning (default: resolver on CPU 1, dnsperf and
#                                 all NSDs on CPU 0; BENCH_SERVER_CPU / BENCH_LOAD_CPU)
#   BENCH_KEEP_TMP=1              keep the temp dir (zones, configs, logs, raw output)
#   BENCH_REC_NODE_FLAGS=         extra node flags for school-dns, e.g.
#                                 "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"

REPEAT=${BENCH_REC_REPEAT:-3}
RESOLVERS=${BENCH_REC_RESOLVERS:-"school-dns unbound"}
QUERIES=${BENCH_REC_QUERIES:-3000}
ZONES=${BENCH_REC_ZONES:-50}
SEED=${BENCH_REC_SEED:-1}
CLIENTS=${BENCH_REC_CLIENTS:-4}
OUTSTANDING_LIST=${BENCH_REC_OUTSTANDING:-50}
MAX_QPS=${BENCH_REC_MAX_QPS:-0}
TIMEOUT=${BENCH_REC_TIMEOUT:-5}
WARM_PASSES=${BENCH_REC_WARM_PASSES:-10}
RECOLD_ROUNDS=${BENCH_REC_RECOLD_ROUNDS:-8}
SETTLE_ROUNDS=${BENCH_REC_SETTLE_ROUNDS:-3}
QMIN=${BENCH_REC_QMIN:-yes}
BY_CATEGORY=${BENCH_REC_BY_CATEGORY:-1}
CATEGORY_OUTSTANDING=${BENCH_REC_CATEGORY_OUTSTANDING:-"1 ${OUTSTANDING_LIST%% *}"}
UNBOUND_PORT=${BENCH_REC_UNBOUND_PORT:-5380}
SCHOOL_PORT=${BENCH_REC_SCHOOL_PORT:-5381}
SCHOOL_ADMIN_PORT=${BENCH_REC_SCHOOL_ADMIN_PORT:-9181}
IDLE_WAIT=${BENCH_IDLE_WAIT:-20}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
PIN=${BENCH_PIN:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
HOST=127.0.0.1
ROOT_ADDR=127.0.0.60

BENCH_NAME=recursion
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

case $QMIN in yes|no) ;; *) die "BENCH_REC_QMIN must be yes or no (not '$QMIN')" ;; esac
[[ $(id -u) == 0 ]] || die "needs root: the NSD hierarchy listens on port 53 (Unbound only follows referrals to port 53)"

# ---- tools --------------------------------------------------------------------------
missing=()
command -v node >/dev/null || missing+=("node (Node.js 20)")
command -v dnsperf >/dev/null || missing+=("dnsperf (apt-get install -y dnsperf)")
command -v nsd >/dev/null || missing+=("nsd (apt-get install -y nsd)")
command -v nsd-control >/dev/null || missing+=("nsd-control (apt-get install -y nsd)")
if has "$RESOLVERS" unbound; then
  command -v unbound >/dev/null || missing+=("unbound (apt-get install -y unbound)")
  command -v unbound-control >/dev/null || missing+=("unbound-control (apt-get install -y unbound)")
fi
command -v ss >/dev/null || missing+=("ss (apt-get install -y iproute2)")
((${#missing[@]} == 0)) || die "missing tools: ${missing[*]}"

setup_pinning
if [[ $PIN == 1 ]]; then
  PINNING="pinned: resolver under test on CPU $SERVER_CPU; dnsperf and every NSD on CPU $LOAD_CPU"
else
  PINNING="not pinned"
fi

# ---- temp dir, process bookkeeping, cleanup ------------------------------------------------
bench_tmp recursion
RUNS="$TMP/runs"
mkdir -p "$RUNS"

# port_free ADDRESS PORT: nothing (not even a wildcard socket) listens there, UDP or TCP.
port_free() {
  local addr=$1 port=$2
  ! { ss -Hlnu "sport = :$port"; ss -Hlnt "sport = :$port"; } 2>/dev/null \
    | awk '{ print $4 }' | grep -qE "^($addr|0\.0\.0\.0|\*|\[::\]):$port\$"
}


CLK_TCK=$(getconf CLK_TCK)
proc_ticks() { # CPU clock ticks (user+system) used so far by PID
  if [[ -r /proc/$1/stat ]]; then awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
  else echo 0; fi
}
proc_sys_ticks() { # CPU clock ticks in the kernel (system) used so far by PID
  if [[ -r /proc/$1/stat ]]; then awk '{ sub(/^.*\) /, ""); print $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
  else echo 0; fi
}

# ---- generate the hierarchy and the query file ---------------------------------------------
TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
log "temp dir $TMP; $PINNING"
GEN="$TMP/gen"
mkdir -p "$GEN"
node "$BENCH/recursion-make.js" "$GEN" "$QUERIES" "$ZONES" "$SEED" >"$TMP/summary.line"
log "generated: $(cat "$TMP/summary.line")"
QFILE="$GEN/queries.txt"
EXPECTED="$GEN/expected.json"
NQ=$(grep -c . "$QFILE")

# ---- NSD hierarchy ---------------------------------------------------------------------
NSD_ADDRS=()
NSD_CONFS=()
start_nsds() {
  local addr tier rname raddr conf pid i ok
  while read -r addr tier rname raddr; do
    conf="$GEN/nsd/$addr/nsd.conf"
    nsd-checkconf "$conf" || die "generated $conf is invalid"
    port_free "$addr" 53 || die "port 53 on $addr is in use by another process"
    "${PIN_LOAD[@]}" nsd -d -c "$conf" >"$GEN/nsd/$addr/stdout.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    NSD_ADDRS+=("$addr")
    NSD_CONFS+=("$conf")
    ok=0
    for i in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || { tail -n 20 "$GEN/nsd/$addr/stdout.log" "$GEN/nsd/$addr/nsd.log" >&2 || true; die "nsd on $addr exited during startup"; }
      if node "$BENCH/probe.js" "$addr" 53 "$rname" 1 "$raddr" 2>/dev/null; then ok=1; break; fi
    done
    (( ok )) || die "nsd on $addr did not answer $rname with $raddr"
    nsd-control -c "$conf" stats_noreset 2>/dev/null | grep -q '^num.queries=' \
      || die "nsd-control cannot read the statistics of the NSD on $addr (control socket $GEN/nsd/$addr/control.sock)"
    log "nsd $tier on $addr:53 is up (pid $pid)"
  done <"$GEN/servers.txt"
}

# nsd_snapshot FILE: "address tier key value" for every num.* statistic of every NSD.
nsd_snapshot() {
  local i tier
  : >"$1"
  for i in "${!NSD_ADDRS[@]}"; do
    tier=$(awk -v a="${NSD_ADDRS[$i]}" '$1 == a { print $2 }' "$GEN/servers.txt")
    nsd-control -c "${NSD_CONFS[$i]}" stats_noreset 2>/dev/null \
      | awk -F= -v a="${NSD_ADDRS[$i]}" -v t="$tier" '/^num\./ && $2 != 0 { print a, t, $1, $2 }' >>"$1" \
      || log "warning: could not read the statistics of the NSD on ${NSD_ADDRS[$i]}"
  done
}
nsd_total() { awk '$3 == "num.queries" { s += $4 } END { print s + 0 }' "$1"; }

# ---- resolvers ----------------------------------------------------------------------
write_unbound_config() {
  local d="$TMP/unbound"
  mkdir -p "$d"
  cp "$GEN/root.hints" "$d/root.hints"
  cat >"$d/unbound.conf" <<EOF
server:
    interface: $HOST@$UNBOUND_PORT
    do-ip4: yes
    # The hierarchy is IPv4 only; school-dns looks up AAAA of an NS name only when it
    # has no A, so Unbound is not made to look for addresses it cannot use either.
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$d"
    pidfile: "$d/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 1
    module-config: "iterator"
    root-hints: "$d/root.hints"
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    qname-minimisation: $QMIN
    prefetch: no
remote-control:
    control-enable: yes
    control-interface: $d/control.sock
EOF
  unbound-checkconf "$d/unbound.conf" >/dev/null || die "generated unbound.conf is invalid"
}

write_school_config() {
  local d="$TMP/school-dns"
  mkdir -p "$d"
  cat >"$d/school-dns.yaml" <<EOF
server:
  listen: ["$HOST:$SCHOOL_PORT"]
admin:
  listen: "$HOST:$SCHOOL_ADMIN_PORT"
resolver:
  mode: recursive
  rootHints: ["$ROOT_ADDR"]
  authPort: 53
  qnameMinimisation: $([[ $QMIN == yes ]] && echo true || echo false)
  caseRandomisation: false
policy:
  file: null
log:
  level: warn
EOF
}

# self_snapshot RESOLVER FILE: the resolver's own counters (school-dns: its Prometheus
# school_dns_* series; Unbound: unbound-control stats_noreset).
self_snapshot() {
  case $1 in
    unbound) unbound-control -c "$TMP/unbound/unbound.conf" stats_noreset >"$2" 2>/dev/null || : >"$2" ;;
    school-dns)
      node -e '
        fetch(process.argv[1], { signal: AbortSignal.timeout(3000) })
          .then((r) => r.text())
          .then((t) => process.stdout.write(t.split("\n").filter((l) => l.startsWith("school_dns_")).join("\n") + "\n"))
          .catch(() => {});
      ' "http://$HOST:$SCHOOL_ADMIN_PORT/metrics" >"$2" 2>/dev/null || : >"$2" ;;
  esac
}

resolver_port() { if [[ $1 == unbound ]]; then echo "$UNBOUND_PORT"; else echo "$SCHOOL_PORT"; fi; }

SCHOOL_OK=1
SCHOOL_WHY=""
prepare_school() {
  if [[ $SKIP_BUILD != 1 ]]; then
    log "building school-dns (npm run build)"
    if [[ ! -e "$ROOT/node_modules/typescript/bin/tsc" ]]; then
      (cd "$ROOT" && npm ci --no-audit --no-fund) >"$TMP/npm-ci.log" 2>&1 \
        || { SCHOOL_OK=0; SCHOOL_WHY="npm ci failed"; tail -n 20 "$TMP/npm-ci.log" >&2; return; }
    fi
    if ! (cd "$ROOT" && npm run --silent build) >"$TMP/build.log" 2>&1; then
      tail -n 30 "$TMP/build.log" >&2
      SCHOOL_OK=0; SCHOOL_WHY="npm run build failed"; return
    fi
  fi
  [[ -f "$ROOT/dist/cli/main.js" ]] || { SCHOOL_OK=0; SCHOOL_WHY="$ROOT/dist/cli/main.js does not exist"; }
}

# start_resolver NAME LOGFILE: sets STARTED_PID. Ready when it answers "localhost" with
# 127.0.0.1, which both answer locally (RFC 6761) without asking the hierarchy.
start_resolver() {
  local name=$1 logfile=$2 port i
  port=$(resolver_port "$name")
  port_free "$HOST" "$port" || { echo "port $port on $HOST is in use by another process" >"$TMP/why"; return 1; }
  if [[ $name == school-dns ]]; then
    port_free "$HOST" "$SCHOOL_ADMIN_PORT" || { echo "admin port $SCHOOL_ADMIN_PORT is in use" >"$TMP/why"; return 1; }
    # shellcheck disable=SC2086 # BENCH_REC_NODE_FLAGS is a list of flags
    "${PIN_SERVER[@]}" node ${BENCH_REC_NODE_FLAGS:-} "$ROOT/dist/cli/main.js" serve --config "$TMP/school-dns/school-dns.yaml" >"$logfile" 2>&1 &
  else
    "${PIN_SERVER[@]}" unbound -d -c "$TMP/unbound/unbound.conf" >"$logfile" 2>&1 &
  fi
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for i in $(seq 60); do
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then
      wait "$STARTED_PID" 2>/dev/null || true
      forget_pid "$STARTED_PID"
      { echo "$name exited during startup:"; tail -n 20 "$logfile"; } >"$TMP/why"
      return 1
    fi
    if node "$BENCH/probe.js" "$HOST" "$port" localhost 1 127.0.0.1 2>"$TMP/probe.err"; then
      # The admin endpoint too, for the counters.
      if [[ $name == unbound ]] || node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
          "http://$HOST:$SCHOOL_ADMIN_PORT/metrics"; then
        return 0
      fi
    fi
  done
  { echo "$name did not answer on $HOST:$port within 60 s: $(cat "$TMP/probe.err")"; tail -n 20 "$logfile"; } >"$TMP/why"
  stop_pid "$STARTED_PID"; forget_pid "$STARTED_PID"
  return 1
}

# dnsperf_run FILE PORT OUT PASSES OUTSTANDING [extra flags]: one dnsperf run, pinned to
# the load CPU, in the background and waited for (so a signal is handled at once).
# Writes the raw output to OUT and the wall-clock milliseconds to OUT.wall.
dnsperf_run() {
  local file=$1 port=$2 out=$3 passes=$4 q=$5 w0 w1 dp
  shift 5
  w0=$(date +%s%N)
  "${PIN_LOAD[@]}" dnsperf -s "$HOST" -p "$port" -d "$file" -n "$passes" -c "$CLIENTS" -T 1 -q "$q" -t "$TIMEOUT" "$@" -v >"$out" 2>&1 &
  dp=$!
  PIDS+=("$dp")
  wait "$dp" || true
  forget_pid "$dp"
  w1=$(date +%s%N)
  echo $(( (w1 - w0) / 1000000 )) >"$out.wall"
}

# summarise RAW EXTRA_JSON OUT: parse-dnsperf.js summary, plus the rcode check.
summarise() {
  local raw=$1 extra=$2 out=$3
  node "$BENCH/parse-dnsperf.js" "$raw" "$extra" >"$out" || true
  node "$BENCH/recursion-check.js" rcodes "$raw" "$EXPECTED" >"${out%.json}-rcodes.json" || echo '{}' >"${out%.json}-rcodes.json"
}

# one_run RESOLVER OUTSTANDING REPEAT: fresh resolver, cold run, warm run, checks; the
# resolver stays up (RUN_PID, RUN_DIR) for flushed_rounds, and end_run stops it.
declare -A RUN_PID=() RUN_PID_ALL=() RUN_DIR=()
one_run() {
  local name=$1 q=$2 rep=$3 port pid dir logfile t0 t1 qps_flags=() spot_ok=0 spot_n=0 line sname saddr
  dir="$RUNS/$name--q$q--r$rep"
  mkdir -p "$dir"
  port=$(resolver_port "$name")
  logfile="$dir/resolver.log"
  if [[ $name == school-dns && $SCHOOL_OK != 1 ]]; then echo "$SCHOOL_WHY" >"$dir/error"; return 0; fi
  [[ $MAX_QPS != 0 ]] && qps_flags=(-Q "$MAX_QPS")

  nsd_snapshot "$dir/nsd-start.txt"
  if ! start_resolver "$name" "$logfile"; then
    log "$name did not start: $(head -c 400 "$TMP/why")"
    cp "$TMP/why" "$dir/error"
    return 0
  fi
  pid=$STARTED_PID
  log "$name is up on $HOST:$port (pid $pid); run $rep/$REPEAT, $q in flight"

  # Cold: everything the query file needs comes from the hierarchy.
  wait_idle
  echo "$BUSY" >"$dir/busy-cold"
  nsd_snapshot "$dir/nsd-0.txt"
  self_snapshot "$name" "$dir/self-0.txt"
  t0=$(proc_ticks "$pid")
  dnsperf_run "$QFILE" "$port" "$dir/raw-cold.txt" 1 "$q" "${qps_flags[@]}"
  t1=$(proc_ticks "$pid")
  # Let anything the resolver still does for these queries (late target look-ups) land
  # in the cold count, not the warm one.
  sleep 1
  nsd_snapshot "$dir/nsd-1.txt"
  self_snapshot "$name" "$dir/self-1.txt"
  summarise "$dir/raw-cold.txt" "{\"wallMs\":$(cat "$dir/raw-cold.txt.wall"),\"serverCpuS\":$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }'),\"busyPct\":$BUSY}" "$dir/cold.json"

  # Warm: the same questions again; everything should come from the cache.
  wait_idle
  echo "$BUSY" >"$dir/busy-warm"
  t0=$(proc_ticks "$pid")
  dnsperf_run "$QFILE" "$port" "$dir/raw-warm.txt" "$WARM_PASSES" "$q"
  t1=$(proc_ticks "$pid")
  sleep 1
  nsd_snapshot "$dir/nsd-2.txt"
  self_snapshot "$name" "$dir/self-2.txt"
  summarise "$dir/raw-warm.txt" "{\"wallMs\":$(cat "$dir/raw-warm.txt.wall"),\"serverCpuS\":$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }'),\"busyPct\":$BUSY}" "$dir/warm.json"

  # Every answer's addresses, then the spot checks with bench/probe.js.
  node "$BENCH/recursion-check.js" answers "$HOST" "$port" "$QFILE" "$EXPECTED" 20 >"$dir/answers.json" || echo '{}' >"$dir/answers.json"
  while read -r sname saddr; do
    spot_n=$(( spot_n + 1 ))
    if node "$BENCH/probe.js" "$HOST" "$port" "$sname" 3 "$saddr" 2>>"$dir/spot.err"; then spot_ok=$(( spot_ok + 1 )); fi
  done <"$GEN/spot.txt"
  echo "{\"ok\":$spot_ok,\"total\":$spot_n}" >"$dir/spot.json"
  nsd_snapshot "$dir/nsd-3.txt"

  RUN_PID[$name]=$pid
  RUN_PID_ALL[$name]=$pid
  RUN_DIR[$name]=$dir
}

# turn_order N: ORDER, the resolvers in RES_LIST's order for an odd N, reversed for an even one.
turn_order() {
  local i
  ORDER=()
  if (( $1 % 2 == 1 )); then ORDER=("${RES_LIST[@]}"); else for (( i = ${#RES_LIST[@]} - 1; i >= 0; i-- )); do ORDER+=("${RES_LIST[$i]}"); done; fi
}

# flushed_rounds OUTSTANDING: cold again, in processes that have run. Every resolver of
# this repeat is still up; each round empties every cache of one (school-dns: POST
# /cache/flush; Unbound: unbound-control flush_zone . and flush_infra all) and sends it the
# same questions once more, then the next resolver, BENCH_REC_RECOLD_ROUNDS times, the
# order alternating between rounds. Rounds of different resolvers are thus seconds apart,
# and a drift in this machine's speed (a virtual machine's can change by a third within a
# minute) hits both sides of a pair alike: the target is judged on the pairs' ratios.
# The first cold run measures a fresh process, which for school-dns includes the JIT
# compiler warming up; these measure an empty cache alone. The first BENCH_REC_SETTLE_ROUNDS
# of them still include JIT work (V8 optimises the large functions of the cold path only
# after thousands of calls, and re-optimises some as their type feedback settles); the
# later ones are what a resolver that has been up for a while does when its cache has
# emptied.
flushed_rounds() {
  local q=$1 round name
  for (( round = 1; round <= RECOLD_ROUNDS; round++ )); do
    turn_order "$round"
    for name in "${ORDER[@]}"; do
      [[ -n ${RUN_PID[$name]:-} ]] || continue
      flushed_round "$name" "$q" "$round" || RUN_PID[$name]=""
    done
  done
}

# flushed_round RESOLVER OUTSTANDING ROUND: one flushed cold round; fails if the flush did.
flushed_round() {
  local name=$1 q=$2 round=$3 pid=${RUN_PID[$1]} dir=${RUN_DIR[$1]} port t0 t1 s0 s1 qps_flags=()
  port=$(resolver_port "$name")
  [[ $MAX_QPS != 0 ]] && qps_flags=(-Q "$MAX_QPS")
  if ! flush_caches "$name"; then
    log "$name: could not flush its caches; no (more) cold runs in a warm process"
    return 1
  fi
  wait_idle
  nsd_snapshot "$dir/nsd-r0-$round.txt"
  t0=$(proc_ticks "$pid"); s0=$(proc_sys_ticks "$pid")
  dnsperf_run "$QFILE" "$port" "$dir/raw-recold.txt" 1 "$q" "${qps_flags[@]}"
  t1=$(proc_ticks "$pid"); s1=$(proc_sys_ticks "$pid")
  sleep 1
  nsd_snapshot "$dir/nsd-r1-$round.txt"
  summarise "$dir/raw-recold.txt" "{\"wallMs\":$(cat "$dir/raw-recold.txt.wall"),\"serverCpuS\":$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }'),\"serverSysS\":$(awk -v t=$(( s1 - s0 )) -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", t / hz }'),\"busyPct\":$BUSY}" "$dir/recold-$round.json"
  rm -f "$dir/raw-recold.txt"
}

# end_run RESOLVER: stops it, and prints what its run measured.
end_run() {
  local name=$1 pid=${RUN_PID_ALL[$1]:-} dir=${RUN_DIR[$1]:-} logfile
  RUN_PID[$name]=""; RUN_PID_ALL[$name]=""; RUN_DIR[$name]=""
  [[ -n $pid ]] || return 0
  logfile="$dir/resolver.log"
  stop_server_pid "$pid"
  node -e '
    const fs = require("fs");
    const [dir, ...rest] = process.argv.slice(1);
    const a = JSON.parse(fs.readFileSync(dir + "/answers.json", "utf8"));
    const c = JSON.parse(fs.readFileSync(dir + "/cold.json", "utf8"));
    const w = JSON.parse(fs.readFileSync(dir + "/warm.json", "utf8"));
    const n = (f) => fs.readFileSync(dir + "/" + f, "utf8").split("\n").filter((l) => / num\.queries /.test(l)).reduce((s, l) => s + Number(l.split(" ")[3]), 0);
    const cq = n("nsd-1.txt") - n("nsd-0.txt"), wq = n("nsd-2.txt") - n("nsd-1.txt");
    const s = JSON.parse(fs.readFileSync(dir + "/spot.json", "utf8"));
    console.error(`    ${rest[0]}, run ${rest[1]}: cold ${c.runTimeS}s, ${Math.round(c.qps)} qps, p50 ${c.p50LatencyMs} ms, lost ${c.lost}, ` +
      `rcodes ${JSON.stringify(c.rcodes)}, ${cq} authoritative queries (${(cq / c.sent).toFixed(3)}/query), resolver CPU ${c.serverCpuS}s`);
    console.error(`    warm ${Math.round(w.qps)} qps, lost ${w.lost}, ${wq} authoritative queries; ` +
      `answers ${a.right}/${a.checked} right; spot checks ${s.ok}/${s.total}`);
  ' "$dir" "$name" "$rep" || true
  # Anything the resolver wrote beyond routine lines may matter.
  if grep -vqE 'filtering is off|^\[[0-9: .-]+\] unbound\[[0-9:]+\] (notice|info): |^[[:space:]]*$' "$logfile"; then
    log "$name wrote to its log during run $rep (last lines):"
    grep -vE 'filtering is off|^\[[0-9: .-]+\] unbound\[[0-9:]+\] (notice|info): |^[[:space:]]*$' "$logfile" | tail -n 5 | sed 's/^/    /' >&2
  fi
  rm -f "$dir/raw-warm.txt"
  gzip -q "$dir/raw-cold.txt" || true
}

stop_server_pid() { stop_pid "$1"; forget_pid "$1"; }

# flush_caches RESOLVER: empties every cache of the running resolver.
flush_caches() {
  case $1 in
    unbound)
      unbound-control -c "$TMP/unbound/unbound.conf" flush_zone . >/dev/null 2>&1 &&
        unbound-control -c "$TMP/unbound/unbound.conf" flush_infra all >/dev/null 2>&1 ;;
    school-dns)
      node -e 'fetch(process.argv[1], { method: "POST" }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' \
        "http://$HOST:$SCHOOL_ADMIN_PORT/cache/flush" ;;
  esac
}

# category_run RESOLVER CATEGORY OUTSTANDING: a fresh resolver, one cold pass over the
# questions of one category only, and the authoritative queries it caused: which kinds
# of question cost what.
category_run() {
  local name=$1 cat=$2 q=$3 port dir pid
  dir="$CATS/$name--$cat--q$q"
  mkdir -p "$dir"
  [[ $name == school-dns && $SCHOOL_OK != 1 ]] && return 0
  port=$(resolver_port "$name")
  start_resolver "$name" "$dir/resolver.log" || { cp "$TMP/why" "$dir/error"; return 0; }
  pid=$STARTED_PID
  wait_idle
  nsd_snapshot "$dir/nsd-0.txt"
  dnsperf_run "$GEN/queries-$cat.txt" "$port" "$dir/raw.txt" 1 "$q"
  sleep 1
  nsd_snapshot "$dir/nsd-1.txt"
  stop_server_pid "$pid"
  node "$BENCH/parse-dnsperf.js" "$dir/raw.txt" "{\"busyPct\":$BUSY}" >"$dir/cold.json" || true
  rm -f "$dir/raw.txt"
  log "  $name, $cat only: $(( $(nsd_total "$dir/nsd-1.txt") - $(nsd_total "$dir/nsd-0.txt") )) authoritative queries for $(grep -c . "$GEN/queries-$cat.txt") questions"
}

# ---- run ----------------------------------------------------------------------------
has "$RESOLVERS" school-dns && { write_school_config; prepare_school; [[ $SCHOOL_OK == 1 ]] || log "school-dns will be skipped: $SCHOOL_WHY"; }
has "$RESOLVERS" unbound && write_unbound_config
start_nsds

read -r -a RES_LIST <<<"$RESOLVERS"
for q in $OUTSTANDING_LIST; do
  for rep in $(seq "$REPEAT"); do
    # Alternate the order between rounds, so a drift in machine load does not always
    # favour the same resolver.
    turn_order "$rep"
    order=("${ORDER[@]}") # flushed_rounds takes its own turns
    for name in "${order[@]}"; do one_run "$name" "$q" "$rep"; done
    flushed_rounds "$q"
    for name in "${order[@]}"; do end_run "$name"; done
  done
done

CATS="$TMP/categories"
mkdir -p "$CATS"
if [[ $BY_CATEGORY == 1 ]]; then
  for q in $CATEGORY_OUTSTANDING; do
    log "by category: each category's questions alone, cold, fresh resolvers, $q in flight"
    for cat in $(node -e 'console.log(Object.keys(require(process.argv[1]).categories).join(" "))' "$GEN/summary.json"); do
      for name in "${RES_LIST[@]}"; do category_run "$name" "$cat" "$q"; done
    done
  done
fi

# ---- report ---------------------------------------------------------------------------
mkdir -p "$BENCH/results"
RESULTS="$BENCH/results/recursion-$TIMESTAMP.json"
REC_TIMESTAMP=$TIMESTAMP REC_PINNING="$PINNING" REC_CLIENTS=$CLIENTS REC_TIMEOUT=$TIMEOUT REC_MAX_QPS=$MAX_QPS \
REC_WARM_PASSES=$WARM_PASSES REC_QMIN=$QMIN REC_REPEAT=$REPEAT REC_SETTLE=$SETTLE_ROUNDS REC_SUMMARY="$GEN/summary.json" \
REC_DNSPERF_CMD="dnsperf -s $HOST -p PORT -d queries.txt -n 1 -c $CLIENTS -T 1 -q OUTSTANDING -t $TIMEOUT$([[ $MAX_QPS != 0 ]] && echo " -Q $MAX_QPS") -v" \
REC_VERSIONS="$(node -v | tr -d '\n'); $(nsd -v 2>&1 | head -n1); Unbound $(unbound -V 2>/dev/null | awk '/^Version/ { print $2 }'); dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')" \
  node "$BENCH/recursion-report.js" "$RUNS" "$RESULTS" "$CATS"
