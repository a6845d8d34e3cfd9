#!/usr/bin/env bash
# school-dns throughput/latency benchmark. Not part of the test suite.
#
#   bash bench/run.sh          (or: npm run bench)
#
# Measures, with dnsperf and the same query files and flags for every server:
#   authoritative  NSD serving a wildcard zone *.bench.test (the upstream, measured directly)
#   bare-node      bench/bare-dgram.js: the ceiling of one Node process (cached workload only)
#   unbound        Unbound, one thread, caching forwarder to the authoritative
#   school-dns     node dist/cli/main.js serve, forward mode to the authoritative
# on two workloads: "cached" (1000 names, warmed first: every query a cache hit)
# and "uncached" (millions of distinct names: every query goes upstream).
# See bench/README.md for how to read the output. Everything listens on 127.0.0.1.
#
# Knobs (environment variables, all optional):
#   BENCH_DURATION=15        seconds per measured run (dnsperf -l)
#   BENCH_CLIENTS=4          dnsperf -c
#   BENCH_OUTSTANDING=100    dnsperf -q (queries in flight)
#   BENCH_TIMEOUT=2          dnsperf -t (a reply later than this counts as lost)
#   BENCH_MAX_QPS=0          dnsperf -Q; 0 = unlimited
#   BENCH_SERVERS="authoritative bare-node unbound school-dns"   which ones to run
#   BENCH_WORKLOADS="cached uncached"
#   BENCH_REPEAT=1           rounds: each measures every server and workload once (a
#                            fresh server process per run); the report shows, per cell,
#                            the run with the best qps (the least disturbed) and lists all
#   BENCH_IDLE_WAIT=20       before each measured run, wait up to this many seconds for
#                            other processes to leave the machine idle (<= 10% busy)
#   BENCH_SKIP_BUILD=1       do not run `npm run build` first
#   BENCH_PIN=0              do not pin processes to CPUs (see below)
#   BENCH_SERVER_CPU=1 BENCH_LOAD_CPU=0 BENCH_UPSTREAM_CPU=0
#   BENCH_KEEP_TMP=1         keep the temp dir (configs, logs) for inspection
#   BENCH_SCHOOL_POLICY=bench  school-dns filtering: "bench" = a generated policy whose
#                            one group blocks BENCH_BLOCKLIST_NAMES (10000) names, none
#                            under bench.test (filter on, nothing blocked); "off" =
#                            `policy: file: null` (no filtering). (The shipped policy puts
#                            127.0.0.1 in its walled-garden default group: every bench.test
#                            answer would be the block page, measuring nothing we want.)
#   BENCH_AUTH_PORT=5400 BENCH_BARE_PORT=5350 BENCH_UNBOUND_PORT=5370
#   BENCH_UNBOUND_CONTROL_PORT=5371 BENCH_SCHOOL_PORT=5360 BENCH_SCHOOL_ADMIN_PORT=9160
#
# CPU pinning (2-core machine): the server under test gets core BENCH_SERVER_CPU
# to itself; dnsperf runs on BENCH_LOAD_CPU; the authoritative upstream, when it
# serves a resolver, shares BENCH_LOAD_CPU with dnsperf. When the authoritative
# itself is measured it gets the server core like every other server.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"

DURATION=${BENCH_DURATION:-15}
CLIENTS=${BENCH_CLIENTS:-4}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
TIMEOUT=${BENCH_TIMEOUT:-2}
MAX_QPS=${BENCH_MAX_QPS:-0}
SERVERS=${BENCH_SERVERS:-"authoritative bare-node unbound school-dns"}
WORKLOADS=${BENCH_WORKLOADS:-"cached uncached"}
REPEAT=${BENCH_REPEAT:-1}
IDLE_WAIT=${BENCH_IDLE_WAIT:-20}
SKIP_BUILD=${BENCH_SKIP_BUILD:-0}
PIN=${BENCH_PIN:-1}
SERVER_CPU=${BENCH_SERVER_CPU:-1}
LOAD_CPU=${BENCH_LOAD_CPU:-0}
UPSTREAM_CPU=${BENCH_UPSTREAM_CPU:-0}
KEEP_TMP=${BENCH_KEEP_TMP:-0}
SCHOOL_POLICY=${BENCH_SCHOOL_POLICY:-bench}
BLOCKLIST_NAMES=${BENCH_BLOCKLIST_NAMES:-10000}
AUTH_PORT=${BENCH_AUTH_PORT:-5400}
BARE_PORT=${BENCH_BARE_PORT:-5350}
UNBOUND_PORT=${BENCH_UNBOUND_PORT:-5370}
UNBOUND_CONTROL_PORT=${BENCH_UNBOUND_CONTROL_PORT:-5371}
SCHOOL_PORT=${BENCH_SCHOOL_PORT:-5360}
SCHOOL_ADMIN_PORT=${BENCH_SCHOOL_ADMIN_PORT:-9160}
CACHED_NAMES=1000
# Enough distinct names that no uncached run can wrap around: 200k per second of
# run time (far above what any server here sustains), at least 3 million.
UNCACHED_NAMES=$(( DURATION * 200000 > 3000000 ? DURATION * 200000 : 3000000 ))
HOST=127.0.0.1
ZONE=bench.test
ZONE_ADDR=192.0.2.1   # the wildcard's address; bare-dgram.js answers the same

BENCH_NAME=bench
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

# ---- tools --------------------------------------------------------------------------
missing=()
command -v node >/dev/null || missing+=("node (Node.js 20)")
command -v dnsperf >/dev/null || missing+=("dnsperf (apt-get install -y dnsperf)")
if has "$SERVERS" unbound; then
  command -v unbound >/dev/null || missing+=("unbound (apt-get install -y unbound)")
fi
if has "$SERVERS" unbound || has "$SERVERS" school-dns || has "$SERVERS" authoritative; then
  command -v nsd >/dev/null || missing+=("nsd (apt-get install -y nsd)")
fi
command -v ss >/dev/null || missing+=("ss (apt-get install -y iproute2)")
if ((${#missing[@]})); then
  die "missing tools: ${missing[*]}"
fi

setup_pinning
if [[ $PIN == 1 ]]; then
  PINNING="pinned: server under test on CPU $SERVER_CPU, dnsperf on CPU $LOAD_CPU, upstream (when serving a resolver) on CPU $UPSTREAM_CPU"
else
  PINNING="not pinned"
fi

# ---- temp dir and cleanup ---------------------------------------------------------------
bench_tmp bench
RUNS="$TMP/runs"
mkdir -p "$RUNS"

port_free() { ! ss -Hlnu "sport = :$1" | grep -q . && ! ss -Hlnt "sport = :$1" | grep -q .; }

# start_server NAME PORT LOGFILE CMD... : starts CMD in the background, sets STARTED_PID,
# waits until it answers an A query on HOST:PORT. Returns 1 (with the log tail) if not.
start_server() {
  local name=$1 port=$2 logfile=$3 i
  shift 3
  port_free "$port" || { echo "port $port on $HOST is already in use by another process" >"$TMP/why"; return 1; }
  "$@" >"$logfile" 2>&1 &
  STARTED_PID=$!
  PIDS+=("$STARTED_PID")
  for i in $(seq 60); do
    if ! kill -0 "$STARTED_PID" 2>/dev/null; then
      wait "$STARTED_PID" 2>/dev/null || true
      forget_pid "$STARTED_PID"
      { echo "$name exited during startup; log:"; tail -n 20 "$logfile"; } >"$TMP/why"
      return 1
    fi
    # The answer must be the zone's address: a server that answers something else (a
    # block page, a cached error) is not doing the work being measured.
    if node "$BENCH/probe.js" "$HOST" "$port" "probe$i.$ZONE" 1 "$ZONE_ADDR" 2>"$TMP/probe.err"; then
      log "$name is up on $HOST:$port (pid $STARTED_PID)"
      return 0
    fi
  done
  { echo "$name did not answer on $HOST:$port within 60 s: $(cat "$TMP/probe.err")"; tail -n 20 "$logfile"; } >"$TMP/why"
  stop_pid "$STARTED_PID"
  forget_pid "$STARTED_PID"
  return 1
}

stop_server() {
  stop_pid "$1"
  forget_pid "$1"
}

DNSPERF_FLAGS=(-c "$CLIENTS" -T 1 -q "$OUTSTANDING" -t "$TIMEOUT")
if [[ $MAX_QPS != 0 ]]; then DNSPERF_FLAGS+=(-Q "$MAX_QPS"); fi

# warm PORT: one pass over the cached names; repeated (up to 3 times) until a pass loses none.
warm() {
  local port=$1 i out
  for i in 1 2 3; do
    out=$("${PIN_LOAD[@]}" dnsperf -s "$HOST" -p "$port" -d "$TMP/cached.txt" -n 1 -c "$CLIENTS" -T 1 -q 20 -t "$TIMEOUT" 2>&1 || true)
    if grep -qE 'Queries lost:[[:space:]]+0 ' <<<"$out"; then return 0; fi
    log "warm-up pass $i lost queries; repeating"
  done
  log "warning: warm-up never completed without loss; some cached queries may miss"
}

# cpu_busy_pct (bench/lib.sh) is taken right before each measured run, when the servers we
# started are idle, so it shows load from other processes (builds, tests) that would skew
# the figures.
CLK_TCK=$(getconf CLK_TCK)

# tree_ticks PID: CPU time (user+system, in clock ticks) used so far by PID and all
# its descendants (NSD does its work in a child process).
tree_ticks() {
  local total=0 kid
  if [[ -r /proc/$1/stat ]]; then
    total=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0)
  fi
  for kid in $(pgrep -P "$1" 2>/dev/null || true); do total=$(( total + $(tree_ticks "$kid") )); done
  echo "${total:-0}"
}

# core_ticks CPU: "busy total" clock ticks of one CPU so far (CPU "" = all CPUs).
core_ticks() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

pct_between() { # "busy0 total0" "busy1 total1"
  awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.1f", (y[2] > x[2] ? 100 * (y[1] - x[1]) / (y[2] - x[2]) : 0) }'
}

# cache_counts SERVER: "hits misses" of the server's answer cache so far, or "" when the
# server has no such counters (or they cannot be read). Used to check that the cached
# workload really is all hits: Unbound via unbound-control, school-dns via its
# Prometheus endpoint (school_dns_cache_requests_total{result="hit"|"miss"}).
cache_counts() {
  case $1 in
    unbound)
      unbound-control -c "$TMP/unbound/unbound.conf" stats_noreset 2>/dev/null \
        | awk -F= '$1 == "total.num.cachehits" { h = $2 } $1 == "total.num.cachemiss" { m = $2 }
                   END { if (h != "" && m != "") print h, m }' || true ;;
    school-dns)
      node -e '
        fetch(process.argv[1], { signal: AbortSignal.timeout(2000) })
          .then((r) => r.text())
          .then((t) => {
            const get = (k) => {
              const m = new RegExp(`^school_dns_cache_requests_total\\{result="${k}"\\} (\\S+)`, "m").exec(t);
              return m ? Number(m[1]) : null;
            };
            const h = get("hit"), m = get("miss");
            if (h !== null && m !== null) console.log(h, m);
          })
          .catch(() => {});
      ' "http://$HOST:$SCHOOL_ADMIN_PORT/metrics" 2>/dev/null || true ;;
  esac
}

# measure WORKLOAD SERVER PORT REPEAT PID : one dnsperf run, summarised into $RUNS, with
# the CPU use of the server process (100 = one full core) and of the two cores.
measure() {
  local workload=$1 server=$2 port=$3 rep=$4 pid=$5 file="$TMP/$1.txt" sent bg
  local raw="$TMP/raw-$1-$2-$4.txt" base="$RUNS/$1--$2--r$4" h0 m0 h1 m1
  local t0 t1 w0 w1 s0 s1 l0 l1 c0 c1 srv_cpu srv_core load_core score lcore
  if [[ $PIN == 1 ]]; then score=$SERVER_CPU lcore=$LOAD_CPU; else score="" lcore=""; fi
  wait_idle
  bg=$BUSY
  log "measuring $server, $workload workload, run $rep/$REPEAT, ${DURATION}s"
  c0=$(cache_counts "$server")
  t0=$(tree_ticks "$pid"); s0=$(core_ticks "$score"); l0=$(core_ticks "$lcore"); w0=$(date +%s%N)
  # In the background and waited for, so that a signal to this script is handled at once.
  "${PIN_LOAD[@]}" dnsperf -s "$HOST" -p "$port" -d "$file" -l "$DURATION" "${DNSPERF_FLAGS[@]}" -v \
    >"$raw" 2>&1 &
  local dp=$!
  PIDS+=("$dp")
  wait "$dp" || true
  forget_pid "$dp"
  t1=$(tree_ticks "$pid"); s1=$(core_ticks "$score"); l1=$(core_ticks "$lcore"); w1=$(date +%s%N)
  c1=$(cache_counts "$server")
  srv_cpu=$(awk -v t=$(( t1 - t0 )) -v hz="$CLK_TCK" -v ns=$(( w1 - w0 )) \
    'BEGIN { printf "%.1f", (ns > 0 ? 100 * t / hz / (ns / 1e9) : 0) }')
  srv_core=$(pct_between "$s0" "$s1")
  load_core=$(pct_between "$l0" "$l1")
  local extra="{\"repeat\":$rep,\"backgroundCpuPct\":$bg,\"serverCpuPct\":$srv_cpu,"
  extra+="\"serverCoreBusyPct\":$srv_core,\"loadCoreBusyPct\":$load_core"
  if [[ $c0 =~ ^[0-9]+\ [0-9]+$ && $c1 =~ ^[0-9]+\ [0-9]+$ ]]; then
    read -r h0 m0 <<<"$c0"
    read -r h1 m1 <<<"$c1"
    extra+=",\"cacheHits\":$(( h1 - h0 )),\"cacheMisses\":$(( m1 - m0 ))"
    if [[ $workload == cached ]] && (( m1 - m0 > 0 )); then
      log "warning: $server had $(( m1 - m0 )) cache misses during the cached run (expected none)"
    fi
  fi
  extra+="}"
  if node "$BENCH/parse-dnsperf.js" "$raw" "$extra" >"$base.json"; then
    node -e '
      const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const f = (v) => (v == null ? "-" : v.toFixed(3));
      console.error(`    ${Math.round(r.qps)} qps, avg ${f(r.avgLatencyMs)} ms, p99 ${f(r.p99LatencyMs)} ms, ` +
        `lost ${r.lost}; server process ${r.serverCpuPct}% CPU, ` +
        `server core ${r.serverCoreBusyPct}% busy, load core ${r.loadCoreBusyPct}% busy` +
        (r.cacheHits != null ? `; cache ${r.cacheHits} hits, ${r.cacheMisses} misses` : ""));
    ' "$base.json"
    sent=$(grep -oE 'Queries sent:[[:space:]]+[0-9]+' "$raw" | grep -oE '[0-9]+$' || echo 0)
    if [[ $workload == uncached ]] && (( sent > UNCACHED_NAMES )); then
      log "warning: $server sent $sent queries but the uncached file has $UNCACHED_NAMES names: some repeated"
    fi
  else
    rm -f "$base.json"
    { echo -n "dnsperf produced no statistics: "; grep -v '^>' "$raw" | tail -n 3 | tr '\n' ' '; } >"$base.error"
  fi
  rm -f "$raw"
}

fail_run() { # WORKLOAD SERVER REPEAT MESSAGE
  log "$2 ($1): $4"
  echo "$4" >"$RUNS/$1--$2--r$3.error"
}

# ---- server definitions --------------------------------------------------------------------
write_unbound_config() {
  mkdir -p "$TMP/unbound"
  cat >"$TMP/unbound/unbound.conf" <<EOF
server:
    interface: $HOST
    port: $UNBOUND_PORT
    do-ip4: yes
    do-ip6: no
    do-udp: yes
    do-tcp: yes
    num-threads: 1
    username: ""
    chroot: ""
    directory: "$TMP/unbound"
    pidfile: "$TMP/unbound/unbound.pid"
    use-syslog: no
    logfile: ""
    verbosity: 0
    module-config: "iterator"
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    # "test." is one of Unbound's built-in local zones (RFC 6761); let it through.
    local-zone: "test." nodefault
    msg-cache-size: 256m
    rrset-cache-size: 512m
    prefetch: no
    qname-minimisation: no
    minimal-responses: yes
remote-control:
    control-enable: yes
    control-interface: $HOST
    control-port: $UNBOUND_CONTROL_PORT
    control-use-cert: no
forward-zone:
    name: "."
    forward-addr: $HOST@$AUTH_PORT
EOF
  unbound-checkconf "$TMP/unbound/unbound.conf" >/dev/null || die "generated unbound.conf is invalid"
}

write_school_config() {
  local dir="$TMP/school-dns" policy_line i
  mkdir -p "$dir"
  case $SCHOOL_POLICY in
    bench)
      # Filtering on, as in production, but with a group that lets bench.test through:
      # every query pays for the policy look-up, and none is blocked.
      for (( i = 0; i < BLOCKLIST_NAMES; i++ )); do echo "b$i.blocked.example"; done >"$dir/blocked.txt"
      cat >"$dir/bench-policy.yaml" <<EOF
timezone: Asia/Ho_Chi_Minh
categories:
  blocked:
    description: "$BLOCKLIST_NAMES generated names, none under $ZONE"
    sources: [blocked.txt]
groups:
  bench:
    description: "block-listed: everything but the blocked category is reachable"
    block: [blocked]
defaultGroup: bench
EOF
      policy_line="policy:
  file: bench-policy.yaml" ;;
    off) policy_line="policy:
  file: null" ;;
    *) die "BENCH_SCHOOL_POLICY must be bench or off (not '$SCHOOL_POLICY')" ;;
  esac
  cat >"$dir/school-dns.yaml" <<EOF
server:
  listen: ["$HOST:$SCHOOL_PORT"]
admin:
  listen: "$HOST:$SCHOOL_ADMIN_PORT"
resolver:
  mode: forward
  upstreams: ["$HOST:$AUTH_PORT"]
$policy_line
log:
  level: warn
EOF
}

UPSTREAM_PID=""
start_upstream() { # the authoritative in its upstream role, pinned to the upstream CPU
  if [[ -n $UPSTREAM_PID ]]; then
    kill -0 "$UPSTREAM_PID" 2>/dev/null && return 0
    log "the upstream (pid $UPSTREAM_PID) has died; restarting it"
    stop_server "$UPSTREAM_PID"
    UPSTREAM_PID=""
  fi
  if start_server "authoritative (upstream)" "$AUTH_PORT" "$TMP/nsd/stdout-upstream.log" \
      "${PIN_UPSTREAM[@]}" nsd -d -c "$TMP/nsd/nsd.conf"; then
    UPSTREAM_PID=$STARTED_PID
    return 0
  fi
  return 1
}

# ---- prepare ------------------------------------------------------------------------------
TIMESTAMP=$(date -u +%Y%m%dT%H%M%SZ)
log "temp dir $TMP; $PINNING"
node "$BENCH/make-queries.js" "$TMP" "$CACHED_NAMES" "$UNCACHED_NAMES"
write_wildcard_nsd
has "$SERVERS" unbound && write_unbound_config
has "$SERVERS" school-dns && write_school_config

SCHOOL_OK=1
SCHOOL_WHY=""
if has "$SERVERS" school-dns; then
  if [[ $SKIP_BUILD != 1 ]]; then
    log "building school-dns (npm run build)"
    if [[ ! -e "$ROOT/node_modules/typescript/bin/tsc" ]]; then
      (cd "$ROOT" && npm ci --no-audit --no-fund) >"$TMP/npm-ci.log" 2>&1 \
        || { SCHOOL_OK=0; SCHOOL_WHY="npm ci failed (see output above)"; tail -n 20 "$TMP/npm-ci.log" >&2; }
    fi
    if [[ $SCHOOL_OK == 1 ]] && ! (cd "$ROOT" && npm run --silent build) >"$TMP/build.log" 2>&1; then
      tail -n 30 "$TMP/build.log" >&2
      SCHOOL_OK=0
      SCHOOL_WHY="npm run build failed (see output above)"
    fi
  fi
  if [[ $SCHOOL_OK == 1 && ! -f "$ROOT/dist/cli/main.js" ]]; then
    SCHOOL_OK=0
    SCHOOL_WHY="$ROOT/dist/cli/main.js does not exist after the build"
  fi
  [[ $SCHOOL_OK == 1 ]] || log "school-dns will be skipped: $SCHOOL_WHY"
fi

# ---- run ----------------------------------------------------------------------------------
# bench_one NAME PORT LOGFILE NEEDS_UPSTREAM WORKLOAD REPEAT CMD...
# [Start the upstream,] start the server alone, warm it (cached workload), measure,
# stop it. A fresh process per run, so no run sees another's cache.
bench_one() {
  local name=$1 port=$2 logfile=$3 needs_upstream=$4 w=$5 rep=$6 pid
  shift 6
  has "$WORKLOADS" "$w" || return 0
  if [[ $needs_upstream == 1 ]]; then
    if ! start_upstream; then
      fail_run "$w" "$name" "$rep" "upstream did not start: $(cat "$TMP/why")"
      return 0
    fi
  elif [[ -n $UPSTREAM_PID ]]; then
    stop_server "$UPSTREAM_PID"
    UPSTREAM_PID=""
  fi
  if ! start_server "$name" "$port" "$logfile.$w.$rep" "$@"; then
    fail_run "$w" "$name" "$rep" "$(cat "$TMP/why")"
    return 0
  fi
  pid=$STARTED_PID
  [[ $w == cached ]] && warm "$port"
  measure "$w" "$name" "$port" "$rep" "$pid"
  stop_server "$pid"
  # Anything the server said beyond routine info lines may matter (errors, drops).
  if grep -vqE ' (info|notice): |listening on|^[[:space:]]*$' "$logfile.$w.$rep"; then
    log "$name wrote to stdout/stderr during the $w run (last lines):"
    grep -vE ' (info|notice): |listening on|^[[:space:]]*$' "$logfile.$w.$rep" | tail -n 5 | sed 's/^/    /' >&2
  fi
}

auth()   { bench_one authoritative "$AUTH_PORT" "$TMP/nsd/stdout.log" 0 "$1" "$2" \
             "${PIN_SERVER[@]}" nsd -d -c "$TMP/nsd/nsd.conf"; }
bare()   { bench_one bare-node "$BARE_PORT" "$TMP/bare-node.log" 0 "$1" "$2" \
             "${PIN_SERVER[@]}" node "$BENCH/bare-dgram.js" "$BARE_PORT" "$HOST"; }
ubound() { bench_one unbound "$UNBOUND_PORT" "$TMP/unbound/unbound.log" 1 "$1" "$2" \
             "${PIN_SERVER[@]}" unbound -d -c "$TMP/unbound/unbound.conf"; }
school() {
  if [[ $SCHOOL_OK != 1 ]]; then
    has "$WORKLOADS" "$1" && fail_run "$1" school-dns "$2" "$SCHOOL_WHY"
    return 0
  fi
  port_free "$SCHOOL_ADMIN_PORT" || log "warning: admin port $SCHOOL_ADMIN_PORT is in use; school-dns may fail to start"
  bench_one school-dns "$SCHOOL_PORT" "$TMP/school-dns/school-dns.log" 1 "$1" "$2" \
    "${PIN_SERVER[@]}" node "$ROOT/dist/cli/main.js" serve --config "$TMP/school-dns/school-dns.yaml"
}

# Rounds, each measuring every server once, so that a burst of load from elsewhere
# hits one round rather than all the repeats of one server. Within a round the runs
# that are divided by each other are next to each other in time.
for rep in $(seq "$REPEAT"); do
  # The authoritative measured directly on the server core (the upstream, on the same
  # port, is not running then), and the bare Node server (cached only: it has nothing
  # to fetch).
  if has "$SERVERS" authoritative; then auth cached "$rep"; auth uncached "$rep"; fi
  if has "$SERVERS" bare-node; then bare cached "$rep"; fi
  # The resolvers, forwarding to the authoritative.
  if has "$SERVERS" school-dns; then school cached "$rep"; fi
  if has "$SERVERS" unbound; then ubound cached "$rep"; ubound uncached "$rep"; fi
  if has "$SERVERS" school-dns; then school uncached "$rep"; fi
  if [[ -n $UPSTREAM_PID ]]; then stop_server "$UPSTREAM_PID"; UPSTREAM_PID=""; fi
done

# ---- report -------------------------------------------------------------------------------
mkdir -p "$BENCH/results"
RESULTS="$BENCH/results/$TIMESTAMP.json"
BENCH_TIMESTAMP=$TIMESTAMP BENCH_DURATION=$DURATION BENCH_CLIENTS=$CLIENTS \
BENCH_OUTSTANDING=$OUTSTANDING BENCH_TIMEOUT=$TIMEOUT BENCH_MAX_QPS=$MAX_QPS BENCH_REPEAT=$REPEAT \
BENCH_CACHED_NAMES=$CACHED_NAMES BENCH_UNCACHED_NAMES=$UNCACHED_NAMES \
BENCH_DNSPERF_CMD="dnsperf -s $HOST -p PORT -d FILE -l $DURATION ${DNSPERF_FLAGS[*]} -v" \
BENCH_PINNING="$PINNING" \
BENCH_SCHOOL_POLICY="$SCHOOL_POLICY$([[ $SCHOOL_POLICY == bench ]] && echo " ($BLOCKLIST_NAMES blocked names, none under $ZONE)")" \
BENCH_AUTHORITATIVE="NSD $(nsd -v 2>&1 | grep -oiE 'version [0-9.]+' | head -n1 | cut -d' ' -f2), wildcard zone *.$ZONE A 192.0.2.1 TTL 3600, server-count 1" \
  node "$BENCH/report.js" "$RUNS" "$RESULTS"

if compgen -G "$RUNS/*.error" >/dev/null; then
  log "some runs failed (see FAILED lines above)"
  exit 2
fi
